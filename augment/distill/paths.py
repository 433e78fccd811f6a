"""The paths a distill-train run reads and writes, checked before anything loads: its sources (--data,
--prediction-data, --eval) exist, and what the training data holds now; --out and the cache folder are no folder
read as data. Problems are returned in words naming the option, for the recipe's one error line, where each bad
source is named once (:func:`named_once`).

    >>> named_sources(["aug", "extra.json"], None, "squad_v2")
    [('--data', 'aug'), ('--data', 'extra.json'), ('--eval', 'squad_v2')]
"""
from __future__ import annotations

from pathlib import Path

# The options that name data sources, in the order named_sources gives them.
SOURCE_OPTIONS = ("--data", "--prediction-data", "--eval")


def named_sources(data: list[str], prediction_data: list[str] | None, eval_source: str | None) -> list[tuple[str, str]]:
    """(option, source) of every source the run names, in the order given."""
    options = {"--data": data or [], "--prediction-data": prediction_data or [],
               "--eval": [eval_source] if eval_source is not None else []}
    return [(option, src) for option, sources in options.items() for src in sources]


def source_problems(named: list[tuple[str, str]], data: list[str], prediction_data: list[str] | None,
                    eval_split: str = "train") -> tuple[list[str], dict]:
    """(problems, fingerprints) of the ``named`` sources (:func:`named_sources`): an empty one, a local path that
    does not exist, a folder of no data or an unreadable file; and what the training data holds now
    (``data_fingerprints`` and ``prediction_data_fingerprints``: augment.manifest.data_fingerprint of each source, or
    None where a source is empty or could not be read), which config.json records and a resume compares. Every bad
    source is named, not the first alone: where one is bad, the other local ones are read now (the run stops), so
    that a problem only their rows show is in the same refusal (``eval_split``: the split ``--eval`` is read at)."""
    from augment.sources import local_path, source_problem

    # An empty source ("$DATA" unset) would be read as the working directory: refused, and left out of the checks
    # below. (--eval "" too: it is not left out as no --eval, which would skip the evaluation asked for.)
    said = [(option, problem) for option, src in named if (problem := source_problem(option, src))]  # (option, line)
    empty = bool(said)
    for option, src in named:
        # The readers' own rule (augment.sources.local_path): an owner/name such as rajpurkar/squad_v2 that is no
        # path here is a hub id, not a missing file.
        if not source_problem("", src) and (path := local_path(src)) is not None and not path.exists():
            said.append((option, f"{src}: no such file or directory"))
    # What the training data holds now (a missing file: its name).
    taken = {"data_fingerprints": None, "prediction_data_fingerprints": None}
    if not empty:  # every source's problem, not the first one's alone
        taken["data_fingerprints"], found = fingerprints(data)
        said += [("--data", problem) for problem in found]
        if prediction_data:
            taken["prediction_data_fingerprints"], found = fingerprints(prediction_data)
            said += [("--prediction-data", problem) for problem in found]
    if said:  # a bad source: the others are read now, so that every bad one is named at once
        said += unread_problems(named, eval_split)
    return named_once(said), taken


def named_once(said: list[tuple[str, str]]) -> list[str]:
    """The lines of ``said``, ``(option, line)`` pairs in the order found, each once: a source that several options
    give (one file as --data and --eval) is read for each and refused in the same words, so its line is said once,
    where it was first, after the options that gave it; a line of one option alone (one source given to it twice too)
    is said as it is.

        >>> named_once([("--data", "x.json: invalid JSON"), ("--eval", "y: no such file or directory"),
        ...             ("--eval", "x.json: invalid JSON"), ("--data", "x.json: invalid JSON")])
        ['--data/--eval x.json: invalid JSON', 'y: no such file or directory']
    """
    options: dict[str, list[str]] = {}  # line -> the options that said it, first said first
    for option, line in said:
        if option not in (given := options.setdefault(line, [])):
            given.append(option)
    return [line if len(given) == 1 else f"{'/'.join(sorted(given, key=SOURCE_OPTIONS.index))} {line}"
            for line, given in options.items()]


