"""The tests' tiny RoBERTa family, as plain functions: tests/conftest.py builds its session fixtures from them, and
benchmarks/short_lists.py builds the same models (it loads this file by path, since its PYTHONPATH may name an
older tree). No pytest here: importing it sets nothing up."""
import tempfile
from pathlib import Path


def bpe_tokenizer(folder) -> str:
    """A byte-level BPE (RoBERTa-family) tokenizer trained on the sample's contexts and questions, saved in
    ``folder``; returns the folder."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    from augment.squad_io import iter_rows

    sample = Path(__file__).resolve().parents[1] / "data" / "sample" / "train-v2.0-sample.json"
    texts = [r["context"] for r in iter_rows(sample)] + [r["question"] for r in iter_rows(sample)]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=1500, min_frequency=2,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    with tempfile.TemporaryDirectory() as raw:
        bpe.save_model(raw)
        RobertaTokenizer(vocab=f"{raw}/vocab.json", merges=f"{raw}/merges.txt").save_pretrained(folder)
    return str(folder)


def roberta_mlm(tok):
    """A 2-layer 32-wide RobertaForMaskedLM (random weights, seed 4) on ``tok``, whose model_max_length it sets."""
    import torch
    from transformers import RobertaConfig, RobertaForMaskedLM

    torch.manual_seed(4)
    cfg = RobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=130, pad_token_id=tok.pad_token_id,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, type_vocab_size=1)
    tok.model_max_length = 128
    return RobertaForMaskedLM(cfg).eval()
