"""Masked-LM candidates: exact mode equals the reference, long contexts, both model families."""
import numpy as np
import pytest
from transformers import AutoModelForMaskedLM, AutoTokenizer

from augment.mlm import MaskedLMCandidates
from augment.segment import english_stopwords, is_eligible, split_words
from tests.reference_mlm import reference_candidates
from tests.tiny_models import tiny_modernbert_mlm


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
    text = "The guitarist Knowles played aardvarks loudly ᚠᚢᚦ"
    words = split_words(text)
    _, _, _, sites = gen.encode(text, words, range(len(words)))
    single = {words[s.word_index].text for s in sites}
    for w in words:
        pieces = tok.tokenize(w.text)
        in_vocab = len(pieces) == 1 and tok.convert_tokens_to_ids(pieces[0]) != tok.unk_token_id
        assert (w.text in single) == in_vocab, (w.text, pieces)


def test_a_word_mapped_to_the_unknown_token_goes_to_glove(tiny_mlm_path, tmp_path):
    """'ᚠᚢᚦ' is one token, [UNK]: not an in-vocabulary piece, so no masked-LM candidates; GloVe
    (here a tiny vector file that knows it) takes it like a multi-piece word."""
    from gensim.models import KeyedVectors

    from augment import Augmenter

    model, tok = _load(tiny_mlm_path)
    assert tok.convert_tokens_to_ids(tok.tokenize("ᚠᚢᚦ")) == [tok.unk_token_id]
    gen = MaskedLMCandidates(model, tok, top_k=5)
    text = "The ᚠᚢᚦ runes were carved by the guitarist."
    words = split_words(text)
    rune = next(i for i, w in enumerate(words) if w.text == "ᚠᚢᚦ")
    got = gen.candidates(text, words, _eligible(words))
    assert rune in _eligible(words) and rune not in got
    assert got and got == reference_candidates(model, tok, text, 5)
    kv = KeyedVectors(vector_size=3)
    kv.add_vectors(["ᚠᚢᚦ", "letters", "glyphs"], np.array([[1, 0, 0], [0.9, 0.1, 0], [0.8, 0.2, 0]], "float32"))
    aug = Augmenter(mlm=gen, glove=kv, replace_prob=1.0)
    row = {"id": "r1", "title": "T", "context": text, "question": "Who carved them?",
           "answers": {"text": [], "answer_start": []}, "plausible_answers": {"text": [], "answer_start": []}}
    edits = [e for o in aug.augment_example(row, n=3) for e in o["edits"] if e["original"] == "ᚠᚢᚦ"]
    assert edits and {e["source"] for e in edits} == {"glove"}


def test_the_word_itself_is_dropped_without_accents_or_case(tiny_mlm_path):
    """The uncased vocabulary holds 'cafe' for 'café': that is the word itself, never its replacement.
    A large LM-head bias makes 'cafe' every position's top prediction; both library and reference drop it
    for 'café' (and 'CAFÉ'), and keep it as the first candidate for other words."""
    import torch

    from augment.mlm import fold

    assert fold("CAFÉ") == fold("cafe\u0301") == fold("Café") == "cafe"
    model, tok = _load(tiny_mlm_path)
    cafe = tok.convert_tokens_to_ids("cafe")
    with torch.no_grad():
        model.get_output_embeddings().bias[cafe] += 1000.0
    gen = MaskedLMCandidates(model, tok, top_k=5)
    text = "The café opened early; the guitarist played at the CAFÉ."
    words = split_words(text)
    got = gen.candidates(text, words, _eligible(words))
    assert got == reference_candidates(model, tok, text, 5)
    by_word = {words[i].text: cs for i, cs in got.items()}
    assert {"café", "CAFÉ", "guitarist"} <= set(by_word)
    assert by_word["guitarist"][0] == "cafe"
    assert "cafe" not in by_word["café"] and "cafe" not in by_word["CAFÉ"]
    assert len(by_word["café"]) == 5


@pytest.mark.parametrize("mode", ["exact", "multi"])
def test_a_decomposed_word_is_one_piece_as_its_composed_form_is(tiny_mlm_path, mode):
    """bert-base-uncased strips accents, so "Cafe\u0301" and "Café" are both the one token "cafe"; but the
    stripped mark is outside the token's character offsets (2, 6) while the word is (2, 7), and the word was
    taken for several pieces. Both forms now get the same masked-LM candidates."""
    import unicodedata

    model, tok = _load(tiny_mlm_path)
    gen = MaskedLMCandidates(model, tok, top_k=5, mode=mode)
    composed = "The Café near the Zoë Hall served naïve guests a crème brûlée."
    decomposed = unicodedata.normalize("NFD", composed)
    got = {}
    for text in (composed, decomposed):
        words = split_words(text)
        eligible = [i for i, w in enumerate(words) if is_eligible(unicodedata.normalize("NFC", w.text),
                                                                   english_stopwords())]
        got[text] = gen.candidates(text, words, eligible)
    assert len(split_words(decomposed)) == len(split_words(composed))
    assert got[decomposed] == got[composed]
    assert {split_words(composed)[i].text for i in got[composed]} >= {"Café", "Zoë", "naïve"}  # "crème": 2 pieces


