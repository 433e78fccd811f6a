"""Hidden-state distillation loss (TinyBERT eq. 8 and 9) with trainable width projections."""
from __future__ import annotations

import math

import torch
from torch import nn


def mask_count(mask: torch.Tensor, shape) -> torch.Tensor:
    """How many entries of a tensor of ``shape`` a (broadcastable, boolean) ``mask`` selects, at least 1."""
    numel = math.prod(shape)
    return (mask.sum() * (numel // max(mask.numel(), 1))).clamp_min(1)


def masked_mse(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor,
               count: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error over the entries where ``mask`` (boolean, broadcastable to the inputs) is true.

    Written for (B, H, T, T) attention scores in bf16: one difference, one masking, one reduction that
    accumulates in float32 without a float32 copy of its input (``.float()`` of both sides, then a squared
    product, then a multiplication by the mask made four full-size temporaries per layer). The count of
    entries comes from the mask alone: it broadcasts along whole dimensions, so the ratio of sizes is exact.
    Callers that compare many equal-shaped pairs under one mask pass ``count`` (:func:`mask_count`) once.
    """
    diff = torch.where(mask, student - teacher, 0.0)
    if count is None:
        count = mask_count(mask, diff.shape)
    return torch.linalg.vector_norm(diff, dtype=torch.float32).square() / count


class HiddenStateLoss(nn.Module):
    """Sum over mapped layer pairs of the MSE between projected student and teacher hidden states.

    One ``nn.Linear(student_width, teacher_width)`` per pair (embeddings included) when the widths differ,
    none when they are equal. TinyBERT learns ``W_h`` to map student states into the teacher's space; a known
    trainer (Haystack 1.x) built its projections after the optimizer, so they never trained, and reused one
    leftover projection for every layer. Build this module before the optimizer and give it its parameters.

    ``forward(student_states, teacher_states, attention_mask)``: two equal-length sequences of (B, T, D_s) and
    (B, T, D_t) tensors, already paired by the layer map, and the (B, T) attention mask. Padding positions are
    excluded; the mean runs over the remaining positions and the teacher's width. Returns a scalar.
    """

    def __init__(self, student_width: int, teacher_width: int, num_pairs: int):
        super().__init__()
        self.student_width, self.teacher_width = student_width, teacher_width
        if student_width == teacher_width:
            self.projections = None
        else:
            self.projections = nn.ModuleList(nn.Linear(student_width, teacher_width) for _ in range(num_pairs))
        self.num_pairs = num_pairs

    def forward(self, student_states, teacher_states, attention_mask) -> torch.Tensor:
        if len(student_states) != self.num_pairs or len(teacher_states) != self.num_pairs:
            raise ValueError(f"expected {self.num_pairs} paired states, got {len(student_states)} student and "
                             f"{len(teacher_states)} teacher")
        mask = attention_mask.bool()[..., None]  # (B, T, 1)
        count = mask_count(mask, teacher_states[0].shape) if teacher_states else None  # every pair has the teacher's (B, T, D_t): count once
        total = None
        for i, (s, t) in enumerate(zip(student_states, teacher_states)):
            if self.projections is not None:
                s = self.projections[i](s)  # (B, T, D_s) -> (B, T, D_t)
            term = masked_mse(s, t.detach(), mask, count)
            total = term if total is None else total + term  # no zero tensor to add to: one kernel fewer
        return total if total is not None else student_states[0].new_zeros((), dtype=torch.float32)
