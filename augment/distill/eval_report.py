"""What distill-train keeps of an evaluation on --eval: ``eval.json`` in the form squad-eval writes its own, and
``eval.html`` beside it (augment.report.eval_page).

eval.json holds the stage and step evaluated, the metrics, the options that decide them under squad-eval's names
(so that ``squad-eval`` can score the saved student again alike) and everything else the evaluation returned
(predictions, null-score differences), NaN and infinite values as null: JSON has neither. Written, never printed.

    >>> options = squad_eval_options(None, "squad_v2", "validation", None, 384, 128, 52, "cuda", None)
    >>> options["split"], options["n_best"], options["device"], options["autocast"]
    ('validation', 20, 'cuda', None)
"""
from __future__ import annotations

import json
from pathlib import Path

# The answer search of an evaluation on --eval, at squad-eval's defaults (its --n-best and --max-answer-length).
N_BEST, MAX_ANSWER_LENGTH = 20, 30


def squad_eval_options(model, data: str, split: str, limit: int | None, max_length: int, doc_stride: int,
                       batch_size: int, device_type: str, autocast_dtype) -> dict:
    """The options that decide an evaluation's numbers, named as squad-eval names them in its eval.json.

    ``model``: the saved student, or None mid-run (that student is not saved anywhere squad-eval could read it).
    ``split``: --eval-split, recorded only for a ``data`` that has splits (augment.sources.reads_split): a file has
    none, none was read, and squad-eval refuses --split there. ``device_type``: as squad-eval's --device takes it
    (accelerate's device may carry an index, cuda:0). ``autocast_dtype``: a torch dtype, or None (float32)."""
    from augment.sources import reads_split

    return {"model": None if model is None else str(model), "data": data,
            "split": split if reads_split(data) else None, "limit": limit, "max_length": max_length,
            "doc_stride": doc_stride, "batch_size": batch_size, "n_best": N_BEST, "max_answer_length": MAX_ANSWER_LENGTH,
            "device": device_type, "autocast": None if autocast_dtype is None else
            str(autocast_dtype).removeprefix("torch.")}


def write(out, rows: list[dict], result: dict, stage: str, step, options: dict, note: str) -> None:
    """``eval.json`` and ``eval.html`` into the folder ``out``, of ``result`` (augment.qa.evaluate.evaluate on
    ``rows``) after ``step`` of ``stage`` ("final" for the saved student); ``options``: :func:`squad_eval_options`;
    ``note``: eval.html's line saying what was evaluated."""
    from augment.qa.evaluate import json_safe
    from augment.report.eval_page import eval_page

    out = Path(out)
    report = json_safe({"stage": stage, "step": step, "metrics": result["metrics"], "options": options, **result})
    (out / "eval.json").write_text(json.dumps(report, indent=2, allow_nan=False))
    (out / "eval.html").write_text(eval_page(rows, result, note=note), encoding="utf-8")
