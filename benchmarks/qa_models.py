"""Random-weight BERT question-answering pairs for the distillation benchmarks: the cost (or, for the
compiled-graph count, the code path) of real models, built from a config and the real vocabulary."""
from __future__ import annotations

from pathlib import Path


def save_qa_pair(vocab: str, out: Path, teacher: dict, student: dict) -> tuple[str, str]:
    """A ``BertForQuestionAnswering`` teacher and student on the tokenizer files in ``vocab``, saved with that
    tokenizer under ``out / "teacher"`` and ``out / "student"`` through ``save_pretrained`` (loaded back the
    way users load hub models). Each spec: ``seed``, ``layers``, ``width``, ``heads`` and ``ffn`` (the feed-forward
    size as a multiple of the width). Returns the two paths."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    tok = AutoTokenizer.from_pretrained(vocab)
    paths = []
    for name, spec in (("teacher", teacher), ("student", student)):
        torch.manual_seed(spec["seed"])
        cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=spec["width"], num_hidden_layers=spec["layers"],
                         num_attention_heads=spec["heads"], intermediate_size=spec["ffn"] * spec["width"])
        BertForQuestionAnswering(cfg).save_pretrained(out / name)
        tok.save_pretrained(out / name)
        paths.append(str(out / name))
    return paths[0], paths[1]
