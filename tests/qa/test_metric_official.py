"""The SQuAD 2.0 metric at the edges of the official ``evaluate-v2.0.py``: hand-computed values, and an
independent oracle written here from the script's documented behaviour (not its code):

- a question is answerable (HasAns) when its raw list of answers is non-empty, before any normalisation;
- gold texts that normalise to "" are dropped, and a question left with none has the single gold "";
- normalisation: lower case, drop ASCII ``string.punctuation``, drop the whole words a/an/the, then
  ``str.split()`` and join with one space; tokens are the normalised text split on whitespace;
- a question abstains when its null value exceeds the threshold, and then scores 1 exactly when it is NoAns;
- the best-threshold sweep starts from abstaining everywhere (the NoAns count) and crosses the questions in
  increasing order of their null value.

Where the project parts from the script on purpose (see :mod:`augment.qa.metric`), the tests say so.
"""
import collections
import math
import random
import re
import string

import numpy as np
import pytest

from augment.qa.metric import exact_match, f1_score, normalize_answer, squad_v2_metric
from augment.report.eval_page import threshold_curve


def _ex(qid, *answers):
    return {"id": qid, "answers": {"text": list(answers), "answer_start": [0] * len(answers)}}


# ---- the oracle ---------------------------------------------------------------------------------------------

def _norm(text):
    kept = "".join(c for c in text.lower() if c not in string.punctuation)
    return " ".join(re.sub(r"\b(?:a|an|the)\b", " ", kept).split())


def _f1(gold, pred):
    g, p = _norm(gold).split(), _norm(pred).split()
    if not g or not p:
        return float(g == p)
    same = sum((collections.Counter(g) & collections.Counter(p)).values())
    return 0.0 if not same else 2 * same / (len(g) + len(p))   # 2PR / (P + R) with P = s/|p|, R = s/|g|


def oracle_scores(examples, preds, diffs=None, threshold=0.0):
    """(exact, f1, has_ans) per question: raw scores, or thresholded ones when ``diffs`` is given."""
    exact, f1, has = {}, {}, {}
    for ex in examples:
        q, texts = ex["id"], ex["answers"]["text"]
        has[q] = len(texts) > 0
        golds = [t for t in texts if _norm(t)] or [""]
        exact[q] = float(max(_norm(g) == _norm(preds[q]) for g in golds))
        f1[q] = max(_f1(g, preds[q]) for g in golds)
        if diffs is not None and diffs[q] > threshold:
            exact[q] = f1[q] = float(not has[q])
    return exact, f1, has


def oracle_metric(examples, preds, diffs=None, threshold=0.0):
    exact, f1, has = oracle_scores(examples, preds, diffs, threshold)
    out = {}
    for prefix, keep in (("", lambda q: True), ("HasAns_", lambda q: has[q]), ("NoAns_", lambda q: not has[q])):
        qs = [q for q in exact if keep(q)]
        if qs:  # the script leaves an empty subset's keys out
            out.update({f"{prefix}exact": 100.0 * sum(exact[q] for q in qs) / len(qs),
                        f"{prefix}f1": 100.0 * sum(f1[q] for q in qs) / len(qs), f"{prefix}total": len(qs)})
    return out


def oracle_best(examples, preds, diffs, key):
    """The script's sweep: (best %, threshold), starting at 0.0; a NoAns question costs 1 when crossed if its
    prediction is non-empty text."""
    exact, f1, has = oracle_scores(examples, preds)
    raw = exact if key == "exact" else f1
    score = best = sum(1 for q in has if not has[q])
    thresh = 0.0
    for q in sorted(diffs, key=lambda k: diffs[k]):
        score += raw[q] if has[q] else (-1 if preds[q] else 0)
        if score > best:
            best, thresh = score, diffs[q]
    return 100.0 * best / len(raw), thresh


# ---- normalisation, EM and F1 by hand -------------------------------------------------------------------------

