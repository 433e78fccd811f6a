"""--mlm-context: what the masked LM is fed. ``masked`` + ``exact`` is Haystack's input (the masked text),
``paired`` + ``exact`` is TinyBERT's (the masked text, then the original, token types 0 then 1)."""
import pytest
from transformers import AutoModelForMaskedLM, AutoTokenizer

from augment.mlm import MaskedLMCandidates
from augment.segment import english_stopwords, is_eligible, split_words


def fed(path, context, text, mode="exact"):
    """The (input ids, token type ids) of every sequence the model is given for ``text``."""
    model, tok = AutoModelForMaskedLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)
    seen = []

    def record(module, args, kwargs):
        types, mask = kwargs.get("token_type_ids"), kwargs.get("attention_mask")
        for r, ids in enumerate(kwargs["input_ids"].tolist()):
            # Padded batches: the real tokens are those the attention mask keeps (2D, or 4D for SDPA).
            n = len(ids) if mask is None else int((mask[r] if mask.dim() == 2 else mask[r, 0, 0]).sum())
            seen.append((ids[:n], None if types is None else types[r].tolist()[:n]))
    gen = MaskedLMCandidates(model, tok, top_k=3, mode=mode, context=context, batch_size=1)
    model.base_model.register_forward_pre_hook(record, with_kwargs=True)  # after set-up's check of the 4D mask
    words = split_words(text)
    got = gen.candidates(text, words, [i for i, w in enumerate(words) if is_eligible(w.text, english_stopwords())])
    return tok, seen, got


def test_paired_exact_feeds_tinyberts_pair_with_token_types(tiny_mlm_path):
    tok, seen, got = fed(tiny_mlm_path, "paired", "The band toured Europe.")
    ids = tok.convert_tokens_to_ids
    original = ids(["the", "band", "toured", "europe", "."])
    want = []
    for i in (1, 2, 3):  # band, toured, europe: one sequence each
        masked = list(original)
        masked[i] = tok.mask_token_id
        want.append((ids(["[CLS]"]) + masked + ids(["[SEP]"]) + original + ids(["[SEP]"]), [0] * 7 + [1] * 6))
    assert sorted(seen) == sorted(want)
    assert set(got) == {1, 2, 3} and all(len(c) == 3 for c in got.values())


def test_masked_exact_feeds_the_masked_text_alone(tiny_mlm_path):
    tok, seen, _ = fed(tiny_mlm_path, "masked", "The band toured Europe.")
    ids = tok.convert_tokens_to_ids
    assert (ids(["[CLS]", "the", "[MASK]", "toured", "europe", ".", "[SEP]"]), None) in seen and len(seen) == 3


def test_paired_roberta_uses_its_own_template_and_no_token_types(tiny_roberta_mlm_path):
    tok, seen, _ = fed(tiny_roberta_mlm_path, "paired", "The band toured Europe.")
    s, e = tok.convert_tokens_to_ids(["<s>", "</s>"])
    for ids, types in seen:
        n = (len(ids) - 4) // 2
        first, second = ids[1:1 + n], ids[3 + n:3 + 2 * n]
        assert ids == [s, *first, e, e, *second, e] and types is None
        assert first.count(tok.mask_token_id) == 1
        assert [a for a, b in zip(first, second) if a != b] == [tok.mask_token_id]


def test_long_texts_use_the_same_window_in_both_halves(short_mlm_path, sample_rows):
    """A 64-position model: each half holds at most (64 - 3) // 2 = 30 tokens, the same ones."""
    text = max((r["context"] for r in sample_rows), key=len)
    tok, seen, got = fed(short_mlm_path, "paired", text, mode="multi")
    assert len(tok(text)["input_ids"]) > 3 * 64 and got
    for ids, types in seen:
        assert len(ids) == 3 + 2 * 30 and types == [0] * 32 + [1] * 31
        first, second = ids[1:31], ids[32:62]
        assert all(a == b for a, b in zip(first, second) if a != tok.mask_token_id)
        assert tok.mask_token_id not in second


def test_unknown_context_is_a_config_error(tiny_mlm_path):
    from augment.errors import ConfigError

    with pytest.raises(ConfigError, match="mlm_context='both'"):
        MaskedLMCandidates.from_pretrained(tiny_mlm_path, context="both")
