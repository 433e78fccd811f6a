"""The official SQuAD 2.0 metric, written from its definition (``evaluate-v2.0.py``).

Answers are normalised (lower case, punctuation and the articles a/an/the removed, whitespace
collapsed); a prediction scores the best exact match and token F1 over the gold answers; an
unanswerable question has the gold answer ``""``. Scores are percentages, with the HasAns/NoAns
breakdown. Given null-score differences (``null_score - best_non_null_score`` per question), a
prediction becomes ``""`` where the difference exceeds ``threshold``, and ``best_exact``/``best_f1``
report the score at the best threshold found by sweeping over the sorted differences.

Three deliberate differences from the official sweep, all only visible at its edges, so that the
reported threshold reproduces the reported best score when applied:
- questions with equal differences are crossed together (the official loop may stop inside a group of ties);
- when answering nothing is best, the threshold is one below the smallest difference, so applying it
  abstains everywhere (the official ``0.0`` was meant for probabilities, not score differences);
- answering an unanswerable question gains its own score minus the 1 of abstaining: a prediction such as
  "the" or "," normalises to the gold ``""`` and loses nothing (the official loop charges 1 for any
  non-empty text, although its own scoring counts that answer right, so its best score could be below
  the score at its own threshold).

    >>> squad_v2_metric([{"id": "q", "answers": {"text": ["the Nile"]}}], {"q": "Nile"})["exact"]
    100.0
"""
from __future__ import annotations

