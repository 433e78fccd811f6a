"""Window logits back to answer strings and null-score differences, as SQuAD 2.0 evaluation needs.

For each example, over all of its windows (features from :func:`augment.qa.features.prepare_eval_features`):

- the best non-null answer is the highest ``start_logit[i] + end_logit[j]`` over spans with both ends
  on context tokens, ``i <= j`` and ``j - i + 1 <= max_answer_length``; as in ``run_qa.py`` the search
  pairs the ``n_best`` highest start and end logits of each window (taken among context tokens, so
  question tokens cannot crowd the candidates out), and a window whose candidates pair into no valid
  span is searched exhaustively; a span whose score is NaN (a NaN logit) is never chosen, so a window keeps
  its best finite span, and an example whose every span is NaN has none (``null_diff`` ``inf``: it abstains);
- the null score is ``start_logit[cls] + end_logit[cls]``, minimised over the windows (``run_qa.py``
  keeps the minimum: the window most sure that an answer exists decides); a NaN one is skipped as a NaN span
  is, so an example whose every null score is NaN abstains too (``null_diff`` ``inf``). Callers say so:
  :func:`nan_examples` names the examples with NaN logits (``evaluate`` refuses them, ``answer`` warns);
- ``null_diff = null_score - best_non_null_score``; answer ``""`` where it exceeds a threshold.

The answer text is sliced from the context with the tokens' character offsets, moved onto whole grapheme
clusters (never half of an accented letter or an emoji sequence) and without whitespace at its ends.

    >>> preds, diffs = postprocess_predictions(rows, feats, start, end)   # doctest: +SKIP
    >>> apply_threshold(preds, diffs, threshold=0.0)                      # doctest: +SKIP
"""
from __future__ import annotations

import collections

import numpy as np

from augment.clusters import extends_cluster, joins_cluster_head
from augment.segment import strip_span


def _column(features, key: str) -> list | None:
    """A column of features given as a list of dicts, a dict of lists or a ``datasets.Dataset``."""
    if isinstance(features, dict):
        return features.get(key)
    if hasattr(features, "column_names"):
        return list(features[key]) if key in features.column_names else None
    return [f[key] for f in features] if features and key in features[0] else None


def _is_context(offset) -> bool:
    return offset is not None and offset[0] >= 0  # None, or [-1, -1] if a caller typed the column


def _visible(context: str, offset) -> bool:
    """Whether the token at ``offset`` covers more than whitespace."""
    a, b = strip_span(context, offset[0], offset[1])
    return a < b


def _cls_index(offsets: list, context_mask: list | None) -> int:
    # context_mask is 1 on context tokens and on CLS; CLS is the one without a context offset.
    if context_mask is not None:
        for t, (m, o) in enumerate(zip(context_mask, offsets)):
            if m and not _is_context(o):
                return t
    return 0


def _best_span(start: np.ndarray, end: np.ndarray, ctx: np.ndarray, n_best: int,
               max_answer_length: int) -> tuple[float, int, int] | None:
    """(score, i, j) of the best valid span with i, j in ``ctx`` (sorted token indices), or None."""
    def search(starts: np.ndarray, ends: np.ndarray):
        scores = start[starts][:, None] + end[ends][None, :]                   # (S, E)
        length = ends[None, :] - starts[:, None] + 1                           # (S, E)
        # A NaN logit (a diverged model, float16 overflow) makes its spans' scores NaN, and argmax picks the
        # first NaN: the window's span was lost although its other scores are fine. NaN is never chosen.
        scores = np.where((length >= 1) & (length <= max_answer_length) & ~np.isnan(scores), scores, -np.inf)
        if not np.isfinite(scores).any():
            return None
        a, b = np.unravel_index(int(np.argmax(scores)), scores.shape)
        return float(scores[a, b]), int(starts[a]), int(ends[b])

    top_s = ctx[np.argsort(-start[ctx], kind="stable")[:n_best]]
    top_e = ctx[np.argsort(-end[ctx], kind="stable")[:n_best]]
    return search(top_s, top_e) or search(ctx, ctx)


