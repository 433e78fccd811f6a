"""Training data for ``distill-train``: any mix of sources -> one ``datasets.Dataset`` -> cached windows.

Sources are whatever :func:`augment.squad_io.iter_rows` reads; ``augment-squad`` output directories
(``save_to_disk`` format, with extra columns ``orig_id, variant, edits, is_impossible``) are memory-mapped
rather than read row by row. Every source is cut to the ``squad_v2`` training columns so they concatenate.
Rows that cannot be trained on are skipped, and one line on stderr counts them and names the first few by
file and position (:class:`augment.squad_io.Location`, as augment-squad's ``rejects.jsonl`` does): the
training columns are checked as ``augment-squad`` checks a row (:func:`augment.validate.validate_example`: a
null question, an answer not at its offset), whatever the source (fields training does not read, such as
``plausible_answers``, are not).

    >>> rows = load_examples(["runs/aug", "train-v2.0.json"], limit=1000)          # doctest: +SKIP
    >>> feats = tokenize(rows, tok, cache_dir, max_length=384, doc_stride=128)    # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import torch

from augment.errors import InputError, InvalidExample, SourceProblems
from augment.saved_dataset import is_saved_dataset, open_saved_dataset, saved_dataset_files
from augment.sources import data_files, local_path
from augment.squad_io import dataset_row, iter_located
from augment.validate import validate_example

COLUMNS = ("id", "title", "context", "question", "answers")
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
LABELS = ("start_positions", "end_positions", "context_mask")


def _features():
    from datasets import Features, Sequence, Value

    return Features({"id": Value("string"), "title": Value("string"), "context": Value("string"),
                     "question": Value("string"),
                     "answers": Sequence({"text": Value("string"), "answer_start": Value("int32")})})


def _problem(row: dict) -> InvalidExample | None:
    """Why ``row`` cannot be trained on, or None if it can."""
    try:
        validate_example(row)
    except InvalidExample as e:
        return e
    return None


def _written_by_augment_squad(path: Path) -> bool:
    """``augment-squad`` validated every row it wrote; checking its millions of variants again would cost
    about 12 s per million rows on every run, cache hits included."""
    try:
        return json.loads((path / "manifest.json").read_text(encoding="utf-8")).get("tool") == "augment-squad"
    except (OSError, ValueError, AttributeError):
        return False


def _rows(ds, batch_size: int = 1000):
    """The rows of ``ds`` as dicts, read a batch at a time (``iter(ds)``, row by row, is ~20x slower)."""
    for batch in ds.iter(batch_size=batch_size):
        for values in zip(*batch.values()):
            yield dict(zip(batch, values))


def _load_one(source: str, split: str, skipped: list, option: str | None = None):
    """The ``squad_v2`` training columns of ``source``, its invalid rows left out and added to ``skipped`` as
    ``(Location, InvalidExample)``; ``option`` (``--data``) is the command-line option that named it, for the
    reader's errors. Only a skipped row's Location is kept: a million rows' would be a million objects."""
    path = local_path(source)  # the readers' rule: ~/aug (--data=~/aug, which no shell expands) is a path
    ds = open_saved_dataset(path, split) if path and path.is_dir() and is_saved_dataset(path) else None
    # Answers as a list of {"text", "answer_start"} (the official files' form) cast to no columns: such a
    # directory is read row by row below, as augment-squad and squad-eval read it.
    if ds is not None and isinstance(ds.features.get("answers", {}), dict):
        missing = [c for c in ("id", "context", "question", "answers") if c not in ds.column_names]
        if missing:
            raise InputError(f"{path}: missing columns {missing}; expected squad_v2 columns {list(COLUMNS)}")
        if "title" not in ds.column_names:
            ds = ds.add_column("title", [""] * len(ds))
        ds = ds.select_columns(list(COLUMNS))
        if not _written_by_augment_squad(path):
            # Checked as read, before the cast: the cast makes an id of 5 or an answer_start of "12" pass,
            # which augment-squad reading this directory rejects (and squad-eval refuses).
            before = len(skipped)
            keep = []
            for i, row in enumerate(_rows(ds)):
                if (e := _problem(row)) is None:
                    keep.append(i)
                else:  # the position squad_io's reader gives this row, so every command names it alike
                    skipped.append((dataset_row(path, i), e))
            if len(skipped) > before:
                # In memory: the indices mapping is small, and nothing is written beside the user's data. A
                # fingerprint of our own (the source's and the rows kept) spares datasets hashing the mapping.
                digest = hashlib.sha256(json.dumps([ds._fingerprint, keep]).encode()).hexdigest()[:16]
                ds = ds.select(keep, keep_in_memory=True, new_fingerprint=digest)
        # In memory: cast's cache file would otherwise be written into the user's dataset directory.
        return ds if ds.features == _features() else ds.cast(_features(), keep_in_memory=True)
    rows = []
    for where, r in iter_located(source, split, option):  # each row's file, also inside a folder of files
        row = {c: r.get(c) for c in COLUMNS}
        if (e := _problem(row)) is None:
            rows.append(row)
        else:
            skipped.append((where, e))
    return in_memory_dataset(rows, source_fingerprint(source, split))


