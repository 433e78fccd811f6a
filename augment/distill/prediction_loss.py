"""Prediction-layer distillation loss for extractive QA (TinyBERT eq. 10, with a hard-label term)."""
from __future__ import annotations

import torch
from torch import nn


def _masked_log_softmax(logits: torch.Tensor, mask: torch.Tensor, excluded: torch.Tensor | None = None) -> torch.Tensor:
    """log-softmax over the positions where ``mask`` is true; -inf elsewhere.  (B, T) -> (B, T)
    ``excluded`` is ``~mask`` when the caller already has it (one kernel per call fewer)."""
    return torch.log_softmax(logits.float().masked_fill(~mask if excluded is None else excluded, float("-inf")),
                             dim=-1)


def _kl(teacher_logits, student_logits, mask, temperature: float, excluded=None) -> torch.Tensor:
    """Mean over windows of KL(p_teacher || p_student) at temperature T, both restricted to ``mask``."""
    if temperature != 1.0:  # x / 1 is x: no division kernels (and no backward for them) at T = 1
        # In float32 first: the student's logits are float16 under --fp16, where a logit of 8 at T = 1e-4
        # overflows to inf (a NaN loss), and any T rounds the quotient once more (float32 input: no copy).
        teacher_logits, student_logits = teacher_logits.float() / temperature, student_logits.float() / temperature
    log_p = _masked_log_softmax(teacher_logits, mask, excluded)  # (B, T)
    log_q = _masked_log_softmax(student_logits, mask, excluded)
    # Excluded positions have p = 0 and log p = log q = -inf; where() keeps their 0 * nan out of the sum.
    terms = torch.where(mask, log_p.exp() * (log_p - log_q), 0.0)
    return terms.sum(-1).mean()


def _ce(student_logits, mask, positions, excluded=None) -> torch.Tensor:
    """Hard-label cross-entropy over the masked positions; labels always lie on a masked position."""
    return nn.functional.nll_loss(_masked_log_softmax(student_logits, mask, excluded), positions)


class PredictionLoss(nn.Module):
    """``w * kd + (1 - w) * ce`` over the start and end distributions of each window.

    ``kd`` is KL(teacher || student) of the softmaxes at temperature T, multiplied by T² so its gradients keep
    the same scale as T changes (Hinton et al., 2015, sec. 2). KL equals TinyBERT's soft cross-entropy minus the
    teacher's entropy, a constant, so the gradients are the same and a perfect student scores 0. ``ce`` is the
    usual QA cross-entropy on the gold start/end indices (CLS for unanswerable windows). Start and end losses
    are averaged, as in ``BertForQuestionAnswering``.

    Both softmaxes range over ``context_mask`` only (context tokens plus CLS): the question and padding can
    never be an answer, and letting them take probability mass would distil noise.

    Inputs: start/end logits (B, T) of student and teacher, ``context_mask`` (B, T) of 0/1, and for the hard
    term ``start_positions``/``end_positions`` (B,). ``teacher_*`` may be None when ``distill_weight`` is 0.
    Returns a dict with ``loss`` and the components it was made of: ``kd`` when ``distill_weight`` > 0, ``ce``
    when it is < 1 (scalars). A term left out is not reported as 0: that would log a perfect score for it.

        >>> loss_fn = PredictionLoss(temperature=2.0, distill_weight=0.5)
        >>> logits = torch.zeros(1, 4)           # (B, T): one window of 4 context positions, student = teacher
        >>> starts = ends = torch.tensor([0])    # (B,): CLS, an unanswerable window
        >>> loss_fn(logits, logits, logits, logits, torch.ones(1, 4), starts, ends)   # kd 0; ce log 4 (uniform)
        {'loss': tensor(0.6931), 'kd': tensor(0.), 'ce': tensor(1.3863)}
    """

    def __init__(self, temperature: float = 1.0, distill_weight: float = 1.0):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if not 0.0 <= distill_weight <= 1.0:
            raise ValueError(f"distill_weight must be in [0, 1], got {distill_weight}")
        self.temperature = float(temperature)
        self.distill_weight = float(distill_weight)

    def forward(self, student_start, student_end, teacher_start, teacher_end, context_mask,
                start_positions=None, end_positions=None) -> dict[str, torch.Tensor]:
        mask = context_mask.bool()
        excluded = ~mask
        w, t = self.distill_weight, self.temperature
        parts = {}
        if w > 0:
            kd = (_kl(teacher_start, student_start, mask, t, excluded)
                  + _kl(teacher_end, student_end, mask, t, excluded)) / 2
            if t != 1.0:  # scaled as before, left to right, so every temperature gives the same bits
                kd = kd * t * t
            parts["kd"] = kd
        if w < 1:
            if start_positions is None or end_positions is None:
                raise ValueError("distill_weight < 1 needs start_positions and end_positions")
            ce = (_ce(student_start, mask, start_positions, excluded)
                  + _ce(student_end, mask, end_positions, excluded)) / 2
            parts["ce"] = ce
        # At w = 1 or 0, 1 * x + 0 * 0 is x: the mixture's three kernels (and their backward) only when it mixes.
        loss = kd if w == 1 else ce if w == 0 else w * kd + (1 - w) * ce
        return {"loss": loss, **parts}
