"""The SQuAD 2.0 metric against hand-computed values."""
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.qa.metric import exact_match, f1_score, normalize_answer, squad_v2_metric


def _ex(qid, *answers):
    return {"id": qid, "answers": {"text": list(answers), "answer_start": [0] * len(answers)}}


@pytest.mark.parametrize("raw, norm", [
    ("The  Quick, brown fox!", "quick brown fox"),
    ("an apple a day", "apple day"),
    ("theatre and anthem", "theatre and anthem"),   # articles only as whole words
    ("  U.S.A. ", "usa"),
    ("", ""),
])
def test_normalize_answer(raw, norm):
    assert normalize_answer(raw) == norm


def test_exact_match_and_f1_by_hand():
    assert exact_match("The Nile.", "nile") == 1
    assert exact_match("Nile river", "nile") == 0
    # [cat, sat] vs [cat, sat, down]: precision 1, recall 2/3, F1 0.8
    assert f1_score("the cat sat", "cat sat down") == pytest.approx(0.8)
    # shared tokens are counted with multiplicity: [b b c] vs [b c c] share one b and one c -> 2 of 3
    assert f1_score("b b c", "b c c") == pytest.approx(2 / 3)
    assert f1_score("dog", "cat") == 0.0
    assert f1_score("", "") == 1.0 and f1_score("the", "") == 1.0 and f1_score("x", "") == 0.0


def test_max_over_gold_answers():
    out = squad_v2_metric([_ex("q", "Denver Broncos", "the Broncos", "Broncos team")], {"q": "broncos"})
    assert out["exact"] == 100.0 and out["f1"] == 100.0
    out = squad_v2_metric([_ex("q", "Denver Broncos", "Broncos team win")], {"q": "Broncos win"})
    # vs [denver broncos]: 1 shared, p=1/2 r=1/2 -> 0.5; vs [broncos team win]: p=1 r=2/3 -> 0.8
    assert out["exact"] == 0.0 and out["f1"] == pytest.approx(80.0)


# a: answerable, exact; b: answerable, F1 0.8; c: unanswerable, abstains; d: unanswerable, answers
EXAMPLES = [_ex("a", "Paris"), _ex("b", "cat sat down"), _ex("c"), _ex("d")]
PREDS = {"a": "paris", "b": "the cat sat", "c": "", "d": "something"}


def test_has_ans_no_ans_split_without_thresholds():
    out = squad_v2_metric(EXAMPLES, PREDS)
    assert out == pytest.approx({
        "exact": 50.0, "f1": 70.0, "total": 4,
        "HasAns_exact": 50.0, "HasAns_f1": 90.0, "HasAns_total": 2,
        "NoAns_exact": 50.0, "NoAns_f1": 50.0, "NoAns_total": 2})


def test_threshold_and_best_thresholds_from_null_diffs():
    diffs = {"a": -2.0, "b": 0.5, "d": 1.0, "c": 3.0}
    out = squad_v2_metric(EXAMPLES, PREDS, diffs, threshold=0.0)
    # b, d, c abstain: a 1, b 0, c 1, d 1 (for both EM and F1)
    assert out["exact"] == 75.0 and out["f1"] == 75.0
    assert out["HasAns_exact"] == 50.0 and out["NoAns_exact"] == 100.0
    # Sweep from "all abstain" (c, d right: 2): +a -> 3 @ -2; +b -> 3 (EM) / 3.8 (F1) @ 0.5;
    # +d -> 2 / 2.8; +c -> 2 / 2.8.
    assert out["best_exact"] == 75.0 and out["best_exact_thresh"] == -2.0
    assert out["best_f1"] == pytest.approx(95.0) and out["best_f1_thresh"] == 0.5
    assert squad_v2_metric(EXAMPLES, PREDS, diffs, threshold=0.5)["f1"] == pytest.approx(95.0)


def test_ties_are_crossed_together():
    # x (right) and y (wrongly answered) share a difference: crossing one without the other is not
    # a threshold anyone can apply, so abstaining everywhere (2 of 3) stays best.
    examples = [_ex("x", "yes"), _ex("y"), _ex("z")]
    preds = {"x": "yes", "y": "no", "z": ""}
    diffs = {"x": 1.0, "y": 1.0, "z": 0.0}
    out = squad_v2_metric(examples, preds, diffs)
    assert out["best_exact"] == pytest.approx(200 / 3)
    assert out["best_exact_thresh"] < 0.0
    assert squad_v2_metric(examples, preds, diffs, threshold=out["best_exact_thresh"])["exact"] == \
        pytest.approx(out["best_exact"])


def test_answer_that_normalises_to_nothing_counts_as_has_answer_with_empty_gold():
    # The official script: has-answer by the raw list, gold text filtered by normalisation.
    out = squad_v2_metric([_ex("q", "the")], {"q": ""})
    assert out["HasAns_total"] == 1 and out["exact"] == 100.0


