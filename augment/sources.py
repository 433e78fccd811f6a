"""What a data source is, before any row of it is read: a local path or a hub dataset id (:func:`local_path`),
which of the formats a file holds (:func:`sniff_format`), the folder's data files (:func:`data_files`), and the
one-line refusals of a source that is no data: an empty path, a split given for a source without splits, a
command's output folder or file, an Arrow file instead of its folder, a first record of another schema.

The readers (:mod:`augment.squad_io`) and the fingerprints (:mod:`augment.fingerprints`) ask here first; the
commands ask while they check their options, so that a bad ``--data`` is refused before anything loads.

    >>> source_problem("--data", "")
    "--data '': an empty path (an unset variable?); name a data file, a directory or a hub dataset id"
    >>> local_path("rajpurkar/squad_v2") is None             # doctest: +SKIP
    True
"""
from __future__ import annotations

import codecs
import json
import os
import re
from pathlib import Path

from augment.errors import InputError
from augment.saved_dataset import data_folders, is_saved_dataset

FORMATS = ("an official SQuAD .json, a JSON array of squad_v2 rows, a .jsonl of squad_v2 rows, a datasets.save_to_disk "
           "directory, a directory of .json/.jsonl files or a hub dataset id")


def sample_hint(option: str | None = None) -> str:
    """The way out of a missing file or an unreachable hub id, naming ``option`` (the command-line option the
    source came from) when given, else every command's.

        >>> sample_hint("--eval")
        'pass a local FILE.json, FILE.jsonl or DIR to --eval instead, for example the bundled data/sample/'
    """
    where = (f" to {option} instead" if option else
             " instead (--input for augment-squad, --data for distill-train and squad-eval)")
    return f"pass a local FILE.json, FILE.jsonl or DIR{where}, for example the bundled data/sample/"


# The keys without which a record is not a squad_v2 row at all: checked on a source's first record, so
# that a file of another schema stops with one message instead of "succeeding" with every row rejected.
REQUIRED_KEYS = ("context", "question")


def check_first_record(row: dict, where: str) -> None:
    missing = [k for k in REQUIRED_KEYS if k not in row]
    if missing:
        raise InputError(f"{where}: missing key{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(map(repr, missing))}; expected squad_v2 rows with 'id', 'title', "
                         f"'context', 'question', 'answers' (found {', '.join(map(repr, list(row)[:8])) or 'none'})")


def augment_run(path) -> bool:
    """Whether the folder ``path`` holds augment-squad's record of a run (manifest.PROGRESS/config.json), finished
    or not."""
    return (Path(path) / ".progress" / "config.json").is_file()


def data_files(path: Path) -> list[Path]:
    if augment_run(path):
        # Its shards are there but not yet state.json, which a saved dataset needs (it was stopped, or is
        # running); its .json files are no data.
        raise InputError(f"{path}: an augment-squad output that has not finished (no state.json yet); rerun "
                         "the augment-squad command that writes it, which resumes and completes it")
    if problem := output_folder_problem(path):
        raise InputError(problem)
    files = sorted(p for p in path.iterdir() if is_data_file_name(p))
    if not files:
        raise InputError(f"{path}: directory holds neither a saved dataset nor .json/.jsonl files")
    return files


def is_data_file_name(path: Path) -> bool:
    """Whether a folder's file ``path`` is read as data: a .json or .jsonl suffix in any case (TRAIN.JSON, as Windows
    tools name files, was left out without a word)."""
    return path.suffix.lower() in (".json", ".jsonl")


def output_folder_problem(path: Path) -> str | None:
    """One line saying that the folder ``path`` is what distill-train or squad-eval writes, not data, or None. Read
    as a folder of .json files, a run's config.json (its options) stopped at "data[0]: missing key 'paragraphs'"
    and squad-eval's eval.json at "missing key 'data'", as if the data were broken."""
    from augment import outdir

    if (options := outdir.distill_run_options(path)) is not None:
        return (f"{path}: a distill-train output folder, not data (its config.json holds that run's options); "
                f"{_the_runs_data(options, path)}")
    if (options := outdir.squad_eval_options(path)) is not None:
        return (f"{path}: a squad-eval output folder, not data (its eval.json holds an evaluation's metrics and "
                f"predictions); pass the data itself instead, such as the --data it evaluated, {options.get('data')}")
    return None


