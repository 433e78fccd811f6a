"""Checkpoints saved in float16 load as float32 (transformers 5 would keep their dtype)."""
import torch
from transformers import AutoModelForMaskedLM, AutoModelForQuestionAnswering

from augment.weights import load_float32


def test_float16_checkpoint_loads_as_float32_with_the_same_values(tmp_path, tiny_teacher_path):
    half = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).half()
    half.save_pretrained(tmp_path)
    assert next(AutoModelForQuestionAnswering.from_pretrained(tmp_path).parameters()).dtype == torch.float16
    model = load_float32(AutoModelForQuestionAnswering, str(tmp_path))
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    for (name, p), (_, q) in zip(model.named_parameters(), half.named_parameters()):
        assert torch.equal(p, q.float()), name  # upcast exactly, nothing re-initialised


def test_masked_lm_of_the_augmenter_is_upcast(tmp_path, tiny_mlm_path, tokenizer):
    from augment.mlm import MaskedLMCandidates

    AutoModelForMaskedLM.from_pretrained(tiny_mlm_path).half().save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    gen = MaskedLMCandidates.from_pretrained(str(tmp_path), device="cpu")
    assert {p.dtype for p in gen.model.parameters()} == {torch.float32}