def test_best_thresholds_are_finite_when_every_difference_is_infinite():
    """No window held a context token (empty contexts): every null difference is +inf. The thresholds must
    still be numbers JSON can hold (squad-eval failed writing eval.json after the whole evaluation)."""
    gold = [{"id": "a", "answers": {"text": [], "answer_start": []}},
            {"id": "b", "answers": {"text": ["x"], "answer_start": [0]}}]
    m = squad_v2_metric(gold, {"a": "", "b": ""}, {"a": math.inf, "b": math.inf})
    assert math.isfinite(m["best_f1_thresh"]) and math.isfinite(m["best_exact_thresh"])
    assert m["best_f1"] == 50.0 and squad_v2_metric(gold, {"a": "", "b": ""}, {"a": math.inf, "b": math.inf},
                                                    threshold=m["best_f1_thresh"])["f1"] == 50.0
    json.dumps(m, allow_nan=False)


def test_missing_prediction_is_an_error():
    with pytest.raises(ValueError, match="no prediction"):
        squad_v2_metric(EXAMPLES, {"a": "paris"})


def test_null_or_other_values_are_an_error_naming_the_question():
    """A null (as JSON holds it: eval.json writes a difference that is not finite as null) was an AttributeError
    from the normalisation, or a TypeError from the threshold's comparison, naming no question."""
    preds = {ex["id"]: "paris" for ex in EXAMPLES}
    with pytest.raises(ValueError, match=r"1 prediction\(s\) are not strings .*, e.g. 'b': None"):
        squad_v2_metric(EXAMPLES, {**preds, "b": None})
    diffs = {ex["id"]: 0.5 for ex in EXAMPLES}
    with pytest.raises(ValueError, match=r"1 null-score difference\(s\) are not numbers .*, e.g. 'a': None"):
        squad_v2_metric(EXAMPLES, preds, {**diffs, "a": None})
    with pytest.raises(ValueError, match=r"e.g. 'a': '0.5'"):
        squad_v2_metric(EXAMPLES, preds, {**diffs, "a": "0.5"})


_ids = [f"q{i}" for i in range(6)]


@settings(max_examples=60, deadline=None)
@given(gold=st.lists(st.sampled_from(["", "red", "big red"]), min_size=6, max_size=6),
       preds=st.lists(st.sampled_from(["", "red", "blue", "big red"]), min_size=6, max_size=6),
       diffs=st.lists(st.integers(-3, 3).map(float), min_size=6, max_size=6))
def test_best_threshold_is_reproducible_and_maximal(gold, preds, diffs):
    examples = [_ex(q, g) if g else _ex(q) for q, g in zip(_ids, gold)]
    p, d = dict(zip(_ids, preds)), dict(zip(_ids, diffs))
    out = squad_v2_metric(examples, p, d)
    for key in ("exact", "f1"):
        best, thresh = out[f"best_{key}"], out[f"best_{key}_thresh"]
        assert squad_v2_metric(examples, p, d, threshold=thresh)[key] == pytest.approx(best)
        for t in set(diffs) | {min(diffs) - 1}:
            assert squad_v2_metric(examples, p, d, threshold=t)[key] <= best + 1e-9


@settings(max_examples=60, deadline=None)
@given(gold=st.lists(st.sampled_from(["", "red", "big red"]), min_size=6, max_size=6),
       preds=st.lists(st.sampled_from(["", "red", "blue", "big red"]), min_size=6, max_size=6),
       diffs=st.lists(st.sampled_from([-1.0, 0.0, 2.0, math.nan, math.inf, -math.inf]), min_size=6, max_size=6))
def test_nan_and_infinite_differences_give_a_finite_reproducible_best_threshold(gold, preds, diffs):
    """NaN logits (a diverged student, float16 overflow) give NaN null-score differences: the threshold sweep
    returned NaN as best_*_thresh, and eval.json could not be written. A NaN difference never abstains
    (NaN > t is false), +inf always does; the best threshold is a finite one that reproduces the best score."""
    examples = [_ex(q, g) if g else _ex(q) for q, g in zip(_ids, gold)]
    p, d = dict(zip(_ids, preds)), dict(zip(_ids, diffs))
    out = squad_v2_metric(examples, p, d)
    json.dumps(out, allow_nan=False)
    for key in ("exact", "f1"):
        best, thresh = out[f"best_{key}"], out[f"best_{key}_thresh"]
        assert squad_v2_metric(examples, p, d, threshold=thresh)[key] == pytest.approx(best)
        for t in (-5.0, -1.0, 0.0, 1.0, 2.0, 5.0):
            assert squad_v2_metric(examples, p, d, threshold=t)[key] <= best + 1e-9
