"""Bookkeeping of a resumable, sharded output directory (what ``augment-squad --out DIR`` holds).

    DIR/shard-00000.arrow, ...        the rows (see augment.shards)
    DIR/.progress/config.json         the options that shape the rows: a rerun must match them
    DIR/.progress/shard-00000.json    a record per complete shard: rows, sha256, counts, rejects, timers
    DIR/rejects.jsonl, manifest.json, dataset_info.json, state.json: written at the end from the records

A shard is complete when its Arrow file and its record both exist. The record is written after the
shard's atomic rename, so a run killed anywhere leaves every shard complete or absent, and a rerun
redoes exactly the absent ones.

    >>> config_mismatch(out, {"seed": 1})          # doctest: +SKIP
    "--out data/aug was written with another configuration (seed: 0 -> 1)"
"""
from __future__ import annotations

import json
import resource
import shutil
from collections import Counter
from pathlib import Path

from augment.shards import atomic_write_json, atomic_write_text

PROGRESS = ".progress"
ARTEFACTS = ("manifest.json", "rejects.jsonl", "dataset_info.json", "state.json")


def shard_name(k: int) -> str:
    return f"shard-{k:05d}.arrow"


def record_path(out: Path, k: int) -> Path:
    return Path(out) / PROGRESS / f"shard-{k:05d}.json"


def config_mismatch(out: Path, config: dict) -> str | None:
    """Why ``out`` cannot be resumed with ``config`` (None when it can, or when it is empty or new)."""
    out = Path(out)
    saved = out / PROGRESS / "config.json"
    if saved.exists():
        old = json.loads(saved.read_text(encoding="utf-8"))
        diff = [f"{k}: {old.get(k)!r} -> {config.get(k)!r}" for k in sorted(set(old) | set(config))
                if old.get(k) != config.get(k)]
        return f"--out {out} was written with another configuration ({'; '.join(diff)})" if diff else None
    if out.exists() and any(out.iterdir()):
        return f"--out {out} is not empty and holds no earlier run of this tool"
    return None


def prepare(out: Path, config: dict, wipe: bool) -> None:
    """Create ``out`` and record ``config``. ``wipe`` deletes earlier shards and records first: only the
    files this module and augment.shards write, never other files a user keeps there."""
    out = Path(out)
    for f in out.glob(".shard-*.arrow.tmp-*"):  # a killed writer's temporary file
        f.unlink(missing_ok=True)
    if wipe:
        shutil.rmtree(out / PROGRESS, ignore_errors=True)
        for f in [*out.glob("shard-*.arrow"), *(out / a for a in ARTEFACTS)]:
            f.unlink(missing_ok=True)
    (out / PROGRESS).mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / PROGRESS / "config.json", config)


def is_complete(out: Path, k: int) -> bool:
    return (Path(out) / shard_name(k)).exists() and record_path(out, k).exists()


def write_record(out: Path, k: int, record: dict) -> None:
    """Call after the shard's rename: the record is what marks shard ``k`` complete."""
    atomic_write_json(record_path(out, k), record)


def read_records(out: Path, n: int) -> tuple[list[dict], list[int]]:
    """The records of shards ``0..n-1``, and the indices of those that have none."""
    records, missing = [], []
    for k in range(n):
        path = record_path(out, k)
        if path.exists():
            records.append(json.loads(path.read_text(encoding="utf-8")))
        else:
            missing.append(k)
    return records, missing


def write_rejects(out: Path, records: list[dict]) -> None:
    """``rejects.jsonl``: the rejects of every shard, in input order, one JSON object per line."""
    atomic_write_text(Path(out) / "rejects.jsonl", "".join(
        json.dumps({k: r[k] for k in ("id", "reason", "message", "record")}, ensure_ascii=False, default=str)
        + "\n" for rec in records for r in rec["rejects"]))


def counts(records: list[dict]) -> dict:
    rejected = Counter()
    for rec in records:
        rejected.update(rec["rejected"])
    return {"read": sum(r["read"] for r in records), "written": sum(r["rows"] for r in records),
            "rejected": dict(sorted(rejected.items())), "rejected_total": sum(rejected.values()),
            "paragraphs": sum(r["paragraphs"] for r in records), "shards": len(records)}


def time_shares(records: list[dict]) -> dict:
    """Share of busy time per stage: lm, glove, sample (the rest of augmenting) and write."""
    stage = Counter()
    for rec in records:
        stage.update(rec["timers"])
    # "augment" covers lm + glove + segmentation, slots, vectorised draws and span arithmetic.
    stage["sample"] = stage.pop("augment", 0.0) - stage["lm"] - stage["glove"]
    busy = sum(stage.values()) or 1.0
    return {k: round(v / busy, 4) for k, v in sorted(stage.items()) if v > 0}


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, because Linux carries ru_maxrss over fork + exec:
    a run started by a big parent would report the parent's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
