"""The run in distill-train's --out: the files it writes, and whether a --resume continues it (the same options
in effect, the same data and models) or a fresh run would be mixed into it. Problems are returned in words
naming the option, for the recipe's one error line; nothing here loads a model or torch.

    >>> same_in_effect("epochs", {"epochs": 3, "max_steps": 10}, {"epochs": 5, "max_steps": 10})
    True
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from augment.distill.summary import count

# Options that change what is trained; a --resume with other values would not continue the same run.
RUN_DEFINING = ("data", "teacher", "student", "stage", "batch_size", "max_length", "doc_stride", "epochs",
                "prediction_data", "projection",
                "max_steps", "grad_accum", "lr_intermediate", "lr_prediction", "warmup", "weight_decay",
                "embedding_dropout", "temperature", "distill_weight", "bf16", "fp16", "seed", "limit",
                "group_by_length", "attention_loss",
                "teacher_cache",  # the prediction stage reads float16 cached logits, or float32 live ones
                "cache_batch_size")  # which windows share a batch: a few logits' last bits (teacher_cache.cache_path)

# What a run writes into --out; --overwrite removes these and nothing else.
RUN_FILES = ("config.json", "metrics.jsonl", "checkpoints", "student", "student-intermediate", "eval.json",
             "eval.html", "tensorboard")

# What a fingerprint of each model covers, for the line that refuses a resume whose model changed.
FINGERPRINTED = {"teacher": "its weights, config or tokenizer files",
                 "student": "its config or tokenizer files, which build the model the checkpoint's weights go into "
                            "and cut the windows"}


def run_files(out: Path) -> list[str]:
    """The earlier run's files in ``out`` (an empty checkpoints folder does not count)."""
    found = []
    for name in RUN_FILES:
        path = Path(out) / name
        if path.is_file() or (path.is_dir() and any(path.iterdir())):
            found.append(name)
    return found


def remove_run(out: Path, keep=()) -> None:
    """--overwrite: remove the earlier run's files (:data:`RUN_FILES`) from ``out``, but those named in ``keep``;
    other files stay."""
    for name in RUN_FILES:
        if name not in keep:
            path = Path(out) / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


def write_config(out: Path, options: dict, processes: int, asked_token_types: bool) -> None:
    """config.json: the run's ``options`` (its namespace, with the fingerprints validation took) and what else a
    resume compares: the number of ``processes``, labels_version (how the windows' answers are labelled, which a
    resume by a later tinyaug warns about), asked_token_types (whether the windows ask the tokenizer for token
    type ids: the same) and transformers' version."""
    import transformers

    from augment.qa.features import LABELS_VERSION

    cfg = options | {"processes": processes, "labels_version": LABELS_VERSION,
                     "asked_token_types": asked_token_types, "versions": {"transformers": transformers.__version__}}
    (Path(out) / "config.json").write_text(json.dumps(cfg, indent=2))


def run_problems(out: Path, resume: bool, overwrite: bool, now: dict, idle: set[str]) -> tuple[list[str], list[str]]:
    """(problems, warnings) of a run in ``out`` with ``--resume`` and ``--overwrite`` as given: both at once, a
    resume of nothing, a fresh run over an earlier one, and a resume whose options (``now``: the run's options, and
    its number of ``processes``), data or models differ from the run's config.json. ``idle``: the options this run
    never uses, which change nothing in it (and an older version recorded such options)."""
    from augment.qa.features import LABELS_CHANGES, LABELS_VERSION

    problems, warnings = [], []
    if resume and overwrite:
        problems.append("--resume continues the run in --out and --overwrite replaces it: pass one of them")
    if resume and not (out / "config.json").exists():
        problems.append(f"--resume: {out} holds no earlier run (no config.json)")
    earlier = run_files(out)
    if earlier and not (resume or overwrite):
        # A fresh run would append its records to the old metrics.jsonl and leave the old students beside its own.
        problems.append(f"{out} holds an earlier run ({', '.join(earlier[:3])}): pass --resume to continue it, "
                        "--overwrite to replace it, or choose another --out")
    if not (resume and (out / "config.json").exists()):
        return problems, warnings
    try:
        old = json.loads((out / "config.json").read_text())
    except ValueError as e:
        old = None
        problems.append(f"--resume: {out / 'config.json'} is unreadable ({e}); --overwrite starts the run again")
    if not isinstance(old, dict):
        return problems, warnings
    # Another number of processes batches, schedules and seeds otherwise: not the same run.
    changed = [k for k in (*RUN_DEFINING, "processes") if k in old and old[k] != now[k]
               and k not in idle and not same_in_effect(k, old, now)]
    if changed:
        problems.append("--resume with different options than the run in --out: " + ", ".join(
            f"{count(old[k], 'process', 'processes')} -> {now[k]}" if k == "processes"
            else f"--{k.replace('_', '-')} {old[k]!r} -> {now[k]!r}" for k in changed))
    # The same sources may hold other data now (a rerun of augment-squad, an edited file): another run.
    for option in ("data", "prediction_data"):
        if option in changed or not isinstance(old.get(f"{option}_fingerprints"), list):
            continue  # named above, or recorded by a version that did not fingerprint the data
        for src, was, is_ in zip(now[option] or [], old[f"{option}_fingerprints"],
                                 now[f"{option}_fingerprints"] or []):
            if not same_data(was, is_, src):
                problems.append(f"--resume: --{option.replace('_', '-')} {src} changed since the run in "
                                f"--out began (its contents differ); --overwrite starts the run again")
    # The windows' labels changed since the run began (a tinyaug upgrade): its tokenised-window cache is
    # keyed by the labels' version, so the rest of the run trains on the new labels. Rare and small: said,
    # not refused, so that a long run is not lost.
    was = old.get("labels_version", 1)  # not recorded before version 2
    if was != LABELS_VERSION:
        changes = [LABELS_CHANGES[v] for v in sorted(LABELS_CHANGES)
                   if isinstance(was, int) and min(was, LABELS_VERSION) < v <= max(was, LABELS_VERSION)]
        warnings.append(f"--resume: the run in {out} began on windows labelled by labels version {was!r}, "
                        f"this tinyaug labels them by version {LABELS_VERSION}"
                        f"{' (' + '; '.join(changes) + ')' if changes else ''}: the rest of the run "
                        "trains on the new labels")
    # A local model folder that holds another model now; not recorded by older versions, nor for a hub id.
    for option, covers in FINGERPRINTED.items():
        was, is_ = old.get(f"{option}_fingerprint"), now[f"{option}_fingerprint"]
        if option not in changed and isinstance(was, str) and isinstance(is_, str) and \
                not same_model(was, is_, now[option], weights=option == "teacher"):
            problems.append(f"--resume: --{option} {now[option]} changed since the run in --out began "
                            f"({covers} differ); --overwrite starts the run again")
    return problems, warnings


