"""Fixtures only the distillation tests use: students that cannot be paired with the tiny teacher."""
import pytest


def _student(path, tokenizer, layers=2, heads=4, vocab_size=None):
    import torch
    from transformers import BertConfig, BertForQuestionAnswering

    torch.manual_seed(4)
    cfg = BertConfig(vocab_size=vocab_size or tokenizer.vocab_size, hidden_size=32, num_hidden_layers=layers,
                     num_attention_heads=heads, intermediate_size=64, max_position_embeddings=512)
    BertForQuestionAnswering(cfg).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def three_layer_student_path(tmp_path_factory, tokenizer):
    """4 teacher layers do not divide into 3."""
    return _student(tmp_path_factory.mktemp("student_3l"), tokenizer, layers=3)


@pytest.fixture(scope="session")
def zero_layer_student_path(tmp_path_factory, tokenizer):
    """Embeddings and a QA head, no transformer layer: nothing to map the teacher's 4 layers to."""
    return _student(tmp_path_factory.mktemp("student_0l"), tokenizer, layers=0)


@pytest.fixture(scope="session")
def two_head_student_path(tmp_path_factory, tokenizer):
    return _student(tmp_path_factory.mktemp("student_2h"), tokenizer, heads=2)


@pytest.fixture(scope="session")
def other_vocab_student_path(tmp_path_factory):
    """A student with its own 40-token WordPiece vocabulary."""
    from transformers import BertTokenizerFast

    path = tmp_path_factory.mktemp("student_vocab")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    words += ["the", "of", "and", "in", "to", "is", "was", "what", "who"]
    (path / "vocab.txt").write_text("\n".join(words) + "\n")
    tok = BertTokenizerFast(vocab_file=str(path / "vocab.txt"))
    return _student(path, tok, vocab_size=len(words))


@pytest.fixture(scope="session")
def distilbert_student_path(tmp_path_factory, vocab_dir):
    """A 2-layer DistilBERT student (q_lin/k_lin/v_lin) with DistilBERT's tokenizer: the teacher's vocabulary,
    no token type ids."""
    import torch
    from transformers import DistilBertConfig, DistilBertForQuestionAnswering, DistilBertTokenizerFast

    path = tmp_path_factory.mktemp("student_distilbert")
    tokenizer = DistilBertTokenizerFast.from_pretrained(vocab_dir)
    torch.manual_seed(4)
    DistilBertForQuestionAnswering(DistilBertConfig(vocab_size=tokenizer.vocab_size, dim=32, n_layers=2,
                                                    n_heads=4, hidden_dim=64)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def mpnet_student_path(tmp_path_factory, tokenizer):
    """An MPNet student: its attention does not go through transformers' AttentionInterface."""
    import torch
    from transformers import MPNetConfig, MPNetForQuestionAnswering

    path = tmp_path_factory.mktemp("student_mpnet")
    torch.manual_seed(4)
    MPNetForQuestionAnswering(MPNetConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                                          num_attention_heads=4, intermediate_size=64)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture
def dynamo_config():
    """dynamo's config; distill-train --compile changes it process-wide (``configure_dynamo``), so the values it
    touches are put back after the test (by hand: monkeypatch trips over the config module's attribute access)."""
    import torch._dynamo

    from augment.distill.compilation import dynamo_settings

    saved = dynamo_settings()
    yield torch._dynamo.config
    for name, value in saved.items():
        setattr(torch._dynamo.config, name, value)


@pytest.fixture(scope="session")
def cased_student_path(tmp_path_factory, vocab_dir):
    """The teacher's uncased vocabulary read without lower-casing: 'Who' is [UNK], not 'who'."""
    from transformers import AutoTokenizer

    return _student(tmp_path_factory.mktemp("student_cased"), AutoTokenizer.from_pretrained(vocab_dir,
                                                                                            do_lower_case=False))


@pytest.fixture(scope="session")
def albert_tokenizer_pair(tmp_path_factory, albert_tokenizer_dir):
    """BERT-architecture QA models (two token types) saved with the ALBERT tokenizer, which makes token type ids
    only when asked, as ``{"teacher": path, "student": path}``: a 4-layer 64-wide teacher and a 2-layer 32-wide
    student. BERT layers, not ALBERT's shared one: the intermediate stage captures their attention too."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    tok = AutoTokenizer.from_pretrained(albert_tokenizer_dir)
    paths = {}
    for name, (seed, width, layers) in {"teacher": (8, 64, 4), "student": (9, 32, 2)}.items():
        torch.manual_seed(seed)
        cfg = BertConfig(vocab_size=len(tok), hidden_size=width, num_hidden_layers=layers, num_attention_heads=4,
                         intermediate_size=2 * width, pad_token_id=tok.pad_token_id)
        path = tmp_path_factory.mktemp(f"albert_tok_{name}")
        BertForQuestionAnswering(cfg).save_pretrained(path)
        tok.save_pretrained(path)
        paths[name] = str(path)
    return paths
