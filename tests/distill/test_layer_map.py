import pytest
from transformers import BertConfig

from augment.distill.layer_map import LayerMap, check_pair, encoding_problem
from augment.errors import ConfigError


def cfg(layers, heads, width=64):
    return BertConfig(vocab_size=10, hidden_size=width, num_hidden_layers=layers, num_attention_heads=heads)


def test_uniform_map_student_m_to_teacher_mk():
    lm = LayerMap(student_layers=4, teacher_layers=12)
    assert lm.k == 3
    assert lm.hidden_pairs == ((0, 0), (1, 3), (2, 6), (3, 9), (4, 12))
    assert lm.attention_pairs == ((0, 2), (1, 5), (2, 8), (3, 11))


def test_incompatible_pairs_are_reported_together():
    with pytest.raises(ConfigError) as e:
        check_pair(cfg(3, 2, 32), cfg(4, 4), {"a": 0}, {"a": 1}, intermediate=True)
    msg = str(e.value)
    assert "multiple of the student's" in msg and "heads" in msg and "vocabularies" in msg


def test_prediction_stage_allows_other_depths_and_heads_but_not_vocab():
    check_pair(cfg(3, 2, 32), cfg(4, 4), {"a": 0}, {"a": 0}, intermediate=False)
    with pytest.raises(ConfigError, match="vocabularies"):
        check_pair(cfg(2, 4), cfg(4, 4), {"a": 0}, {"b": 0}, intermediate=False)


def test_layer_map_rejects_indivisible_counts():
    with pytest.raises(ConfigError, match="multiple"):
        LayerMap(student_layers=5, teacher_layers=12)
    # No layer to map to: a ConfigError naming the counts, not the ZeroDivisionError of 12 % 0.
    with pytest.raises(ConfigError, match="^teacher has 12 layers and student 0: the uniform layer map"):
        LayerMap(student_layers=0, teacher_layers=12)


def test_a_student_without_layers_cannot_be_paired_for_intermediate_distillation():
    """A student config of num_hidden_layers=0 made pair_problems divide by zero (a traceback from distill-train's
    set-up, not its one-line error); the prediction stage needs no layer map and takes it."""
    with pytest.raises(ConfigError, match="^teacher has 4 layers and student 0: intermediate distillation needs"):
        check_pair(cfg(0, 4), cfg(4, 4), intermediate=True)
    check_pair(cfg(0, 4), cfg(4, 4), intermediate=False)


def test_vocabularies_that_differ_say_how():
    """Tokens only on one side are counted (a teacher with an added token: none only in the student's); the same
    tokens under other ids are named as such."""
    with pytest.raises(ConfigError, match=r"\(3 vs 2 entries; 0 tokens only in the student's, 1 only in the "
                                          r"teacher's\)"):
        check_pair(cfg(2, 4), cfg(4, 4), {"a": 0, "b": 1}, {"a": 0, "b": 1, "[NEW]": 2}, intermediate=False)
    with pytest.raises(ConfigError, match=r"\(2 vs 2 entries; same tokens, different ids\)"):
        check_pair(cfg(2, 4), cfg(4, 4), {"a": 0, "b": 1}, {"a": 1, "b": 0}, intermediate=False)


def test_roberta_positions_start_after_the_padding_index():
    """roberta-base has 514 position embeddings and holds 512 tokens: ids start at pad_token_id + 1."""
    from transformers import RobertaConfig

    from augment.qa.positions import length_problem, usable_positions

    roberta = RobertaConfig(vocab_size=10, max_position_embeddings=130, pad_token_id=1)
    assert usable_positions(roberta) == 128 and usable_positions(BertConfig(max_position_embeddings=130)) == 130
    assert length_problem(roberta, "student", 128) is None
    assert length_problem(roberta, "student", 129) == "--max-length 129 exceeds the student's 128 positions"
    with pytest.raises(ConfigError, match="--max-length 130 exceeds the teacher's 128 positions"):
        check_pair(roberta, roberta, intermediate=False, max_length=130)
    # Position ids start at pad_token_id + 1 whatever the padding id: 0 leaves one position unused, not two.
    assert usable_positions(RobertaConfig(vocab_size=10, max_position_embeddings=130, pad_token_id=0)) == 129


def test_every_family_that_numbers_positions_after_padding_is_listed():
    """transformers' RoBERTa-like models number positions from pad_token_id + 1 in their own code; a type
    missing from the list reads one window too long, and the forward pass fails with an index error."""
    import importlib
    import inspect

    import transformers
    from transformers.models.auto.modeling_auto import (MODEL_FOR_MASKED_LM_MAPPING_NAMES,
                                                        MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES)

    from augment.qa.positions import POSITIONS_AFTER_PADDING

    numbered_after_padding = set()
    for mapping in (MODEL_FOR_MASKED_LM_MAPPING_NAMES, MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES):
        for model_type, class_name in mapping.items():
            try:
                module = importlib.import_module(getattr(transformers, class_name).__module__)
            except Exception:  # a model whose optional dependency is missing here
                continue
            if "create_position_ids_from_input_ids" in inspect.getsource(module):
                numbered_after_padding.add(model_type)
    assert {"roberta", "roberta-prelayernorm", "data2vec-text"} <= numbered_after_padding
    assert numbered_after_padding <= POSITIONS_AFTER_PADDING, numbered_after_padding - POSITIONS_AFTER_PADDING


def test_a_tokenizer_of_the_same_vocabulary_that_reads_text_otherwise_is_named(tokenizer, vocab_dir,
                                                                              bpe_tokenizer_dir):
    """Same vocabulary, other normalisation: the teacher would be fed other ids than its own tokenizer's."""
    from transformers import AutoTokenizer

    for options, teacher_piece, student_piece in [({"do_lower_case": False}, "'who'", "'[UNK]'"),
                                                  ({"strip_accents": False}, "'naive'", "'[UNK]'")]:
        student = AutoTokenizer.from_pretrained(vocab_dir, **options)
        assert student.get_vocab() == tokenizer.get_vocab()
        msg = encoding_problem(student, tokenizer, "s", "t")
        assert msg.startswith("--teacher t and --student s tokenize the same text differently")
        assert f"is {teacher_piece} for the teacher and {student_piece} for the student" in msg
    bpe = AutoTokenizer.from_pretrained(bpe_tokenizer_dir)
    prefixed = AutoTokenizer.from_pretrained(bpe_tokenizer_dir, add_prefix_space=True)
    assert "token 1 of a probe question and context is 'Who' for the teacher and 'ĠW' for the student" in \
        encoding_problem(prefixed, bpe, "s", "t")


def test_pairs_built_on_one_tokenizer_pass_the_encoding_check(tokenizer, vocab_dir, bpe_tokenizer_dir, tmp_path):
    """A saved and reloaded copy (init-student, the tutorial's MiniLM teacher), DistilBERT's tokenizer on BERT's
    vocabulary, and byte-level BPE with itself."""
    from transformers import AutoTokenizer, DistilBertTokenizerFast

    tokenizer.save_pretrained(tmp_path)
    assert encoding_problem(AutoTokenizer.from_pretrained(tmp_path), tokenizer, "s", "t") is None
    assert encoding_problem(DistilBertTokenizerFast.from_pretrained(vocab_dir), tokenizer, "s", "t") is None
    bpe = AutoTokenizer.from_pretrained(bpe_tokenizer_dir)
    assert encoding_problem(AutoTokenizer.from_pretrained(bpe_tokenizer_dir), bpe, "s", "t") is None