@pytest.mark.parametrize("raw, norm", [
    ("“Nile”", "“nile”"),                     # only ASCII punctuation is removed
    ("Nile—river", "nile—river"),             # an em dash is not ASCII: one token
    ("l'Arc", "larc"),                        # the apostrophe goes, the words join
    ("a-team", "ateam"),                      # punctuation first, so no article is left to remove
    ("the_end", "theend"),                    # "_" is punctuation
    ("theatre an anthem", "theatre anthem"),  # articles as whole words only
    ("The\u00a0Nile", "nile"),                # no-break space: a word boundary and str.split() whitespace
    ("Nile\triver\nbasin\u2003delta", "nile river basin delta"),
    ("Nile\u200briver", "nile\u200briver"),   # a zero-width space is no whitespace to str.split()
    ("THE A AN", ""),
    ("¿Qué?", "¿qué"),                        # "¿" is not ASCII
])
def test_normalisation_edges(raw, norm):
    assert normalize_answer(raw) == norm == _norm(raw)


def test_gold_answers_that_normalise_to_nothing_are_no_answer_but_the_question_stays_has_ans():
    for gold in ("the", "a.", "...", "An!"):
        for pred, score in (("", 100.0), ("the", 100.0), (" .", 100.0), ("Nile", 0.0)):
            out = squad_v2_metric([_ex("q", gold)], {"q": pred})
            assert (out["exact"], out["f1"]) == (score, score), (gold, pred)
            assert out["HasAns_total"] == 1 and out["NoAns_total"] == 0 and out["HasAns_exact"] == score
    # One real gold among them: only it counts, so "" is wrong.
    assert squad_v2_metric([_ex("q", "the", "Nile")], {"q": ""})["f1"] == 0.0
    # Answerable with an empty gold: abstaining scores 0 (HasAns), answering "" scores 1 (it matches "").
    out = squad_v2_metric([_ex("q", "the")], {"q": ""}, {"q": 1.0})
    assert out["exact"] == 0.0 and out["best_exact"] == 100.0 and out["best_exact_thresh"] == 1.0


def test_predictions_that_normalise_to_nothing_on_answerable_questions_score_zero():
    for pred in ("the", "?!", "a an"):
        out = squad_v2_metric([_ex("q", "Nile")], {"q": pred})
        assert out["exact"] == out["f1"] == 0.0 and exact_match(pred, "Nile") == 0 and f1_score(pred, "Nile") == 0.0


def test_duplicate_and_unicode_gold_answers():
    out = squad_v2_metric([_ex("q", "Nile river", "Nile river", "the Nile")], {"q": "Nile"})
    assert out["exact"] == 100.0 and out["f1"] == 100.0
    out = squad_v2_metric([_ex("q", "“Nile”")], {"q": "Nile"})    # curly quotes stay: "“nile”" != "nile"
    assert out["exact"] == 0.0 and out["f1"] == 0.0
    out = squad_v2_metric([_ex("q", "Nile\u00a0river")], {"q": "nile river"})
    assert out["exact"] == 100.0
    # [nile, river, basin] vs [nile, river]: precision 1, recall 2/3 -> 0.8
    assert squad_v2_metric([_ex("q", "Nile\triver\nbasin")], {"q": "Nile river"})["f1"] == pytest.approx(80.0)


# ---- the best-threshold sweep by hand --------------------------------------------------------------------------

def test_all_noans_abstaining_everywhere_is_best_below_every_difference():
    examples = [_ex("a"), _ex("b")]
    out = squad_v2_metric(examples, {"a": "x", "b": ""}, {"a": 1.0, "b": 2.0})
    # The script reports 100.0 at 0.0, a threshold that answers "a" wrongly here: the project's is below both.
    assert out["best_exact"] == 100.0 and out["best_exact_thresh"] < 1.0
    assert squad_v2_metric(examples, {"a": "x", "b": ""}, {"a": 1.0, "b": 2.0},
                           threshold=out["best_exact_thresh"])["exact"] == 100.0
    assert oracle_best(examples, {"a": "x", "b": ""}, {"a": 1.0, "b": 2.0}, "exact") == (100.0, 0.0)


