"""Reading SQuAD 2.0 from anywhere into rows of the Hugging Face ``squad_v2`` shape.

Every reader yields plain dicts::

    {"id", "title", "context", "question",
     "answers": {"text": [...], "answer_start": [...]},
     "plausible_answers": {"text": [...], "answer_start": [...]},
     "is_impossible": bool}

each with the :class:`Location` it was read from (:func:`iter_located`; :func:`iter_rows` gives the rows alone).

Sources: an official SQuAD JSON file (nested ``data/paragraphs/qas``), a JSON-lines file of rows,
a directory written by ``datasets.save_to_disk`` (an ``augment-squad`` output directory is one),
a directory of such JSON/JSONL files (``data/sample/``), or a hub dataset id (``squad_v2``).

Structural problems (truncated JSON, a missing ``data`` or ``paragraphs`` key, a missing file) raise
:class:`InputError` naming the file and the position or key. Problems of single records (a bad offset,
an empty question) are left to :func:`augment.validate.validate_example`, so a pipeline can reject one
record and go on.

    >>> rows = iter_rows("data/sample")                      # doctest: +SKIP
    >>> next(rows)["answers"]                                 # doctest: +SKIP
    {'text': ['in the late 1990s'], 'answer_start': [269]}
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from augment.errors import InputError
from augment.validate import is_answer

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


@dataclass(frozen=True)
class Location:
    """Where a row was read: ``source`` (the file, the saved dataset's directory or the hub id) and ``position``
    in it ("line 12" of a JSON-lines file, "data[3].paragraphs[1].qas[4]" of the official nested format, "item
    [7]" of a JSON array of rows, "row 12" of a dataset); ``line`` (from 1) only where a row is one line. Taken
    as the file is read, so that a rejected record can be found without searching for its id."""

    source: str
    position: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.source}: {self.position}"  # the "FILE: line N" that errors about the input begin with


def dataset_row(source, index: int) -> Location:
    """The :class:`Location` of row ``index`` (from 0) of a saved dataset's directory or a hub dataset: the
    readers' own, for a caller that reads such a dataset in batches (distill-train) and names a row it rejects.

        >>> str(dataset_row("data/aug", 12))
        'data/aug: row 12'
    """
    return Location(str(source), f"row {index}")


def _spans(raw):
    """Official ``[{"text", "answer_start"}]`` lists (or an already columnar dict) to columns.

    Anything else is returned as it is: a malformed answer is one record's problem, which
    :func:`augment.validate.validate_example` rejects with its reason (``rejects.jsonl``; ``--strict``
    stops), as it does a bad columnar dict, instead of stopping a whole file's run here."""
    if raw is None:
        return {"text": [], "answer_start": []}
    if isinstance(raw, dict):  # values kept as they are: validate_example rejects bad types with a reason
        return {k: list(raw[k]) if isinstance(raw.get(k), list) else raw.get(k) for k in ("text", "answer_start")}
    if not isinstance(raw, list) or not all(map(is_answer, raw)):
        return raw
    return {"text": [a["text"] for a in raw], "answer_start": [a["answer_start"] for a in raw]}


def normalize_row(row: dict) -> dict:
    """Fill the optional columns of a ``squad_v2`` row (title, plausible answers, is_impossible).

    ``answers`` is not optional: ``squad_v2`` rows always carry it (empty lists for an unanswerable
    question), so a row without it is left without it and :func:`augment.validate.validate_example`
    rejects it, rather than passing for unanswerable; so does it a malformed answer (see :func:`_spans`).
    """
    out = dict(row)
    out.setdefault("title", "")
    if isinstance(out.get("answers"), list):
        out["answers"] = _spans(out["answers"])
    plaus = out.get("plausible_answers") or {"text": [], "answer_start": []}
    if isinstance(plaus, list):
        plaus = _spans(plaus)
    out["plausible_answers"] = plaus
    # A given value is kept as it is, never cast with bool(): "false" would become True. validate_example
    # rejects a non-boolean or one that contradicts the answers.
    if out.get("is_impossible") is None and isinstance(out.get("answers"), dict):
        out["is_impossible"] = not out["answers"].get("text")
    return out


# The keys without which a record is not a squad_v2 row at all: checked on a source's first record, so
# that a file of another schema stops with one message instead of "succeeding" with every row rejected.
REQUIRED_KEYS = ("context", "question")


def check_first_record(row: dict, where: str) -> None:
    missing = [k for k in REQUIRED_KEYS if k not in row]
    if missing:
        raise InputError(f"{where}: missing key{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(map(repr, missing))}; expected squad_v2 rows with 'id', 'title', "
                         f"'context', 'question', 'answers' (found {', '.join(map(repr, list(row)[:8])) or 'none'})")


def _articles(path) -> Iterator[tuple[int, object]]:
    """The items of the top-level ``data`` array, decoded one at a time.

    The official file is one JSON object; ``json.load`` would build every article's dicts at once
    (several hundred MB for SQuAD train). Here only the file's text and one article live at a time:
    the top level is walked by hand and each article is handed to ``raw_decode``, whose error positions
    are positions in the whole file.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text at byte {e.start}") from None
    dec = json.JSONDecoder()

    def fail(pos, msg):
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        ends = pos >= len(text.rstrip()) or msg.startswith("Unterminated string")
        raise InputError(f"{path}: invalid JSON at line {line} column {col}: {json_message(msg)}"
                         + ("; the file ends before it is complete (truncated?)" if ends else ""))

    def ws(pos):
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        return pos

    def decode(pos):
        try:
            return dec.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            fail(e.pos, e.msg)

    def after_item(pos, close):
        """Past the separator that follows an item of an array or object closed by ``close``."""
        pos = ws(pos)
        if pos < len(text) and text[pos] == ",":
            return ws(pos + 1)
        if pos >= len(text) or text[pos] != close:
            fail(pos, f"expected ',' or '{close}'")
        return pos

    pos = ws(0)
    if text.startswith("\ufeff"):
        pos = ws(1)
    def only_whitespace_after(pos):
        """A second JSON value after the first (two files concatenated, or JSON lines in a .json) would be
        dropped without a word by a reader that stops at the first one's end."""
        pos = ws(pos)
        if pos < len(text):
            fail(pos, "extra data after the top-level JSON value (two JSON documents in one file? one row per "
                      "line belongs in a .jsonl file)")

    if pos < len(text) and text[pos] == "[":  # a JSON array of rows rather than the nested format
        rows, end = decode(pos)
        only_whitespace_after(end)
        yield -1, rows
        return
    if pos >= len(text) or text[pos] != "{":
        fail(pos, "expected '{'" if pos < len(text) else "empty file")
    pos, found = ws(pos + 1), False
    while pos < len(text) and text[pos] != "}":
        if text[pos] != '"':
            fail(pos, "expected a key")
        key, pos = decode(pos)
        pos = ws(pos)
        if pos >= len(text) or text[pos] != ":":
            fail(pos, "expected ':'")
        pos = ws(pos + 1)
        if key == "data" and pos < len(text) and text[pos] == "[":
            found = True
            pos, i = ws(pos + 1), 0
            while pos < len(text) and text[pos] != "]":
                article, pos = decode(pos)
                yield i, article
                i += 1
                pos = after_item(pos, "]")
            if pos >= len(text):
                fail(pos, "unterminated 'data' array")
            pos += 1
        else:
            _, pos = decode(pos)
        pos = after_item(pos, "}")
    if pos >= len(text):
        fail(pos, "unterminated object")
    only_whitespace_after(pos + 1)
    if not found:
        raise InputError(f"{path}: missing key 'data' (expected the official SQuAD format "
                         "{'data': [{'title', 'paragraphs': [{'context', 'qas'}]}]})")


def read_official_json(path) -> Iterator[tuple[Location, dict]]:
    """Rows of an official SQuAD-format file, in file order, one article in memory at a time."""
    for i, article in _articles(path):
        if i < 0:  # a JSON array of squad_v2 rows
            for k, row in enumerate(article):
                if not isinstance(row, dict):
                    raise InputError(f"{path}: item [{k}] is {type(row).__name__}, expected an object")
                if k == 0:
                    check_first_record(row, f"{path}: item [0]")
                yield Location(str(path), f"item [{k}]"), normalize_row(row)
            return
        if not isinstance(article, dict) or "paragraphs" not in article:
            raise InputError(f"{path}: data[{i}]: missing key 'paragraphs'")
        if not isinstance(article["paragraphs"], list):
            raise InputError(f"{path}: data[{i}].paragraphs: expected a list, "
                             f"got {type(article['paragraphs']).__name__}")
        for j, para in enumerate(article["paragraphs"]):
            where = f"data[{i}].paragraphs[{j}]"
            for key in ("context", "qas"):
                if not isinstance(para, dict) or key not in para:
                    raise InputError(f"{path}: {where}: missing key {key!r}")
            if not isinstance(para["qas"], list):
                raise InputError(f"{path}: {where}.qas: expected a list, got {type(para['qas']).__name__}")
            for k, qa in enumerate(para["qas"]):
                if not isinstance(qa, dict):
                    raise InputError(f"{path}: {where}.qas[{k}]: expected an object")
                impossible = qa.get("is_impossible")
                row = {
                    "id": qa.get("id"),
                    "title": article.get("title", ""),
                    "context": para["context"],
                    "question": qa.get("question"),
                    "plausible_answers": _spans(qa.get("plausible_answers")),
                    "is_impossible": impossible,
                }
                # The official files give every question its answers ([] when unanswerable). A question without
                # them (or with null) is unanswerable only if it says so (is_impossible: true); otherwise it is
                # left without, so validate_example rejects it, as it does such a JSON-lines row, rather than
                # passing for unanswerable.
                if qa.get("answers") is not None or impossible is True:
                    row["answers"] = _spans(qa.get("answers"))
                    # As given (validate_example refuses a non-boolean: bool("false") is True), or what the
                    # answers say when the file has none.
                    if impossible is None and isinstance(row["answers"], dict):  # else rejected (validate)
                        row["is_impossible"] = not row["answers"]["text"]
                # The file is often one line, and a question's line would mean searching the article's text:
                # its keys' path locates it.
                yield Location(str(path), f"{where}.qas[{k}]"), row


def _lines(f) -> Iterator[bytes]:
    r"""The lines of a binary file with their endings: ``\n``, ``\r\n`` or a lone ``\r`` (classic Mac OS), as
    Python's universal newlines reads text. Splitting at a raw ``\r`` never cuts a row's text: JSON writes
    ``\r`` and ``\n`` inside strings as escapes, and UTF-8 never uses those bytes inside a character. A file
    without any ``\n`` is held in memory whole (as the official format's reader holds its file)."""
    for chunk in f:  # up to each \n; bytes.splitlines breaks at \n, \r\n and \r only
        yield from chunk.splitlines(keepends=True)


def read_jsonl(path) -> Iterator[tuple[Location, dict]]:
    """Rows of a JSON-lines file, one ``squad_v2`` row per line (see :func:`_lines`), streamed."""
    with open(path, "rb") as f:
        first, offset = True, 0
        for lineno, raw in enumerate(_lines(f), 1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise InputError(f"{path}: line {lineno}: not UTF-8 text "
                                 f"(byte {offset + e.start} of the file)") from None
            offset += len(raw)
            if not line.strip():
                continue
            try:
                # Without its line end, which json would count as text: an error at the line's end (a row cut
                # short) was placed after it, on "column 1", or read as an invalid control character.
                row = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as e:
                raise InputError(f"{path}: invalid JSON on line {lineno} column {e.colno}: "
                                 f"{json_message(e.msg)}") from None
            if not isinstance(row, dict):
                raise InputError(f"{path}: line {lineno} is {type(row).__name__}, expected an object")
            if first:
                check_first_record(row, f"{path}: line {lineno}")
                first = False
            yield Location(str(path), f"line {lineno}", lineno), normalize_row(row)


def _is_saved_dataset(path: Path) -> bool:
    return (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists() or (
        path / "state.json").exists()


def _saved_splits(path: Path) -> list[str]:
    """The split folders a DatasetDict's ``dataset_dict.json`` names; an InputError naming the file when it cannot
    be read."""
    try:
        splits = json.loads((path / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path / 'dataset_dict.json'}: unreadable ({type(e).__name__}: {e}); "
                         "expected {'splits': [...]} as datasets.save_to_disk writes it") from None
    return [str(split) for split in splits] if isinstance(splits, list) else []


def _check_saved_files(path: Path) -> None:
    """Name the file a broken ``save_to_disk`` directory lacks, before ``datasets`` fails vaguely."""
    if (path / "dataset_dict.json").exists():
        for split in _saved_splits(path):
            _check_saved_files(path / split)
        return
    for name in ("state.json", "dataset_info.json"):
        if not (path / name).is_file():
            raise InputError(f"{path}: not a complete datasets.save_to_disk directory: missing {name}")
    try:
        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
        files = [d["filename"] for d in state["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path / 'state.json'}: unreadable ({type(e).__name__}: {e}); "
                         "expected '_data_files' as datasets.save_to_disk writes it") from None
    for name in files:
        if not (path / name).is_file():
            raise InputError(f"{path}: missing {name} (listed in state.json)")


def _saved_dataset_error(path: Path, e: Exception) -> InputError:
    """An InputError naming the Arrow file that fails to read, or the directory."""
    import pyarrow as pa

    for f in sorted(path.rglob("*.arrow")):
        try:
            with pa.memory_map(str(f)) as m:
                pa.ipc.open_stream(m).read_all()
        except (OSError, ValueError, pa.ArrowException) as bad:
            return InputError(f"{f}: truncated or corrupt Arrow file ({str(bad).strip()[:160]})")
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return InputError(f"{path}: cannot read the saved dataset ({type(e).__name__}: {first[:160]})")


def open_saved_dataset(path, split: str = "train"):
    """The ``datasets.Dataset`` of a ``save_to_disk`` directory (``split`` of a DatasetDict), memory-mapped; a
    broken directory (a missing or truncated file) or a missing split raises :class:`InputError` naming it.
    Shared by :func:`read_saved_dataset` and distill-train's data, so both refuse a broken directory alike.

        >>> len(open_saved_dataset("data/aug"))  # doctest: +SKIP
        1300
    """
    import datasets

    path = Path(path)
    _check_saved_files(path)
    try:
        ds = datasets.load_from_disk(str(path))
    except (OSError, ValueError) as e:  # a truncated .arrow, a corrupt JSON file
        raise _saved_dataset_error(path, e) from None
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise InputError(f"{path}: no split {split!r}; it has {sorted(ds)}")
        ds = ds[split]
    return ds


def read_saved_dataset(path, split: str = "train") -> Iterator[tuple[Location, dict]]:
    """Rows of a ``datasets.save_to_disk`` directory (Dataset or DatasetDict), memory-mapped."""
    path = Path(path)
    ds = open_saved_dataset(path, split)
    if len(ds):
        check_first_record(dict.fromkeys(ds.column_names), f"{path}: columns")
    rows = iter(ds)
    for i in range(len(ds)):
        try:
            row = next(rows)
        except (OSError, ValueError) as e:
            raise _saved_dataset_error(path, e) from None
        yield dataset_row(path, i), normalize_row(row)


def json_message(msg: str) -> str:
    """The json module's message as a whole phrase: some end in "at", meant to be followed by the
    position ("Unterminated string starting at"), which our messages give before them."""
    return msg[:-3] + " here" if msg.endswith(" at") else msg


def missing_local_hint(name: str) -> str:
    """What to add when a hub id that could not be loaded names an entry of an existing local folder: ``data/aug``
    before augment-squad has written it reads as a hub id (``local_path``), and the hub's error alone suggests
    nothing local was meant."""
    parent = Path(name).parent
    if parent != Path(".") and parent.is_dir():
        return f"; nor is it a local file or folder: {parent}{os.sep} has no {Path(name).name!r}"
    return ""


def read_hub(name: str, split: str = "train", option: str | None = None) -> Iterator[tuple[Location, dict]]:
    """Rows of a hub dataset (``squad_v2`` by default). Needs the network or a warm cache; ``option``: the
    command-line option that named it, for the error's way out."""
    import datasets

    from augment import hub

    if not hub.is_offline() and not hub.hub_reachable():
        hub.go_offline()  # a cached copy loads at once; a missing one fails now, not after ~40 s of retries
    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as e:  # the hub raises many types when offline; all mean the same to a user
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"could not load dataset {name!r} (split {split!r}) from the Hugging Face Hub "
                         f"({first[:160]}){missing_local_hint(name)}; offline? {sample_hint(option)}") from None
    for i, row in enumerate(ds):
        yield dataset_row(name, i), normalize_row(row)


def data_files(path: Path) -> list[Path]:
    if (path / ".progress" / "config.json").is_file():  # augment-squad's record of a run (manifest.PROGRESS)
        # Its shards are there but not yet state.json, which a saved dataset needs (it was stopped, or is
        # running); its .json files are no data.
        raise InputError(f"{path}: an augment-squad output that has not finished (no state.json yet); rerun "
                         "the augment-squad command that writes it, which resumes and completes it")
    if problem := output_folder_problem(path):
        raise InputError(problem)
    files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonl"))
    if not files:
        raise InputError(f"{path}: directory holds neither a saved dataset nor .json/.jsonl files")
    return files


def output_folder_problem(path: Path) -> str | None:
    """One line saying that the folder ``path`` is what distill-train or squad-eval writes, not data, or None. Read
    as a folder of .json files, a run's config.json (its options) stopped at "data[0]: missing key 'paragraphs'"
    and squad-eval's eval.json at "missing key 'data'", as if the data were broken."""
    from augment import outdir

    if (options := outdir.distill_run_options(path)) is not None:
        data = options["data"]
        data = " ".join(map(str, data)) if isinstance(data, list) else data  # --data takes several sources
        model = f"; its trained model, {path / 'student'}, is what squad-eval --model takes" if (
            path / "student").is_dir() else ""
        return (f"{path}: a distill-train output folder, not data (its config.json holds that run's options); pass "
                f"the data itself instead, such as the run's --data {data}{model}")
    if (options := outdir.squad_eval_options(path)) is not None:
        return (f"{path}: a squad-eval output folder, not data (its eval.json holds an evaluation's metrics and "
                f"predictions); pass the data itself instead, such as the --data it evaluated, {options.get('data')}")
    return None


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
    what = "a saved Dataset (not a DatasetDict)" if path.is_dir() and _is_saved_dataset(path) else \
        "a local file or folder of files"
    return (f"{split_option} {split} has no effect: {option} {source} is {what}, which has no splits (a hub "
            f"dataset id or a datasets.save_to_disk DatasetDict directory has); leave {split_option} out")


def local_path(source: str | os.PathLike) -> Path | None:
    """``source`` as a local path, or None for a hub dataset id.

    A path if it exists, starts with '/', './', '../' or '~', or ends in .json/.jsonl; anything else
    (``squad_v2``, ``rajpurkar/squad_v2``) is a hub id.
    """
    text = os.fspath(source)
    if problem := source_problem("the data source", text):  # every reader and fingerprint comes through here
        raise InputError(problem)
    path = Path(text).expanduser()
    if isinstance(source, Path) or path.exists() or text.startswith(("/", "./", "../", "~")) or (
            path.suffix in (".json", ".jsonl")):
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
        line = b""
        while not line.strip():  # blank lines before the first value
            line = f.readline(1 << 20)  # enough to see how the file starts
            if not line:
                break
        text = line.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
        if not text.startswith("{"):
            if line.startswith(ARROW_MAGIC):  # a shard of a saved dataset: its folder is the source
                raise InputError(f"{path}: an Arrow file, not JSON; {arrow_hint(path, option)}")
            if not text.startswith("["):
                what = f"it starts with {text[:20]!r}" if text else "it is empty"
                takes = f"{option} takes" if option else "the data must be"
                raise InputError(f"{path}: neither JSON nor JSON lines ({what}); {takes} {FORMATS}")
            return "json"
        if not _LINE_END.search(text):
            line += f.readline()  # the rest of a first line longer than the head
    # Up to the first line end, a lone \r included (read_jsonl's lines, see _lines).
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


def iter_rows(source: str | os.PathLike, split: str = "train", option: str | None = None) -> Iterator[dict]:
    """Rows from a file, a directory or a hub id; see the module docstring and :func:`local_path`. ``option``:
    the command-line option ``source`` came from (``--eval``), named by the errors that say what would do."""
    return (row for _, row in iter_located(source, split, option))


def iter_located(source: str | os.PathLike, split: str = "train",
                 option: str | None = None) -> Iterator[tuple[Location, dict]]:
    """``(Location, row)`` pairs from a file, a directory (each row located in its own file) or a hub id;
    ``option`` as for :func:`iter_rows`. An empty source is refused at once (:func:`source_problem`).

        >>> where, row = next(iter_located("data/sample"))  # doctest: +SKIP
        >>> str(where)                                        # doctest: +SKIP
        'data/sample/train-v2.0-sample.json: data[0].paragraphs[0].qas[0]'
    """
    if problem := source_problem(option or "the data source", os.fspath(source)):
        raise InputError(problem)
    path = local_path(source)
    if path is None:
        yield from read_hub(os.fspath(source), split, option)
        return
    if path.is_dir():
        if _is_saved_dataset(path):
            yield from read_saved_dataset(path, split)
        else:
            for f in data_files(path):
                yield from iter_located(f, split, option)
        return
    if not path.exists():
        raise InputError(f"{path}: no such file or directory; {sample_hint(option)}")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file or directory")
    # A .json may hold JSON lines (datasets' to_json writes them): asked of the content, as for any other suffix.
    kind = "jsonl" if path.suffix == ".jsonl" else sniff_format(path, rows_only=path.suffix == ".json", option=option)
    yield from (read_jsonl(path) if kind == "jsonl" else read_official_json(path))


def fingerprint(source: str | os.PathLike, split: str = "train") -> str:
    """SHA-256 over the bytes of a local source (the files its rows are read from), or the hub id and split."""
    path = local_path(source)
    if path is None or not (path.is_file() or path.is_dir()):
        return "hub:" + hashlib.sha256(f"{source}:{split}".encode()).hexdigest()
    if path.is_file():
        return _hash_files(path, [path])
    # The files the rows are read from, and only those: an --out inside the folder, or a README or report.html
    # beside the data, must not change the fingerprint (a resume would be refused as another input).
    return _hash_files(path, saved_dataset_files(path) if _is_saved_dataset(path) else data_files(path))


# What datasets.load_from_disk reads besides the Arrow files: the features, the list of files, the splits.
SAVED_DATASET_FILES = ("state.json", "dataset_info.json", "dataset_dict.json")


def saved_dataset_files(path: Path) -> list[Path]:
    """The files of a ``save_to_disk`` directory that its rows come from: its Arrow files and
    :data:`SAVED_DATASET_FILES`, and those of a DatasetDict's splits (the folders its dataset_dict.json names).
    Not datasets' own cache files (cache-*.arrow, written by a map or cast on the loaded dataset: they come and go
    without the rows changing), nor what else is kept there: a report.html, a README, an augment-squad run's
    manifest.json, rejects.jsonl and .progress/ records, or another folder, such as an --out inside it (whose
    shards, written after the run recorded its input's fingerprint, refused every rerun as another input)."""
    folders = [path]
    if (path / "dataset_dict.json").is_file():
        try:
            folders += [path / split for split in _saved_splits(path)]
        except InputError:  # reading the rows fails and says why; until then every folder may be a split
            folders += [d for d in path.iterdir() if d.is_dir() and not d.name.startswith(".")]
    return sorted(f for folder in folders if folder.is_dir() for f in folder.iterdir()
                  if f.is_file() and not f.name.startswith(".")
                  and (f.name in SAVED_DATASET_FILES or f.suffix == ".arrow" and not f.name.startswith("cache-")))


def earlier_fingerprint(source: str | os.PathLike, split: str = "train") -> str | None:
    """The :func:`fingerprint` that tinyaug recorded before 2026-11-29 (before saved_dataset_files) of a
    ``save_to_disk`` directory holding other files too: every file in it but datasets' caches. None where it is today's (a folder
    of nothing but its data, all that save_to_disk writes; any other source). A resume compares a recorded
    fingerprint with it as well, so that a run begun before goes on."""
    path = local_path(source)
    if path is None or not path.is_dir() or not _is_saved_dataset(path):
        return None
    every = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
                   and not (p.name.startswith("cache-") and p.suffix == ".arrow"))
    return None if every == saved_dataset_files(path) else _hash_files(path, every)


def _hash_files(path: Path, files: list[Path]) -> str:
    """SHA-256 over ``files``' names (relative to the directory ``path``) and bytes."""
    # distill-train asks twice per start (the resume check, the windows' cache key): the bytes are read once
    # while no file's size or modification time has changed.
    key = (str(path.resolve()), tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files))
    if key not in _FINGERPRINTS:
        h = hashlib.sha256()
        for f in files:
            h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        _FINGERPRINTS[key] = "sha256:" + h.hexdigest()
    return _FINGERPRINTS[key]


_FINGERPRINTS: dict[tuple, str] = {}  # (path, its files' (name, size, mtime)) -> fingerprint, this process