def best_spans(examples: list[dict], features, start_logits: np.ndarray, end_logits: np.ndarray,
               n_best: int = 20, max_answer_length: int = 30) -> dict:
    """``{example id: (start_char, end_char, null_diff)}``: the best non-null span of every example, as
    character offsets into its context taken from the tokenizer's offset mapping, and
    ``null_score - best_non_null_score``. An example with no context token in any window gets
    ``(None, None, inf)``.

    ``features`` hold ``example_id``, ``offset_mapping`` (None off the context) and ``context_mask``;
    ``start_logits``/``end_logits`` are ``(F, L)`` arrays in the same order.
    """
    start_logits = np.asarray(start_logits, dtype=np.float64)   # (F, L)
    end_logits = np.asarray(end_logits, dtype=np.float64)       # (F, L)
    ids, offsets = _column(features, "example_id"), _column(features, "offset_mapping")
    masks = _column(features, "context_mask")
    if ids is None or offsets is None:
        raise ValueError("features need 'example_id' and 'offset_mapping' (from prepare_eval_features)")
    if len(ids) != len(start_logits) or start_logits.shape != end_logits.shape:
        raise ValueError(f"{len(ids)} features but logits of shapes {start_logits.shape} "
                         f"and {end_logits.shape}")
    by_example = collections.defaultdict(list)
    for f, qid in enumerate(ids):
        by_example[qid].append(f)

    out = {}
    for ex in examples:
        null, best, span = np.inf, -np.inf, (None, None)
        for f in by_example.get(ex["id"], []):
            offs = offsets[f]
            s, e = start_logits[f], end_logits[f]                    # (L,)
            cls = _cls_index(offs, masks[f] if masks is not None else None)
            if not np.isnan(s[cls] + e[cls]):  # explicit: min(null, nan) keeps null only because nan < null is False
                null = min(null, s[cls] + e[cls])
            # A token of whitespace alone (byte-level BPE's tab, newline, second space) never starts or ends
            # an answer: a span of nothing but such tokens would be an empty answer that is not an abstention.
            ctx = np.array([t for t, o in enumerate(offs[:len(s)]) if _is_context(o) and _visible(ex["context"], o)],
                           dtype=np.int64)
            if ctx.size == 0:
                continue
            found = _best_span(s, e, ctx, n_best, max_answer_length)
            if found is not None and found[0] > best:
                best, i, j = found
                span = (int(offs[i][0]), int(offs[j][1]))
        if span[0] is not None:
            # Byte-level BPE makes a tab, a newline or the second of two spaces a token of its own (and a
            # tokenizer saved with trim_offsets=False gives a word's span its space), so a span could answer
            # "Normale\t": the metric ignores that whitespace, a reader would not.
            span = _answer_span(ex["context"], *span)
        out[ex["id"]] = (*span, float(null - best) if np.isfinite(best) else float("inf"))
    return out


def nan_examples(features, start_logits: np.ndarray, end_logits: np.ndarray) -> list:
    """The ids of the examples (each once, in feature order) with a NaN start or end logit where
    :func:`best_spans` reads one: on a context token or CLS (``context_mask``; every position without it).
    A NaN elsewhere (a question or padding token) changes no answer.

        >>> nan_examples([{"example_id": "q", "context_mask": [1, 0, 1]}], [[0, np.nan, 0]], [[0, 0, np.nan]])
        ['q']
    """
    nan = np.isnan(np.asarray(start_logits, dtype=np.float64)) | np.isnan(np.asarray(end_logits, dtype=np.float64))
    masks = _column(features, "context_mask")
    if masks is not None:
        nan &= np.asarray(masks, dtype=bool)[:, :nan.shape[1]]                      # (F, L)
    return list(dict.fromkeys(qid for qid, bad in zip(_column(features, "example_id"), nan.any(axis=1)) if bad))


