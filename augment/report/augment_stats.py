"""One streaming pass over ``augment-squad`` shards: the numbers behind the augmentation report.

Shards are read one record batch at a time (``pyarrow.ipc.open_stream``), so memory holds one batch,
the counters below and the sampled questions, however many rows there are. A row's original texts are
not stored in the shards; they are rebuilt from the row and its edits (:func:`original_text`), which
carry the original words and their offsets into the original text.

    >>> stats = AugmentStats(sample=12, seed=0)                     # doctest: +SKIP
    >>> for path in shard_paths("data/aug"): stats.add_shard(path)  # doctest: +SKIP
    >>> stats.summary()["rows"]                                     # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np

from augment.errors import InputError
from augment.saved_dataset import stays_inside
from augment.segment import english_stopwords, fold, is_eligible, split_words

RATE_BINS = 50  # histogram of the per-row replacement rate over [0, 1]
PAIR_CAP = 200_000  # (word, replacement) pairs kept; beyond it the rarest are dropped (see _prune)
_CACHE = 512  # original texts whose eligible words are kept (rows come paragraph by paragraph)


def shard_paths(directory) -> list[Path]:
    """The shard files of an ``augment-squad`` directory in row order (from ``state.json``)."""
    directory = Path(directory)
    state = directory / "state.json"
    if state.exists():
        try:
            files = [f["filename"] for f in json.loads(state.read_text(encoding="utf-8"))["_data_files"]]
            bad = next((f for f in files if not isinstance(f, str) or not f), None)
            if bad is not None:  # Path / 5 would be a TypeError far from the file that holds it
                raise TypeError(f"a filename {bad!r}")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise InputError(f"{state}: unreadable ({type(e).__name__}: {e}); expected '_data_files' as "
                             "augment-squad writes it") from None
        # A name that climbs out of the folder into another run's read that run's shard, and passed check_shard_list,
        # which goes by file name.
        if bad := next((f for f in files if not stays_inside(f)), None):
            raise InputError(f"{state}: data file {bad!r} is outside {directory} (a shard is read from the folder of "
                             "its state.json); expected names such as 'shard-00000.arrow', as augment-squad writes "
                             "them")
        return [directory / f for f in files]
    return sorted(directory.glob("shard-*.arrow"))


def unreadable(path, e: OSError) -> InputError:
    """The error for a shard the system would not read (gone, EIO, EACCES), as every reader of shards words it."""
    return InputError(f"{path}: cannot be read ({os.strerror(e.errno) if e.errno else e})")


def shard_batches(path):
    """The record batches of one shard, one at a time; a missing, unreadable, truncated or corrupt file raises an
    InputError naming it (as :func:`augment.squad_io.read_saved_dataset` does for a saved dataset)."""
    import pyarrow as pa

    if not Path(path).is_file():  # listed in state.json, since deleted or moved
        raise InputError(f"{path}: no such shard file; rerun augment-squad with --overwrite to rewrite it")
    try:
        with pa.OSFile(str(path), "rb") as f:
            reader = pa.ipc.open_stream(f)
            problem = schema_problem(reader.schema)
            if problem:
                raise InputError(f"{path}: not an augment-squad shard ({problem}); rerun augment-squad with "
                                 "--overwrite to rewrite it")
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                yield batch  # an error of the caller (add_batch) is raised there, not renamed here
    except (OSError, pa.ArrowException) as e:
        if isinstance(e, OSError) and e.errno:  # the system refused the read (EIO, EACCES): not the bytes' fault
            raise unreadable(path, e) from None
        # ArrowInvalid "Expected to read 2384 metadata bytes...", or pyarrow's OSError without an errno for a file
        # that ends mid-message
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise InputError(f"{path}: truncated or corrupt Arrow file ({first[:160]}); rerun augment-squad "
                         "with --overwrite to rewrite it") from None


def schema_problem(schema) -> str | None:
    """How ``schema`` differs from the shards' own, or None. The columns are looked up by name, and a
    missing one is index -1 to ``pyarrow``: the last column, read silently as another."""
    from augment.shards import SCHEMA

    missing = [f.name for f in SCHEMA if schema.get_field_index(f.name) < 0]  # -1 for a doubled name too
    if missing:
        return f"no single column {', '.join(map(repr, missing))}; it has {', '.join(schema.names) or 'none'}"
    wrong = [f"{f.name!r} is {schema.field(f.name).type}, not {f.type}" for f in SCHEMA
             if not schema.field(f.name).type.equals(f.type)]
    return "; ".join(wrong) or None


def original_text(text: str, edits: list[dict]) -> str:
    """Undo ``edits`` (one field's, offsets into the original) on the variant ``text``."""
    parts, at, shift = [], 0, 0
    for e in sorted(edits, key=lambda e: e["start"]):
        v_start = e["start"] + shift  # where the replacement begins in the variant
        parts += [text[at:v_start], e["original"]]
        at = v_start + len(e["replacement"])
        shift += len(e["replacement"]) - (e["end"] - e["start"])
    parts.append(text[at:])
    return "".join(parts)


def spans_exact(spans: dict | None, context: str) -> list[bool]:
    """The check ``context[start:start + len(text)] == text`` for each answer of ``spans``."""
    spans = spans or {"text": [], "answer_start": []}
    return [context[s:s + len(t)] == t for t, s in zip(spans["text"], spans["answer_start"])]


class AugmentStats:
    """Counters over every row, plus a seeded sample of whole questions (all their rows) for the viewer.

    The sample is a reservoir over questions (Vitter's algorithm R, one draw per question from a
    ``numpy.random.Generator`` seeded with ``seed``): each question is equally likely to be shown, and
    the same shards and seed show the same questions.
    """

    def __init__(self, sample: int = 12, seed: int = 0, stopwords=None):
        # The run's own list (manifest option --stopwords), so "eligible" means what it meant there.
        self.stopwords = english_stopwords() if stopwords is None else stopwords
        self.rng = np.random.default_rng(seed)
        self.sample_size = sample
        self.samples: list[tuple[int, list[dict]]] = []  # (question index, rows)
        self.rows = self.questions = self.originals = 0  # variants, questions, original rows
        self.rate_hist = np.zeros(RATE_BINS, dtype=np.int64)
        self.rate_sum = 0.0
        self.rated_rows = 0  # rows whose context has eligible words
        self.unchanged_rows = 0
        self.sources: Counter = Counter()  # (field, source) -> edits
        self.replaced: Counter = Counter()  # original word (lower case) -> edits
        self.pairs: Counter = Counter()  # (original, replacement), lower case -> edits
        self.pairs_pruned = 0
        self.shared = {"question": [0, 0], "other": [0, 0]}  # eligible context words: [replaced, seen]
        self.shared_replaced: Counter = Counter()  # words the question also uses, replaced in the context
        self.answers_checked = self.answers_broken = 0
        self.broken_examples: list[str] = []
        self._eligible: dict[str, list[str]] = {}
        self._group = None  # orig_id of the question being read, its stats and its sample slot

    # -- one question at a time ---------------------------------------------------------------------
    def _eligible_words(self, text: str) -> list[str]:
        words = self._eligible.get(text)
        if words is None:
            if len(self._eligible) >= _CACHE:
                self._eligible.clear()
            # Folded (case and accents), as --keep-question-words compares: "Beyonce" asks about "Beyoncé".
            words = [fold(w.text) for w in split_words(text) if is_eligible(w.text, self.stopwords)]
            self._eligible[text] = words
        return words

    def _start_question(self, row: dict) -> tuple:
        edits = row["edits"] or []
        context = original_text(row["context"], [e for e in edits if e["field"] == "context"])
        question = original_text(row["question"], [e for e in edits if e["field"] == "question"])
        q_words = set(self._eligible_words(question))
        ctx_words = self._eligible_words(context)
        slot = None
        if len(self.samples) < self.sample_size:
            slot = len(self.samples)
            self.samples.append((self.questions, []))
        elif self.sample_size:
            j = int(self.rng.integers(0, self.questions + 1))
            if j < self.sample_size:
                slot = j
                self.samples[j] = (self.questions, [])
        self.questions += 1
        self._group = (row["orig_id"], q_words, len(ctx_words), sum(w in q_words for w in ctx_words), slot)
        return self._group

    def add_batch(self, batch) -> None:
        """One Arrow record batch of shard rows. Per question (a few per batch) the work is Python;
        per edit (tens per row) it is Arrow compute, so a full SQuAD x20 output reads in minutes."""
        import pyarrow as pa
        import pyarrow.compute as pc

        n = batch.num_rows
        if n == 0:
            return
        col = batch.schema.get_field_index
        orig_ids = batch.column(col("orig_id")).to_pylist()
        is_var = batch.column(col("variant")).to_numpy(zero_copy_only=False) != 0  # (n,) not an original row
        groups, gid = [], np.empty(n, dtype=np.int64)  # this batch's questions; question of each row
        for i, oid in enumerate(orig_ids):
            if not groups or groups[-1][0] != oid:
                if self._group is not None and self._group[0] == oid and not groups:
                    groups.append(self._group)  # a question continued from the previous batch
                else:
                    groups.append(self._start_question(batch.slice(i, 1).to_pylist()[0]))
                first = i
                if groups[-1][4] is not None:  # sampled: keep every row of the question
                    end = next((j for j in range(i, n) if orig_ids[j] != oid), n)
                    self.samples[groups[-1][4]][1].extend(batch.slice(first, end - first).to_pylist())
            gid[i] = len(groups) - 1
        n_eligible = np.array([g[2] for g in groups])[gid]  # (n,)
        in_question = np.array([g[3] for g in groups])[gid]  # (n,)

        edits = batch.column(col("edits"))
        n_edits = pc.fill_null(pc.list_value_length(edits), 0).to_numpy(zero_copy_only=False)  # (n,)
        flat = pc.list_flatten(edits)  # (E,) one struct per edit
        parent = pc.list_parent_indices(edits).to_numpy(zero_copy_only=False)  # (E,) its row
        original = pc.utf8_lower(flat.field("original"))
        is_ctx = pc.equal(flat.field("field"), "context").to_numpy(zero_copy_only=False)
        n_ctx = np.bincount(parent[is_ctx], minlength=n)  # (n,)

        self.rows += int(is_var.sum())
        self.originals += int(n - is_var.sum())
        self.unchanged_rows += int((is_var & (n_edits == 0)).sum())
        rated = is_var & (n_eligible > 0)
        rate = np.minimum(n_ctx[rated] / n_eligible[rated], 1.0)
        self.rate_hist += np.bincount(np.minimum((rate * RATE_BINS).astype(np.int64), RATE_BINS - 1),
                                      minlength=RATE_BINS)
        self.rate_sum += float(rate.sum())
        self.rated_rows += int(rated.sum())

        def count(values, into: Counter, key=lambda v: v) -> None:
            for item in pc.value_counts(values).to_pylist():
                into[key(item["values"])] += item["counts"]

        sep = "\x1f"
        count(pc.binary_join_element_wise(flat.field("field"), flat.field("source"), sep), self.sources,
              key=lambda v: tuple(v.split(sep)))
        count(original, self.replaced)
        count(pc.binary_join_element_wise(original, pc.utf8_lower(flat.field("replacement")), sep), self.pairs,
              key=lambda v: tuple(v.split(sep)))
        # A context edit of a word that the row's question also uses: match "question index + word".
        wanted = pa.array([f"{g}{sep}{w}" for g, grp in enumerate(groups) for w in grp[1]], pa.string())
        # Each distinct original word folded once (Python), then spread over the edits (Arrow).
        distinct = pc.unique(original)
        folded = pc.take(pa.array([fold(w) for w in distinct.to_pylist()], pa.string()),
                         pc.index_in(original, value_set=distinct))
        keys = pc.binary_join_element_wise(pa.array(gid[parent].astype(str)), folded, sep)
        shared = pc.is_in(keys, value_set=wanted).to_numpy(zero_copy_only=False) & is_ctx  # (E,)
        hits = np.bincount(parent[shared], minlength=n)  # (n,)
        count(original.filter(pa.array(shared)), self.shared_replaced)
        self.shared["question"][0] += int(hits[is_var].sum())
        self.shared["question"][1] += int(in_question[is_var].sum())
        self.shared["other"][0] += int((n_ctx - hits)[is_var].sum())
        self.shared["other"][1] += int((n_eligible - in_question)[is_var].sum())
        if len(self.pairs) > PAIR_CAP:
            self._prune()

        ids = batch.column(col("id")).to_pylist()
        contexts = batch.column(col("context")).to_pylist()
        # Every row, originals (variant 0, --include-original) too: they are training rows as well.
        for field in ("answers", "plausible_answers"):
            for i, spans in enumerate(batch.column(col(field)).to_pylist()):
                if not spans or not spans["text"]:
                    continue
                checks = spans_exact(spans, contexts[i])
                self.answers_checked += len(checks)
                if not all(checks):
                    self.answers_broken += checks.count(False)
                    if len(self.broken_examples) < 20:
                        self.broken_examples.append(ids[i])

    def _prune(self) -> None:
        """Keep the most frequent half of the pairs. Only the tail loses counts: a pair dropped now
        and seen again later restarts from zero, so the top replacements shown are exact unless a
        word's replacements are spread over more than PAIR_CAP / 2 pairs in all."""
        keep = self.pairs.most_common(PAIR_CAP // 2)
        self.pairs_pruned += len(self.pairs) - len(keep)
        self.pairs = Counter(dict(keep))

    def add_shard(self, path) -> int:
        """Stream one shard, a record batch at a time; returns its number of rows."""
        rows = 0
        for batch in shard_batches(path):
            self.add_batch(batch)
            rows += batch.num_rows
        return rows

    # -- results ------------------------------------------------------------------------------------
    def top_replaced(self, n: int = 20, per_word: int = 3) -> list[tuple[str, int, list[tuple[str, int]]]]:
        """The ``n`` most replaced words, each with its ``per_word`` most frequent replacements."""
        top = self.replaced.most_common(n)
        wanted = {w for w, _ in top}
        by_word: dict[str, Counter] = {w: Counter() for w in wanted}
        for (w, r), c in self.pairs.items():
            if w in wanted:
                by_word[w][r] = c
        return [(w, c, by_word[w].most_common(per_word)) for w, c in top]

    def summary(self) -> dict:
        def share(pair):
            return pair[0] / pair[1] if pair[1] else None

        return {"rows": self.rows, "questions": self.questions, "originals": self.originals,
                "unchanged_rows": self.unchanged_rows,
                "mean_rate": self.rate_sum / self.rated_rows if self.rated_rows else None,
                "edits": sum(self.sources.values()),
                "sources": {f"{f}/{s}": c for (f, s), c in sorted(self.sources.items())},
                "shared_rate": share(self.shared["question"]), "other_rate": share(self.shared["other"]),
                "shared": {k: list(v) for k, v in self.shared.items()},
                "answers_checked": self.answers_checked, "answers_broken": self.answers_broken,
                "broken_examples": self.broken_examples}

    def sampled(self) -> list[list[dict]]:
        """The sampled questions' rows, in input order."""
        return [rows for _, rows in sorted(self.samples, key=lambda s: s[0])]
