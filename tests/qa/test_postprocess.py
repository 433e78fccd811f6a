"""Span search and null scores of augment.qa.postprocess on crafted logits."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.qa.features import prepare_eval_features, prepare_train_features
from augment.qa.postprocess import apply_threshold, postprocess_predictions

CONTEXT = "alpha beta gamma delta epsilon zeta"
WORDS = CONTEXT.split()
_OFFS = [[CONTEXT.index(w), CONTEXT.index(w) + len(w)] for w in WORDS]
L = 10


def _window(qid, first_word, n_words=5):
    """[CLS] q [SEP] <n_words context words from first_word> [SEP] pad...: length L."""
    ctx = _OFFS[first_word:first_word + n_words]
    offsets = [None, None, None] + ctx + [None] * (L - 3 - len(ctx))
    mask = [1, 0, 0] + [1] * len(ctx) + [0] * (L - 3 - len(ctx))
    return {"example_id": qid, "offset_mapping": offsets, "context_mask": mask}


def _logits(spec, base=-5.0):
    x = np.full(L, base)
    for pos, val in spec.items():
        x[pos] = val
    return x


EX = [{"id": "q", "context": CONTEXT}]


def test_best_span_across_windows_and_null_from_cls():
    feats = [_window("q", 0), _window("q", 1)]  # window 0: alpha..epsilon, window 1: beta..zeta
    start = np.stack([_logits({0: 1.0, 3: 2.0}), _logits({0: 0.5, 5: 4.0})])
    end = np.stack([_logits({0: 2.0, 4: 2.0}), _logits({0: -1.0, 6: 3.0})])
    preds, diffs = postprocess_predictions(EX, feats, start, end)
    # window 0 best: alpha..beta = 4; window 1 best: delta..epsilon (pos 5..6 -> words 3..4) = 7
    assert preds == {"q": "delta epsilon"}
    # null = min(1 + 2, 0.5 - 1) = -0.5; diff = -0.5 - 7
    assert diffs["q"] == pytest.approx(-7.5)


def test_max_answer_length_and_start_before_end():
    feats = [_window("q", 0)]
    # Highest start at 7 (epsilon) but highest end at 6 (delta): end before start is invalid.
    # Next: start 3 + end 6 scores 11 over 4 tokens; with max_answer_length 2 the best is 5..6 (8).
    start = _logits({3: 5.0, 5: 2.0, 7: 6.0})[None]
    end = _logits({6: 6.0})[None]
    preds, diffs = postprocess_predictions(EX, feats, start, end, max_answer_length=2)
    assert preds["q"] == "gamma delta"
    assert diffs["q"] == pytest.approx(-10.0 - 8.0)   # null -5 + -5, best 2 + 6
    preds, diffs = postprocess_predictions(EX, feats, start, end, max_answer_length=30)
    assert preds["q"] == "alpha beta gamma delta"
    assert diffs["q"] == pytest.approx(-10.0 - 11.0)


def test_question_and_padding_tokens_never_answer():
    feats = [_window("q", 0, n_words=3)]
    start = _logits({1: 50.0, 8: 60.0, 4: 1.0})[None]
    end = _logits({2: 50.0, 9: 60.0, 4: 1.0})[None]
    preds, _ = postprocess_predictions(EX, feats, start, end)
    assert preds["q"] == "beta"


def test_small_n_best_falls_back_to_a_full_search():
    # The single best start and end pair into an invalid span; the best valid one is still found.
    feats = [_window("q", 0)]
    start = _logits({7: 9.0, 4: 5.0})[None]
    end = _logits({3: 9.0, 5: 5.0})[None]
    preds, _ = postprocess_predictions(EX, feats, start, end, n_best=1)
    assert preds["q"] == "beta gamma"


def test_examples_are_kept_apart_and_features_may_be_columns_or_a_dataset():
    import datasets

    ex = EX + [{"id": "r", "context": CONTEXT}]
    feats = [_window("r", 0), _window("q", 0)]
    start = np.stack([_logits({3: 3.0}), _logits({5: 3.0})])
    end = np.stack([_logits({3: 3.0}), _logits({5: 3.0})])
    expected = ({"q": "gamma", "r": "alpha"}, {"q": -16.0, "r": -16.0})
    assert postprocess_predictions(ex, feats, start, end) == expected
    cols = {k: [f[k] for f in feats] for k in feats[0]}
    assert postprocess_predictions(ex, cols, start, end) == expected
    assert postprocess_predictions(ex, datasets.Dataset.from_list(feats), start, end) == expected


@pytest.mark.parametrize("nan_at", ["start", "end"])
def test_a_nan_logit_leaves_the_windows_best_finite_span(nan_at):
    # argmax over the span scores picked the NaN one, so a single NaN logit (epsilon, position 7) lost the
    # window's best span, beta..gamma = 6, and the question abstained with null_diff inf.
    feats = [_window("q", 0)]
    start = _logits({0: 1.0, 4: 3.0} | ({7: np.nan} if nan_at == "start" else {}))[None]
    end = _logits({0: 1.0, 5: 3.0} | ({7: np.nan} if nan_at == "end" else {}))[None]
    preds, diffs = postprocess_predictions(EX, feats, start, end)
    assert preds == {"q": "beta gamma"}
    assert diffs["q"] == pytest.approx(2.0 - 6.0)   # null from CLS, 1 + 1, minus the best finite span


def test_a_question_whose_logits_are_all_nan_abstains():
    nan = np.full((1, L), np.nan)
    preds, diffs = postprocess_predictions(EX, [_window("q", 0)], nan, nan)
    assert preds == {"q": ""} and diffs == {"q": float("inf")}


def test_nan_examples_reads_both_logits_where_an_answer_is_read_and_names_each_example_once():
    """A NaN end logit counts as a start one does; one on a question token (context_mask 0), which no answer reads,
    does not, unless the features have no context_mask (every position read); two windows are one example."""
    from augment.qa.postprocess import nan_examples

    features = {"example_id": ["a", "a", "b"], "context_mask": [[1, 0, 1]] * 3}
    start, end = np.zeros((3, 3)), np.zeros((3, 3))                    # (F, L)
    end[0, 2] = end[1, 0] = np.nan  # example a: a context token's end logit, then CLS's, in its two windows
    start[2, 1] = np.nan  # example b: a question token's
    assert nan_examples(features, start, end) == ["a"]
    assert nan_examples({"example_id": features["example_id"]}, start, end) == ["a", "b"]


def test_apply_threshold():
    preds = {"a": "x", "b": "y", "c": "z"}
    assert apply_threshold(preds, {"a": -1.0, "b": 0.0, "c": 0.1}) == {"a": "x", "b": "y", "c": ""}
    assert apply_threshold(preds, {"a": -1.0, "b": 0.0, "c": 0.1}, threshold=-0.5) == \
        {"a": "x", "b": "", "c": ""}


def test_logits_on_the_train_labels_read_back_the_answer(tokenizer):
    # features -> labels -> logits peaked on them -> postprocess gives the answer text back.
    filler = "Rivers carry sediment toward the sea over many long years. "
    answer = "the Kreuzberg bridge"
    context = filler * 8 + answer + " opened. " + filler * 8
    row = {"id": "k", "question": "What opened?", "context": context,
           "answers": {"text": [answer], "answer_start": [context.index(answer)]}}
    cols = {k: [v] for k, v in row.items()}
    tr = prepare_train_features(cols, tokenizer, max_length=64, doc_stride=16)
    ev = prepare_eval_features(cols, tokenizer, max_length=64, doc_stride=16)
    n = len(tr["input_ids"])
    start, end = np.zeros((n, 64)), np.zeros((n, 64))
    start[np.arange(n), tr["start_positions"]] += 5.0
    end[np.arange(n), tr["end_positions"]] += 5.0
    preds, diffs = postprocess_predictions([row], ev, start, end)
    assert preds["k"] == answer
    # the null is the minimum over windows: 0 in the windows holding the answer, 10 elsewhere
    assert diffs["k"] == pytest.approx(0.0 - 10.0)


def test_mismatched_logits_are_rejected():
    with pytest.raises(ValueError, match="features"):
        postprocess_predictions(EX, [_window("q", 0)], np.zeros((2, L)), np.zeros((2, L)))


def test_whitespace_never_starts_or_ends_an_answer():
    """Byte-level BPE makes a tab or the second of two spaces a token of its own: such a token never starts or
    ends an answer (a span of them alone would be an empty answer that is not an abstention). A token whose
    offsets hold a word and the space before it (DeBERTa, trim_offsets=False) answers with the word alone."""
    from augment.qa.postprocess import best_spans

    context = "alpha\tbeta  gamma"
    # alpha, "\t", beta, " ", " ", gamma, and " gamma" as an untrimmed tokenizer gives it
    offsets = [[0, 5], [5, 6], [6, 10], [10, 11], [11, 12], [12, 17], [11, 17]]
    feats = [{"example_id": "q", "offset_mapping": [None] + offsets + [None] * 3,
              "context_mask": [1] + [1] * len(offsets) + [0] * 3}]
    ex = [{"id": "q", "context": context}]
    n = 1 + len(offsets) + 3
    at = {"tab": 2, "beta": 3, "second space": 5, "untrimmed gamma": 7}
    start, end = np.zeros((1, n)), np.zeros((1, n))
    start[0, at["tab"]], end[0, at["second space"]] = 9.0, 9.0  # would be "\tbeta  "
    start[0, at["beta"]], end[0, at["beta"]] = 5.0, 5.0
    (a, b, _), = best_spans(ex, feats, start, end).values()
    assert (a, b) == (6, 10) and context[a:b] == "beta"
    assert postprocess_predictions(ex, feats, start, end)[0] == {"q": "beta"}
    start[0, at["tab"]], end[0, at["tab"]] = 9.0, 9.0  # the tab alone scores best: not an answer
    assert postprocess_predictions(ex, feats, start, end)[0] == {"q": "beta"}
    start, end = np.zeros((1, n)), np.zeros((1, n))
    start[0, at["untrimmed gamma"]], end[0, at["untrimmed gamma"]] = 9.0, 9.0
    assert best_spans(ex, feats, start, end)["q"][:2] == (12, 17)
    assert postprocess_predictions(ex, feats, start, end)[0] == {"q": "gamma"}


def test_a_bpe_tab_token_next_to_the_answer_is_left_out(bpe_tokenizer_dir):
    """The same through a real byte-level BPE tokenizer's features: the tab's token, though its start logit is
    the highest, does not start the answer."""
    from transformers import AutoTokenizer

    roberta_tokenizer = AutoTokenizer.from_pretrained(bpe_tokenizer_dir)
    context = "It was founded at the \u00e9cole\tNormale in Paris."
    row = {"id": "e", "question": "Where?", "context": context}
    ev = prepare_eval_features({k: [v] for k, v in row.items()}, roberta_tokenizer, max_length=64, doc_stride=16)
    offs = ev["offset_mapping"][0]
    tab = next(t for t, o in enumerate(offs) if o is not None and context[o[0]:o[1]] == "\t")
    stop = context.index("Normale") + len("Normale")
    last = next(t for t, o in enumerate(offs) if o is not None and o[1] == stop)  # its last piece
    assert tab < last
    start, end = np.zeros((1, 64)), np.zeros((1, 64))
    first = next(t for t, o in enumerate(offs) if o is not None and o[0] == stop - len("Normale"))
    start[0, tab], start[0, first], end[0, last] = 9.0, 5.0, 9.0
    assert postprocess_predictions([row], ev, start, end)[0] == {"e": "Normale"}


def test_the_null_score_is_read_at_cls_wherever_the_window_puts_it():
    """XLNet lays a window out as question <sep> context <sep> <cls>: CLS is the last token, the one token the
    context mask holds that has no context offset. Its logits (3 + 3) are the null score, not the first
    question token's (9 + 9); the best span is beta alone (2 + 2)."""
    offsets = [None, None, None] + _OFFS[:5] + [None, None]      # q q <sep> alpha..epsilon <sep> <cls>
    mask = [0, 0, 0] + [1] * 5 + [0, 1]
    feats = [{"example_id": "q", "offset_mapping": offsets, "context_mask": mask}]
    start = _logits({0: 9.0, 9: 3.0, 4: 2.0})[None]
    end = _logits({0: 9.0, 9: 3.0, 4: 2.0})[None]
    preds, diffs = postprocess_predictions(EX, feats, start, end)
    assert preds == {"q": "beta"}
    assert diffs["q"] == pytest.approx(6.0 - 4.0)


