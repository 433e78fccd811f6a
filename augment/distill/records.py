"""metrics.jsonl, a run's records one JSON object a line: a record appended (:func:`append`), and the file cut
back to what a checkpoint covers when a killed run resumes (:func:`keep_until`).

    append(out / "metrics.jsonl", {"stage": "prediction", "step": 10, "loss": float("nan")})  # loss: null
"""
from __future__ import annotations

import json
import os
from pathlib import Path


def append(path: Path, record: dict) -> dict:
    """Append ``record`` as one line, NaN and infinity (a diverged loss, an evaluation of NaN logits) as null: a
    bare NaN token is not JSON, and the trackers skip a null. Returns the record as written."""
    from augment.qa.evaluate import json_safe

    record = json_safe(record)
    with open(path, "a") as f:
        f.write(json.dumps(record, allow_nan=False) + "\n")
    return record


def _record(line: str) -> dict:
    """A metrics.jsonl line, or {} for one a kill or a full disk cut short (dropped on resume as a later one)."""
    try:
        return json.loads(line)
    except ValueError:
        return {}


def keep_until(path: Path, stages, state: dict) -> list[dict]:
    """Cut ``path`` back to the records the checkpoint ``state`` covers
    (:func:`augment.distill.checkpoint.records_before`), and return those: the killed run's later records are
    logged again by the resumed run, and kept twice they would count those steps twice."""
    from augment.distill.checkpoint import records_before

    lines = path.read_text().splitlines()
    records = [_record(x) for x in lines]
    keep = records_before(records, stages, state)
    if keep < len(lines):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(x + "\n" for x in lines[:keep]))
        os.replace(tmp, path)  # a kill now leaves the old file or the new one, not half of one
    return records[:keep]