def test_trust_remote_code_reaches_both_loaders(tiny_mlm_path, monkeypatch):
    import transformers

    seen = []
    for cls in (transformers.AutoTokenizer, transformers.AutoModelForMaskedLM):
        real = cls.from_pretrained

        def spy(*args, _real=real, _name=cls.__name__, **kwargs):
            seen.append((_name, kwargs.get("trust_remote_code", "absent")))
            return _real(*args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", spy)
    MaskedLMCandidates.from_pretrained(tiny_mlm_path, top_k=3)
    assert sorted(seen) == [("AutoModelForMaskedLM", False), ("AutoTokenizer", False)]
    seen.clear()
    MaskedLMCandidates.from_pretrained(tiny_mlm_path, top_k=3, trust_remote_code=True)
    assert sorted(seen) == [("AutoModelForMaskedLM", True), ("AutoTokenizer", True)]


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


def test_eligible_words_in_any_order_or_repeated_are_masked_where_they_are(tiny_mlm_path, sample_rows):
    """``eligible`` is any iterable of word indices. A multi-mode sequence is built by walking its sites in text
    order: given out of order (or twice), the masks went elsewhere and 84 of 88 words of the first sample context
    got the predictions at another position (exact mode, one site per sequence, was unaffected)."""
    model, tok = _load(tiny_mlm_path)
    multi = MaskedLMCandidates(model, tok, top_k=5, mode="multi")
    text = sample_rows[0]["context"]
    words = split_words(text)
    el = _eligible(words)
    for shuffled in (el[::-1], el + el[:5]):
        for ids, positions, group in multi.plan(text, words, shuffled):
            assert all(ids[p] == tok.mask_token_id for p in positions)
        assert multi.candidates(text, words, shuffled) == multi.candidates(text, words, el)


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
    # A bare token (for a word with no space before it) is a word only if it also exists after a space;
    # the vocabulary's other bare tokens are pieces of words and never candidates.
    texts = [tok.decode([i]) for i in range(len(tok)) if i not in tok.all_special_ids]
    after_space = {t[1:] for t in texts if t.startswith(" ")}
    pieces = {t for t in texts if t.isalpha()} - after_space  # "uished": bare only
    bare_ok = {gen.words[i] for i in np.flatnonzero(gen._valid_host[0])}
    assert pieces and bare_ok and bare_ok <= after_space and not bare_ok & pieces
    first = next(i for i in sorted(got))  # the text's first word: no space before it
    assert words[first].start == 0 and got[first] and set(got[first]) <= after_space


def test_bpe_a_word_after_a_tab_or_newline_is_a_bare_token_and_gets_bare_candidates(tiny_roberta_mlm_path):
    """Byte-level BPE folds only a plain space into "Ġword": after a tab, a newline or a no-break space the
    word is a bare token, so its candidates come from the bare row of the filter, as at a text's start."""
    model, tok = _load(tiny_roberta_mlm_path)
    gen = MaskedLMCandidates(model, tok, top_k=6, mode="exact")
    # A word that is one token both after a space and bare (this tiny vocabulary splits most words).
    word = next(w for w in ("band", "album", "group", "music", "year", "first")
                if len(tok(" " + w, add_special_tokens=False)["input_ids"]) == 1
                and len(tok(w, add_special_tokens=False)["input_ids"]) == 1)
    for sep, spaced in ((" ", True), ("\t", False), ("\n", False), ("\u00a0", False)):
        text = f"The{sep}{word} toured Europe."
        words = split_words(text)
        (site,) = [s for s in gen.encode(text, words, [1])[3]]
        assert site.spaced is spaced, repr(sep)
        got = gen.candidates(text, words, [1])[1]
        allowed = {gen.words[i] for i in np.flatnonzero(gen._valid_host[int(spaced)])}
        assert got and set(got) <= allowed, (repr(sep), got)


@pytest.mark.parametrize("mode", ["exact", "multi"])
def test_bpe_a_word_is_judged_by_its_form_after_a_space_wherever_it_stands(tiny_roberta_mlm_path, mode):
    """Byte-level BPE splits a word's bare form ("D an iel": a text's first word, one after "(" or a newline)
    and its form after a space ("ĠDaniel") differently. "Daniel" went to GloVe at a text's start and to the
    masked LM mid-text, and "Carter" the other way round after "-". A word is now judged by its "Ġword" form
    wherever it stands; where it is bare, its pieces are masked as one, as if the text held the mask there."""
    model, tok = _load(tiny_roberta_mlm_path)
    gen = MaskedLMCandidates(model, tok, top_k=6, mode=mode)
    paired = MaskedLMCandidates(model, tok, top_k=6, context="paired")

    def n_ids(s):
        return len(tok(s, add_special_tokens=False)["input_ids"])

    one_after_space = next(w for w in ("Daniel", "Houston", "Europe", "singer", "music")
                           if n_ids(w) > 1 and n_ids(" " + w) == 1)
    bare_only = next(w for w in ("Carter", "Following", "Baby", "born") if n_ids(w) == 1 < n_ids(" " + w))
    decomposed = "Cafe\u0301"  # the mark is a token of its own under byte-level BPE: never one "Ġword"
    bare_row = {gen.words[i] for i in np.flatnonzero(gen._valid_host[0])}
    for text in (f"{one_after_space} met {bare_only} in {one_after_space}.",
                 f"(He met\n{bare_only}-{one_after_space}) in {one_after_space}.",
                 f"{decomposed} and {bare_only}-{one_after_space}: {one_after_space}"):
        words = split_words(text)
        eligible = _eligible(words)
        sites = {words[s.word_index].start: s for s in gen.encode(text, words, eligible)[3]}
        assert {words[s.word_index].text for s in sites.values()} == {one_after_space}, (text, sites)
        assert [s.spaced for _, s in sorted(sites.items())] == [False, True], text  # bare first, then "Ġword"
        got = gen.candidates(text, words, eligible)
        assert sorted(words[i].start for i in got) == sorted(sites) and all(got.values())
        bare = min(sites)
        assert set(got[sites[bare].word_index]) <= bare_row
        # Each sequence is the tokenizer's own for the text with a mask in place of each of its words (of a
        # "Ġword" and its space: this tokenizer's "<mask>" does not take in the space before it, roberta-base's does).
        for _, ids, positions, group, _ in gen.batch_plan([(text, words, eligible)])[0]:
            masked = text
            for s in reversed(group):
                w = words[s.word_index]
                masked = masked[:w.start - s.spaced] + tok.mask_token + masked[w.end:]
            assert ids == tok(masked)["input_ids"] and [ids[p] for p in positions] == [tok.mask_token_id] * len(group)
        if mode == "exact":
            word = words[sites[bare].word_index]
            masked = text[:word.start] + tok.mask_token + text[word.end:]
            assert got == reference_candidates(model, tok, text, 6)
            # TinyBERT's pair: the masked text is shorter than the original, as the tokenizer's pair is.
            (pair,) = [j for j in paired.batch_plan([(text, words, eligible)])[0] if j[3][0] == sites[bare]]
            assert pair[1] == tok(masked, text)["input_ids"]


@pytest.mark.parametrize("mode", ["exact", "multi"])
def test_bpe_a_decomposed_word_is_judged_as_its_composed_form(tiny_roberta_mlm_path, mode):
    """Byte-level BPE splits every combining mark from its letter: "Beyonce\u0301" (NFD) was "ĠBeyonce" and the
    mark's bytes, so it went to GloVe while "Beyoncé" (NFC) is one "ĠBeyoncé" token and went to the masked LM.
    The NFD word's pieces, mark included, are now masked as one: the model is fed the sequences of the NFC text,
    and both texts get the same candidates for the same words; the word's span keeps its mark."""
    import unicodedata

    model, tok = _load(tiny_roberta_mlm_path)
    gen = MaskedLMCandidates(model, tok, top_k=6, mode=mode)
    word = next(w for w in ("Beyoncé", "Chloé", "Zoë", "café")
                if len(tok(" " + w, add_special_tokens=False)["input_ids"]) == 1)
    assert len(tok(" " + unicodedata.normalize("NFD", word), add_special_tokens=False)["input_ids"]) > 1
    # The word is the only one eligible, so every sequence masks it; its accent is the texts' only difference.
    for composed in (f"{word} was there.", f"It was {word}.", f"It was ({word})."):
        decomposed = unicodedata.normalize("NFD", composed)
        fed, got = {}, {}
        for text in (composed, decomposed):
            words = split_words(text)
            eligible = _eligible(words)
            fed[text] = [(ids, pos) for _, ids, pos, _, _ in gen.batch_plan([(text, words, eligible)])[0]]
            got[text] = gen.candidates(text, words, eligible)
            if mode == "exact":
                assert got[text] == reference_candidates(model, tok, text, 6)
        assert fed[decomposed] == fed[composed] and got[decomposed] == got[composed]
        (i,) = got[decomposed]
        assert split_words(decomposed)[i].text == unicodedata.normalize("NFD", word) and got[decomposed][i]


def test_paired_token_types_count_the_tokens_a_mask_merged(tiny_mlm_path):
    """A masked half shorter than the original (bare BPE pieces under one mask) still gets its own type ids:
    the types of a pair built from a 4-token masked half and a 5-token original."""
    model, tok = _load(tiny_mlm_path)
    gen = MaskedLMCandidates(model, tok, top_k=3, context="paired")
    n = gen._pair.n_special + 4 + 5
    assert gen.token_types(n, merged=1) == gen._pair.build([0] * 4, [0] * 5)[1] == [0] * 6 + [1] * 6
    assert gen.token_types(n + 1) == [0] * 7 + [1] * 6  # nothing merged: equal halves, as before


def test_bpe_offsets_that_hold_the_space_before_a_word_still_make_it_one_piece(tiny_roberta_mlm_path,
                                                                                tiny_deberta_mlm_path, sample_rows):
    """DeBERTa's tokenizer reads the same "Ġword" tokens as RoBERTa's but leaves the space in
    the token's offsets: "ĠEurope" at (15, 22) for "Europe" at (16, 22). Each word is still that one piece, so
    the same words are masked, with the same space flags, whichever tokenizer says it."""
    model, deberta = _load(tiny_deberta_mlm_path)
    text = "The band toured Europe."
    spans = deberta(text, return_offsets_mapping=True, add_special_tokens=False)["offset_mapping"]
    assert (15, 22) in [tuple(s) for s in spans]  # the untrimmed span this test is about
    gen = MaskedLMCandidates(model, deberta, top_k=6, mode="exact")
    ref = MaskedLMCandidates(*_load(tiny_roberta_mlm_path), top_k=6, mode="exact")
    for text in list(dict.fromkeys(r["context"] for r in sample_rows))[:3]:
        words = split_words(text)
        eligible = _eligible(words)
        got, want = gen.encode(text, words, eligible)[3], ref.encode(text, words, eligible)[3]
        assert len(want) > 20 and any(s.spaced for s in want)
        assert got == want
        cands = gen.candidates(text, words, eligible)
        assert sorted(cands) == [s.word_index for s in want] and all(cands.values())


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_a_text_that_spells_a_special_token_feeds_it_as_text(family, tiny_mlm_path, tiny_roberta_mlm_path):
    """Web text holds "<s>" (HTML strikethrough) and may hold "<mask>" or "[MASK]": the model must read them as
    the characters they are, not as a second mask, a sequence start or a padding id, and the word "mask" in
    them is a word like any other."""
    model, tok = _load(tiny_mlm_path if family == "bert" else tiny_roberta_mlm_path)
    gen = MaskedLMCandidates(model, tok, top_k=6, mode="exact")
    text = "Her <s>first</s> album, [MASK] and <mask> <pad> [CLS] [SEP], was released in June."
    words = split_words(text)
    jobs, _ = gen.batch_plan([(text, words, range(len(words)))])
    assert len(jobs) >= 3
    controls = {tok.mask_token_id, tok.pad_token_id, tok.cls_token_id, tok.sep_token_id, tok.bos_token_id,
                tok.eos_token_id} - {None}
    for _, ids, positions, _, _ in jobs:
        inner = ids[1:-1]  # the template's own start and end tokens aside
        assert [i for i, t in enumerate(inner, 1) if t in controls] == positions, tok.convert_ids_to_tokens(ids)


def test_a_cased_vocabulary_gives_each_word_once_whatever_its_case(tiny_roberta_mlm_path):
    """RoBERTa's vocabulary holds "ĠThe" and "Ġthe": once the case is matched they are one replacement,
    and listing both would draw that word twice as often."""
    import torch

    model, tok = _load(tiny_roberta_mlm_path)
    pair = [tok.convert_tokens_to_ids(t) for t in ("ĠThe", "Ġthe", "ĠA", "Ġa")]
    assert tok.unk_token_id not in pair
    with torch.no_grad():
        model.get_output_embeddings().bias[pair] = 100.0  # the top four, whatever the context
    gen = MaskedLMCandidates(model, tok, top_k=6, mode="exact")
    text = "He read the band's first album."
    words = split_words(text)
    got = gen.candidates(text, words, range(len(words)))
    spaced = {s.word_index for s in gen.encode(text, words, range(len(words)))[3] if s.spaced}
    assert got and spaced
    for wi, cands in got.items():
        lowered = [c.lower() for c in cands]
        assert len(set(lowered)) == len(lowered), cands
        if wi in spaced:  # a "Ġ" token: the raised ones lead, each once (the word itself left out)
            top = {"the", "a"} - {words[wi].text.lower()}
            assert set(lowered[:len(top)]) == top, cands


def test_case_duplicates_leading_the_ranking_still_leave_top_k_candidates(tiny_roberta_mlm_path):
    """Ten words spelled both "ĠWord" and "Ġword" lead every ranking: the top-k of top_k + 4 = 19 ids held ten
    words, so a list came out with 10 of its 15 candidates although the vocabulary has hundreds more. The width
    now leaves room for each candidate's other case, and the lists are the reference's (the whole ranking)."""
    import torch

    model, tok = _load(tiny_roberta_mlm_path)
    text = "He read the band's first album."
    vocab = tok.get_vocab()
    pairs = [w for w in sorted(vocab) if w[:1] == "Ġ" and w[1:].isalpha() and w[1:].islower()
             and "Ġ" + w[1:].capitalize() in vocab and w[1:] not in text.lower()][:10]
    assert len(pairs) == 10
    with torch.no_grad():
        model.get_output_embeddings().bias[[vocab[p] for p in pairs]] = 100.0
        model.get_output_embeddings().bias[[vocab["Ġ" + p[1:].capitalize()] for p in pairs]] = 100.0
    gen = MaskedLMCandidates(model, tok, top_k=15, mode="exact")
    words = split_words(text)
    eligible = _eligible(words)
    got = gen.candidates(text, words, eligible)
    spaced = [words[s.word_index].text for s in gen.encode(text, words, eligible)[3] if s.spaced]
    assert spaced
    for wi, cands in got.items():
        if words[wi].text in spaced:
            assert len(cands) == 15 and {c.lower() for c in cands[:10]} == {p[1:] for p in pairs}, cands
    assert got == reference_candidates(model, tok, text, 15)


def test_bad_options_are_named(tiny_mlm_path):
    from augment import ConfigError

    model, tok = _load(tiny_mlm_path)
    with pytest.raises(ConfigError, match="mlm_mode='fast'"):
        MaskedLMCandidates(model, tok, mode="fast")
    with pytest.raises(ConfigError, match="float16"):
        MaskedLMCandidates(model, tok, dtype="float16", device="cpu")


def _items(rows, n):
    texts = list(dict.fromkeys(r["context"] for r in rows))[:n]
    return [(t, split_words(t), _eligible(split_words(t))) for t in texts]


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_one_host_copy_per_pass_and_the_counters_match_the_plan(attention, tiny_mlm_path, sample_rows, monkeypatch):
    """Candidates are chosen on the device: per pass exactly one tensor comes to the host (read with
    .numpy()), and no scalar is read from a tensor (each would be a sync on a GPU), in transformers'
    forward pass either: an eager-attention model (MPNet, RoFormer have no SDPA) given a 2D padding
    mask checks it with ``if mask.all()``, a sync per pass that the manifest's counter would not show."""
    import torch

    model, tok = _load(tiny_mlm_path)
    model.set_attn_implementation(attention)
    model._supports_sdpa = attention == "sdpa"  # eager: as a model without SDPA, which set-up leaves eager
    gen = MaskedLMCandidates(model, tok, top_k=5, mode="multi", batch_size=4)
    assert model.config._attn_implementation == attention
    items = _items(sample_rows, 4)
    expected = gen.dry_run(items)
    reads = {name: 0 for name in ("numpy", "tolist", "item", "__bool__", "cpu", "__float__", "__int__",
                                  "__index__", "__contains__", "__repr__", "__format__")}
    for name in reads:
        real = getattr(torch.Tensor, name)

        def spy(self, *a, _real=real, _name=name, **kw):
            reads[_name] += 1
            return _real(self, *a, **kw)

        monkeypatch.setattr(torch.Tensor, name, spy)
    gen.candidates_many(items)
    monkeypatch.undo()
    assert expected.forward_passes >= 3 and expected.sequences > expected.forward_passes  # several per pass
    assert gen.stats.counters() == expected.counters()
    assert gen.stats.host_transfers == gen.stats.forward_passes == reads.pop("numpy")
    assert set(reads.values()) == {0}, reads


def _cuda(where) -> bool:
    import torch

    return (isinstance(where, str) and where.startswith("cuda")) or (
        isinstance(where, torch.device) and where.type == "cuda")


class _PosingAsCuda:
    """Torch calls as a CUDA masked LM makes them, run on the CPU: each ``pin_memory`` (the method, or a factory's
    ``pin_memory=True``) and each move to a ``cuda`` device (``.to``, ``.cuda``, ``torch.tensor``/``as_tensor``
    with ``device=``) is recorded, then done on the CPU. Only the code under test names "cuda" (transformers takes
    its devices from the tensors it is given, all on the CPU here), so the moves recorded are that code's
    host-to-device copies, seen at the torch API however the code spells them."""

    def __init__(self):
        from torch.overrides import TorchFunctionMode

        handle = self.handle

        class Mode(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                return handle(func, args, dict(kwargs or {}))

        self.mode, self.pinned, self.moved = Mode(), 0, []

    def handle(self, func, args, kwargs):
        import torch

        if func is torch.Tensor.pin_memory:
            self.pinned += 1
            return args[0]
        if kwargs.pop("pin_memory", False):
            self.pinned += 1
        if func is torch.Tensor.cuda:
            self.moved.append(args[0])
            return args[0]
        if any(_cuda(a) for a in args) or _cuda(kwargs.get("device")):
            args = tuple("cpu" if _cuda(a) else a for a in args)
            kwargs = {k: "cpu" if _cuda(v) else v for k, v in kwargs.items()}
            if func in (torch.Tensor.to, torch.tensor, torch.as_tensor):  # host data to the device
                self.moved.append(args[0])
        return func(*args, **kwargs)


class _NoEvent:
    """``torch.cuda.Event`` where there is no CUDA: nothing is queued, so nothing to wait for."""

    def record(self):
        pass

    def synchronize(self):
        pass


def test_a_padded_pass_with_token_types_copies_to_the_device_once(tiny_mlm_path, sample_rows, monkeypatch):
    """Issue 9: a pass stages its ids, token types, lengths (for the padding mask), site rows, columns and filter
    rows in one host buffer, pinned and copied to the GPU once; each copy is a pinned host allocation and a
    launch, and there were 5 or 6 (padding mask, ids, rows, cols, types, filter rows). Without a GPU the model
    poses as a CUDA one (:class:`_PosingAsCuda` records the copies at the torch API; on a CPU device the code
    copies nothing), in the case with the most inputs: paired contexts on a model with token types, padded
    passes. The candidates are a plain CPU run's, so the views taken of the one buffer are the right slices."""
    import torch

    model, tok = _load(tiny_mlm_path)
    items = _items(sample_rows, 2)
    options = dict(top_k=4, mode="exact", context="paired", batch_size=16)
    want = MaskedLMCandidates(model, tok, **options).candidates_many(items)
    gen = MaskedLMCandidates(model, tok, **options)
    gen.device = "cuda"  # after set-up, which kept the model on the CPU
    monkeypatch.setattr(torch.cuda, "Event", _NoEvent)
    posing = _PosingAsCuda()
    with posing.mode:
        got = gen.candidates_many(items)
    passes = gen.stats.forward_passes
    assert gen.token_types(12) is not None and gen.stats.padded_passes > 0  # token types, padded passes
    assert (posing.pinned, len(posing.moved)) == (passes, passes)
    assert all(t.dim() == 1 and t.dtype == torch.int64 for t in posing.moved)  # each one flat int64 buffer
    assert gen.stats.device_transfers == passes == gen.dry_run(items).device_transfers
    assert got == want


def test_eager_attention_masks_the_padding_as_sdpa_does(tiny_mlm_path, sample_rows):
    """The 4D additive mask given to an eager-attention model hides the padding: its candidates in padded
    passes are the SDPA model's (a mask of the wrong sign or shape would change them)."""
    model, tok = _load(tiny_mlm_path)
    items = _items(sample_rows, 4)
    sdpa = MaskedLMCandidates(model, tok, top_k=8, mode="multi", batch_size=64).candidates_many(items)
    model.set_attn_implementation("eager")
    model._supports_sdpa = False  # as MPNet or RoFormer: else set-up switches it to SDPA
    eager = MaskedLMCandidates(model, tok, top_k=8, mode="multi", batch_size=64)
    assert model.config._attn_implementation == "eager"
    assert eager.candidates_many(items) == sdpa and eager.stats.padded_tokens > eager.stats.tokens


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_an_eager_loaded_model_is_switched_to_sdpa_with_the_same_candidates(family, tiny_mlm_path,
                                                                             tiny_roberta_mlm_path, sample_rows,
                                                                             monkeypatch):
    """A masked LM loaded with attn_implementation="eager" ran eager attention, materialising every (B, H, T, T)
    probability matrix. Set-up switches a model that has SDPA to it, before the 4D-mask check (which tries the
    mask of the implementation the model will run), and the candidates are those of eager attention."""
    path = tiny_mlm_path if family == "bert" else tiny_roberta_mlm_path
    items = _items(sample_rows, 4)
    sdpa = MaskedLMCandidates(*_load(path), top_k=8, mode="multi").candidates_many(items)
    checked = []
    real_check = MaskedLMCandidates._check_4d_mask
    monkeypatch.setattr(MaskedLMCandidates, "_check_4d_mask",
                        lambda self: checked.append(self.model.config._attn_implementation) or real_check(self))
    model = AutoModelForMaskedLM.from_pretrained(path, attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(path)
    gen = MaskedLMCandidates(model, tok, top_k=8, mode="multi")
    assert (model.config._attn_implementation, checked) == ("sdpa", ["sdpa"])
    assert gen.attention_was == "eager"  # what it arrived with
    got = gen.candidates_many(items)
    assert gen._takes_4d_mask and gen.stats.padded_tokens > gen.stats.tokens
    model.set_attn_implementation("eager")
    model._supports_sdpa = False  # really eager this time, as a model without SDPA runs
    eager = MaskedLMCandidates(model, tok, top_k=8, mode="multi")
    assert model.config._attn_implementation == "eager"
    assert got == sdpa == eager.candidates_many(items)


@pytest.mark.parametrize("family,mode", [("bert", "exact"), ("bert", "multi"), ("roberta", "multi")])
def test_padded_batches_give_the_unpadded_candidates(family, mode, tiny_mlm_path, tiny_roberta_mlm_path,
                                                      sample_rows):
    """Sequences of different lengths share padded passes at batch 64; alone (batch 1, no rounding to a
    multiple of 8) nothing is padded. On the tests' tiny models the candidate lists are the same
    (BENCHMARKS.md counts how often padding changes a list with a bert-base-sized model)."""
    model, tok = _load(tiny_mlm_path if family == "bert" else tiny_roberta_mlm_path)
    items = _items(sample_rows, 5 if mode == "multi" else 2)  # exact: a pass per word, so fewer texts
    padded = MaskedLMCandidates(model, tok, top_k=8, mode=mode, batch_size=64)
    got = padded.candidates_many(items)
    assert padded.stats.padded_tokens > padded.stats.tokens  # padding did happen
    # Batch 1 alone still rounded each pass up to a multiple of 8: the reference was padded too.
    alone_gen = MaskedLMCandidates(model, tok, top_k=8, mode=mode, batch_size=1, pad_multiple=1)
    alone = alone_gen.candidates_many(items)
    assert alone_gen.stats.padded_tokens == alone_gen.stats.tokens  # not one padded position
    assert got == alone


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_vocabulary_filter_from_one_decode_equals_decoding_each_id(family, tiny_mlm_path, tiny_roberta_mlm_path):
    from augment.mlm import vocabulary_after_a_token

    _, tok = _load(tiny_mlm_path if family == "bert" else tiny_roberta_mlm_path)
    n = len(tok)
    pieces = vocabulary_after_a_token(tok, n)
    sep = tok.decode([tok.mask_token_id])
    one_by_one = [tok.decode([tok.mask_token_id, i], clean_up_tokenization_spaces=False)[len(sep):] for i in range(n)]
    special = set(tok.all_special_ids)
    assert [p for i, p in enumerate(pieces) if i not in special] == \
           [p for i, p in enumerate(one_by_one) if i not in special]


def test_a_question_answering_checkpoint_is_refused_for_its_missing_lm_head(tiny_teacher_path):
    """A BertForQuestionAnswering (think deepset/bert-base-uncased-squad2) would load with a random LM head."""
    from augment import ConfigError

    with pytest.raises(ConfigError, match=r"tiny_teacher.*has no masked-LM head weights \(cls\.predictions\."):
        MaskedLMCandidates.from_pretrained(tiny_teacher_path, device="cpu")


def test_a_masked_lm_whose_decoder_is_tied_to_the_embeddings_loads(tiny_mlm_path):
    """save_pretrained leaves the tied decoder weight out of the file: that is not a missing head."""
    from pathlib import Path

    from safetensors import safe_open

    (weights,) = Path(tiny_mlm_path).glob("*.safetensors")
    with safe_open(str(weights), "pt") as f:
        assert "cls.predictions.decoder.weight" not in f.keys() and "cls.predictions.bias" in f.keys()
    gen = MaskedLMCandidates.from_pretrained(tiny_mlm_path, device="cpu")
    head = gen.model.get_output_embeddings().weight
    assert head.data_ptr() == gen.model.get_input_embeddings().weight.data_ptr()


def test_a_cuda_device_without_cuda_is_refused_before_loading(monkeypatch, tmp_path):
    import torch

    from augment import ConfigError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"device='cuda': CUDA is not available here"):
        MaskedLMCandidates.from_pretrained(str(tmp_path / "no-model-here"), device="cuda")


def test_a_roberta_like_masked_lm_without_a_tokenizer_limit_reads_no_position_past_its_table(
        tmp_path, bpe_tokenizer_dir, sample_rows):
    """Data2VecText numbers positions as RoBERTa does; with a tokenizer that states no length, the window
    comes from the model's positions alone (130 - 2), or the forward pass indexes past the table."""
    import torch
    from transformers import AutoTokenizer, Data2VecTextConfig, Data2VecTextForMaskedLM

    tok = AutoTokenizer.from_pretrained(bpe_tokenizer_dir)
    tok.model_max_length = int(1e30)  # as a tokenizer saved without model_max_length loads
    torch.manual_seed(0)
    cfg = Data2VecTextConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=64, max_position_embeddings=130, pad_token_id=tok.pad_token_id,
                             type_vocab_size=1)
    gen = MaskedLMCandidates(Data2VecTextForMaskedLM(cfg).eval(), tok, top_k=5, mode="exact")
    assert gen.max_len == 128
    row = max(sample_rows, key=lambda r: len(r["context"]))  # longer than 128 tokens
    words = split_words(row["context"])
    assert len(tok(row["context"])["input_ids"]) > 130
    got = gen.candidates(row["context"], words, range(len(words)))
    assert got and all(isinstance(c, list) for c in got.values())


def test_a_tokenizer_with_ids_past_the_embeddings_is_refused_by_name(tmp_path, tiny_mlm_path):
    """Another model's tokenizer beside the weights was an IndexError from the masked LM's first forward pass."""
    from augment.errors import ConfigError

    model = AutoModelForMaskedLM.from_pretrained(tiny_mlm_path)
    model.resize_token_embeddings(1000)
    model.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(tiny_mlm_path).save_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="the masked LM's tokenizer has 30522 tokens but the masked LM embeds only "
                                          "1000"):
        MaskedLMCandidates.from_pretrained(str(tmp_path), device="cpu")