def _report_skipped(skipped: list, total: int, option: str | None = None, shown: int = 3) -> None:
    """One stderr line: how many rows of ``option``'s sources were skipped, and where and why for the first
    ``shown`` (``rows.jsonl: line 12: example 'q7': ...``; the source and id alone do not find a row in a folder
    of files or a long file). Nothing when none was. Printed by the first process only (RANK, set by torchrun
    and accelerate): every process loads the same data."""
    if not skipped or os.environ.get("RANK", "0") != "0":
        return
    first = "; ".join(f"{where}: {e} [{e.reason}]" for where, e in skipped[:shown])
    more = f"; and {len(skipped) - shown} more" if len(skipped) > shown else ""
    of = f" of {option}" if option else ""
    print(f"distill-train: skipped {len(skipped)} of {total} row{'' if total == 1 else 's'}{of} whose training "
          f"columns augment-squad would reject (fix them to train on them): {first}{more}", file=sys.stderr)


def source_fingerprint(source, split: str) -> str:
    """A digest of the bytes a source's rows come from (:func:`augment.fingerprints.fingerprint`: the data files
    of a directory, not a README or cache beside them; a hub id digests its name) and the split."""
    from augment.fingerprints import fingerprint

    # 3: invalid rows skipped (2), the fingerprint of augment.fingerprints (3)
    return hashlib.sha256(json.dumps([split, "squad-columns-3", fingerprint(source, split)]).encode()).hexdigest()[:16]


def in_memory_dataset(rows: list[dict], fingerprint: str):
    """``Dataset.from_list`` with the fingerprint given rather than computed.

    ``from_list`` fingerprints a new table by pickling it with dill. Where datasets or pyarrow is installed
    outside site-packages (``pip --target``, a PYTHONPATH overlay) dill pickles whole modules by value and dies on
    pyarrow's ``MonthDayNano`` (``PicklingError: Can't pickle <class 'MonthDayNano'>``; reported on the
    GPU machine and traced in unslothai/unsloth PR 9791). A fingerprint from the input file's hash says
    the same thing and pickles nothing.
    """
    import datasets
    import pyarrow as pa
    from datasets.table import InMemoryTable

    features = _features()
    table = InMemoryTable(pa.Table.from_pylist(rows, schema=features.arrow_schema))
    return datasets.Dataset(table, info=datasets.DatasetInfo(features=features), fingerprint=fingerprint)


