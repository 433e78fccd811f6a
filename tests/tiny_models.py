"""The tests' tiny RoBERTa family, as plain functions: tests/conftest.py builds its session fixtures from them, and
benchmarks/short_lists.py builds the same models (it loads this file by path, since its PYTHONPATH may name an
older tree); and tiny models of the families whose own code reads the 2D padding mask (:func:`tiny_qa`,
:func:`tiny_modernbert_mlm`). No pytest here: importing it sets nothing up."""
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


def tiny_qa(kind: str, vocab_size: int):
    """A 2-layer 32-wide question-answering model of ``kind`` ("mpnet", "deberta", "gpt2" or "modernbert"; random
    weights, seed 0) on a vocabulary of ``vocab_size``, in eval mode. DeBERTa multiplies its embeddings by the 2D
    mask, GPT-2 builds its causal mask from it, ModernBERT its local attention (:func:`_modernbert_config`)."""
    import torch
    from transformers import (DebertaV2Config, DebertaV2ForQuestionAnswering, GPT2Config, GPT2ForQuestionAnswering,
                              ModernBertForQuestionAnswering, MPNetConfig, MPNetForQuestionAnswering)

    torch.manual_seed(0)
    size = {"vocab_size": vocab_size, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 64, "pad_token_id": 0}
    if kind == "mpnet":
        return MPNetForQuestionAnswering(MPNetConfig(**size)).eval()
    if kind == "deberta":
        return DebertaV2ForQuestionAnswering(DebertaV2Config(**size, max_position_embeddings=128)).eval()
    if kind == "gpt2":
        return GPT2ForQuestionAnswering(GPT2Config(vocab_size=vocab_size, n_embd=32, n_layer=2, n_head=2,
                                                   n_positions=128, pad_token_id=0)).eval()
    return ModernBertForQuestionAnswering(_modernbert_config(vocab_size)).eval()


def tiny_modernbert_mlm(vocab_size: int):
    """A 2-layer 32-wide ModernBertForMaskedLM (random weights, seed 0) on a bert-base-uncased-shaped vocabulary of
    ``vocab_size`` ([PAD] 0, [CLS] 101, [SEP] 102), in eval mode."""
    import torch
    from transformers import ModernBertForMaskedLM

    torch.manual_seed(0)
    # Weights 10x transformers' default spread: attention far from uniform, so that where a token may look (its
    # window, or the whole sequence) changes its candidates, not only their scores' last digits.
    return ModernBertForMaskedLM(_modernbert_config(vocab_size, initializer_range=0.2)).eval()


def _modernbert_config(vocab_size: int, **options):
    """Local attention over 16 tokens (8 each side), global in every second layer: a sequence longer than 9 tokens
    tells the two apart; 128 positions."""
    from transformers import ModernBertConfig

    return ModernBertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, pad_token_id=0, local_attention=16, global_attn_every_n_layers=2,
                            max_position_embeddings=128, bos_token_id=101, eos_token_id=102, cls_token_id=101,
                            sep_token_id=102, **options)
