"""The sentence-pair template is the tokenizer's own: BERT's [CLS] A [SEP] B [SEP] with token types 0/1,
RoBERTa's <s> A </s></s> B </s> with none."""
import pytest
from transformers import AutoTokenizer

from augment.pairing import pair_template


def test_bert_pair_is_cls_first_sep_second_sep_with_types_0_then_1(tokenizer):
    cls, sep = tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]"])
    assert (cls, sep) == (101, 102)  # the real bert-base-uncased vocabulary
    template = pair_template(tokenizer, token_types=True)
    assert template.n_special == 3
    ids, types, first = template.build([7, 8], [9, 10, 11])
    assert ids == [101, 7, 8, 102, 9, 10, 11, 102]
    assert types == [0, 0, 0, 0, 1, 1, 1, 1] and first == 1
    assert pair_template(tokenizer, token_types=False).build([7], [9])[1] is None


def test_roberta_pair_has_its_double_separator_and_no_token_types(bpe_tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(bpe_tokenizer_dir)
    s, e = tok.convert_tokens_to_ids(["<s>", "</s>"])
    template = pair_template(tok, token_types=True)  # asked for, but this tokenizer has none to give
    ids, types, first = template.build([7, 8], [9])
    assert ids == [s, 7, 8, e, e, 9, e] and types is None and first == 1 and template.n_special == 4


def test_a_tokenizer_that_puts_the_second_text_first_has_no_pair_template():
    """A real fast tokenizer whose pair template is [CLS] B [SEP] A [SEP]: the original text would come before the
    masked one, which is not the input TinyBERT's pair means. Refused, naming the tokenizer and the way out."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    from augment.errors import ConfigError

    vocab = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "a": 3, "b": 4}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $B [SEP] $A [SEP]", special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", cls_token="[CLS]",
                                  sep_token="[SEP]", name_or_path="b-first")
    assert tok("a", "b")["input_ids"] == [1, 4, 2, 3, 2]  # the second text first
    with pytest.raises(ConfigError, match=r"^tokenizer 'b-first' has no sentence-pair template .*"
                                          r"use mlm_context='masked'$"):
        pair_template(tok)
