"""Where a model comes from, checked in seconds before anything loads: a local directory or a Hugging
Face Hub id.

Offline, transformers and datasets retry a hub request five times with back-off (about 40-50 s) and
then raise an error that names neither the option nor a way out. Here:

- a spec that looks like a path (``/x``, ``./x``, ``~/x``, ``a/b/c``, or anything that exists) must be a
  model directory: ``--teacher /nope: no such model directory``;
- a hub id is tried against the hub's host in at most :data:`PROBE_SECONDS`. When the host cannot be
  reached, the process switches to offline mode (so a cached model loads at once instead of after the
  retries), and an id that is not in the local cache is one line naming the option, the id and the
  fixes.

    >>> model_problems([("--teacher", "/nope")], fixes=CLI_FIXES)
    ['--teacher /nope: no such model directory']
"""
from __future__ import annotations

import os
import socket
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import getproxies

PROBE_SECONDS = 3.0  # DNS plus a TCP connect; a reachable hub answers in well under a second


def looks_local(spec: str) -> bool:
    """A path rather than a hub id: it exists, starts with '/', '.' or '~', or has more than one '/'
    (hub ids are ``name`` or ``org/name``)."""
    return Path(spec).expanduser().exists() or spec.startswith(("/", ".", "~")) or spec.count("/") > 1


def local_problem(option: str, spec: str, name: str = "{option} {spec}") -> str | None:
    """Why the local model directory ``spec`` cannot be loaded, or None (also for a hub id)."""
    if not spec.strip():  # Path("") is the working directory: --model "$MODEL" with MODEL unset looked for one there
        said = name.format(option=option, spec=spec) if "{spec!r}" in name else f"{option} {spec!r}"
        return f"{said}: an empty name (an unset variable?); name a model directory or a hub id"
    if not looks_local(spec):
        return None
    path = Path(spec).expanduser()
    said = name.format(option=option, spec=spec)
    if path.is_file():  # the weights or config file itself: "no such model directory" read as a missing path
        folder = f"; its folder {path.parent} is one" if _saved_model(path.parent) else ""
        return f"{said}: a file, not a model directory (one written by save_pretrained){folder}"
    if not path.is_dir():
        return f"{said}: no such model directory"
    if not (path / "config.json").is_file():
        return f"{said}: no config.json; expected a directory written by save_pretrained (model and tokenizer)" \
               + _models_inside(path)
    if not _has_weights(path):
        # A distill-train --out has a config.json of its own (the run's options) and the model in student/.
        return f"{said}: {NO_WEIGHTS}; expected a directory written by save_pretrained" + _models_inside(path)
    if not _has_vocabulary(path):
        # transformers would make a tokenizer of its 5 special tokens and read every word as [UNK], silently.
        return f"{said}: {NO_VOCABULARY}; save the tokenizer beside the model (tokenizer.save_pretrained on the " \
               "same directory)"
    return None


def _has_weights(path: Path) -> bool:
    return any(any(path.glob(pattern)) for pattern in WEIGHT_FILES)


def _has_vocabulary(path: Path) -> bool:
    return any((path / f).is_file() for f in VOCABULARY_FILES) or any(path.glob("*.model"))


def _saved_model(path: Path) -> bool:
    """A config and weights: what save_pretrained leaves, enough to point a user at the folder."""
    return (path / "config.json").is_file() and any(any(path.glob(pattern)) for pattern in WEIGHT_FILES)


def _models_inside(path: Path) -> str:
    """The model directories one level down, as a hint for a folder that holds them rather than is one (a
    distill-train --out: OUT/student; the tutorial's runs/tutorial: student-init), or ""."""
    try:
        found = sorted(str(d) for d in path.iterdir() if d.is_dir() and not d.name.startswith(".") and _saved_model(d))
    except OSError:  # an unreadable folder: the message stands without the hint
        return ""
    if not found:
        return ""
    what = "a model directory" if len(found) == 1 else "model directories"
    return f"; it holds {what}: {', '.join(found[:3])}{', ...' if len(found) > 3 else ''}"


WEIGHT_FILES = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json")
# A tokenizer's vocabulary: the fast tokenizer's file, WordPiece's, BPE's (SentencePiece's are *.model).
VOCABULARY_FILES = ("tokenizer.json", "vocab.txt", "vocab.json")
NO_WEIGHTS = "no weights (model.safetensors or pytorch_model.bin)"
NO_VOCABULARY = f"no tokenizer files ({', '.join(VOCABULARY_FILES)})"


# Set when go_offline() switched offline mode on because a probe found the hub unreachable, so that a later
# message blames the network rather than a variable the user never set.
_went_offline = False


def is_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


# huggingface_hub's offline switch: HF_HUB_OFFLINE, or TRANSFORMERS_OFFLINE (its older name) where that is unset or
# empty; either is on at one of these values, in any case (huggingface_hub.constants).
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
TRUE_VALUES = ("1", "ON", "YES", "TRUE")


def offline_variables() -> list[str]:
    """The variables that keep the user's offline mode on, the one huggingface_hub reads first: unsetting
    HF_HUB_OFFLINE alone leaves TRANSFORMERS_OFFLINE=1 in charge. HF_HUB_OFFLINE when none is (offline mode
    switched on in the process itself)."""
    on = [name for name in OFFLINE_VARIABLES if os.environ.get(name, "").upper() in TRUE_VALUES]
    return on or ["HF_HUB_OFFLINE"]


