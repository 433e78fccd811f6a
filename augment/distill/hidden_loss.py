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
    return masked_mean_square(student - teacher, mask, count)


def masked_mean_square(diff: torch.Tensor, mask: torch.Tensor, count: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of ``diff ** 2`` over the entries where ``mask`` is true (see :func:`masked_mse`), accumulated in
    float32 (float64 stays float64)."""
    diff = torch.where(mask, diff, 0.0)
    if count is None:
        count = mask_count(mask, diff.shape)
    wide = torch.promote_types(diff.dtype, torch.float32)
    return torch.linalg.vector_norm(diff, dtype=wide).square() / count


PROJECTIONS = ("shared", "per-layer")


class HiddenStateLoss(nn.Module):
    """Sum over mapped layer pairs of the MSE between projected student and teacher hidden states.

    When the widths differ, student states are mapped into the teacher's width by trainable linear maps:
    ``projection="shared"`` (default) is TinyBERT's (eq. 9 and 10 of the paper): one ``W_e`` for the
    embeddings (pair 0) and one ``W_h`` shared by every hidden-layer pair. (The authors' ``task_distill.py``
    applies its single ``fit_dense`` to the embeddings too.) ``"per-layer"`` trains one map per pair.
    No map when the widths are equal. A known trainer (Haystack 1.x) built its projections after the
    optimizer, so they never trained; build this module before the optimizer and give it its parameters.

    ``shared`` is the default because it is the method being reproduced: a student whose layers all use
    one basis relative to the teacher, with 2 maps instead of layers + 1 (for 6 layers at 312 -> 768
    wide, 0.48M parameters instead of 1.68M). No measurement here shows either to distil better.

    ``forward(student_states, teacher_states, attention_mask)``: two equal-length sequences of (B, T, D_s) and
    (B, T, D_t) tensors, already paired by the layer map, and the (B, T) attention mask. Padding positions are
    excluded; the mean runs over the remaining positions and the teacher's width. Returns a scalar.

        >>> loss = HiddenStateLoss(312, 768, num_pairs=7)
        >>> len(loss.projections), loss.projections[1] is loss.projections[6]
        (7, True)
    """

    def __init__(self, student_width: int, teacher_width: int, num_pairs: int, projection: str = "shared"):
        super().__init__()
        if projection not in PROJECTIONS:
            raise ValueError(f"projection={projection!r}: use one of {PROJECTIONS}")
        self.student_width, self.teacher_width, self.projection = student_width, teacher_width, projection
        if student_width == teacher_width:
            self.projections = None
        elif projection == "per-layer":
            self.projections = nn.ModuleList(nn.Linear(student_width, teacher_width) for _ in range(num_pairs))
        else:  # pair i uses projections[i]: W_e for the embeddings, the same W_h module for every layer after
            w_e, w_h = nn.Linear(student_width, teacher_width), nn.Linear(student_width, teacher_width)
            self.projections = nn.ModuleList([w_e] + [w_h] * (num_pairs - 1))
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
