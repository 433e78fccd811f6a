"""augment.qa.answer: questions in, answers with character offsets out (the stand-in for
transformers' removed question-answering pipeline)."""
import math
import warnings
from types import SimpleNamespace

import pytest
import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from augment.qa.answer import answer


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_teacher_path):
    return (AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path),
            AutoTokenizer.from_pretrained(tiny_teacher_path))


class KeywordQA(torch.nn.Module):
    """A QA "model" whose logits are set by hand: start 10 on the token ``ann``, end 10 on ``lee``, 5 on
    CLS (position 0) for both, 0 elsewhere. So the best span is "Ann Lee" with score 20 when both are
    in the window, the null score is 5 + 5 = 10, and the answers below follow by hand."""

    def __init__(self, tokenizer):
        super().__init__()
        self.start_id, self.end_id = tokenizer.convert_tokens_to_ids(["ann", "lee"])

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        start = 10.0 * (input_ids == self.start_id).float()  # (B, T)
        end = 10.0 * (input_ids == self.end_id).float()
        start[:, 0] = end[:, 0] = 5.0
        return SimpleNamespace(start_logits=start, end_logits=end)


def test_answers_are_the_best_span_at_its_character_offsets_or_abstain(tokenizer):
    model = KeywordQA(tokenizer)
    got = answer(model, tokenizer, ["Who wrote it?", "Who wrote it?"],
                 ["It was written by Ann Lee in 1990.", "It was written in 1990."], max_length=96, doc_stride=48)
    # Span score 20 against a null score of 10: null_diff -10, the answer at characters 18..25.
    assert got[0] == {"answer": "Ann Lee", "start": 18, "end": 25, "null_diff": pytest.approx(-10.0)}
    # No ann/lee: every span scores 0, the null 10 beats it by 10 > threshold 0: abstain.
    assert got[1] == {"answer": "", "start": None, "end": None, "null_diff": pytest.approx(10.0)}
    # A threshold above the margin answers anyway, with the best span (score 0, the first token).
    forced = answer(model, tokenizer, "Who wrote it?", "It was written in 1990.", threshold=11, max_length=96,
                    doc_stride=48)
    assert forced["null_diff"] == pytest.approx(10.0) and forced["answer"]
    assert "It was written in 1990."[forced["start"]:forced["end"]] == forced["answer"]


def test_an_answer_ending_in_a_decomposed_accent_keeps_the_accent(tokenizer):
    """bert-base-uncased strips accents: "Lee\u0301" (e + combining acute) has the offsets of "Lee", and
    the answer would end between the letter and its accent."""
    model = KeywordQA(tokenizer)
    context = "It was written by Ann Lee\u0301 in 1990."
    (got,) = answer(model, tokenizer, ["Who wrote it?"], [context], max_length=96, doc_stride=48)
    assert got["answer"] == "Ann Lee\u0301" and (got["start"], got["end"]) == (18, 26)


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


def test_windows_longer_than_the_models_positions_are_refused_by_name(model_and_tokenizer, sample_rows):
    """The tiny model has 512 positions; 600-token windows failed with a tensor-size error deep in the forward."""
    model, tok = model_and_tokenizer
    r = sample_rows[0]
    with pytest.raises(ValueError, match="max_length 600 exceeds the model's 512 positions"):
        answer(model, tok, r["question"], r["context"] * 5, max_length=600, doc_stride=128)


def test_defaults_fit_a_model_of_few_positions(tokenizer, short_mlm_path, sample_rows):
    """max_length=None: 384 tokens, or the model's positions when it has fewer; doc_stride=None: a third of
    the window. A 64-position model answered with the old fixed defaults was refused ("max_length 384
    exceeds the model's 64 positions")."""
    from transformers import BertConfig, BertForQuestionAnswering

    torch.manual_seed(0)
    short = BertForQuestionAnswering(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                                                num_attention_heads=2, intermediate_size=64,
                                                max_position_embeddings=64))
    r = sample_rows[0]
    got = answer(short, tokenizer, r["question"], r["context"])
    assert got == answer(short, tokenizer, r["question"], r["context"], max_length=64, doc_stride=21)
    assert got != answer(short, tokenizer, r["question"], r["context"], max_length=64, doc_stride=8)