def test_all_hasans_answering_everything_right_is_best_at_the_largest_difference():
    examples = [_ex("a", "x"), _ex("b", "y")]
    preds, diffs = {"a": "x", "b": "y"}, {"a": -1.0, "b": 2.0}
    out = squad_v2_metric(examples, preds, diffs)
    assert (out["best_exact"], out["best_exact_thresh"]) == (100.0, 2.0) == oracle_best(examples, preds, diffs,
                                                                                         "exact")
    assert out["HasAns_total"] == 2 and out["NoAns_total"] == 0 and out["NoAns_exact"] == 0.0


def test_a_difference_equal_to_the_threshold_answers():
    examples = [_ex("a", "x"), _ex("b")]
    out = squad_v2_metric(examples, {"a": "x", "b": "y"}, {"a": 0.5, "b": 0.5}, threshold=0.5)
    assert out["exact"] == 50.0   # both answer: a right, b wrong
    out = squad_v2_metric(examples, {"a": "x", "b": "y"}, {"a": 0.5, "b": 0.5}, threshold=0.4999)
    assert out["exact"] == 50.0 and out["HasAns_exact"] == 0.0 and out["NoAns_exact"] == 100.0


def test_an_empty_prediction_with_a_finite_difference_changes_nothing_when_crossed():
    examples = [_ex("a", "x"), _ex("b")]
    preds, diffs = {"a": "x", "b": ""}, {"a": 1.0, "b": 0.0}
    out = squad_v2_metric(examples, preds, diffs)
    # start 1 (b); crossing b at 0.0 keeps 1 (not better); crossing a at 1.0 makes 2.
    assert (out["best_exact"], out["best_exact_thresh"]) == (100.0, 1.0) == oracle_best(examples, preds, diffs,
                                                                                         "exact")


def test_a_noans_prediction_that_normalises_to_nothing_is_scored_as_answered():
    """A NoAns question whose best span is "the" or "," scores 1 answered (its text matches the gold ""), as the
    metric scores it at any threshold that answers it. The sweep charged it 1 when crossed (the official
    script's test is whether the prediction is non-empty text), so best_exact was 66.67 at 0.0 where applying
    0.0 scores 100."""
    examples = [_ex("x1", "yes"), _ex("x2", "no"), _ex("y")]
    preds, diffs = {"x1": "yes", "x2": "no", "y": "the"}, {"x1": 0.0, "x2": 0.0, "y": -1.0}
    out = squad_v2_metric(examples, preds, diffs)
    assert (out["best_exact"], out["best_exact_thresh"]) == (100.0, 0.0)
    assert (out["best_f1"], out["best_f1_thresh"]) == (100.0, 0.0)
    assert squad_v2_metric(examples, preds, diffs, threshold=0.0)["exact"] == 100.0
    assert oracle_best(examples, preds, diffs, "exact")[0] == pytest.approx(200 / 3)   # the script's number
    # eval.html's curve of F1 against the threshold applies the threshold too: its peak is the reported best.
    xs, ys = threshold_curve(examples, preds, diffs)
    assert max(ys) == pytest.approx(out["best_f1"]) and xs[int(np.argmax(ys))] == out["best_f1_thresh"]
    # Answered at every threshold (a NaN difference): it scores 1 there too.
    out = squad_v2_metric([_ex("y"), _ex("z")], {"y": ",", "z": ""}, {"y": math.nan, "z": 1.0})
    assert out["best_exact"] == 100.0 and squad_v2_metric(
        [_ex("y"), _ex("z")], {"y": ",", "z": ""}, {"y": math.nan, "z": 1.0}, threshold=out["best_exact_thresh"]
    )["exact"] == 100.0


