import pytest

from augment import InvalidExample
from augment.validate import validate_example


def row(**kw):
    base = {"id": "q1", "title": "t", "context": "Paris is in France.", "question": "Where?",
            "answers": {"text": ["France"], "answer_start": [12]}}
    base.update(kw)
    return base


def test_valid_row_passes():
    validate_example(row())
    validate_example(row(answers={"text": [], "answer_start": []}))


@pytest.mark.parametrize("kw, reason, words", [
    ({"answers": {"text": ["France"], "answer_start": [11]}}, "answer_mismatch", ["q1", "'France'", "11"]),
    ({"answers": {"text": ["France"], "answer_start": [40]}}, "offset_out_of_range", ["q1", "40"]),
    ({"answers": {"text": ["France"], "answer_start": [-1]}}, "offset_out_of_range", ["q1", "-1"]),
    ({"context": "   "}, "empty_context", ["q1", "context is empty"]),
    ({"question": ""}, "empty_question", ["q1", "question is empty"]),
    ({"question": None}, "empty_question", ["q1", "question"]),
    ({"answers": {"text": ["France"], "answer_start": ["12"]}}, "bad_type", ["q1", "'12'"]),
    ({"answers": {"text": ["France"], "answer_start": [True]}}, "bad_type", ["q1", "True"]),
    ({"context": 5}, "bad_type", ["q1", "int"]),
    ({"id": ""}, "missing_id", ["id"]),
    ({"plausible_answers": {"text": ["Paris"], "answer_start": [1]}}, "answer_mismatch", ["plausible_answers"]),
])
def test_invalid_rows_name_the_id_and_problem(kw, reason, words):
    with pytest.raises(InvalidExample) as e:
        validate_example(row(**kw))
    assert isinstance(e.value, ValueError)
    assert e.value.reason == reason
    for w in words:
        assert w in str(e.value)