def data_folder_kind(folder: Path) -> str | None:
    """What ``folder`` is, in a few words, when the readers given it as a source would read its files as data: a
    saved dataset (or one of its split folders), an augment-squad output that has not finished, or a folder of
    .json/.jsonl files of which one holds SQuAD rows; None for any other folder (a command's output, a model's,
    one of other files). Files a command wrote there would be read among the data, change its fingerprint, or be
    refused as not data, stopping the read (:func:`augment.outdir.data_folder_problem` refuses such an --out).

        >>> data_folder_kind(Path("data/sample"))  # doctest: +SKIP
        'a folder of SQuAD data files (train-v2.0-sample.json)'
    """
    if is_saved_dataset(folder):
        parent = folder.parent
        if (parent / "dataset_dict.json").is_file() and folder.name in [d.name for d in data_folders(parent)[1:]]:
            return f"the {folder.name} split folder of the saved dataset {parent}"
        return "a datasets.save_to_disk directory"
    if augment_run(folder):  # as data_files tells it
        return "an augment-squad output that has not finished (a saved dataset once it does)"
    if output_folder_problem(folder):  # refused as data, so nothing in it is read as data
        return None
    for f in sorted(folder.iterdir()):  # in data_files' order: the first data file is named
        if is_data_file_name(f) and f.is_file() and _holds_rows(f):
            return f"a folder of SQuAD data files ({f.name})"
    return None


def _holds_rows(path: Path) -> bool:
    """Whether the readers read a row from the file ``path``: by its content, as they would (a model's config.json,
    an evaluation's report or a file whose first row is broken holds none)."""
    from augment.squad_io import iter_located

    rows = iter_located(path)
    try:
        return next(rows, None) is not None
    except (InputError, OSError, ValueError):
        return False
    finally:
        rows.close()


def output_file_problem(path: Path) -> str | None:
    """As :func:`output_folder_problem`, for one of those files given as the source (``--data runs/x/config.json``),
    told by its content, not its name: a run's options, or an evaluation's report (squad-eval's eval.json, or the one
    distill-train writes with --eval). They stopped at the same "missing key" lines."""
    from augment import outdir

    if (options := outdir.run_record_options(path)) is not None:
        return f"{path}: a distill-train run's options (the config.json of its --out), not data; " + _the_runs_data(
            options, path.parent)
    if (options := outdir.report_options(path)) is not None:
        return (f"{path}: an evaluation's report (the eval.json of squad-eval or distill-train: its metrics and "
                f"predictions), not data; pass the data itself instead, such as the data it evaluated, "
                f"{options.get('data')}")
    return None


def _the_runs_data(options: dict, folder: Path) -> str:
    """What to pass instead of distill-train's output: the data its ``options`` name, and the model it trained into
    ``folder`` if it is there."""
    data = options["data"]
    data = " ".join(map(str, data)) if isinstance(data, list) else data  # --data takes several sources
    model = f"; its trained model, {folder / 'student'}, is what squad-eval --model takes" if (
        folder / "student").is_dir() else ""
    return f"pass the data itself instead, such as the run's --data {data}{model}"


def source_problem(option: str, source) -> str | None:
    """One line refusing an empty source, or None. ``local_path("")`` is the working directory (``Path("")``),
    so ``--data "$DATA"`` with ``$DATA`` unset read the folder the command ran in ("directory holds neither a
    saved dataset nor .json/.jsonl files"), or a folder of .json files that happened to be there. ``option``:
    the command-line option ``source`` came from, named by the line.

        >>> source_problem("--data", "")
        "--data '': an empty path (an unset variable?); name a data file, a directory or a hub dataset id"
    """
    from augment.outdir import empty_problem

    return empty_problem(option, source, "name a data file, a directory or a hub dataset id")


def reads_split(source) -> bool:
    """Whether reading ``source`` reads a split of it: a hub id, or a ``save_to_disk`` directory of a DatasetDict.
    A file, a directory of files and a saved single Dataset have none, so the split asked for is never read. A
    local path that does not exist counts as reading one: its own error says what is wrong."""
    if source_problem("", source):
        return True
    path = local_path(source)
    return path is None or not path.exists() or (path / "dataset_dict.json").is_file()


def split_problem(split_option: str, split: str, option: str, source) -> str | None:
    """One line refusing a split given for a source that has none (:func:`reads_split`), or None: it would be
    silently ignored, and a command that names one expects the rows of that split. ``option`` and ``source``:
    the command-line option the source came from, and its value.

        >>> split_problem("--split", "test", "--data", "squad_v2") is None  # a hub id has splits
        True
        >>> split_problem("--split", "test", "--data", "data/sample")  # doctest: +ELLIPSIS
        '--split test has no effect: --data data/sample is a local file or folder of files, which has no splits ...'
    """
    if reads_split(source):
        return None
    path = local_path(source)
    what = "a saved Dataset (not a DatasetDict)" if path.is_dir() and is_saved_dataset(path) else \
        "a local file or folder of files"
    return (f"{split_option} {split} has no effect: {option} {source} is {what}, which has no splits (a hub "
            f"dataset id or a datasets.save_to_disk DatasetDict directory has); leave {split_option} out")


