"""augment.qa.evaluate: options checked by name before any window is made."""
import types

import pytest
import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from augment.errors import NaNLogits
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


@pytest.fixture(scope="module")
def student(tiny_student_path):
    return (AutoModelForQuestionAnswering.from_pretrained(tiny_student_path),
            AutoTokenizer.from_pretrained(tiny_student_path))


@pytest.mark.parametrize("kwargs, message", [
    # Each was a TypeError from a comparison or from inside torch.autocast, naming no parameter.
    ({"threshold": "0"}, "threshold must be a number .*, got '0'"),
    ({"threshold": float("nan")}, "threshold must be a number .*, got nan"),
    ({"max_length": None}, "max_length must be at least 1, got None"),
    ({"max_length": True}, r"max_length must be at least 1, got True \(a bool, not an int\)"),
    ({"autocast_dtype": "bfloat16"}, "autocast_dtype must be None .*, torch.bfloat16 or torch.float16, got "
                                     "'bfloat16'"),
    ({"rows": None}, "rows must be an iterable of squad_v2 row dicts .*, got NoneType"),
    ({"rows": ROWS[0]}, r"rows must be an iterable .*, got dict \(one row: wrap it in a list\)"),
])
def test_inputs_of_the_wrong_kind_are_refused_naming_the_parameter(student, kwargs, message):
    model, tok = student
    args = {"rows": ROWS, "max_length": 64, "doc_stride": 16, **kwargs}
    with pytest.raises(ValueError, match=message):
        evaluate(model, tok, **args)


def test_rows_may_be_any_iterable_read_once(student):
    """A generator had no len(); a datasets.Dataset sliced into a dict of columns ("string indices must be
    integers"). Both are read once into the rows they yield, and scored as the list is."""
    import datasets
    import torch

    model, tok = student
    rows = ROWS + [{"id": "b", "question": "When?", "context": "It was 1990.",
                    "answers": {"text": [], "answer_start": []}}]
    want = evaluate(model, tok, rows, max_length=64, doc_stride=16, chunk_size=1)
    assert want["metrics"]["total"] == 2
    for given in ((r for r in rows), datasets.Dataset.from_list(rows)):
        got = evaluate(model, tok, given, max_length=64, doc_stride=16, chunk_size=1)
        assert got["raw_predictions"] == want["raw_predictions"] and got["metrics"] == want["metrics"]
    # torch.float32 is no autocast (torch.autocast would warn and run float32 anyway)
    same = evaluate(model, tok, rows, max_length=64, doc_stride=16, autocast_dtype=torch.float32)
    assert same["null_diffs"] == want["null_diffs"]


def test_a_swapped_model_and_tokenizer_is_named_not_an_attribute_error(tiny_student_path):
    """evaluate(tok, model, rows) failed with "'BertTokenizer' object has no attribute 'training'"."""
    model = AutoModelForQuestionAnswering.from_pretrained(tiny_student_path)
    tok = AutoTokenizer.from_pretrained(tiny_student_path)
    with pytest.raises(ValueError, match=r"^evaluate\(model, tokenizer, rows, \.\.\.\): model is a BertTokenizer\w* "
                                         r"and tokenizer a BertForQuestionAnswering; did you swap them\?$"):
        evaluate(tok, model, ROWS, max_length=64, doc_stride=16)
    with pytest.raises(ValueError, match=r"model must be a torch.nn.Module .*got a str; tokenizer must be a "
                                         r"Hugging Face tokenizer \(AutoTokenizer\), got a NoneType$"):
        evaluate(tiny_student_path, None, ROWS, max_length=64, doc_stride=16)


def test_the_windows_go_where_the_model_is_by_default(tiny_student_path, sample_rows, monkeypatch):
    """The default device was "cpu": a model on a GPU failed on its first batch with a device mismatch. It is now
    the model's own (a model on the meta device stands in for a GPU here); an explicit one is kept."""
    import augment.qa.evaluate as ev

    model = AutoModelForQuestionAnswering.from_pretrained(tiny_student_path).to("meta")
    tok = AutoTokenizer.from_pretrained(tiny_student_path)
    seen = []

    class Stop(Exception):
        pass

    def fake(model, tokenizer, chunk, max_length, doc_stride, batch_size, device, autocast_dtype):
        seen.append(str(device))
        raise Stop  # stop here: only where the windows would go is asked

    monkeypatch.setattr(ev, "features_and_logits", fake)
    for device in (None, "cpu"):
        with pytest.raises(Stop):
            evaluate(model, tok, sample_rows[:2], device=device)
    assert seen == ["meta", "cpu"]