def same_in_effect(option: str, old: dict, now: dict) -> bool:
    """Whether a resume's ``option`` differs from the run's only where it changes nothing: the same local
    files spelled another way (the directory or file the readers and transformers open, ``runs/t/`` or
    ``./runs/t`` for ``runs/t``), or named from another working directory or moved, with the fingerprints
    config.json recorded of them (data: their contents; a model: see
    :func:`augment.distill.models.model_fingerprints`). (Options this run never uses, a cache batch size with no
    teacher-logit cache to build among them, are left out before: :func:`run_problems`' ``idle``, from
    :func:`augment.distill.options.idle_options`.) And --epochs where both runs give the same --max-steps: it
    overrides --epochs (the recipe's ``total_steps``), which then sets nothing."""
    if option == "epochs":  # a --max-steps that differs, or given in one run only, is named on its own line
        return old.get("max_steps") is not None and old.get("max_steps") == now.get("max_steps")
    if option in ("teacher", "student"):  # a hub id, or "none", is compared as it is spelled
        def model(spec):
            return str(Path(spec).resolve()) if Path(spec).is_dir() else spec
        # Else the fingerprints recorded of local folders decide: a relative path recorded in config.json names
        # another folder, or none, from another working directory (a resubmitted job), as does a moved copy.
        was, is_ = old.get(f"{option}_fingerprint"), now.get(f"{option}_fingerprint")
        return model(old[option]) == model(now[option]) or isinstance(was, str) and isinstance(is_, str) and \
            same_model(was, is_, now[option], weights=option == "teacher")
    if option in ("data", "prediction_data"):
        from augment.sources import local_path

        def where(sources):  # local_path: ~/aug (--data=~/aug, unexpanded) is the folder the readers open
            return [str(p.resolve()) if (p := local_path(s)) is not None and p.exists() else s for s in sources or []]
        # As for the models; a hub id's fingerprint is its name, so another id still differs.
        was, is_ = old.get(f"{option}_fingerprints"), now.get(f"{option}_fingerprints")
        return where(old[option]) == where(now[option]) or isinstance(was, list) and isinstance(is_, list) and \
            len(was) == len(is_) and all(same_data(w, i, src) for w, i, src in zip(was, is_, now[option]))
    return False


def same_data(was, is_, source) -> bool:
    """Whether a --data source's recorded fingerprint ``was`` is today's ``is_``, or the one tinyaug before 2026-11-29
    computed of the same files (a saved dataset with other files beside its data:
    :func:`augment.fingerprints.earlier_fingerprint`). Today's is recorded when the run goes on."""
    from augment.fingerprints import earlier_fingerprint

    # Only a digest of the files read (sha256:) had another recipe, and only on a mismatch are the files read again.
    return was == is_ or isinstance(is_, str) and is_.startswith("sha256:") and was == earlier_fingerprint(source)


def same_model(was: str, is_: str, path: str, weights: bool) -> bool:
    """As :func:`same_data` for a local model: today's fingerprint, or the one tinyaug before 2026-11-29 computed of
    the same folder (without its tokenizer configuration: :func:`augment.manifest.earlier_model_fingerprint`)."""
    from augment import manifest

    return was == is_ or Path(path).is_dir() and was == manifest.earlier_model_fingerprint(path, weights=weights)


def token_types_change(out: Path, asked: bool) -> str | None:
    """What a --resume says when the run in ``out`` began on windows that asked the tokenizer for token type ids
    otherwise than this one does (``asked``). Before this was recorded, windows never asked: a run of an
    ALBERT-like student or teacher (a tokenizer that makes the ids only when asked) began on all-0 types and, now
    that the windows ask, trains its remaining steps on question 0 / context 1. Said, not refused, as a change
    of the labels is: the run is not lost, and its evaluation already gave the model those ids."""
    try:
        old = json.loads((out / "config.json").read_text())
    except (OSError, ValueError):
        return None  # distill-train's validate() refused an unreadable one
    was = old.get("asked_token_types", False) if isinstance(old, dict) else asked
    if was == asked:
        return None
    return (f"--resume: the run in {out} began on windows {'with' if was else 'without'} token type ids, this "
            f"tinyaug's windows are {'with' if asked else 'without'} them (as its evaluation gives the model): the "
            "rest of the run trains on the new windows")
