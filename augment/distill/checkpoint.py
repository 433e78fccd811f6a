"""Checkpoints that let a killed run continue exactly: weights, optimizer, scheduler, RNG states, data position.

Layout: ``<out>/checkpoints/<stage_index>-<stage>-step<step>/`` with ``model.pt``, ``optimizer.pt``,
``scheduler.pt``, ``scaler.pt`` (fp16 only), ``rng-<rank>.pt`` (one per process: each has its own dropout stream) and ``state.json``
(written last, with each file's SHA-256, which :func:`read` checks). A directory is built under a temporary name
and renamed when complete, so a kill mid-write leaves only a stray ``.tmp`` directory that :func:`latest` ignores.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
import shutil
import zlib
from pathlib import Path

import numpy as np
import torch

from augment.errors import ConfigError


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def stage_seed(seed: int, stage: str) -> int:
    """The seed of ``stage``'s random numbers (dropout, the projections' init), a function of ``--seed`` and the
    stage alone: a stage run by itself (``--stage prediction --student OUT/student``) then draws what it draws
    within ``--stage both``, where it would otherwise start from wherever the earlier stage left the generators.
    A digest rather than ``seed + k``, so that no other ``--seed`` gives a stage the same stream; below 2**32,
    which NumPy's legacy generator needs."""
    digest = hashlib.sha256(f"distill-train/{seed}/{stage}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def process_seed(seed: int, stage: str, rank: int) -> int:
    """The seed of process ``rank``'s dropout in ``stage`` under torchrun, for every process but the first (which
    goes on with ``stage_seed``'s stream). A digest of (seed, stage, rank), as ``stage_seed`` is: no process,
    stage or other ``--seed`` shares it."""
    digest = hashlib.sha256(f"distill-train/{seed}/{stage}/process{rank}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def own_stream(seed: int, stage: str, rank: int) -> None:
    """Give process ``rank`` its own random stream for the rest of ``stage``, once what every process must draw
    alike (the projections' initialisation) is drawn from ``stage_seed``.

    Every process seeded by ``stage_seed`` alone draws the same dropout masks for batches of one shape (all of
    them under ``--compile`` without ``--group-by-length``): the effective batch's noise is then that of one
    process's share, which a single process of the whole batch does not have. Process 0 keeps its stream, so a
    run of one process draws what it drew before. Usage::

        set_seed(stage_seed(seed, stage)); build_projections(); own_stream(seed, stage, acc.process_index)
    """
    if rank > 0:
        from accelerate.utils import set_seed  # as stage_seed's seeding: python, NumPy, torch and each device

        set_seed(process_seed(seed, stage, rank))


def name(stage_index: int, stage: str, step: int) -> str:
    return f"{stage_index}-{stage}-step{step:08d}"


def write_rng(tmp_dir: Path, rank: int) -> None:
    torch.save(rng_state(), tmp_dir / f"rng-{rank}.pt")


def write_main(tmp_dir: Path, final_dir: Path, model_state: dict, optimizer, scheduler, state: dict,
               keep: int, scaler=None) -> None:
    """Main process: the shared files, then ``state.json``, then the atomic rename and pruning."""
    torch.save(model_state, tmp_dir / "model.pt")
    if scaler is not None:  # fp16's dynamic loss scale
        torch.save(scaler.state_dict(), tmp_dir / "scaler.pt")
    torch.save(optimizer.state_dict(), tmp_dir / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp_dir / "scheduler.pt")
    # Every file's CRC-32 (every process's rng-<rank>.pt is written by now), which read() checks: torch.load checks
    # no checksum, so a byte changed inside model.pt's tensors (a damaged disk or copy) resumed the run on other
    # weights without a word. CRC-32, not SHA-256: it guards against damage, not forgery, and the files are read
    # back at every save (0.8 GB for a 6-layer 768-wide student with its AdamW state: about 0.25 s against 0.8 s
    # for SHA-256 on these CPUs, while the other processes wait).
    state = {**state, "crc32": {f.name: _digest(f) for f in sorted(tmp_dir.glob("*.pt"))}}
    (tmp_dir / "state.json").write_text(json.dumps(state, indent=2))
    if final_dir.exists():
        shutil.rmtree(final_dir)
    os.replace(tmp_dir, final_dir)
    done = sorted(p for p in final_dir.parent.iterdir() if p.is_dir() and (p / "state.json").exists())
    for old in done[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)


def latest(root: Path) -> Path | None:
    """The newest complete checkpoint under ``root`` (names sort by stage, then step)."""
    if not root.is_dir():
        return None
    done = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.endswith(".tmp")
                  and (p / "state.json").exists())
    return done[-1] if done else None


def read(ckpt: Path, rank: int) -> dict:
    """Everything in a checkpoint, loaded to CPU; the caller puts each part back. A file that cannot be read (a
    truncated copy, a damaged disk) is a ConfigError naming it; under torchrun it may be one process's alone
    (``rng-<rank>.pt``), which then says so while the others wait."""
    rng_file, scaler_file = ckpt / f"rng-{rank}.pt", ckpt / "scaler.pt"
    state = _load(ckpt / "state.json", lambda f: json.loads(f.read_text()))
    digests = state.get("crc32") if isinstance(state, dict) else None  # None: written before they were recorded

    def load(path: Path, **kwargs):
        value = _load(path, **kwargs)  # first: a file cut short is named by torch's own reason
        if isinstance(digests, dict) and path.name in digests and _digest(path) != digests[path.name]:
            raise ConfigError(_unreadable(path, "its CRC-32 is not the one state.json recorded"))
        return value

    return {"state": state,
            "model": load(ckpt / "model.pt", map_location="cpu", weights_only=True),
            "optimizer": load(ckpt / "optimizer.pt", map_location="cpu", weights_only=True),
            "scheduler": load(ckpt / "scheduler.pt", map_location="cpu", weights_only=True),
            "scaler": load(scaler_file, weights_only=True) if scaler_file.exists() else None,
            "rng": load(rng_file, map_location="cpu", weights_only=False) if rng_file.exists() else None}


def _digest(path: Path) -> str:
    crc = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(8 << 20), b""):
            crc = zlib.crc32(block, crc)
    return f"{crc:08x}"