def fingerprints(sources, split: str = "train") -> tuple[list[str] | None, list[str]]:
    """``(fingerprints, problems)`` of the training ``sources``: :func:`augment.manifest.data_fingerprint` of each (a
    run's config.json records them, a resume compares them), or None when one cannot be taken, and one line for each
    source that cannot (a folder of no data, an unreadable file): all of them, not the first alone.

        >>> fingerprints(["data/sample", "tests"])[1]  # doctest: +SKIP
        ['tests: directory holds neither a saved dataset nor .json/.jsonl files']
    """
    from augment.errors import InputError
    from augment.manifest import data_fingerprint

    found, problems = [], []
    for src in sources:
        try:
            found.append(data_fingerprint(src, split))
        except InputError as e:  # a folder of no data, a command's output
            problems.append(str(e))
        except OSError as e:  # unreadable
            problems.append(f"{e.filename}: cannot be read ({e.strerror})")
    return (None if problems else found), problems


def unread_problems(named, eval_split: str = "train") -> list[tuple[str, str]]:
    """For a run refused for a bad source: ``(option, line)`` of the problems of the ``named`` sources ((option,
    source) pairs, ``--eval`` read at ``eval_split``, the others at "train") that only reading them finds (invalid
    JSON, a key given twice), so that every bad source is named in the one refusal, not one per run as each is fixed;
    the lines said already without reading rows come again, and :func:`named_once` says each once. Each local source is
    read whole (:func:`augment.squad_io.source_problems`), once for each option that gives it: the run stops. A
    missing one and a hub id are left out (named already; loaded later)."""
    from augment.sources import local_path, source_problem
    from augment.squad_io import source_problems as read_problems

    said = []
    for option, src in dict.fromkeys(named):  # a source one option gives twice is read once
        path = None if source_problem("", src) else local_path(src)
        if path is None or not path.exists():
            continue
        # Read for each option that gives it, whose words its lines may hold (a hint naming the option).
        said += [(option, problem) for problem in read_problems([src], eval_split if option == "--eval" else "train",
                                                               option)]
    return said


def default_cache_dir(sources, out_dir) -> Path:
    """Next to the data: ``.distill-cache`` beside the first local source; under ``out`` for hub ids."""
    from augment.sources import local_path

    for s in sources:
        if (path := local_path(s)) is not None and path.exists():  # ~/aug too, as the readers expand it
            return path.resolve().parent / ".distill-cache"
    return Path(out_dir) / "cache"


def folder_problems(out: str, cache_dir: str | None, data: list[str], named: list[tuple[str, str]]) -> list[str]:
    """What stands against writing the run into ``out`` and its windows and teacher logits into ``cache_dir`` (or
    the default, :func:`default_cache_dir`): a folder that cannot be written, or one read as data."""
    from augment import outdir
    from augment.sources import source_problem

    problems = []
    # Not a folder read as data, the run's own sources' or any other's: its config.json would make it a run's folder,
    # refused as data whole (augment.sources.output_folder_problem).
    out_problem = outdir.out_problem("--out", out) or outdir.source_folder_problem(
        "--out", out, out, named) or outdir.data_folder_problem(
        "--out", out, out, named, own_folder=True, suffix="-run")
    if out_problem:
        problems.append(out_problem)
    # The windows and teacher logits are written there (by default beside the data, which may be read-only). Not
    # into a source's folder: in a saved dataset's (or its split's) they count as its data, and a --resume is refused
    # as changed data; in a folder of .json files, datasets.load_dataset would read them instead of the questions.
    # Nor into any other folder read as data, for the same reasons. The default, a .distill-cache folder of its own
    # beside the first source, is never one.
    cache = Path(cache_dir) if cache_dir else default_cache_dir(
        [src for src in data if not source_problem("", src)], Path(out))
    cache_problem = outdir.out_problem("--cache-dir" if cache_dir else "the cache folder (--cache-dir)", cache)
    if cache_dir and not cache_problem:
        cache_problem = outdir.source_folder_problem("--cache-dir", cache_dir, cache, named, arrow_only=True) or \
            outdir.data_folder_problem("--cache-dir", cache_dir, cache, named, own_folder=True, suffix="-cache")
    if cache_problem:
        problems.append(cache_problem)
    return problems
