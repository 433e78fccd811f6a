"""Attention-based distillation loss (TinyBERT eq. 7) on pre-softmax scores."""
from __future__ import annotations

import torch
from torch import nn

from augment.distill.hidden_loss import mask_count, masked_mse


class AttentionScoreLoss(nn.Module):
    """Sum over mapped layer pairs of the MSE between student and teacher attention *scores*.

    Scores are ``Q Kᵀ / √d`` before the mask and the softmax (see :mod:`augment.distill.attention_capture`);
    Haystack 1.x fed post-softmax probabilities here, which is a different (and much flatter) target. The mean
    runs over heads and over (query, key) pairs where both tokens are real: the TinyBERT authors zero the
    masked entries instead, which still averages over padding and so shrinks the loss with the padding amount.

    ``forward(student_scores, teacher_scores, attention_mask)``: equal-length sequences of (B, H, T, T)
    tensors (any float dtype; the mean accumulates in float32) and the (B, T) attention mask. Head counts must
    match. Returns a scalar.
    """

    def forward(self, student_scores, teacher_scores, attention_mask) -> torch.Tensor:
        if len(student_scores) != len(teacher_scores):
            raise ValueError(f"{len(student_scores)} student layers but {len(teacher_scores)} teacher layers")
        valid = attention_mask.bool()
        pair_mask = (valid[:, :, None] & valid[:, None, :])[:, None]  # (B, 1, T, T): real query and real key
        total = count = None
        for s, t in zip(student_scores, teacher_scores):
            if s.shape != t.shape:
                raise ValueError(f"attention scores differ in shape: student {tuple(s.shape)}, "
                                 f"teacher {tuple(t.shape)}")
            if count is None:  # the same (B, H, T, T) and mask for every pair: count the entries once
                count = mask_count(pair_mask, s.shape)
            term = masked_mse(s, t.detach(), pair_mask, count)
            total = term if total is None else total + term
        return total if total is not None else student_scores[0].new_zeros((), dtype=torch.float32)
