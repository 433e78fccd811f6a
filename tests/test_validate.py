import json
import re

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
    # The README's example of a reject; the message said "answers.text and answers.answer_start must be lists"
    ({"answers": {"text": ["France"]}}, "bad_type", ["q1", "answers.answer_start must be a list (it is missing)"]),
    ({"answers": {"text": "France", "answer_start": [12]}}, "bad_type", ["answers.text must be a list (got 'France')"]),
    ({"plausible_answers": {"text": [], "answer_start": None}}, "bad_type",
     ["plausible_answers.answer_start must be a list (got None)"]),
    ({"id": ""}, "missing_id", ["id"]),
    ({"plausible_answers": {"text": ["Paris"], "answer_start": [1]}}, "answer_mismatch", ["plausible_answers"]),
    # json.loads makes a lone surrogate of an unpaired "\ud800" escape; tokenizers and Arrow fail on it
    ({"context": "Paris is in France. \ud800"}, "bad_text", ["q1", "context", "'\\ud800'", "20"]),
    ({"question": "Where\udc00?"}, "bad_text", ["q1", "question", "5"]),
    ({"title": "t\ud800"}, "bad_text", ["q1", "title"]),
    ({"id": "q\ud800"}, "bad_text", ["id", "'q\\ud800'"]),
    ({"title": 5}, "bad_type", ["q1", "title", "5"]),
    ({"is_impossible": "false"}, "bad_type", ["q1", "is_impossible", "'false'"]),
    ({"is_impossible": 0}, "bad_type", ["q1", "is_impossible", "0"]),
    ({"is_impossible": True}, "is_impossible_mismatch", ["q1", "is_impossible is true", "1 answer"]),
    ({"is_impossible": False, "answers": {"text": [], "answer_start": []}}, "is_impossible_mismatch",
     ["q1", "is_impossible is false", "0 answers"]),
])
def test_invalid_rows_name_the_id_and_problem(kw, reason, words):
    with pytest.raises(InvalidExample) as e:
        validate_example(row(**kw))
    assert isinstance(e.value, ValueError)
    assert e.value.reason == reason
    for w in words:
        assert w in str(e.value)


def test_is_impossible_may_be_absent_null_or_agree_with_the_answers():
    no_answers = {"text": [], "answer_start": []}
    for kw in ({}, {"is_impossible": None}, {"is_impossible": False}, {"title": None},
               {"is_impossible": True, "answers": no_answers}, {"is_impossible": None, "answers": no_answers}):
        validate_example(row(**kw))


def test_check_fields_checks_types_but_not_offsets_or_emptiness():
    from augment.validate import check_fields

    check_fields(row(answers={"text": ["France"], "answer_start": [40]}, question=" ", is_impossible="x"))
    for kw, field in (({"question": None}, "question"), ({"context": None}, "context"),
                      ({"answers": {"text": [None], "answer_start": [0]}}, "answers[0] text"),
                      ({"context": "\ud800"}, "context")):
        with pytest.raises(InvalidExample, match=f"'q1'.*{re.escape(field)}"):
            check_fields(row(**kw))


@pytest.mark.parametrize("kw", [{"context": "Paris is in France. \ud800"}, {"title": 5},
                                {"is_impossible": "false"}])
def test_the_api_raises_invalid_example_for_records_augment_squad_rejects(kw, glove_kv):
    from augment import Augmenter

    aug = Augmenter(mlm=None, glove=glove_kv, seed=0)  # no masked LM: validation comes first
    with pytest.raises(InvalidExample, match="'q1'"):
        aug.augment_example(row(**kw), n=2)
    assert len(aug.augment_example(row(), n=2)) == 2


def test_augment_squad_sends_such_records_to_rejects_and_strict_stops(tmp_path):
    """augment-squad's reading loop: the bad record is a reject (written to rejects.jsonl, surrogate and
    all) rather than a crash in the workers; --strict makes it the one-line error."""
    from augment import manifest
    from augment.squad_io import Location
    from augment.blocks import StrictStop, walk

    rows = [row(id="good"), row(id="lone", context="Paris is in France. \ud800"), row(id="five", title=5),
            row(id="says-no", is_impossible="false")]
    located = [(Location("in.jsonl", f"line {i + 1}", i + 1), r) for i, r in enumerate(rows)]
    paragraphs = list(walk(located, rows_per_example=2, shard_rows=100, strict=False, limit=None))
    valid = [r for _, examples, _, _ in paragraphs for r in examples]
    rejects = [r for _, _, bad, _ in paragraphs for r in bad]
    assert [r["id"] for r in valid] == ["good"] and sum(p[3] for p in paragraphs) == 4
    assert [(r["id"], r["reason"]) for r in rejects] == [("lone", "bad_text"), ("five", "bad_type"),
                                                          ("says-no", "bad_type")]
    manifest.write_rejects(tmp_path, [{"rejects": rejects}])
    written = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert written[0]["record"] == rows[1] and written[1]["record"]["title"] == 5
    assert [(r["source"], r["line"], r["position"]) for r in written] == [("in.jsonl", 2, "line 2"),
                                                                         ("in.jsonl", 3, "line 3"),
                                                                         ("in.jsonl", 4, "line 4")]
    with pytest.raises(StrictStop, match=r"^--strict: in.jsonl: line 2: example 'lone': context .*\[bad_text\]$"):
        list(walk(located[1:], rows_per_example=2, shard_rows=100, strict=True, limit=None))