# ---- against the oracle on random data -------------------------------------------------------------------------

_GOLDS = ["Nile", "the Nile", "the", "a.", "“Nile”", "Nile river", "Nile\u00a0river", "river", "..."]
_PREDS = ["", "Nile", "nile.", "the", ",", "“Nile”", "Nile\triver", "river Nile", "an apple", "Nile\u200briver"]


def _random_case(rng, n):
    examples, preds, diffs = [], {}, {}
    for k in range(n):
        q = f"q{k}"
        examples.append(_ex(q, *rng.sample(_GOLDS, rng.choice([0, 0, 1, 2, 3]))))
        preds[q] = rng.choice(_PREDS)
        diffs[q] = rng.uniform(-5, 5)   # distinct: no ties, where the project's sweep parts from the script's
    return examples, preds, diffs


def test_scores_and_splits_equal_the_oracle_on_random_questions():
    rng = random.Random(7)
    for _ in range(300):
        examples, preds, diffs = _random_case(rng, rng.randint(1, 8))
        threshold = rng.choice([0.0, -1.0, 2.5, math.inf, -math.inf])
        ours = squad_v2_metric(examples, preds, diffs, threshold=threshold)
        want = oracle_metric(examples, preds, diffs, threshold)
        assert {k: ours[k] for k in want} == want
        for prefix in ("HasAns_", "NoAns_"):   # an empty subset: the script leaves it out, the project writes 0
            if f"{prefix}total" not in want:
                assert ours[f"{prefix}total"] == 0 and ours[f"{prefix}exact"] == ours[f"{prefix}f1"] == 0.0
        plain, want = squad_v2_metric(examples, preds), oracle_metric(examples, preds)   # no null differences
        assert {k: plain[k] for k in want} == want and "best_f1" not in plain


def test_best_scores_equal_the_oracle_without_ties_or_empty_normalised_noans_predictions():
    """The script's sweep and the project's agree on the best score whenever no two differences tie and no NoAns
    prediction is text that normalises to nothing; the threshold agrees too unless abstaining everywhere is best
    (the script's 0.0; the project's is below every difference, so that applying it abstains everywhere)."""
    rng = random.Random(11)
    for _ in range(300):
        examples, preds, diffs = _random_case(rng, rng.randint(1, 8))
        for ex in examples:
            if not ex["answers"]["text"] and preds[ex["id"]] and not _norm(preds[ex["id"]]):
                preds[ex["id"]] = "Nile"
        out = squad_v2_metric(examples, preds, diffs)
        for key in ("exact", "f1"):
            best, thresh = oracle_best(examples, preds, diffs, key)
            assert out[f"best_{key}"] == pytest.approx(best)
            start = 100.0 * sum(1 for ex in examples if not ex["answers"]["text"]) / len(examples)
            if best == start and thresh == 0.0:
                assert out[f"best_{key}_thresh"] < min(diffs.values())
            else:
                assert out[f"best_{key}_thresh"] == thresh


def test_the_best_threshold_reproduces_the_best_score_on_random_questions():
    rng = random.Random(13)
    for _ in range(300):
        examples, preds, diffs = _random_case(rng, rng.randint(1, 8))
        for q in rng.sample(sorted(diffs), len(diffs) // 2):   # ties, and the odd NaN or infinite difference
            diffs[q] = rng.choice([0.0, 1.0, math.nan, math.inf, -math.inf])
        out = squad_v2_metric(examples, preds, diffs)
        for key in ("exact", "f1"):
            applied = squad_v2_metric(examples, preds, diffs, threshold=out[f"best_{key}_thresh"])[key]
            assert applied == pytest.approx(out[f"best_{key}"])
            for t in [v for v in diffs.values() if math.isfinite(v)] + [-10.0, 10.0]:
                assert squad_v2_metric(examples, preds, diffs, threshold=t)[key] <= out[f"best_{key}"] + 1e-9