@pytest.mark.parametrize("bad", [0, -8, 2.0])
def test_a_pad_multiple_below_one_or_not_an_integer_is_named(bad, tiny_mlm_path):
    from augment import ConfigError

    model, tok = _load(tiny_mlm_path)
    with pytest.raises(ConfigError, match=rf"pad_multiple={bad!r}: use an integer >= 1"):
        MaskedLMCandidates(model, tok, pad_multiple=bad)


def test_a_model_that_cannot_take_the_4d_mask_keeps_the_2d_one(tiny_mlm_path, tiny_deberta_mlm_path, sample_rows):
    """DeBERTa multiplies its embeddings by the attention mask: the 4D mask given to every eager model was a shape
    error in its first padded pass. Set-up now tries the 4D mask once and keeps the 2D one where it fails."""
    bert = MaskedLMCandidates(*_load(tiny_mlm_path), top_k=4, mode="multi")
    assert bert._takes_4d_mask  # BERT: SDPA's boolean mask, no sync per pass
    model, tok = _load(tiny_deberta_mlm_path)
    padded = MaskedLMCandidates(model, tok, top_k=4, mode="multi", batch_size=64)
    assert not padded._takes_4d_mask
    # DeBERTa has no SDPA: left eager, not switched
    assert (padded.attention_was, model.config._attn_implementation) == (None, "eager")
    items = _items(sample_rows, 4)
    got = padded.candidates_many(items)
    assert padded.stats.padded_tokens > padded.stats.tokens
    alone = MaskedLMCandidates(model, tok, top_k=4, mode="multi", batch_size=1, pad_multiple=1)
    assert got == alone.candidates_many(items)