# (context, offsets of the start token, of the end token, answer): offsets as the tokenizers give them.
# bert-base-uncased strips marks (Mn) from its tokens, so a word's last mark lies after its offsets; byte-level
# BPE makes a mark, a variation selector, a ZWJ, a skin tone or a flag's indicator tokens of their own.
FAMILY = "\U0001F468\u200d\U0001F469\u200d\U0001F467"
KSHATRIYA = "\u0915\u094d\u0937\u0924\u094d\u0930\u093f\u092f"  # क्षत्रिय
CLUSTER_CASES = {
    "mark token starts the span": ("Beyonce\u0301 Anne sang", (7, 8), (9, 13), "Anne"),
    "mark token alone": ("Beyonce\u0301 Anne sang", (7, 8), (7, 8), "e\u0301"),
    "accent after the end": ("Beyonce\u0301 Anne", (0, 7), (0, 7), "Beyonce\u0301"),
    "variation selector after the end": ("I \u2764\ufe0f Paris", (2, 3), (2, 3), "\u2764\ufe0f"),
    # "नमस्ते": its last vowel sign is a mark of combining class 0, which unicodedata.combining() missed
    "Devanagari vowel sign after the end": ("\u0928\u092e\u0938\u094d\u0924\u0947 ji", (0, 1), (4, 5),
                                            "\u0928\u092e\u0938\u094d\u0924\u0947"),
    "Devanagari spacing sign (Mc) after the end": ("\u0930\u093e\u092e ji", (0, 1), (0, 1), "\u0930\u093e"),
    "ZWJ sequence cut after its first person": (f"the {FAMILY} family", (4, 5), (4, 5), FAMILY),
    "skin-toned ZWJ sequence cut after its first person": ("\U0001F468\U0001F3FD\u200d\U0001F469 ok", (0, 1), (0, 1),
                                                            "\U0001F468\U0001F3FD\u200d\U0001F469"),
    "a letter's ZWJ after the end, then an emoji": ("music\u200d\U0001F44D now", (0, 5), (0, 5), "music\u200d"),
    # "राजा क्षत्रिय थे": the WordPiece "क" (its virama stripped) ends inside the conjunct "क्ष"; a span that starts
    # on the "ष" takes its "क्" back
    "conjunct cut after its virama": (f"\u0930\u093e\u091c\u093e {KSHATRIYA} \u0925\u0947", (5, 6), (5, 6),
                                      KSHATRIYA[:3]),
    "conjunct's second consonant starts the span": (f"\u0930\u093e\u091c\u093e {KSHATRIYA} \u0925\u0947", (7, 8),
                                                    (12, 13), KSHATRIYA),
    # BERT's tokenizer drops the Arabic number sign (a format character): its token is the digits alone
    "Arabic number sign before the start": ("\u0627\u0644\u0639\u062f\u062f \u0600\u0661\u0662\u0663 x", (7, 10),
                                            (7, 10), "\u0600\u0661\u0662\u0663"),
    "skin tone after the end": ("ok \U0001F44D\U0001F3FD now", (3, 4), (3, 4), "\U0001F44D\U0001F3FD"),
    "skin tone starts the span": ("ok \U0001F44D\U0001F3FD now", (4, 5), (6, 9), "now"),
    "flag cut after its first indicator": ("\U0001F1EB\U0001F1F7\U0001F1E9\U0001F1EA", (0, 1), (0, 1),
                                           "\U0001F1EB\U0001F1F7"),
    # byte-level BPE with trim_offsets=False: the token of a mark on a space (a spacing accent) holds the space
    "space carrying a mark starts the span": ("le \u0301Anne sang", (2, 4), (4, 8), "Anne"),
    "space carrying a mark alone": ("le \u0301 Anne", (2, 4), (2, 4), "\u0301"),
    "flag's second indicator starts the span": ("\U0001F1EB\U0001F1F7\U0001F1E9\U0001F1EA", (1, 2), (2, 3),
                                                "\U0001F1E9\U0001F1EA"),
}


