"""augment.qa.evaluate: options checked by name before any window is made."""
import pytest
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from augment.qa.evaluate import evaluate

ROWS = [{"id": "a", "question": "Who wrote it?", "context": "It was written by Ann Lee in 1990.",
         "answers": {"text": ["Ann Lee"], "answer_start": [18]}}]


@pytest.mark.parametrize("option, value, least", [("chunk_size", 0, 1), ("batch_size", 0, 1), ("n_best", 0, 1),
                                                  ("max_answer_length", "30", 1), ("doc_stride", -1, 0)])
def test_options_that_cannot_work_are_refused_by_name(tiny_student_path, option, value, least):
    """chunk_size=0 and batch_size=0 were range()'s "arg 3 must not be zero", doc_stride=-1 the tokenizer's
    OverflowError, a string a TypeError, and n_best=0 no error at all, as augment.qa.answer's were."""
    model = AutoModelForQuestionAnswering.from_pretrained(tiny_student_path)
    tok = AutoTokenizer.from_pretrained(tiny_student_path)
    with pytest.raises(ValueError, match=f"{option} must be at least {least}, got {value!r}"):
        evaluate(model, tok, ROWS, **{"max_length": 64, "doc_stride": 16, option: value})