import collections
import math
import numbers
import re
import string

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(s: str) -> str:
    """Lower case, drop punctuation, drop articles, collapse whitespace (the official order)."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _tokens(s: str) -> list[str]:
    return normalize_answer(s).split() if s else []


def exact_match(prediction: str, gold: str) -> int:
    """1 if the normalised strings are equal, else 0."""
    return int(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    """Token-overlap F1 of the normalised strings; if either is empty, 1.0 only when both are."""
    pred, ref = _tokens(prediction), _tokens(gold)
    if not pred or not ref:
        return float(pred == ref)
    same = sum((collections.Counter(pred) & collections.Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def gold_answers(example: dict) -> list[str]:
    """The gold texts an answer is scored against: those that normalise to something, else ``[""]`` (the
    official script's rule; the question still counts as answerable by its raw list)."""
    texts = [t for t in example["answers"]["text"] if normalize_answer(t)]
    return texts or [""]


def _percent(scores: list[float]) -> float:
    return 100.0 * sum(scores) / len(scores) if scores else 0.0


def _best_threshold(raw: dict, diffs: dict, has_ans: dict) -> tuple[float, float]:
    """Sweep the threshold upward over the sorted null differences; (best score %, threshold).

    Only finite differences are thresholds: a question at ``+inf`` abstains at every finite threshold, one at
    ``-inf`` or NaN (a model's NaN or infinite logits) answers at every one (``NaN > t`` is false, as
    :func:`squad_v2_metric` and ``apply_threshold`` apply it), so the threshold reported is always a number
    JSON can hold, and applying it reproduces the reported score."""
    qids = sorted((q for q in raw if math.isfinite(diffs[q])), key=lambda q: diffs[q])
    always = {q for q in raw if diffs[q] == -math.inf or math.isnan(diffs[q])}  # answered below every threshold
    # Below every finite difference, those questions are answered (their raw score) and the rest abstain (1 for
    # each NoAns one, 0 for each HasAns one: abstaining never matches a gold answer, even one normalised to "").
    score = best = sum(raw[q] if q in always else float(not has_ans[q]) for q in raw)
    # Any threshold below the lowest finite difference; with none, any finite number.
    best_thresh = diffs[qids[0]] - 1.0 if qids else 0.0
    for k, qid in enumerate(qids):
        # Crossing qid's difference swaps its abstention's score for its raw prediction's, as squad_v2_metric
        # scores it: a NoAns question answered "the" stays right (it normalises to the gold "").
        score += raw[qid] - float(not has_ans[qid])
        last_of_ties = k + 1 == len(qids) or diffs[qids[k + 1]] != diffs[qid]
        if last_of_ties and score > best:
            best, best_thresh = score, diffs[qid]
    return (100.0 * best / len(raw) if raw else 0.0), float(best_thresh)


def _check_values(examples: list[dict], values: dict, what: str, ok) -> None:
    """A ValueError naming the first few examples whose entry of ``values`` is not ``ok``, with ``what``."""
    wrong = [ex["id"] for ex in examples if not ok(values[ex["id"]])]
    if wrong:
        shown = ", ".join(f"{q!r}: {values[q]!r:.40}" for q in wrong[:5])
        raise ValueError(f"{len(wrong)} {what}, e.g. {shown}")


def squad_v2_metric(examples: list[dict], predictions: dict, null_diffs: dict | None = None,
                    threshold: float = 0.0) -> dict:
    """SQuAD 2.0 scores of ``predictions`` (id -> text) against ``examples`` (``squad_v2`` rows).

    Returns ``exact``, ``f1``, ``total`` and their ``HasAns_*``/``NoAns_*`` counterparts (0.0 when a
    subset is empty), plus ``best_exact``, ``best_exact_thresh``, ``best_f1``, ``best_f1_thresh`` when
    ``null_diffs`` is given. Every example needs a prediction, a string, and with ``null_diffs`` a number (a
    ``ValueError`` lists the ids missing one or holding another value); ids of no example are ignored.
    """
    missing = [ex["id"] for ex in examples if ex["id"] not in predictions]
    if missing:
        raise ValueError(f"{len(missing)} example(s) have no prediction, e.g. {missing[:5]}")
    # A null (JSON's) was an AttributeError from the normalisation, or a TypeError from the threshold's
    # comparison, naming no question.
    _check_values(examples, predictions, "prediction(s) are not strings (\"\" for no answer)",
                  lambda v: isinstance(v, str))
    if null_diffs is not None:
        absent = [ex["id"] for ex in examples if ex["id"] not in null_diffs]
        if absent:
            raise ValueError(f"{len(absent)} example(s) have no null-score difference, e.g. {absent[:5]}")
        _check_values(examples, null_diffs, "null-score difference(s) are not numbers (eval.json writes one that "
                      "is not finite as null: math.inf abstains at every threshold, math.nan answers at every one)",
                      lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool))
    has_ans = {ex["id"]: bool(ex["answers"]["text"]) for ex in examples}
    raw_exact, raw_f1 = {}, {}
    for ex in examples:
        pred, gold = predictions[ex["id"]], gold_answers(ex)
        raw_exact[ex["id"]] = max(exact_match(pred, g) for g in gold)
        raw_f1[ex["id"]] = max(f1_score(pred, g) for g in gold)

    exact, f1 = dict(raw_exact), dict(raw_f1)
    if null_diffs is not None:
        for qid in exact:
            if null_diffs[qid] > threshold:  # abstain: right exactly when there is no answer
                exact[qid] = f1[qid] = float(not has_ans[qid])

    def subset(keep) -> list[str]:
        return [q for q in exact if keep(q)]

    out = {}
    for prefix, qids in (("", subset(lambda q: True)), ("HasAns_", subset(lambda q: has_ans[q])),
                         ("NoAns_", subset(lambda q: not has_ans[q]))):
        out[f"{prefix}exact"] = _percent([exact[q] for q in qids])
        out[f"{prefix}f1"] = _percent([f1[q] for q in qids])
        out[f"{prefix}total"] = len(qids)
    if null_diffs is not None:
        out["best_exact"], out["best_exact_thresh"] = _best_threshold(raw_exact, null_diffs, has_ans)
        out["best_f1"], out["best_f1_thresh"] = _best_threshold(raw_f1, null_diffs, has_ans)
    return out