def _unreadable(path: Path, reason: str) -> str:
    return (f"--resume: the checkpoint file {path} cannot be read ({reason}); remove {path.parent} to resume from "
            "the checkpoint before it (or the start), or start again with --overwrite")


def _load(path: Path, reader=torch.load, **kwargs):
    try:
        return reader(path, **kwargs)
    except (OSError, EOFError, RuntimeError, ValueError, pickle.UnpicklingError) as e:
        # torch's reason runs on for lines ("PytorchStreamReader failed reading zip archive: failed finding central
        # directory. This is an internal miniz error. If you are seeing ..."): its first sentence names it.
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0].split(". ")[0]
        raise ConfigError(_unreadable(path, reason)) from None


def records_before(records: list[dict], stages: list[str], state: dict) -> int:
    """How many of ``metrics.jsonl``'s ``records`` (in order) a run resumed from the checkpoint ``state`` keeps.

    A killed run logged past its last checkpoint; the resumed run logs those steps again. Kept: everything up to
    the last record the checkpoint covers: the earlier stages', the teacher cache's (its file outlives the kill, so
    it is not rebuilt and reported again), and the checkpoint's stage up to its step (all of it, summary included,
    when that stage was done). Dropped: what follows, the killed run's records that the resumed run writes anew
    (later steps, a later stage, the final evaluation)."""
    index, step, done = state["stage_index"], state["step"], state["stage_done"]
    stage = stages[index]
    # The cache is built as the prediction stage starts: kept once the checkpoint is in that stage or just before.
    cache_kept = "prediction" in stages and index + done >= stages.index("prediction")
    keep = 0
    for n, r in enumerate(records):
        name = r.get("stage")
        if (name in stages and stages.index(name) < index) or (name == "teacher_cache" and cache_kept) or (
                name == stage and (isinstance(r.get("step"), int) and r["step"] <= step or done and "summary" in r)):
            keep = n + 1
    return keep
