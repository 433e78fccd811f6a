"""augment.qa.answer: questions in, answers with character offsets out (the stand-in for
transformers' removed question-answering pipeline)."""
import math

import pytest
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from augment.qa.answer import answer
from augment.qa.evaluate import evaluate


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_teacher_path):
    return (AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path),
            AutoTokenizer.from_pretrained(tiny_teacher_path))


def test_answers_agree_with_the_evaluation_and_carry_offsets(model_and_tokenizer, sample_rows):
    model, tok = model_and_tokenizer
    rows = sample_rows[:8]
    got = answer(model, tok, [r["question"] for r in rows], [r["context"] for r in rows],
                 max_length=96, doc_stride=48)
    ref = evaluate(model, tok, rows, max_length=96, doc_stride=48)
    for r, a in zip(rows, got):
        assert a["answer"] == ref["predictions"][r["id"]]
        assert a["null_diff"] == pytest.approx(ref["null_diffs"][r["id"]])
        if a["answer"]:
            assert r["context"][a["start"]:a["end"]] == a["answer"]
        else:
            assert a["start"] is None and a["end"] is None


def test_threshold_decides_abstention(model_and_tokenizer, sample_rows):
    model, tok = model_and_tokenizer
    r = sample_rows[0]
    always = answer(model, tok, r["question"], r["context"], threshold=math.inf, max_length=96, doc_stride=48)
    never = answer(model, tok, r["question"], r["context"], threshold=-math.inf, max_length=96, doc_stride=48)
    assert always["answer"] and r["context"][always["start"]:always["end"]] == always["answer"]
    assert never == {"answer": "", "start": None, "end": None, "null_diff": always["null_diff"]}


def test_one_context_many_questions_and_length_mismatch(model_and_tokenizer, sample_rows):
    model, tok = model_and_tokenizer
    r = sample_rows[0]
    many = answer(model, tok, [r["question"], r["question"]], r["context"], max_length=96, doc_stride=48)
    assert len(many) == 2 and many[0] == many[1]
    with pytest.raises(ValueError, match="2 questions but 1 contexts"):
        answer(model, tok, ["a?", "b?"], ["only one"])
    assert answer(model, tok, [], []) == []
