"""The padding mask of a forward pass in a form that transformers uses as given, decided on the host.

From a 2D (B, T) mask, transformers' mask builder for SDPA and eager attention asks ``mask.all()`` whether it
hides anything (``masking_utils._ignore_bidirectional_mask_sdpa``), to drop a mask that does not: a device-to-host
read in every forward pass, which makes the host wait for the pass before it can queue the next one. A 4D mask is
used as given. So a caller that knows on the host whether a batch is padded (from the lists or arrays it made the
batch from) passes no mask for a batch without padding, as transformers makes of an all-ones mask, and for a padded
batch the 4D mask transformers would build (:func:`mask_4d`). Used by the masked LM (:mod:`augment.mlm`), the
distillation's training and teacher-cache passes (:func:`augment.distill.intermediate.model_inputs`) and the
evaluation (:func:`augment.qa.evaluate.window_logits`).

Not every model hands its mask to that builder alone: DeBERTa also multiplies its embeddings by it (a 4D mask is
a shape error there), ModernBERT builds a sliding-window mask from the 2D one (given a 4D mask, its local layers
see the whole sequence). A model of unknown code takes the 4D mask only where :func:`takes_4d_mask` finds that it
gives the 2D mask's outputs.

    >>> run = lambda mask: model(input_ids=ids, attention_mask=mask).start_logits[keep]  # doctest: +SKIP
    >>> takes_4d_mask(run, keep, mask_4d(keep))  # SDPA; ids, keep (2, 384): one row padded  # doctest: +SKIP
    True
"""
from __future__ import annotations


def mask_4d(keep, dtype=None):
    """The (B, 1, T, T) mask transformers builds from ``keep`` (B, T, bool: True at real tokens): boolean (True =
    attend) for SDPA (``dtype`` None), or additive in ``dtype`` (0 = attend, the dtype's minimum = not) for eager
    attention. Expanded views, not copies: built on ``keep``'s device, with no read of its values."""
    import torch

    b, t = keep.shape
    if dtype is None:
        return keep[:, None, None, :].expand(b, 1, t, t)
    bias = torch.zeros((), dtype=dtype, device=keep.device).masked_fill(
        ~keep[:, None, None, :], torch.finfo(dtype).min)  # (B, 1, 1, T)
    return bias.expand(b, 1, t, t)


def takes_4d_mask(run, keep, mask) -> bool:
    """Whether ``run(m)`` (a model's outputs at the real tokens of a probe batch, one tensor) is the same for the 4D
    ``mask`` (:func:`mask_4d` of ``keep``) as for the 2D mask ``keep`` (B, T, bool) given as integers. Tried once per
    model (it reads both results on the host); a model that refuses the 4D mask (a RuntimeError or the like from
    inside) does not take it.

    The probe should be as long as the passes it stands for: a model may treat a long sequence otherwise (a local
    attention window), which a short one never shows."""
    import torch

    try:
        want = run(keep.long())
        got = run(mask)
    except (RuntimeError, ValueError, TypeError, IndexError):
        return False
    return got.shape == want.shape and bool(torch.allclose(got.float(), want.float(), rtol=1e-3, atol=1e-4))