def load_examples(sources, split: str = "train", limit: int | None = None, option: str | None = None):
    """One Dataset of ``squad_v2`` rows (id, title, context, question, answers) from all ``sources``, named by
    the command-line ``option`` (``--data``, ``--prediction-data``) in the readers' errors; every source that cannot
    be read is named, once each (:class:`augment.errors.SourceProblems`)."""
    import datasets

    skipped, parts, problems = [], [], []
    for s in sources:  # every source, after a bad one too: all of them named at once, not one per run as each is fixed
        try:
            parts.append(_load_one(str(s), split, skipped, option))
        except InputError as e:
            if str(e) not in problems:  # a source given twice: named once
                problems.append(str(e))
    if problems:
        raise SourceProblems(problems)
    ds = parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
    _report_skipped(skipped, len(ds) + len(skipped), option)
    if len(ds) == 0:
        raise InputError(f"no examples in {', '.join(map(str, sources))}")
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    return ds


def source_stamp(source) -> list:
    """What identifies a source's contents cheaply: (relative path, size, mtime, ctime) of every file its rows are
    read from (a saved dataset's Arrow files and the JSON files ``load_from_disk`` reads, hidden directories skipped;
    a folder's .json/.jsonl files); a hub id as itself. Not the files beside them: augment-report's
    ``report.html`` written into an augment-squad directory (or a README, an ``--out`` in a folder of files)
    changed the windows' key, so the next run tokenised the data and computed the teacher's logits again.

    The change time (ctime) because size and mtime can stay as they were over new bytes: a fixed answer offset
    (``"answer_start": 17`` for ``16``) keeps the size, and ``cp -p``, tar and ``rsync -t`` give the copy its
    source's mtime, which can be the old file's (archives made with one fixed mtime), so the old data's windows
    and teacher logits were served. No call sets the ctime; what else moves it (chmod, a hard link, a rename)
    only builds the windows once more."""
    path = local_path(source)  # ~/aug stamped as its name would serve its old windows after it changed
    if path is None:
        return [str(source)]
    if path.is_file():
        st = path.stat()
        return [[path.name, st.st_size, st.st_mtime_ns, st.st_ctime_ns]]
    if not path.is_dir():
        return [str(source)]
    files = saved_dataset_files(path) if is_saved_dataset(path) else data_files(path)  # as fingerprints.fingerprint
    return [[str(f.relative_to(path)), st.st_size, st.st_mtime_ns, st.st_ctime_ns] for f in files for st in [f.stat()]]


def features_key(sources, split, limit, tokenizer, max_length: int, doc_stride: int, token_types=None,
                 with_token_types: bool = False) -> str:
    """A digest of everything the windows depend on (``token_types``, ``with_token_types``: see :func:`tokenize`)."""
    from augment.distill.layer_map import probe_ids

    vocab = hashlib.sha256(json.dumps(sorted(tokenizer.get_vocab().items())).encode()).hexdigest()
    # The sources' stamps hold each file's ctime since 0.2.3 (source_stamp): every local source's key changed then,
    # and its windows and teacher logits were built once more; the files of the old keys stay until removed.
    spec = {"sources": [[str(s), source_stamp(s)] for s in sources], "split": split, "limit": limit,
            "tokenizer": [type(tokenizer).__name__, vocab, tokenizer.padding_side,
                          getattr(tokenizer, "do_lower_case", None)],
            # How it reads text beyond its vocabulary and lower-casing (strip_accents, add_prefix_space,
            # tokenize_chinese_chars): two tokenizers of one vocabulary that differ there cut other windows, and
            # a run of one served the other's from a shared cache folder (the default one beside the data). Since
            # 0.2.4: every key changed then, and the windows and teacher logits were built once more.
            "reads": hashlib.sha256(json.dumps(probe_ids(tokenizer)).encode()).hexdigest(),
            "max_length": max_length, "doc_stride": doc_stride,
            "format": 3}  # 2: rows that validate_example rejects are skipped (1 tokenised them); 3: a saved
    # dataset's rows are checked before the cast to string ids and int offsets (2 trained on an id of 5)
    if token_types is not None:  # only then: every other run keeps the key (and the cache) it had
        spec["token_types"] = [list(p) for p in token_types.parts]
    # Asking a tokenizer that makes token type ids anyway (BERT's) changes no window, so it keeps its key; one that
    # leaves them out unless asked (ALBERT's) gets windows of its own, not the type-less ones cached before.
    if with_token_types and "token_type_ids" not in tokenizer.model_input_names:
        spec["asked_token_types"] = True
    # A tokenizer that pads on the left had left-padded windows cached (and the teacher's logits on them, at
    # positions shifted by the padding); its windows are padded on the right now (augment.qa.features), so they
    # get a key of their own. Right-padding tokenizers, nearly all, keep theirs.
    if tokenizer.padding_side == "left":
        spec["padded_right"] = True
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def features_stem(key: str) -> str:
    """The name, without ``.arrow``, of the training windows' cache file for ``key`` (one file, or
    ``<stem>_0000i_of_0000n.arrow`` per process when tokenised in parallel)."""
    from augment.qa.features import LABELS_VERSION

    return f"features-{key}-labels{LABELS_VERSION}"