def test_a_masked_lm_with_local_attention_keeps_the_2d_mask(tokenizer, sample_rows):
    """ModernBERT builds its local attention (16 tokens here) from the 2D mask; given the 4D one, its local layers
    attend across the whole sequence. Set-up tried the 4D mask on 8 tokens, within the window, where the two agree,
    and took it: padded passes then gave other candidates than the same texts alone. The check now also runs past
    the longest window the config declares: ModernBERT keeps the 2D mask, and padding changes no candidate."""
    model = tiny_modernbert_mlm(tokenizer.vocab_size)
    padded = MaskedLMCandidates(model, tokenizer, top_k=4, mode="multi", batch_size=64)
    assert not padded._takes_4d_mask and padded.attention_record()["attention_mask"] == "2d"
    items = _items(sample_rows, 4)
    got = padded.candidates_many(items)
    assert padded.stats.padded_tokens > padded.stats.tokens
    alone = MaskedLMCandidates(model, tokenizer, top_k=4, mode="multi", batch_size=1, pad_multiple=1)
    assert got == alone.candidates_many(items)


def test_the_lm_section_records_the_attention_set_up_and_the_syncs_host_transfers_miss(
        tiny_mlm_path, tiny_deberta_mlm_path, sample_rows):
    """Set-up switches an eager-loaded model with SDPA to it and tries the 4D mask once: both change GPU speed, and
    a model left with the 2D mask may sync once per padded pass beyond host_transfers. The manifest's lm section
    says which implementation ran, what it was loaded with, the mask form, and (in a note) when syncs may exceed
    host_transfers; padded_passes counts the passes that were given a mask."""
    from augment import manifest

    items = _items(sample_rows, 4)
    model = AutoModelForMaskedLM.from_pretrained(tiny_mlm_path, attn_implementation="eager").eval()
    bert = MaskedLMCandidates(model, AutoTokenizer.from_pretrained(tiny_mlm_path), top_k=4, mode="multi")
    deberta = MaskedLMCandidates(*_load(tiny_deberta_mlm_path), top_k=4, mode="multi")
    masks = []
    for gen in (bert, deberta):
        real = gen._attention_mask
        gen._attention_mask = lambda keep, real=real, gen=gen: masks.append(gen) or real(keep)
        gen.candidates_many(items)
    lm = {gen: manifest.lm_section([{"lm_counters": gen.stats.counters()}], gen.attention_record())
          for gen in (bert, deberta)}
    assert {k: lm[bert][k] for k in ("attention", "attention_loaded_with", "attention_mask",
                                     "uncounted_syncs_at_most")} == {
        "attention": "sdpa", "attention_loaded_with": "eager", "attention_mask": "4d", "uncounted_syncs_at_most": 0}
    assert "note" not in lm[bert] and lm[bert]["padded_passes"] == masks.count(bert) > 0
    d = lm[deberta]
    assert (d["attention"], d["attention_loaded_with"], d["attention_mask"]) == ("eager", None, "2d")
    assert d["uncounted_syncs_at_most"] == d["padded_passes"] == masks.count(deberta) > 0
    assert d["host_transfers"] == d["forward_passes"] >= d["padded_passes"]
    assert f"{d['padded_passes']} of {d['forward_passes']} passes were padded" in d["note"]
    assert "syncs per pass can exceed host_transfers_per_pass" in d["note"]
    assert deberta.dry_run(items).padded_passes == d["padded_passes"]  # the plan counts them alike
