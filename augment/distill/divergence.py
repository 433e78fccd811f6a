"""A run whose losses turn NaN or infinite: its weights are lost, and every later step would be too. The loop
reads a log step's losses in one copy (:func:`logged_values`), and the first that is not finite ends the run with
:class:`TrainingDiverged` and one line saying where and what to change (:func:`diverged_message`).

    >>> diverged_message("prediction", 7, {"loss": float("nan")}, 3e-5, 5)  # doctest: +ELLIPSIS
    'the prediction stage diverged: at step 7 its losses are loss nan; checkpoints of this stage after step 5, ...'
"""
from __future__ import annotations


class TrainingDiverged(RuntimeError):
    """A logged loss is NaN or infinite: the weights are lost, and every later step would be too."""


def logged_values(parts: dict, reduce) -> dict[str, float]:
    """A log step's losses (0-d tensors, on the device) as floats, each ``reduce``d first (across processes: their
    mean), brought to the host in one copy: an ``.item()`` each was 2 or 3 copies and waits per log step on a GPU.
    ``torch.stack`` promotes mixed dtypes to the widest, which holds each value exactly: the floats are the ones
    ``.item()`` gave, bit for bit."""
    import torch

    return dict(zip(parts, torch.stack([reduce(v) for v in parts.values()]).tolist()))


def diverged_message(stage: str, step: int, values: dict, lr: float, last_finite: int | None) -> str:
    """The one line a diverged run ends with: where, which losses, what to change (``lr``: the stage's
    ``--lr-<stage>``)."""
    losses = ", ".join(f"{k} {v:g}" for k, v in values.items())
    since = (f"after step {last_finite}, the last logged with finite losses" if last_finite is not None
             else "from its start")
    return (f"the {stage} stage diverged: at step {step} its losses are {losses}; checkpoints of this stage "
            f"{since} may hold the broken weights. Lower --lr-{stage} (now {lr:g}), "
            "or train in float32 if --bf16/--fp16 is on, and rerun with --overwrite")