def remove_old_labels(cache_dir, key: str) -> list[Path]:
    """Remove the windows of ``key`` cached with labels of an earlier version (``features-<key>.arrow``, before
    the version was in the name; ``features-<key>-labels<v>``): no run reads them again, and for SQuAD 2.0
    train x20 each is gigabytes. Returns the files removed (already gone ones, which another process sharing
    the folder removed, are skipped)."""
    import re

    current = features_stem(key)
    old = re.compile(re.escape(f"features-{key}") + r"(-labels\d+)?(_\d{5}_of_\d{5})?\.arrow")
    removed = []
    for f in sorted(Path(cache_dir).glob(f"features-{key}*.arrow")):
        if old.fullmatch(f.name) and not f.name.startswith(current + ".") and not f.name.startswith(current + "_"):
            try:
                f.unlink()
            except FileNotFoundError:
                continue
            removed.append(f)
    return removed


def tokenize(examples, tokenizer, cache_dir, key: str, max_length: int = 384, doc_stride: int = 128,
             num_proc: int | None = None, token_types=None, with_token_types: bool = False):
    """Training windows (see :func:`augment.qa.features.prepare_train_features`), cached as
    ``cache_dir/features-<key>-labels<version>.arrow`` by ``datasets.map`` and reused on the next run.
    ``token_types``: the teacher tokenizer's pair template, when the teacher reads token type ids that
    ``tokenizer`` does not make; ``with_token_types``: ask ``tokenizer`` for them (a model reads them, and
    evaluation asks it too). The labels' version is in the file's name but not in ``key``: a teacher cache
    named by ``key`` holds logits of the same windows, still valid when only their labels change.

    Tokenised in a folder of this process's own (:mod:`augment.distill.scratch`), where ``map`` writes its
    temporary file, and moved beside it when complete: a run killed outright leaves that folder, which the next
    run removes once its process is gone (:func:`remove_abandoned`)."""
    from augment.qa.features import prepare_train_features

    from augment.distill import scratch

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    name = features_stem(key)
    remove_abandoned(cache_dir)  # first: the finished shards it keeps are checked too
    remove_damaged(cache_dir, name)

    def windows(folder: Path):
        return examples.map(prepare_train_features, batched=True, remove_columns=examples.column_names,
                            fn_kwargs={"tokenizer": tokenizer, "max_length": max_length, "doc_stride": doc_stride,
                                       "token_types": token_types, "with_token_types": with_token_types},
                            num_proc=num_proc if num_proc and num_proc > 1 else None,
                            cache_file_name=str(folder / f"{name}.arrow"), new_fingerprint=name, desc="windows")

    work = scratch.make(cache_dir, name)
    try:
        try:
            # The cached files (whole, or the finished shards of an interrupted parallel run) as links, so map
            # reads or keeps them there as it would beside them, and computes only what is missing.
            for f in _own_files(cache_dir, name):
                (work / f.name).symlink_to(f.resolve())
        except OSError:  # a file system without symbolic links (exFAT, FAT): map writes beside the cache as before
            shutil.rmtree(work, ignore_errors=True)
            return windows(cache_dir)
        windows(work)
    finally:  # on an error or Ctrl-C too: finished shards are kept for the next run, as map keeps them
        scratch.keep_complete(work, cache_dir, _own_name(name))
    return windows(cache_dir)  # every file is beside the cache now: read, not computed