def offline_reason() -> str:
    """Why offline mode is on, in a message's words: the user's variable or our own probe."""
    return "the Hugging Face Hub cannot be reached" if _went_offline else f"{offline_variables()[0]}=1 is set"


def download_fix() -> str:
    """The way out of a hub model missing from the local cache that fetches it: the ``{download}`` of a
    message's fixes. With HF_HUB_OFFLINE=1 (or TRANSFORMERS_OFFLINE=1) set by the user, "run with
    HF_HUB_OFFLINE=1" would name what they did already, and no run with it set ever downloads: the one
    download needs it unset."""
    if is_offline() and not _went_offline:
        return (f"unset {' and '.join(offline_variables())} and run once with network access to download the "
                "model into the cache")
    return "download the model once with network access and run with HF_HUB_OFFLINE=1 to use the cached copy"


def go_offline() -> None:
    """Offline mode for this process and its children, as HF_HUB_OFFLINE=1 would have set it at start.
    huggingface_hub and datasets read the variable once at import, hence the constants as well.
    Called after a probe found the hub unreachable (see :func:`offline_reason`)."""
    global _went_offline
    _went_offline = True
    os.environ["HF_HUB_OFFLINE"] = "1"  # read by datasets when it is imported later
    from huggingface_hub import constants

    constants.HF_HUB_OFFLINE = True
    loaded = sys.modules.get("datasets.config")  # already imported: set its copy too (no import: ~1 s)
    if loaded is not None:
        loaded.HF_HUB_OFFLINE = True


def hub_reachable(timeout: float = PROBE_SECONDS) -> bool:
    """Whether a TCP connection to the hub (or to the HTTPS proxy in use) opens within ``timeout`` s.
    In a thread, because name resolution takes no timeout of its own."""
    from huggingface_hub import constants

    url = urlsplit(getproxies().get("https") or constants.ENDPOINT)
    host, port = url.hostname, url.port or (443 if url.scheme == "https" else 80)
    result = []

    def connect():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            pass

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(result)


def is_cached(repo_id: str) -> bool:
    """Whether the local hub cache holds ``repo_id``'s config.json (what every model load reads first)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except ValueError:  # not a valid repo id at all
        return False


def cached_snapshot(repo_id: str) -> Path | None:
    """The local hub cache's snapshot of ``repo_id`` at its main revision, the folder a load reads (links to the
    blobs of the files downloaded), or None when it holds no config.json of it; asks the network nothing.

        >>> cached_snapshot("deepset/bert-base-uncased-squad2")                   # doctest: +SKIP
        PosixPath('~/.cache/huggingface/hub/models--deepset--bert-base-uncased-squad2/snapshots/<commit>')
    """
    from huggingface_hub import try_to_load_from_cache

    try:
        config = try_to_load_from_cache(repo_id, "config.json")
    except ValueError:  # not a valid repo id at all
        return None
    return Path(config).parent if isinstance(config, str) else None


def cache_gap(repo_id: str) -> str | None:
    """What the local cache's copy of ``repo_id`` lacks that a load needs offline (its weights, its tokenizer's
    vocabulary), as :func:`local_problem` says it of a folder, or None (also when nothing of it is cached). A copy
    of the config and weights alone (``hf_hub_download`` of single files, an interrupted download) loaded offline
    with a tokenizer of its special tokens only: every word [UNK], the scores noise, no error."""
    folder = cached_snapshot(repo_id)
    if folder is None:
        return None
    return NO_WEIGHTS if not _has_weights(folder) else None if _has_vocabulary(folder) else NO_VOCABULARY


def model_problems(models, fixes: str, probe=hub_reachable, name: str = "{option} {spec}") -> list[str]:
    """One line per ``(option, spec)`` in ``models`` that cannot be loaded (``spec`` None or 'none' is
    skipped). ``fixes`` ends each hub line, with ``{option}`` and ``{download}`` (:func:`download_fix`)
    filled in: what this command offers instead (see :data:`CLI_FIXES`); ``name`` is how a line names the
    model (``{option}={spec!r}`` for a Python argument). The hub is probed once, and only when a hub id is
    asked for and offline mode is not already on."""
    problems, hub_ids = [], []
    for option, spec in models:
        if spec is None or str(spec).lower() == "none":
            continue
        problem = local_problem(option, str(spec), name)
        if problem:
            problems.append(problem)
        elif not looks_local(str(spec)):
            hub_ids.append((option, str(spec)))
    if not hub_ids:
        return problems
    if not is_offline():
        if probe():
            return problems
        go_offline()  # cached models now load at once, without the retries
    why, download = offline_reason(), download_fix()
    for option, spec in hub_ids:
        if not is_cached(spec):
            problems.append(f"{name.format(option=option, spec=spec)}: {why} and the model is not in the "
                            "local cache; " + fixes.format(option=option, download=download))
        elif gap := cache_gap(spec):
            problems.append(f"{name.format(option=option, spec=spec)}: {why} and the local cache holds its config "
                            f"but {gap}; " + fixes.format(option=option, download=download))
    return problems


# The ways out, in a command line's words; augment-squad adds "--mlm none" before the last one.
CLI_FIXES = "pass a local model directory ({option} PATH), or {download}"
