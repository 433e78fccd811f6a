"""The rows of one example's variants, from its texts' candidates: no model, no cache, no state.

A pure function of (example, candidates, options), so it runs the same in the process that holds the
masked LM or in a worker beside it (``augment.rowpool``), and the rows are the same either way.

    >>> rows = variants_of(example, ctx, None, n=20, replace_prob=0.4, seed=0, answer_policy="keep")  # doctest: +SKIP
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from augment.sampling import Slot, draw_variants, fold_words, folded, protect_shared_words
from augment.segment import Word
from augment.spans import move_spans, splice


@dataclass(frozen=True)
class TextCandidates:
    """The words of one text and the candidates of its replaceable words (by word index). Every candidate
    can take its word's case (:func:`augment.segment.match_case` is not None): ``Augmenter`` leaves out the
    others."""

    words: tuple[Word, ...]
    candidates: dict  # word index -> (tuple of candidates, "mlm" | "glove")


def slots_of(example: dict, ctx: TextCandidates, q: TextCandidates | None, answer_policy: str) -> list[Slot]:
    """The words that may change: context words clear of answers (per ``answer_policy``), question words."""
    spans = [(s, s + len(t)) for f in ("answers", "plausible_answers")
             for t, s in zip((example.get(f) or {}).get("text", []),
                             (example.get(f) or {}).get("answer_start", []))]
    slots = []
    for i, (cands, source) in sorted(ctx.candidates.items()):
        w = ctx.words[i]
        overlapping = [(a, b) for a, b in spans if w.start < b and a < w.end]
        inside = all(a <= w.start and w.end <= b for a, b in overlapping)
        # keep: never touch a word that overlaps an answer. replace: a word wholly inside every
        # answer it meets may change; one straddling a span boundary never does.
        if overlapping and (answer_policy == "keep" or not inside):
            continue
        slots.append(Slot("context", w, cands, source))
    if q is not None:
        slots += [Slot("question", q.words[i], c, s) for i, (c, s) in sorted(q.candidates.items())]
    return slots


def replaceable(example: dict, ctx: TextCandidates, q: TextCandidates | None, answer_policy: str,
                keep_question_words: bool = False, stopwords: frozenset = frozenset()) -> tuple[list[Slot], int]:
    """:func:`slots_of`, less the words the question and the context share when ``keep_question_words``
    (:func:`augment.sampling.protect_shared_words`); and how many that removed."""
    slots = slots_of(example, ctx, q, answer_policy)
    if not keep_question_words:
        return slots, 0
    return protect_shared_words(slots, fold_words(example["question"], stopwords),
                                frozenset(folded(w.text) for w in ctx.words))


def variants_of(ex: dict, ctx: TextCandidates, q: TextCandidates | None, n: int, replace_prob: float,
                seed: int, answer_policy: str, draw: str = "distinct", keep_question_words: bool = False,
                stopwords: frozenset = frozenset()) -> list[dict]:
    """``n`` rows (fewer with ``draw="independent"`` when draws repeat): the input's keys with texts and
    spans rewritten, plus ``orig_id``, ``variant``, ``edits``."""
    return list(iter_variants(ex, ctx, q, n, replace_prob, seed, answer_policy, draw, keep_question_words,
                              stopwords))


def iter_variants(ex: dict, ctx: TextCandidates, q: TextCandidates | None, n: int, replace_prob: float,
                  seed: int, answer_policy: str, draw: str = "distinct", keep_question_words: bool = False,
                  stopwords: frozenset = frozenset(), edit_dicts: bool = True) -> Iterator[dict]:
    """:func:`variants_of` one row at a time. A row holds its own copy of the context and its edits as dicts
    (about 10 KB with a 750-character SQuAD context), so a caller that encodes rows in batches
    (:func:`augment.rowpool.draw_chunk`) need not hold all of one example's at once. ``edit_dicts=False``:
    the edits as :class:`augment.spans.Edit` tuples, whose fields are the shard's edit struct in order, for a
    caller that only encodes them (Arrow reads a struct from a tuple too: a dict per edit cost a tenth of
    drawing's time)."""
    slots, _ = replaceable(ex, ctx, q, answer_policy, keep_question_words, stopwords)
    for v, edits in enumerate(draw_variants(slots, n, replace_prob, seed, ex["id"], draw), 1):
        if edits is None:  # a dropped duplicate draw: its variant number stays unused
            continue
        # In slot order (draw_variants), which is the context's words, then the question's, each by start:
        # the rows' order of edits, and each text's in start order, as splice wants (it refuses others).
        c_edits = [e for e in edits if e.field == "context"]
        q_edits = [e for e in edits if e.field == "question"]
        context = splice(ex["context"], c_edits)
        row = {**ex, "id": f"{ex['id']}-aug{v}", "orig_id": ex["id"], "variant": v, "context": context,
               "question": splice(ex["question"], q_edits),
               "answers": move_spans(ex["answers"], context, c_edits)}
        if ex.get("plausible_answers"):
            row["plausible_answers"] = move_spans(ex["plausible_answers"], context, c_edits)
        ordered = c_edits + q_edits
        row["edits"] = [e.as_dict() for e in ordered] if edit_dicts else ordered
        yield row