class DeviceProbe(torch.nn.Module):
    """Weights on the meta device; records where its inputs were made, answers with zeros on the CPU."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1, device="meta"))
        self.seen = set()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        self.seen.add(input_ids.device.type)
        zeros = torch.zeros(input_ids.shape)
        return SimpleNamespace(start_logits=zeros, end_logits=zeros)


def test_windows_go_where_the_models_weights_are_unless_told(tokenizer):
    """device=None: the model's own device (a model on CUDA got CPU tensors before, and failed)."""
    probe = DeviceProbe()
    answer(probe, tokenizer, "Who wrote it?", "It was written by Ann Lee.", max_length=96, doc_stride=48)
    assert probe.seen == {"meta"}
    probe.seen.clear()
    answer(probe, tokenizer, "Who wrote it?", "It was written by Ann Lee.", max_length=96, doc_stride=48,
           device="cpu")
    assert probe.seen == {"cpu"}


@pytest.mark.parametrize("option, value", [("batch_size", 0), ("doc_stride", -5), ("max_answer_length", 0),
                                           ("n_best", 0)])
def test_options_that_cannot_work_are_refused_by_name(model_and_tokenizer, option, value):
    """batch_size=0 was range()'s "arg 3 must not be zero", doc_stride=-5 the tokenizer's "can't convert negative
    int to unsigned", and max_answer_length=0 no error at all: every question abstained, with null_diff inf;
    n_best=0 was no error either (the span search silently took every start and end)."""
    model, tok = model_and_tokenizer
    with pytest.raises(ValueError, match=f"{option} must be at least {0 if option == 'doc_stride' else 1}, "
                                         f"got {value}"):
        answer(model, tok, "Who sang?", "Ann sang.", **{option: value})


@pytest.mark.parametrize("option, value", [("batch_size", "8"), ("n_best", None), ("max_answer_length", 2.5)])
def test_options_of_the_wrong_type_are_refused_by_name(model_and_tokenizer, option, value):
    """A string from a config file was a TypeError from a comparison ("'<' not supported between ...")."""
    model, tok = model_and_tokenizer
    with pytest.raises(ValueError, match=f"{option} must be at least 1, got {value!r}"):
        answer(model, tok, "Who sang?", "Ann sang.", **{option: value})


@pytest.mark.parametrize("kwargs, message", [
    # Each was a TypeError from inside list(), the tokenizer or a comparison, naming no parameter.
    ({"question": None}, "question must be a string or a list of strings, got None"),
    ({"question": ["Who sang?", None]}, r"question\[1\] must be a string, got None"),
    # An empty question was answered with a span (the model picks one whatever it is asked).
    ({"question": ""}, "question is empty: there is nothing to answer"),
    ({"question": ["Who sang?", " \t"]}, r"question\[1\] is empty \(only whitespace\)"),
    ({"context": 5}, "context must be a string or a list of strings, got 5"),
    ({"context": "Ann\ud800 sang."}, "context holds a lone surrogate '\\\\ud800' at character 3"),
    ({"threshold": "0"}, "threshold must be a number .*, got '0'"),
    ({"threshold": None}, "threshold must be a number .*, got None"),
    ({"threshold": float("nan")}, "threshold must be a number .*, got nan"),  # silently answered everything
    ({"max_length": True}, r"max_length must be at least 1, got True \(a bool, not an int\)"),
    ({"max_length": 64.0}, r"max_length must be at least 1, got 64.0 \(a float, not an int\)"),
    ({"max_length": "64"}, "max_length must be at least 1, got '64'"),
    ({"doc_stride": True}, "doc_stride must be at least 0, got True"),
])
def test_inputs_of_the_wrong_kind_are_refused_naming_the_parameter(tokenizer, kwargs, message):
    args = {"question": "Who sang?", "context": "Ann sang.", "max_length": 32, **kwargs}
    with pytest.raises(ValueError, match=message):
        answer(KeywordQA(tokenizer), tokenizer, **args)


def test_numpy_counts_and_thresholds_and_iterables_of_questions_are_taken(tokenizer):
    import numpy as np

    model = KeywordQA(tokenizer)
    want = answer(model, tokenizer, ["Who wrote it?"] * 2, "It was written by Ann Lee.", max_length=96, doc_stride=48)
    got = answer(model, tokenizer, (q for q in ["Who wrote it?"] * 2), "It was written by Ann Lee.",
                 max_length=np.int64(96), doc_stride=np.int32(48), batch_size=np.int64(1), threshold=np.float32(0))
    assert got == want and want[0]["answer"] == "Ann Lee"


def test_windows_too_short_for_any_stride_say_how_long_they_must_be(tokenizer):
    """BERT's windows hold [CLS] q [SEP] c [SEP]: 4 tokens leave no room at any stride, and the message was
    "use a doc_stride below 0" (for a stride the caller had not given)."""
    with pytest.raises(ValueError, match="^max_length 4 leaves no room for the question with any doc_stride; "
                                         "use a max_length of at least 5$"):
        answer(KeywordQA(tokenizer), tokenizer, "Who?", "Ann sang.", max_length=4)
    with pytest.warns(UserWarning, match="1 of 1 question .* cut to 1 token"):  # "who ?" in a room of one
        got = answer(KeywordQA(tokenizer), tokenizer, "Who?", "Ann sang.", max_length=5, doc_stride=0)
    assert math.isfinite(got["null_diff"])  # one context token fits: a span to compare with the null


