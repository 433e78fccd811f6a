"""An output directory, checked before anything loads and removed again if a run fails before writing.

A command that only finds out at its first write that ``--out`` is on a read-only filesystem has spent
minutes loading models and vectors first, and then fails with a traceback; one that fails after
creating ``--out`` leaves an empty folder that looks like a run. Hence:

    >>> problem = out_problem("--out", "runs/tiny")      # None, or one line naming what is wrong
    >>> made = missing_dirs("runs/tiny")                # [runs, runs/tiny]: what mkdir -p will create
    >>> remove_empty(made)                              # after a failure: only empty ones, deepest first

A folder another command wrote is told by what it wrote there (:func:`distill_run_options`,
:func:`squad_eval_options`), and one of those files by its content (:func:`run_record_options`,
:func:`report_options`), so that one given as data or as a model's ``--out`` is named for what it is.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from augment.saved_dataset import data_folders, is_saved_dataset


def empty_problem(option: str, value, wanted: str) -> str | None:
    """One line refusing an empty (or blank) path, or None: ``Path("")`` is the working directory, so an option
    given as ``"$VAR"`` with ``$VAR`` unset names it without a word. ``wanted``: what to name instead. Shared by
    the output options here and the data sources (:func:`augment.sources.source_problem`).

        >>> empty_problem("--out", "", "name the output directory")
        "--out '': an empty path (an unset variable?); name the output directory"
    """
    if isinstance(value, str) and not value.strip():
        return f"{option} {value!r}: an empty path (an unset variable?); {wanted}"
    return None


def out_problem(option: str, out) -> str | None:
    """Why ``out`` cannot be (created and) written as a directory, or None. Writes nothing that stays:
    whether the nearest existing directory takes a new entry is tried with a temporary one, since
    permissions, read-only mounts and quotas are only known by trying (root passes os.access anyway).

    An empty name is refused: ``Path("")`` is the working directory, so ``--out "$OUT"`` with ``$OUT`` unset
    would write there, and with ``--overwrite`` delete another tool's manifest.json or state.json."""
    if problem := empty_problem(option, out, "name the output directory"):
        return problem
    out = Path(out)
    nearest = next((p for p in (out, *out.absolute().parents) if p.exists()), None)
    if nearest is None:
        return f"{option} {out}: no existing directory above it"
    if not nearest.is_dir():
        what = "it" if nearest == out else str(nearest)
        return f"{option} {out}: {what} is a file, not a directory; name a new or existing directory"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".write-test-", dir=nearest))
    except OSError as e:
        return (f"{option} {out}: cannot write in {nearest} ({e.strerror or type(e).__name__}); "
                "choose a directory you can write to")
    return None


