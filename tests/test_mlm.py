"""Masked-LM candidates: exact mode equals the reference, long contexts, both model families."""
import pytest
from transformers import AutoModelForMaskedLM, AutoTokenizer

from augment.mlm import MaskedLMCandidates
from augment.segment import english_stopwords, is_eligible, split_words
from tests.reference_mlm import reference_candidates


def _eligible(words):
    sw = english_stopwords()
    return [i for i, w in enumerate(words) if is_eligible(w.text, sw)]


def _load(path):
    return AutoModelForMaskedLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def test_exact_mode_equals_one_pass_per_word(tiny_mlm_path, sample_rows):
    model, tok = _load(tiny_mlm_path)
    gen = MaskedLMCandidates(model, tok, top_k=15, mode="exact", batch_size=16, device="cpu")
    contexts = list(dict.fromkeys(r["context"] for r in sample_rows))[:3]
    for text in contexts:
        words = split_words(text)
        got = gen.candidates(text, words, _eligible(words))
        want = reference_candidates(model, tok, text, 15)
        assert len(want) > 20
        assert got == want


def test_long_context_every_word_gets_candidates_through_a_centred_window(short_mlm_path, sample_rows):
    """A 64-position model on a paragraph of ~200 tokens: words far past position 62 are still masked
    in a window around them, and the result equals the reference windowing."""
    model, tok = _load(short_mlm_path)
    gen = MaskedLMCandidates(model, tok, top_k=5, mode="exact", device="cpu")
    text = max((r["context"] for r in sample_rows), key=len)
    assert len(tok(text)["input_ids"]) > 3 * 64
    words = split_words(text)
    got = gen.candidates(text, words, _eligible(words))
    assert got == reference_candidates(model, tok, text, 5)
    last_third = [i for i in got if words[i].start > 2 * len(text) // 3]
    assert last_third and all(len(got[i]) == 5 for i in last_third)


def test_candidates_do_not_depend_on_batch_size_or_batch_company(tiny_mlm_path, sample_rows):
    model, tok = _load(tiny_mlm_path)
    texts = list(dict.fromkeys(r["context"] for r in sample_rows))
    items = [(t, split_words(t), _eligible(split_words(t))) for t in texts]
    together = MaskedLMCandidates(model, tok, top_k=8, batch_size=64).candidates_many(items)
    alone = [MaskedLMCandidates(model, tok, top_k=8, batch_size=3).candidates(*it) for it in items]
    assert together == alone


def test_single_pieces_are_asked_of_the_tokenizer(tiny_mlm_path):
    model, tok = _load(tiny_mlm_path)
    gen = MaskedLMCandidates(model, tok, top_k=3)
    text = "The guitarist Knowles played aardvarks loudly"
    words = split_words(text)
    _, _, _, sites = gen.encode(text, words, range(len(words)))
    single = {words[s.word_index].text for s in sites}
    for w in words:
        n = len(tok.tokenize(w.text))
        assert (w.text in single) == (n == 1), (w.text, tok.tokenize(w.text))


def test_candidates_are_whole_alphabetic_words_never_special_or_pieces(mlm_gen, sample_rows):
    text = sample_rows[0]["context"]
    words = split_words(text)
    got = mlm_gen.candidates(text, words, _eligible(words))
    flat = [c for cs in got.values() for c in cs]
    assert flat and all(c.isalpha() for c in flat)
    for i, cs in got.items():
        assert words[i].text.lower() not in [c.lower() for c in cs]


def test_multi_mode_masks_several_words_per_sequence_and_covers_every_word(tiny_mlm_path, sample_rows):
    model, tok = _load(tiny_mlm_path)
    exact = MaskedLMCandidates(model, tok, top_k=5, mode="exact")
    multi = MaskedLMCandidates(model, tok, top_k=5, mode="multi", mask_rate=0.15)
    text = sample_rows[0]["context"]
    words = split_words(text)
    el = _eligible(words)
    plan = multi.plan(text, words, el)
    n_sites = len(exact.plan(text, words, el))
    assert len(plan) < n_sites / 3  # a handful of passes instead of one per word
    for ids, positions, group in plan:
        assert len(positions) <= round(0.15 * len(ids)) + 1
        assert all(ids[p] == tok.mask_token_id for p in positions)
    assert set(multi.candidates(text, words, el)) == set(exact.candidates(text, words, el))


def test_bpe_family_roberta(tiny_roberta_mlm_path, sample_rows):
    """Byte-level BPE: a word after a space is one 'Ġword' token and must be replaced by such a token;
    no token type ids, <s> and </s> specials; equals the reference too."""
    model, tok = _load(tiny_roberta_mlm_path)
    gen = MaskedLMCandidates(model, tok, top_k=6, mode="exact")
    assert gen.space_sensitive
    text = sample_rows[0]["context"]  # longer than this model's 128 positions: windows as well
    assert len(tok(text)["input_ids"]) > 128
    words = split_words(text)
    got = gen.candidates(text, words, _eligible(words))
    assert got and got == reference_candidates(model, tok, text, 6)
    assert all(c.isalpha() for cs in got.values() for c in cs)


def test_bad_options_are_named(tiny_mlm_path):
    from augment import ConfigError

    model, tok = _load(tiny_mlm_path)
    with pytest.raises(ConfigError, match="mlm_mode='fast'"):
        MaskedLMCandidates(model, tok, mode="fast")
    with pytest.raises(ConfigError, match="float16"):
        MaskedLMCandidates(model, tok, dtype="float16", device="cpu")