def _own_name(stem: str):
    """The names of the windows cache files of ``stem``: ``<stem>.arrow``, ``<stem>_0000i_of_0000n.arrow``."""
    import re

    return re.compile(re.escape(stem) + r"(_\d{5}_of_\d{5})?\.arrow")


def _own_files(cache_dir, stem: str) -> list[Path]:
    own = _own_name(stem)
    return [f for f in sorted(Path(cache_dir).glob(f"{glob.escape(stem)}*.arrow")) if own.fullmatch(f.name)]


def remove_abandoned(cache_dir) -> list[Path]:
    """Remove the tokenising folders (:mod:`augment.distill.scratch`) of processes that are gone, which hold
    ``datasets``' half-written ``tmpXXXXXXXX`` file of a run killed outright, keeping their finished shards, and
    say so in one stderr line; return the folders removed. A folder of a live process, here or perhaps on another
    machine sharing the cache folder, is left to it."""
    from augment.distill import scratch

    removed, kept = scratch.remove_abandoned(cache_dir, _own_name)
    if removed and os.environ.get("RANK", "0") == "0":
        more = f", keeping {len(kept)} finished window file{'s' * (len(kept) != 1)}" if kept else ""
        print(f"distill-train: removed {len(removed)} tokenising folder{'s' * (len(removed) != 1)} that a killed "
              f"run left{more}: {', '.join(f.name for f in removed)}", file=sys.stderr)
    return removed


def remove_damaged(cache_dir, stem: str) -> list[Path]:
    """Remove the cached windows of ``stem`` (``<stem>.arrow``, ``<stem>_0000i_of_0000n.arrow``) that cannot be read
    whole, and say so in one stderr line; return them. ``datasets.map`` reuses any file of the name it is given, so a
    cache cut short (a copy or a sync interrupted, a disk that filled) stopped every later run with pyarrow's
    traceback ("Expected to be able to read 67816 bytes for message body"); removed, it is built again. Reading the
    stream is what ``map`` does next anyway, from the same memory-mapped pages."""
    import re

    import pyarrow as pa

    own = re.compile(re.escape(stem) + r"(_\d{5}_of_\d{5})?\.arrow")
    damaged = []
    for f in sorted(Path(cache_dir).glob(f"{stem}*.arrow")):
        if not own.fullmatch(f.name):
            continue
        try:
            with pa.memory_map(str(f)) as source:
                pa.ipc.open_stream(source).read_all()
        except FileNotFoundError:  # another process sharing the folder removed it first
            continue
        except (OSError, pa.ArrowException) as e:
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
            damaged.append(f)
            if os.environ.get("RANK", "0") == "0":
                print(f"distill-train: removed the windows cache file {f}, which cannot be read ({reason}); "
                      "tokenising again", file=sys.stderr)
    return damaged


