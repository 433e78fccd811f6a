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

Structural problems (truncated JSON, a missing ``data`` or ``paragraphs`` key, a key given twice with different
values (:mod:`augment.json_keys`), a missing file) raise :class:`InputError` naming the file and the position or key;
in a folder of files, every bad file is named at once. Problems of single records (a bad offset,
an empty question) are left to :func:`augment.validate.validate_example`, so a pipeline can reject one
record and go on.

Which kind of source a path or a name is, and the one-line refusals of a source that is no data, are
:mod:`augment.sources`; opening a ``save_to_disk`` directory is :mod:`augment.saved_dataset`; the fingerprint
a run records of its source is :mod:`augment.fingerprints`.

    >>> rows = iter_rows("data/sample")                      # doctest: +SKIP
    >>> next(rows)["answers"]                                 # doctest: +SKIP
    {'text': ['in the late 1990s'], 'answer_start': [269]}
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from augment.errors import InputError
from augment.json_keys import ADVICE, DECODER, DuplicateKey, duplicate_problem
from augment.saved_dataset import is_saved_dataset, open_saved_dataset, saved_columns, saved_dataset_error
from augment.sources import (check_first_record, data_files, local_path, output_file_problem, sample_hint, sniff_format,
                             source_problem)
from augment.validate import is_answer


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
    # Only a missing or null value means none: "", 0, false or {} is kept for validate_example to reject, as
    # the official format's reader keeps it, never taken for none by ``or``.
    plaus = out.get("plausible_answers")
    if plaus is None:
        plaus = {"text": [], "answer_start": []}
    elif isinstance(plaus, list):
        plaus = _spans(plaus)
    out["plausible_answers"] = plaus
    # A given value is kept as it is, never cast with bool(): "false" would become True. validate_example
    # rejects a non-boolean or one that contradicts the answers.
    if out.get("is_impossible") is None and isinstance(out.get("answers"), dict):
        out["is_impossible"] = not out["answers"].get("text")
    return out


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

    def decode(pos, where: str | None = None):
        """The JSON value at ``pos`` and the position after it. ``where``: the position of the record(s) it holds
        ("data[3]", "item " of an array of rows), whose objects are refused a key given twice with different values
        (:mod:`augment.json_keys`)."""
        try:
            return (DECODER if where is not None else dec).raw_decode(text, pos)
        except json.JSONDecodeError as e:
            fail(e.pos, e.msg)
        except DuplicateKey:
            try:
                problem = duplicate_problem(text, where, pos)
            except json.JSONDecodeError as e:  # invalid further on: that is what to fix first
                fail(e.pos, e.msg)
            raise InputError(f"{path}: {problem}") from None

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
        rows, end = decode(pos, "item ")
        only_whitespace_after(end)
        yield -1, rows
        return
    if pos >= len(text) or text[pos] != "{":
        fail(pos, "expected '{'" if pos < len(text) else "empty file")
    pos, found = ws(pos + 1), None  # found: where the 'data' list starts
    while pos < len(text) and text[pos] != "}":
        if text[pos] != '"':
            fail(pos, "expected a key")
        key, pos = decode(pos)
        pos = ws(pos)
        if pos >= len(text) or text[pos] != ":":
            fail(pos, "expected ':'")
        pos = ws(pos + 1)
        if key == "data" and found is not None:
            # Given twice: json.load keeps the second list alone, and this reader read the first one's rows already.
            # The same list again (a paste repeated) is read once; another one is refused, before anything of it.
            again, pos = decode(pos)
            if again != dec.raw_decode(text, found)[0]:
                raise InputError(f"{path}: the top-level object: key 'data' is given twice with different values; "
                                 f"{ADVICE}")
        elif key == "data" and pos < len(text) and text[pos] == "[":
            found = pos
            pos, i = ws(pos + 1), 0
            while pos < len(text) and text[pos] != "]":
                article, pos = decode(pos, f"data[{i}]")
                yield i, article
                i += 1
                pos = after_item(pos, "]")
            if pos >= len(text):
                fail(pos, "unterminated 'data' array")
            pos += 1
        else:
            value, pos = decode(pos)
            if key == "data":  # there, but not the list: "missing key 'data'" would send the user looking for it
                raise InputError(f"{path}: 'data': expected a list of articles (the official SQuAD format "
                                 "{'data': [{'title', 'paragraphs': [...]}]}), got " + type(value).__name__)
        pos = after_item(pos, "}")
    if pos >= len(text):
        fail(pos, "unterminated object")
    only_whitespace_after(pos + 1)
    if found is None:
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
            # Without its line end, which json would count as text: an error at the line's end (a row cut
            # short) was placed after it, on "column 1", or read as an invalid control character.
            line = line.rstrip("\r\n")
            try:
                try:
                    row = DECODER.decode(line)  # a key twice: see augment.json_keys
                except DuplicateKey:
                    # Met where the object holding it closes, before the rest of the line is read: a line that is
                    # invalid further on (cut short) is named as invalid JSON, what to fix first.
                    json.loads(line)
                    raise InputError(f"{path}: {duplicate_problem(line, f'line {lineno}')}") from None
            except json.JSONDecodeError as e:
                raise InputError(f"{path}: invalid JSON on line {lineno} column {e.colno}: "
                                 f"{json_message(e.msg)}") from None
            if not isinstance(row, dict):
                raise InputError(f"{path}: line {lineno} is {type(row).__name__}, expected an object")
            if first:
                check_first_record(row, f"{path}: line {lineno}")
                first = False
            yield Location(str(path), f"line {lineno}", lineno), normalize_row(row)


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
            raise saved_dataset_error(path, e) from None
        yield dataset_row(path, i), normalize_row(row)