def _whole_clusters(context: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` moved onto grapheme-cluster boundaries (:func:`augment.clusters.extends_cluster`), so
    that no answer holds half of a character a reader sees.

    The end moves forward, past the rest of its cluster: tokenizers that strip accents give a decomposed
    "e\u0301" (and a Devanagari "\u0924\u0947", "\u2764\ufe0f") the offsets of the base letter alone, and
    byte-level BPE may end on the first person of an emoji ZWJ sequence or a flag's first indicator.

    The start moves forward too, past the tail of a cluster begun before it, not back to its base. Byte-level
    BPE gives a combining mark tokens of its own, so a span can start on the mark that ends the word before
    ("Beyonce\u0301 Anne"): moving back would add that word's last letter ("e\u0301 Anne"), from a token the
    model did not pick, where dropping the mark gives the answer it points at ("Anne"). Only a span that is
    nothing but such a tail (a mark token alone) keeps its cluster whole, going back to the base: moving
    forward would leave an empty answer, which is not an abstention.

    The start moves back instead where what it starts on is not a tail but what a cluster's head leans on
    (:func:`augment.clusters.joins_cluster_head`): the digits after an Arabic number sign, which BERT's tokenizer
    drops as a format character, or the second consonant of a conjunct ("\u0937" of "\u0915\u094d\u0937",
    क्ष) where a WordPiece split it. Moving forward would drop that whole digit or consonant too.
    """
    while end < len(context) and extends_cluster(context, end):
        end += 1
    if joins_cluster_head(context, start):
        while start > 0 and extends_cluster(context, start):
            start -= 1
    first = start
    while first < end and extends_cluster(context, first):
        first += 1
    if first == end:
        while start > 0 and extends_cluster(context, start):
            start -= 1
        first = start
    return first, end


def _answer_span(context: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` on whole grapheme clusters (:func:`_whole_clusters`) and without whitespace at its ends.

    Whitespace is stripped before the clusters are fixed and after. Before: from a span that ends on a space
    after a mark ("\u0301 "), moving the start past the mark would leave nothing but the space. After: a span
    starting on the mark that ends the word before ("e\u0301 Anne") drops the mark and then the space.
    Stripping can in turn uncover a cluster's tail, where the whitespace was that cluster's base (" \u0301x",
    a spacing accent, whose token's offsets hold byte-level BPE's leading space): the start rule runs again,
    until the span starts on a base. A span that is nothing but such a tail keeps it (the mark alone, what a
    reader sees of it), as :func:`_whole_clusters` keeps one.
    """
    start, end = strip_span(context, *_whole_clusters(context, *strip_span(context, start, end)))
    while start < end and extends_cluster(context, start):
        first, _ = _whole_clusters(context, start, end)
        if first <= start:  # the tail is all there is: _whole_clusters took back its (whitespace) base
            break
        start, end = strip_span(context, first, end)
    return start, end


def postprocess_predictions(examples: list[dict], features, start_logits: np.ndarray,
                            end_logits: np.ndarray, n_best: int = 20,
                            max_answer_length: int = 30) -> tuple[dict, dict]:
    """Best non-null answer text and ``null_score - best_non_null_score`` per example id (see
    :func:`best_spans`; an example with no context token gets ``""`` and ``inf``)."""
    spans = best_spans(examples, features, start_logits, end_logits, n_best, max_answer_length)
    predictions, null_diffs = {}, {}
    for ex in examples:
        a, b, diff = spans[ex["id"]]
        predictions[ex["id"]] = ex["context"][a:b] if a is not None else ""
        null_diffs[ex["id"]] = diff
    return predictions, null_diffs


def apply_threshold(predictions: dict, null_diffs: dict, threshold: float = 0.0) -> dict:
    """Predictions with ``""`` wherever ``null_diffs[id] > threshold`` (the model abstains)."""
    return {qid: ("" if null_diffs.get(qid, -np.inf) > threshold else text)
            for qid, text in predictions.items()}