@pytest.mark.parametrize("context, first, last, expected", CLUSTER_CASES.values(), ids=CLUSTER_CASES.keys())
def test_an_answer_starts_and_ends_on_whole_grapheme_clusters(context, first, last, expected):
    """A span that starts on the tail of a cluster drops it (the mark ending the word before "Anne"), unless the
    tail is all the span holds; a span that ends inside a cluster takes the rest of it."""
    offsets = [list(first)] if first == last else [list(first), list(last)]
    n = 1 + len(offsets)
    feats = [{"example_id": "g", "offset_mapping": [None] + offsets, "context_mask": [1] * n}]
    start, end = np.zeros((1, n)), np.zeros((1, n))
    start[0, 1], end[0, n - 1] = 9.0, 9.0
    assert postprocess_predictions([{"id": "g", "context": context}], feats, start, end)[0] == {"g": expected}


@settings(max_examples=120, deadline=None, derandomize=True, database=None)
@given(pieces=st.lists(st.sampled_from(["a", "e\u0301", " ", "\u0301", "\u2764\ufe0f", "\u0924\u0947", FAMILY,
                                        "\U0001F44D\U0001F3FD", "\U0001F1EB", "\U0001F1F7", "\u200d", "x\u200dy",
                                        "\u1100\u1161", "\u11a8", "\uac00", "\u0600", "\u0661", "\u0915\u094d",
                                        "\u0937"]),
                       min_size=1, max_size=8),
       data=st.data())
