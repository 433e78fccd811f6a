"""The teacher and the student as files: loading a config, tokenizer or weights with a one-line error, saving a
student so that a kill leaves no partial one, and the fingerprints a run records of local model folders.

    >>> model_fingerprints("none", "huawei-noah/TinyBERT_General_6L_768D")  # hub ids are recorded by name
    {'teacher_fingerprint': None, 'student_fingerprint': None}
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from augment.errors import ConfigError


def load_pretrained(kind: str, name: str, trust_remote_code: bool):
    """A config or tokenizer, with a one-line error when it cannot be had (offline, wrong path)."""
    from transformers import AutoConfig, AutoTokenizer

    loader = AutoConfig if kind == "config" else AutoTokenizer
    try:
        return loader.from_pretrained(name, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConfigError(f"could not load the {kind} of {name!r}: {first[:200]}") from None


def load_weights(auto_class, role: str, name: str, trust_remote_code: bool, **kwargs):
    """The float32 model (augment.weights.load_float32), with a one-line error when its weights cannot be read."""
    from augment.weights import load_float32

    try:
        return load_float32(auto_class, name, trust_remote_code=trust_remote_code, **kwargs)
    except (OSError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConfigError(f"could not load the {role} weights of {name!r}: {first[:200]}") from None


def save_model(model, tokenizer, path: Path) -> None:
    """``save_pretrained`` of the model and its tokenizer into a temporary sibling of ``path``, renamed into place
    once complete: a kill mid-save leaves the earlier directory or none (which a resume saves again), never one
    with a config and no weights that would pass for a saved student."""
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)  # a killed save's
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if path.exists():  # a resumed run saves again; a kill between these two lines leaves none
        shutil.rmtree(path)
    os.replace(tmp, path)


def model_fingerprints(teacher: str, student: str) -> dict:
    """What config.json records of the models beyond their names, for a resume to compare: a local --teacher's
    config, weights and tokenizer files (augment.manifest.model_fingerprint, remembered by size, modification and
    change times, so 440 MB are not hashed on every start); a local --student's config and tokenizer files only, since a
    resumed run puts the checkpoint's weights into the model that they build (and its tokenizer cuts the windows).
    None for a hub id (recorded by its name) and for --teacher none."""
    from augment import manifest

    def local(spec: str) -> bool:
        return spec != "none" and Path(spec).is_dir()
    return {"teacher_fingerprint": manifest.model_fingerprint(teacher) if local(teacher) else None,
            "student_fingerprint": manifest.model_fingerprint(student, weights=False) if local(student) else None}


def teacher_files(teacher: str, fingerprint: str | None) -> str | None:
    """The fingerprint of the files the teacher's weights were loaded from, which names its logit cache in place of
    the weights (teacher_cache.teacher_digest): a local --teacher's ``fingerprint``, taken for config.json
    (:func:`model_fingerprints`); a hub id's, of its snapshot in the local hub cache (which from_pretrained has just
    read); None where there is none, and then the weights are hashed. No stage changes the loaded weights for good:
    the intermediate stage's bf16/fp16 copies of the teacher's linears are put back before the prediction stage
    names its cache."""
    from augment import hub, manifest

    if fingerprint is not None:
        return fingerprint
    folder = hub.cached_snapshot(teacher)
    return None if folder is None else manifest.model_fingerprint(folder)