def test_questions_cut_to_fit_the_windows_are_counted_in_one_warning(tokenizer):
    """squad-eval says how many questions its windows cut; answer() cut them without a word, and a long question
    was answered as its first 20 tokens."""
    model, context = KeywordQA(tokenizer), "It was written by Ann Lee in 1990."
    long = "why " * 30 + "did Ann Lee write it?"
    with pytest.warns(UserWarning) as caught:
        got = answer(model, tokenizer, [long, "Who wrote it?", long], context, max_length=32, doc_stride=8)
    assert [str(w.message) for w in caught] == [
        "2 of 3 questions (66.7%) cut to 20 tokens: windows of max_length 32 with doc_stride 8 leave no more room "
        "for the question; a smaller doc_stride leaves more"]
    assert caught[0].filename == __file__  # the caller's line, not answer()'s
    assert got[1]["answer"] == "Ann Lee"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none cut: no warning
        answer(model, tokenizer, ["Who wrote it?"], [context], max_length=32, doc_stride=8)


def test_a_swapped_model_and_tokenizer_is_named_not_an_attribute_error(model_and_tokenizer):
    """answer(tokenizer, model, ...) failed with "'BertTokenizer' object has no attribute 'parameters'"."""
    model, tok = model_and_tokenizer
    with pytest.raises(ValueError, match=r"^answer\(model, tokenizer, question, context, \.\.\.\): model is a "
                                         r"BertTokenizer\w* and tokenizer a BertForQuestionAnswering; did you swap"):
        answer(tok, model, "Who wrote it?", "It was written by Ann Lee in 1990.")
    with pytest.raises(ValueError, match=r"tokenizer must be a Hugging Face tokenizer \(AutoTokenizer\), got a str"):
        answer(model, "bert-base-uncased", "Who wrote it?", "It was written by Ann Lee in 1990.")


class NaNNullQA(KeywordQA):
    """KeywordQA with a NaN null score (CLS) in the windows that hold ``ann``: a diverged model's, or float16's."""

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        out = super().forward(input_ids, attention_mask, token_type_ids)
        out.start_logits[:, 0] = torch.where((input_ids == self.start_id).any(dim=1), torch.nan, 5.0)
        return out


def test_nan_logits_are_named_in_one_warning(tokenizer):
    """A NaN null score was skipped without a word: "Ann Lee", scored 20, abstained with null_diff inf, as a
    question the model was sure had no answer."""
    contexts = ["It was written in 1990.", "It was written by Ann Lee in 1990."]
    with pytest.warns(UserWarning) as caught:
        got = answer(NaNNullQA(tokenizer), tokenizer, ["Who wrote it?"] * 2, contexts, max_length=96, doc_stride=48)
    assert [str(w.message) for w in caught] == [
        "the model produced NaN logits for question[1]: answered from its finite scores, or abstaining (null_diff "
        "inf) where it has no finite null score or span; the model may have diverged, or overflowed in float16"]
    assert caught[0].filename == __file__
    assert got[0]["null_diff"] == pytest.approx(10.0) and got[1]["null_diff"] == math.inf


def test_the_nan_warning_names_the_first_question_of_many_or_the_question_of_one(tokenizer):
    ann, plain = "It was written by Ann Lee in 1990.", "It was written in 1990."
    model = NaNNullQA(tokenizer)
    with pytest.warns(UserWarning) as caught:
        answer(model, tokenizer, ["Who wrote it?"] * 3, [plain, ann, ann], max_length=96, doc_stride=48)
        answer(model, tokenizer, "Who wrote it?", ann, max_length=96, doc_stride=48)
    assert [str(w.message).split(":")[0] for w in caught] == [
        "the model produced NaN logits for question[1] (and 1 more)", "the model produced NaN logits for the question"]


def test_a_tokenizer_with_ids_past_the_models_embeddings_is_refused(tiny_teacher_path, sample_rows):
    """A tokenizer of another model (or with added tokens and no resize_token_embeddings) was an IndexError ('index
    out of range in self') from the embedding lookup."""
    model = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path)
    model.resize_token_embeddings(1000)
    r = sample_rows[0]
    with pytest.raises(ValueError, match=r"the model's tokenizer has 30522 tokens but the model embeds only 1000 "
                                         r"\(ids 0..999\)"):
        answer(model, AutoTokenizer.from_pretrained(tiny_teacher_path), r["question"], r["context"])