class WindowDataset(torch.utils.data.Dataset):
    """The training windows as a torch dataset; each row also carries its ``index`` (for the teacher cache).

    A DataLoader fetches a whole batch with ``__getitems__``: one columnar read into (B, L) arrays instead
    of B row reads and a Python-list conversion (about 5x faster; at GPU rates the per-row path alone
    capped training near 550 windows/s). With ``teacher_logits`` (a :class:`~augment.distill.teacher_cache.
    TeacherLogits`), the batch also holds the cached ``teacher_start``/``teacher_end`` (B, L) float32, looked
    up in the loader's workers rather than in the training loop.
    """

    def __init__(self, features, teacher_logits=None):
        self.features = features.select_columns([c for c in MODEL_INPUTS + LABELS if c in features.column_names])
        self.teacher_logits = teacher_logits

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int) -> dict:
        return {**self.features[int(i)], "index": int(i)}

    def __getitems__(self, indices) -> dict[str, torch.Tensor]:
        import numpy as np

        cols = self.features.with_format("numpy")[list(indices)]
        # A writable int64 copy only where needed: Arrow-backed arrays are read-only, which torch warns about.
        batch = {k: torch.from_numpy(np.require(v, np.int64, "W")) for k, v in cols.items()}
        batch["index"] = torch.tensor(list(indices), dtype=torch.int64)
        if self.teacher_logits is not None:
            batch["teacher_start"], batch["teacher_end"] = self.teacher_logits.lookup(list(indices),
                                                                                        batch["attention_mask"])
        return batch


class EpochBatches:
    """A DataLoader's ``batch_sampler`` whose batches are given anew each epoch (``batches``, a list of index
    lists), so that one DataLoader serves every epoch of a stage and its worker processes persist between epochs
    (``persistent_workers``) instead of starting again at each. Set ``batches`` before iterating the loader: a
    persistent loader reads them when its next epoch begins.

        >>> sampler = EpochBatches()
        >>> sampler.batches = [[2, 0], [1]]
        >>> list(sampler), len(sampler)
        ([[2, 0], [1]], 2)
    """

    def __init__(self, batches: list | None = None):
        self.batches = [] if batches is None else batches

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1,
                  lengths=None, group: int = 64) -> list:
    """This process's batches of window indices for one epoch: its part (``[rank::world]``) of each of
    :func:`global_batches`.

    The order depends only on (seed, epoch), so a resumed run that skips the batches it already did sees
    exactly the batches the uninterrupted run saw. Each of the ``world`` processes takes every world-th
    window; the remainder is dropped so all processes run the same number of batches (DDP would hang).
    """
    return [b[rank::world].tolist() for b in global_batches(n, batch_size, seed, epoch, world, lengths, group)]


def global_batches(n: int, batch_size: int, seed: int, epoch: int, world: int = 1, lengths=None,
                   group: int = 64) -> list:
    """Every process's batches of one epoch together, as arrays of window indices: batch j holds the windows that
    the ``world`` processes' j-th batches of ``batch_size`` hold between them (process r takes ``[r::world]``), so
    any process can tell what the others train on in a step (:func:`accumulation_shares`).

    The ``n % world`` windows left over by a random permutation of ``(seed, epoch)`` are left out of the epoch,
    so that every process holds as many windows as the others in each batch. With one process nothing is left
    out and the batches are the permutation cut in order.

    With ``lengths`` (one per window: ``--group-by-length``), windows of similar length share a batch, so
    little padding is computed: the shuffled windows are cut into runs of ``group`` batches, each run is
    sorted by length and cut into batches, and the batches are shuffled, so long and short batches alternate
    through the epoch. Batches stay random within a run of ``group * batch_size * world`` windows; SQuAD windows
    are about 45% padding at length 384 otherwise.
    """
    import numpy as np

    rng = np.random.default_rng([seed, epoch])
    perm = rng.permutation(n)
    perm = perm[: n - n % world]
    width = batch_size * world
    if lengths is None:
        return [perm[i:i + width] for i in range(0, len(perm), width)]
    lengths = np.asarray(lengths)
    if len(lengths) != n:
        raise ValueError(f"window batches: {len(lengths)} lengths for {n} windows")
    run = group * width
    batches = []
    for start in range(0, len(perm), run):
        chunk = perm[start:start + run]
        # Longest first, ties in shuffled order (a stable sort keeps the permutation's order).
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches += [chunk[i:i + width] for i in range(0, len(chunk), width)]
    order = rng.permutation(len(batches))
    return [batches[j] for j in order]