def test_a_left_padding_tokenizer_gives_each_window_the_logits_it_has_alone(student):
    """A tokenizer saved with padding_side="left" left-padded the windows, and BERT numbers positions by index:
    every token of a padded window sat at a position shifted by its padding, and its logits (evaluate's, answer's,
    the teacher cache's) were not those of the same window alone (0.2 apart on a random tiny model)."""
    import copy

    from augment.qa.evaluate import features_and_logits

    model, tok = student
    left = copy.deepcopy(tok)
    left.padding_side = "left"
    features, start, end = features_and_logits(model.eval(), left, ROWS, 64, 16, 8, "cpu")
    real = torch.tensor(features["attention_mask"][0]).bool()                 # (L,)
    assert not real.all()  # the window is padded
    with torch.no_grad():
        alone = model(**{k: torch.tensor(features[k][0])[real][None]
                         for k in ("input_ids", "attention_mask", "token_type_ids")})
    torch.testing.assert_close(torch.from_numpy(start[0])[real], alone.start_logits[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.from_numpy(end[0])[real], alone.end_logits[0], atol=1e-5, rtol=1e-5)


class NaNAtCLS(torch.nn.Module):
    """Zero logits, but NaN on CLS (position 0) of the windows of contexts that name Ann: the null score of
    those questions is NaN, as a diverged model's or a float16 overflow's."""

    def __init__(self, tokenizer):
        super().__init__()
        self.ann = tokenizer.convert_tokens_to_ids("ann")

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        start = torch.zeros(input_ids.shape)                                  # (B, T)
        start[:, 0] = torch.where((input_ids == self.ann).any(dim=1), torch.nan, 0.0)
        return types.SimpleNamespace(start_logits=start, end_logits=torch.zeros(input_ids.shape))


def test_nan_logits_are_an_error_naming_the_question(tokenizer):
    """The NaN null score was dropped by min(): the question abstained with null_diff inf, and a model with NaN
    logits everywhere scored the share of unanswerable questions (50.0 here) with no error."""
    rows = [{"id": "none", "question": "Who wrote it?", "context": "It was written in 1990.",
             "answers": {"text": [], "answer_start": []}}, *ROWS]
    with pytest.raises(NaNLogits, match=r"^the model produced NaN logits for question 'a': EM and F1 from them "
                                        r"would mean nothing; .*float16") as caught:
        evaluate(NaNAtCLS(tokenizer), tokenizer, rows, max_length=64, doc_stride=16)
    assert caught.value.example_ids == ["a"]


def test_nan_logits_in_a_later_chunk_name_its_first_question_and_count_the_questions_evaluated(tokenizer):
    """The evaluation stops at the first chunk with NaN logits: the line names its first such question, counts the
    others, and says how many questions were evaluated by then (every chunk's, not the last one's)."""
    plain = {"question": "Who wrote it?", "context": "It was written in 1990.",
             "answers": {"text": [], "answer_start": []}}
    rows = [{**plain, "id": "x"}, {**plain, "id": "y"}, {**ROWS[0], "id": "c"}, {**ROWS[0], "id": "d"},
            {**plain, "id": "z"}]
    with pytest.raises(NaNLogits, match=r"^the model produced NaN logits for question 'c' \(and 1 more of the first "
                                        r"4\): EM and F1") as caught:
        evaluate(NaNAtCLS(tokenizer), tokenizer, rows, max_length=64, doc_stride=16, chunk_size=2)
    assert caught.value.example_ids == ["c", "d"]


def test_a_left_padding_tokenizers_windows_are_cut_to_the_longest_before_the_model(tokenizer):
    """Padded on the right whatever the tokenizer's padding_side, every window is trimmed as a right-padding
    tokenizer's is: the padding is not computed."""
    import copy

    from augment.qa.evaluate import features_and_logits

    widths = []

    class Zeros(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None, token_type_ids=None):
            widths.append(input_ids.shape[1])
            zeros = torch.zeros(input_ids.shape)                              # (B, T)
            return types.SimpleNamespace(start_logits=zeros, end_logits=zeros)

    left = copy.deepcopy(tokenizer)
    left.padding_side = "left"
    features, _, _ = features_and_logits(Zeros(), left, ROWS, 64, 16, 8, "cpu")
    assert widths == [sum(features["attention_mask"][0])] and widths[0] < 64