def local_path(source: str | os.PathLike) -> Path | None:
    """``source`` as a local path, or None for a hub dataset id.

    A path if it exists, starts with '/', './', '../' or '~', or ends in .json/.jsonl (in any case); anything else
    (``squad_v2``, ``rajpurkar/squad_v2``) is a hub id.
    """
    text = os.fspath(source)
    if problem := source_problem("the data source", text):  # every reader and fingerprint comes through here
        raise InputError(problem)
    path = Path(text).expanduser()
    if isinstance(source, Path) or path.exists() or text.startswith(("/", "./", "../", "~")) or (
            is_data_file_name(path)):
        return path
    return None


def sniff_format(path: Path, rows_only: bool = False, option: str | None = None) -> str:
    """"json" (the official format, or a JSON array of rows) or "jsonl", for a file of any suffix: a
    first line that is a whole JSON object without a "data" key is a JSON-lines row. ``rows_only`` (a .json,
    mostly the official format): only if that object also has a row's keys (context, question), so that a
    one-line object of another kind is still reported as a file without 'data'. ``option``: the command-line
    option that named the file, for the error.

    The first line is read whole, however long (a row with a 2 MB context; reading a fixed head would cut
    it and take the file for one JSON document), but only its keys are walked: the official file is often
    one line, and its "data" value is never decoded here."""
    with open(path, "rb") as f:
        # Past a UTF-8 byte order mark (the readers skip it too): a BOM then a blank line was a first line of the BOM
        # alone, not blank, and the file was refused as empty.
        if f.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
            f.seek(0)
        line = b""
        while not line.strip():  # blank lines before the first value
            line = f.readline(1 << 20)  # enough to see how the file starts
            if not line:
                break
        text = line.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
        if not text.startswith("{"):
            if line.startswith(ARROW_MAGIC):  # a shard of a saved dataset: its folder is the source
                raise InputError(f"{path}: an Arrow file, not JSON; {arrow_hint(path, option)}")
            if line.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # PowerShell's >, Notepad's "Unicode"
                raise InputError(f"{path}: UTF-16 text (by its byte order mark), not UTF-8; save it as UTF-8 (for "
                                 f"example iconv -f UTF-16 -t UTF-8), which the readers take")
            if not text.startswith("["):
                what = f"it starts with {text[:20]!r}" if text else "it is empty"
                takes = f"{option} takes" if option else "the data must be"
                raise InputError(f"{path}: neither JSON nor JSON lines ({what}); {takes} {FORMATS}")
            return "json"
        if not _LINE_END.search(text):
            line += f.readline()  # the rest of a first line longer than the head
    # Up to the first line end, a lone \r included (augment.squad_io.read_jsonl's lines, see its _lines).
    text = _LINE_END.split(line.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n"), maxsplit=1)[0]
    keys = _one_line_object_keys(text)
    if keys is None or "data" in keys:  # a pretty-printed object, or the official format
        return "json"
    return "jsonl" if not rows_only or any(k in keys for k in REQUIRED_KEYS) else "json"


# How an Arrow file starts: the IPC stream's continuation marker (save_to_disk's and augment-squad's shards), or the
# IPC file format's magic.
ARROW_MAGIC = (b"\xff\xff\xff\xff", b"ARROW1")


def arrow_hint(path: Path, option: str | None) -> str:
    """What to pass instead of one Arrow file: its folder when that is a saved dataset (an augment-squad --out)."""
    who = option or "the data source"
    if (path.parent / "state.json").is_file():
        return f"pass {who} its folder, {path.parent} (a datasets.save_to_disk directory)"
    return f"{who} takes the datasets.save_to_disk directory an Arrow file belongs to, not the file"


_SPACE = re.compile(r"[ \t\r\n]*")
_LINE_END = re.compile(r"\r\n?|\n")  # bytes.splitlines' line ends; str.splitlines has more (U+2028, \x1c)


def _one_line_object_keys(text: str) -> list[str] | None:
    """The keys of the JSON object that ``text`` (one line) holds, up to a "data" key, whose value is not
    decoded; None when the line is not one whole object."""
    dec, keys = json.JSONDecoder(), []
    pos = _SPACE.match(text, 1).end()
    try:
        while text[pos] != "}":
            if keys:
                if text[pos] != ",":
                    return None
                pos = _SPACE.match(text, pos + 1).end()
            if text[pos] != '"':
                return None
            key, pos = dec.raw_decode(text, pos)
            keys.append(key)
            pos = _SPACE.match(text, pos).end()
            if text[pos] != ":":
                return None
            if key == "data":
                return keys
            _, pos = dec.raw_decode(text, _SPACE.match(text, pos + 1).end())
            pos = _SPACE.match(text, pos).end()
    except (json.JSONDecodeError, IndexError):  # the line ends inside the object
        return None
    return keys if not text[pos + 1:].strip() else None
