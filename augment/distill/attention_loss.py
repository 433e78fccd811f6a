"""Attention-based distillation loss (TinyBERT eq. 7) on pre-softmax scores.

The scores of a head are a product, ``S = Q Kᵀ`` (Q already scaled by 1/√d), so the squared error between the
student's and the teacher's scores never needs the (T, T) matrices. With the padded rows of Q and K set to
zero (a masked query or key then adds nothing), per head:

    Σ_ij (S_s - S_t)²_ij = <Q_sᵀQ_s, K_sᵀK_s> - 2 <Q_sᵀQ_t, K_sᵀK_t> + <Q_tᵀQ_t, K_tᵀK_t>

where ``<A, B>`` sums the elementwise product and every Gram matrix ``AᵀB`` is only (d, d) (d_s by d_t for the
cross terms: student and teacher may have different head widths). At T = 384 and d = 64 that is half the
multiplications of forming both score matrices, and no (B, H, T, T) tensor is written or read at all, forward
or backward. It is computed in float32 whatever the autocast dtype; three large terms whose difference is the
loss lose some relative precision to cancellation, but less than rounding both score matrices to bfloat16 and
less than a float32 sum over their B·H·T² entries (BENCHMARKS.md section 6d measures these against float64).

The ``direct`` form (CUDA's default until the Gram form is measured there) forms the (B, H, T, T) difference
of the scores as one product of concatenated factors (:func:`score_difference`), so it too never rounds the
two score matrices before subtracting them.
"""
from __future__ import annotations

import torch
from torch import nn

from augment.distill.hidden_loss import mask_count, masked_mean_square, masked_mse

FORMS = ("factored", "direct")


def factored_sse(student: tuple[torch.Tensor, torch.Tensor], teacher: tuple[torch.Tensor, torch.Tensor],
                 valid: torch.Tensor) -> torch.Tensor:
    """Σ over real (query, key) pairs, heads and batch of ``(q_s k_sᵀ - q_t k_tᵀ)²``, in float32.

    ``student`` and ``teacher`` are ``(q, k)`` pairs of (B, H, T, d) tensors (d may differ between them);
    ``valid`` is the (B, T) boolean mask of real tokens. The teacher's side gets no gradient.
    """
    q_s, k_s = student
    q_t, k_t = (x.detach() for x in teacher)
    keep = valid[:, None, :, None]  # (B, 1, T, 1): a padded token's row of Q and of K counts for nothing
    wide = torch.promote_types(q_s.dtype, torch.float32)  # float32, or float64 for float64 inputs
    with torch.autocast(q_s.device.type, enabled=False):  # the Gram products must not run in bfloat16
        q_s, k_s, q_t, k_t = (torch.where(keep, x, 0).to(wide) for x in (q_s, k_s, q_t, k_t))

        def gram(a, b):
            return a.transpose(-1, -2) @ b  # (B, H, d_a, d_b)
        student_sq = (gram(q_s, q_s) * gram(k_s, k_s)).sum()
        cross = (gram(q_s, q_t) * gram(k_s, k_t)).sum()
        teacher_sq = (gram(q_t, q_t) * gram(k_t, k_t)).sum()
    return student_sq - 2 * cross + teacher_sq


def score_difference(student: tuple[torch.Tensor, torch.Tensor], teacher: tuple[torch.Tensor, torch.Tensor]):
    """``q_s k_sᵀ - q_t k_tᵀ`` as one product: ``[q_s | -q_t] [k_s | k_t]ᵀ`` (widths side by side, so d_s and
    d_t may differ), (B, H, T, T). One (T, T) tensor is written instead of three (each score matrix and
    their difference), and the difference is accumulated before it is rounded (in bfloat16 under autocast,
    subtracting two rounded score matrices loses the digits the loss is made of). The teacher's side gets
    no gradient."""
    (q_s, k_s), (q_t, k_t) = student, teacher
    q = torch.cat([q_s, -q_t.detach().to(q_s.dtype)], dim=-1)
    k = torch.cat([k_s, k_t.detach().to(k_s.dtype)], dim=-1)
    return q @ k.transpose(-1, -2)


class AttentionScoreLoss(nn.Module):
    """Sum over mapped layer pairs of the MSE between student and teacher attention *scores*.

    Scores are ``Q Kᵀ / √d`` before the mask and the softmax (see :mod:`augment.distill.attention_capture`);
    Haystack 1.x fed post-softmax probabilities here, which is a different (and much flatter) target. The mean
    runs over heads and over (query, key) pairs where both tokens are real: the TinyBERT authors zero the
    masked entries instead, which still averages over padding and so shrinks the loss with the padding amount.

    ``forward(student_scores, teacher_scores, attention_mask)``: equal-length sequences, one item per layer
    pair, each item either a ``(q, k)`` pair of (B, H, T, d) factors (what :class:`ScoreCapture` captures) or
    a (B, H, T, T) score tensor; and the (B, T) attention mask. Head counts must match. Returns a scalar.

    ``form="factored"`` (default) computes the error of factor pairs from their Gram matrices (module
    docstring); ``"direct"`` forms the (B, H, T, T) difference of the score matrices as one product in the
    autocast dtype (:func:`score_difference`) and takes its masked mean square. Score tensors always take the
    direct way.
    """

    def __init__(self, form: str = "factored"):
        super().__init__()
        if form not in FORMS:
            raise ValueError(f"form={form!r}: use one of {FORMS}")
        self.form = form

    def forward(self, student_scores, teacher_scores, attention_mask) -> torch.Tensor:
        if len(student_scores) != len(teacher_scores):
            raise ValueError(f"{len(student_scores)} student layers but {len(teacher_scores)} teacher layers")
        valid = attention_mask.bool()
        pair_mask = (valid[:, :, None] & valid[:, None, :])[:, None]  # (B, 1, T, T): real query and real key
        total = count = None
        for s, t in zip(student_scores, teacher_scores):
            factored = isinstance(s, tuple) and isinstance(t, tuple)
            shape_s = _score_shape(s)
            if shape_s != _score_shape(t):
                raise ValueError(f"attention scores differ in shape: student {shape_s}, teacher {_score_shape(t)}")
            if count is None:  # the same (B, H, T, T) and mask for every pair: count the entries once
                count = mask_count(pair_mask, shape_s)
            if factored and self.form == "factored":
                term = factored_sse(s, t, valid) / count
            elif factored:
                term = masked_mean_square(score_difference(s, t), pair_mask, count)
            else:
                s, t = (x[0] @ x[1].transpose(-1, -2) if isinstance(x, tuple) else x for x in (s, t))
                term = masked_mse(s, t.detach(), pair_mask, count)
            total = term if total is None else total + term
        if total is None:
            return attention_mask.new_zeros((), dtype=torch.float32)
        return total


def _score_shape(x) -> tuple:
    """(B, H, Tq, Tk) of a score tensor or of the product of a ``(q, k)`` pair."""
    if isinstance(x, tuple):
        q, k = x
        return (*q.shape[:-1], k.shape[-2])
    return tuple(x.shape)