def test_whole_clusters_property(pieces, data):
    """Whatever token edges a tokenizer gives: both ends land on cluster boundaries, a span never empties, the
    end only grows, and the start only drops a cluster's tail, or takes its base back when that tail is all, or
    takes back the head (a prepended sign, a conjunct's consonant) that what it starts on joins."""
    from augment.qa.postprocess import _whole_clusters
    from augment.clusters import extends_cluster, joins_cluster_head

    text = "".join(pieces)
    a = data.draw(st.integers(0, len(text) - 1))
    b = data.draw(st.integers(a + 1, len(text)))
    s, e = _whole_clusters(text, a, b)
    assert not extends_cluster(text, s) and not extends_cluster(text, e)
    assert s < e and e >= b
    if s > a:
        assert all(extends_cluster(text, i) for i in range(a, s)) and s < b
    elif s < a:
        assert all(extends_cluster(text, i) for i in range(s + 1, a + 1))
        assert joins_cluster_head(text, a) or all(extends_cluster(text, i) for i in range(a + 1, b))


@settings(max_examples=120, deadline=None, derandomize=True, database=None)
@given(pieces=st.lists(st.sampled_from(["a", " ", "\u0301", "e\u0301", "\u2764\ufe0f", "\u1100\u1161", "\u11a8",
                                        "\u0600", "\u0915\u094d", "\u0937"]),
                       min_size=1, max_size=8),
       data=st.data())
def test_answer_span_property(pieces, data):
    """The final answer span of a span holding more than whitespace: never empty, no whitespace at its ends,
    both ends on cluster boundaries, unless all it holds is a cluster's tail (a mark whose base was a space)."""
    from augment.qa.postprocess import _answer_span
    from augment.clusters import extends_cluster

    text = "".join(pieces)
    a = data.draw(st.integers(0, len(text) - 1))
    b = data.draw(st.integers(a + 1, len(text)))
    if text[a:b].isspace():
        return  # whitespace-only tokens never start or end a span (best_spans drops them)
    s, e = _answer_span(text, a, b)
    assert s < e and not text[s].isspace() and not text[e - 1].isspace() and not extends_cluster(text, e)
    assert not extends_cluster(text, s) or all(extends_cluster(text, i) for i in range(s, e)), ascii(text[s:e])