def source_folder_problem(option: str, out, folder, sources, arrow_only: bool = False) -> str | None:
    """Why the outputs of ``option`` (``out``, written into ``folder``: ``out`` itself, or the folder of an
    ``--out FILE.json``) must not go there, or None: ``folder`` is the folder of one of ``sources``, the run's
    ``(option, source)`` data, which a later run over that source reads. A folder of .json files would then
    read the run's config.json, metrics.jsonl or eval.json as data and stop on them, any source would have
    another fingerprint (a resume refused as changed data), and augment-squad would write its shards over its
    input. A DatasetDict's split folders count as its folder: their Arrow files are its data (distill-train's
    --cache-dir there, its windows and teacher logits). Any other folder inside a source's is not read as data.

    ``arrow_only``: ``option`` writes nothing but Arrow files (distill-train's --cache-dir). tinyaug's readers of a
    folder of .json/.jsonl files skip them, but ``datasets.load_dataset(folder)``, where no file name names a split
    (squad.json, not train.json), reads a folder's most common kind of file, Arrow before JSON on a tie: the cache's
    two files would make it read the windows and logits instead of the questions. So such a folder stays refused,
    saying so.

        >>> source_folder_problem("--out", "data/sample", "data/sample", [("--data", "data/sample")])
        "--out data/sample: it is the --data folder, where a later run over data/sample would read this run's files as data; choose another --out"
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        return None
    for source_option, source in sources:
        if not isinstance(source, str) or not source.strip():  # refused on its own (an unset variable)
            continue
        path = Path(source).expanduser()
        if not path.is_dir():
            continue
        for data in data_folders(path):
            if data.is_dir() and data.samefile(folder):  # any spelling of it: ./D, D/, a symlink to D
                what = "it" if Path(out).expanduser() == folder else str(folder)
                where = f"the {source_option} folder" if data == path else \
                    f"the {data.name} split folder of {source_option} {source}"
                if arrow_only and not is_saved_dataset(path):
                    return (f"{option} {out}: {what} is {where}, a folder of .json/.jsonl data files: "
                            f"datasets.load_dataset({source}) can read the .arrow files cached there instead of its "
                            "questions (where no file name names a split, it reads a folder's most common kind of "
                            f"file, Arrow before JSON on a tie), though tinyaug's readers skip them; choose another "
                            f"{option}")
                return (f"{option} {out}: {what} is {where}, where a later run over {source} would read this run's "
                        f"files as data; choose another {option}")
    return None


def data_folder_problem(option: str, out, folder, sources, own_folder: bool = False,
                        suffix: str = "-eval") -> str | None:
    """Why the outputs of ``option`` (``out``, written into ``folder``) must not go there, or None: ``folder`` is
    one the readers take as data (:func:`augment.sources.data_folder_kind`), whether or not this run reads it
    (:func:`source_folder_problem` names the run's own). squad-eval --out data/sample/preds.json wrote its report
    and page among the data files; the report, under a name other than eval.json, left the folder unrecognised as
    squad-eval's, so the next run over data/sample stopped at it ("an evaluation's report, not data") and its
    fingerprint changed. (Named eval.json, it made the folder a squad-eval output folder, refused as data whole.)
    distill-train's --out made a folder of data files a run's folder, refused as data whole, and augment-squad's
    --out --overwrite wrote its shards and state.json there: a folder of .json files became a saved dataset of the
    shards alone, and a saved dataset lost its state.json to the shards'.

    The folder of a data file among ``sources`` stays allowed (``--data dev-v2.0.json --out eval.json``, the usage
    line, in the folder holding dev-v2.0.json): a run given one file of a folder treats the folder as a place for
    files, not as one dataset. Not where ``own_folder``: ``out`` is then a folder the run makes its own
    (distill-train's run, augment-squad's saved dataset, a cache), not a place beside the data for a file. A new
    folder inside a data folder stays allowed too: tinyaug's readers do not look into it (as
    :func:`source_folder_problem` allows it). ``suffix``: of the folder beside ``folder`` that the line suggests.

        >>> data_folder_problem("--out", "data/sample/p.json", "data/sample", [("--data", "x")])  # doctest: +SKIP
        '--out data/sample/p.json: data/sample is a folder of SQuAD data files (train-v2.0-sample.json), ...'
    """
    from augment.sources import data_folder_kind

    folder = Path(folder).expanduser()
    if not folder.is_dir() or not own_folder and not is_saved_dataset(folder) and any(
            isinstance(source, str) and (path := Path(source).expanduser()).is_file() and path.parent.samefile(folder)
            for _, source in sources):
        return None
    if (kind := data_folder_kind(folder)) is None:
        return None
    what = "it" if Path(out).expanduser() == folder else str(folder)
    named = folder if folder.name not in ("", "..") else folder.resolve()  # "." has no name to suffix
    return (f"{option} {out}: {what} is {kind}, which augment-squad, distill-train and squad-eval read as data; "
            f"write this run's files outside it, such as {option} {named.with_name(named.name + suffix)}")


# Options that distill-train's config.json (its vars(args)) always records; a model's config.json has none of them.
DISTILL_RUN_KEYS = ("data", "teacher", "student", "stage")


def distill_run_options(folder) -> dict | None:
    """The options a distill-train run recorded in ``folder``/config.json, or None where no such record is there
    (no file, a model's config.json, a data file of that name). Told by its keys, not by its name: a saved model's
    config.json has the same one.

        >>> distill_run_options("runs/tiny")["data"]  # doctest: +SKIP
        ['data/aug', 'squad_v2']
    """
    return run_record_options(Path(folder) / "config.json")


def run_record_options(path) -> dict | None:
    """The options a distill-train run recorded in the file ``path`` (its --out's config.json, under any name), or
    None where the file is no such record: told by its keys (:data:`DISTILL_RUN_KEYS`)."""
    path = Path(path)
    try:  # a run's options are a few KB: a larger file is not decoded just to find it is data
        if not path.is_file() or path.stat().st_size > 1 << 20:
            return None
        options = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return options if isinstance(options, dict) and all(k in options for k in DISTILL_RUN_KEYS) else None


# How an evaluation report begins (written with the metrics first): squad-eval's eval.json, and distill-train's, which
# names the stage and step first.
_REPORT_START = re.compile(r'\A\ufeff?\s*\{\s*(?:"stage"\s*:\s*"[a-z]+"\s*,\s*"step"\s*:\s*[^,{}]+,\s*)?"metrics"\s*:')


def squad_eval_options(folder) -> dict | None:
    """The options of the evaluation that ``squad-eval --out folder`` wrote there (eval.json and eval.html), or None
    where ``folder`` holds no such report."""
    folder = Path(folder)
    return report_options(folder / "eval.json") if (folder / "eval.html").is_file() else None


def report_options(path) -> dict | None:
    """The options of the evaluation whose report (an eval.json of squad-eval or distill-train, under any name) is
    the file ``path``, or None where it is no such report: only a file that begins as a report does is decoded (one
    that is SQuAD data may be large)."""
    path = Path(path)
    try:
        if not path.is_file():
            return None
        with open(path, encoding="utf-8", errors="replace") as f:
            if not _REPORT_START.match(f.read(256)):
                return None
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    options = report.get("options") if isinstance(report, dict) else None
    return options if isinstance(options, dict) else None


def missing_dirs(out) -> list[Path]:
    """The directories ``Path(out).mkdir(parents=True)`` would create, outermost first."""
    out = Path(out).absolute()
    return [p for p in (*reversed(out.parents), out) if not p.exists()]


def remove_empty(dirs) -> None:
    """Remove ``dirs`` (from :func:`missing_dirs`) that are still empty, innermost first."""
    for d in reversed(list(dirs)):
        try:
            d.rmdir()
        except FileNotFoundError:
            continue
        except OSError:  # not empty: something was written after all, so its parents stay too
            return