def accumulation_shares(group: list, index: int, lengths, rank: int = 0, world: int = 1) -> dict[str, float]:
    """The share of an optimizer step that process ``rank``'s micro-batch ``index`` is, by what each loss averages
    over: ``windows`` (the prediction losses: a mean per window), ``tokens`` (the hidden-state loss: real tokens)
    and ``pairs`` (the attention loss: real (query, key) pairs, a window's tokens squared). ``group``: the step's
    micro-batches of every process together (:func:`global_batches`; process r's part of one is ``[r::world]``);
    ``lengths``: real tokens per window (:func:`window_lengths`).

    A micro-batch's mean times its share, summed over the process's micro-batches and averaged over the
    processes (as DDP averages their gradients), is the mean over the step's windows, tokens or pairs, as one
    batch of them all in one process would give it. The plain mean of the micro-batches' means (each divided by
    the number of micro-batches) weighs a short micro-batch (an epoch's last) or one of short windows as much as
    a full one of long windows: ``--grad-accum 2`` would then not train as a batch twice as large does; and
    each process's own mean, averaged by DDP, weighs a process of short windows as much as one of long windows:
    two processes of ``--batch-size 13`` would not train as one of 26 does.

        >>> accumulation_shares([[0, 1], [2]], 1, [4, 4, 2])
        {'windows': 0.3333333333333333, 'tokens': 0.2, 'pairs': 0.1111111111111111}
    """
    import numpy as np

    lengths = np.asarray(lengths, dtype=np.int64)
    group = [np.asarray(b, dtype=np.int64) for b in group]
    every = {"windows": sum(len(b) for b in group), "tokens": sum(int(lengths[b].sum()) for b in group),
             "pairs": sum(int((lengths[b] ** 2).sum()) for b in group)}
    mine = group[index][rank::world]
    part = {"windows": len(mine), "tokens": int(lengths[mine].sum()), "pairs": int((lengths[mine] ** 2).sum())}
    return {k: world * part[k] / max(every[k], 1) for k in every}


def window_lengths(features, chunk: int = 20_000):
    """Tokens per window (the attention mask's ones), read ``chunk`` windows at a time."""
    import numpy as np

    mask = features.select_columns(["attention_mask"]).with_format("numpy")
    out = [np.asarray(mask[i:i + chunk]["attention_mask"]).sum(axis=1) for i in range(0, len(features), chunk)]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def trim_padding(batch: dict[str, torch.Tensor], pad_to: int = 1) -> dict[str, torch.Tensor]:
    """Cut the padding columns that no window in the batch uses (right padding only), keeping the length a
    multiple of ``pad_to`` (16 suits GPU kernels; the full length gives ``torch.compile`` one shape).

    Cutting changes nothing for the real tokens (they never attend to padding) and makes short batches cheap.
    The cut columns are copied into tensors of their own: a column slice of the (B, L) batch is a strided view,
    which the DataLoader pins as it is and which ``.to("cuda")`` then first copies into a dense temporary in
    ordinary (pageable) memory.
    """
    mask = batch["attention_mask"]
    used = mask.any(0).nonzero()
    length = mask.shape[1]
    if len(used) and mask[:, -1].sum() == 0:  # right-padded: trim the tail
        end = min(length, -(-(int(used.max()) + 1) // pad_to) * pad_to)
        batch = {k: v[:, :end].contiguous() if v.dim() == 2 else v for k, v in batch.items()}
    return batch


def collate(rows: list[dict], pad_to: int = 1) -> dict[str, torch.Tensor]:
    """Stack windows given as rows (``WindowDataset[i]``) and trim their unused padding."""
    keys = [k for k in MODEL_INPUTS + LABELS + ("index",) if k in rows[0]]
    return trim_padding({k: torch.tensor([r[k] for r in rows]) for k in keys}, pad_to)