def json_message(msg: str) -> str:
    """The json module's message as a whole phrase: some end in "at", meant to be followed by the
    position ("Unterminated string starting at"), which our messages give before them."""
    return msg[:-3] + " here" if msg.endswith(" at") else msg


def missing_local_hint(name: str) -> str:
    """What to add when a hub id that could not be loaded names an entry of an existing local folder: ``data/aug``
    before augment-squad has written it reads as a hub id (``augment.sources.local_path``), and the hub's error
    alone suggests nothing local was meant."""
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


def iter_rows(source: str | os.PathLike, split: str = "train", option: str | None = None) -> Iterator[dict]:
    """Rows from a file, a directory or a hub id; see the module docstring and :func:`augment.sources.local_path`.
    ``option``: the command-line option ``source`` came from (``--eval``), named by the errors that say what would
    do."""
    return (row for _, row in iter_located(source, split, option))


def source_problems(sources, split: str = "train", option: str | None = None) -> list[str]:
    """One line for each of ``sources`` that cannot be read (:class:`~augment.errors.InputError`'s, or an unreadable
    file's), for a command that stops for one of them to name the others too. A file or a folder of files is read
    whole, which nothing else does to find its JSON invalid at the end; a saved dataset's files and columns are
    checked without importing datasets, which would hold the refusal up by over a second
    (:func:`augment.saved_dataset.saved_columns`; its rows are Arrow's: a bad one is that record's problem); a hub id
    is left to its loading. Only a command that stops calls this, so no source is read twice.

        >>> source_problems(["data/sample", "no/such.json"])  # doctest: +ELLIPSIS
        ['no/such.json: no such file or directory; pass a local FILE.json, ...']
    """
    problems = []
    for source in sources:
        path = None if source_problem("", os.fspath(source)) else local_path(source)
        if path is None:  # an empty path is refused by the command's own check; a hub id loads later
            continue
        try:
            if path.is_dir() and is_saved_dataset(path):
                if columns := saved_columns(path, split):  # as read_saved_dataset checks them
                    check_first_record(dict.fromkeys(columns), f"{path}: columns")
            else:
                for _ in iter_located(source, split, option):  # to the end, or to its first problem
                    pass
        except InputError as e:
            problems.append(str(e))
        except OSError as e:  # unreadable
            problems.append(f"{e.filename or source}: cannot be read ({e.strerror or e})")
    return problems


def iter_located(source: str | os.PathLike, split: str = "train",
                 option: str | None = None) -> Iterator[tuple[Location, dict]]:
    """``(Location, row)`` pairs from a file, a directory (each row located in its own file) or a hub id;
    ``option`` as for :func:`iter_rows`. An empty source is refused at once (:func:`augment.sources.source_problem`).

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
        if is_saved_dataset(path):
            yield from read_saved_dataset(path, split)
        else:
            files = data_files(path)
            for k, f in enumerate(files):
                try:
                    yield from iter_located(f, split, option)
                except InputError as e:
                    # The later files are read now too (a good run reads each once; this one stops here), so that
                    # every bad one is named at once, not one per run as each is fixed.
                    raise InputError("; ".join([str(e), *source_problems(files[k + 1:], split, option)])) from None
        return
    if not path.exists():
        raise InputError(f"{path}: no such file or directory; {sample_hint(option)}")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file or directory")
    if problem := output_file_problem(path):  # a run's config.json or a report: "missing key 'data'" otherwise
        raise InputError(problem)
    # A .json may hold JSON lines (datasets' to_json writes them): asked of the content, as for any other suffix.
    suffix = path.suffix.lower()  # TRAIN.JSON as train.json (augment.sources.is_data_file_name)
    kind = "jsonl" if suffix == ".jsonl" else sniff_format(path, rows_only=suffix == ".json", option=option)
    yield from (read_jsonl(path) if kind == "jsonl" else read_official_json(path))
