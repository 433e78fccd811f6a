"""The sentence-pair template is the tokenizer's own: BERT's [CLS] A [SEP] B [SEP] with token types 0/1,
RoBERTa's <s> A </s></s> B </s> with none."""
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
