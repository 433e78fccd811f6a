"""``distill-train --report-to tensorboard``: metrics.jsonl records as tracker scalars.

The recipe keeps writing ``metrics.jsonl`` as it always has; each record also goes to accelerate's
trackers as scalars named ``<stage>/<key>``, evaluation metrics as ``<stage>/eval/<metric>``, at the
stage's optimizer step (the final evaluation at the stage's last logged step):

    {"stage": "prediction", "step": 20, "epoch": 0, "lr": 3e-05, "loss": 1.2, "kd": 1.1, "ce": 2.0,
     "windows_per_s": 40.1}
    -> {"prediction/lr": 3e-05, "prediction/loss": 1.2, "prediction/kd": 1.1, "prediction/ce": 2.0,
        "prediction/windows_per_s": 40.1, "prediction/epoch": 0}, step 20

    >>> to_scalars = Scalars()
    >>> to_scalars({"stage": "prediction", "step": 4, "eval": {"f1": 50.0, "total": 8}})
    ({'prediction/eval/f1': 50.0, 'prediction/eval/total': 8}, 4)
"""
from __future__ import annotations

RUN_NAME = "tensorboard"  # the event files go to OUT/tensorboard/


class Scalars:
    """Turns records into ``(values, step)`` for ``Accelerator.log``; remembers each stage's last step."""

    def __init__(self):
        self.last_step: dict[str, int] = {}

    def __call__(self, record: dict) -> tuple[dict, int]:
        stage = record.get("stage", "train")
        step = record.get("step")
        if isinstance(step, int):
            self.last_step[stage] = step
        else:  # "final": the evaluation after the stage's last step
            step = self.last_step.get(stage, 0)
        values = {}
        for key, value in record.items():
            if key in ("stage", "step"):
                continue
            if isinstance(value, dict):
                values.update({f"{stage}/{key}/{k}": v for k, v in value.items()
                               if isinstance(v, (int, float)) and not isinstance(v, bool)})
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                values[f"{stage}/{key}"] = value
        return values, step


def hparams(options: dict) -> dict:
    """Options as TensorBoard hyperparameters, which must be str, bool, int or float."""
    out = {}
    for key, value in options.items():
        if isinstance(value, (list, tuple)):
            value = " ".join(map(str, value))
        elif value is not None and not isinstance(value, (str, bool, int, float)):
            value = str(value)
        out[key] = "none" if value is None else value
    return out


def check_available(report_to: str) -> str | None:
    """The problem with ``--report-to``, or None."""
    if report_to == "tensorboard":
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            return "--report-to tensorboard needs the tensorboard package: pip install tensorboard"
    return None
