"""Arrow shards that ``datasets.load_from_disk`` reads, written atomically.

A shard is an Arrow IPC *stream* file, the format ``datasets`` itself writes (``Dataset.save_to_disk``
and its cache files), so each one opens with plain ``pyarrow.ipc.open_stream`` and a directory of them
plus ``dataset_info.json`` and ``state.json`` loads with ``datasets.load_from_disk(DIR)``.

Rows are streamed into a temporary file in the same directory and renamed into place only when the
shard is complete: a reader (or a resumed run) sees a whole shard or none, never a truncated one.

    >>> with ShardWriter("out/shard-00000.arrow") as w:          # doctest: +SKIP
    ...     w.write_rows(rows)
    ...     info = w.commit()     # {"file", "rows", "sha256", "bytes", "mtime_ns", "ctime_ns"}
    >>> write_dataset_files("out", ["shard-00000.arrow"])         # doctest: +SKIP
    >>> datasets.load_from_disk("out").num_rows                  # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa

from augment.validate import is_impossible

_SPANS = pa.struct([("text", pa.list_(pa.string())), ("answer_start", pa.list_(pa.int32()))])
_EDIT = pa.struct([("field", pa.string()), ("start", pa.int32()), ("end", pa.int32()),
                   ("original", pa.string()), ("replacement", pa.string()), ("source", pa.string())])

# The ``squad_v2`` columns (answers as a struct of lists, as the hub dataset has them) plus the
# augmentation's own: every type explicit, so an empty shard or an all-unanswerable one has the same
# schema as any other (inference would give ``null`` lists there and break concatenation).
SCHEMA = pa.schema([
    ("id", pa.string()),
    ("orig_id", pa.string()),
    ("variant", pa.int32()),
    ("title", pa.string()),
    ("context", pa.string()),
    ("question", pa.string()),
    ("answers", _SPANS),
    ("plausible_answers", _SPANS),
    ("is_impossible", pa.bool_()),
    ("edits", pa.list_(_EDIT)),
])


def shard_row(row: dict) -> dict:
    """A row with exactly the shard's columns. The API keeps whatever keys its input had, so columns an
    input may lack are filled as the official data has them; other keys do not reach the shards."""
    return {"id": row["id"], "orig_id": row.get("orig_id", row["id"]), "variant": row.get("variant", 0),
            "title": row.get("title") or "", "context": row["context"], "question": row["question"],
            "answers": row["answers"],
            "plausible_answers": row.get("plausible_answers") or {"text": [], "answer_start": []},
            "is_impossible": is_impossible(row),
            "edits": row.get("edits", [])}


def original_row(ex: dict) -> dict:
    """An input row as variant 0 of itself, with no edits (``--include-original``)."""
    return shard_row({**ex, "orig_id": ex["id"], "variant": 0, "edits": []})


def features(schema: pa.Schema = SCHEMA):
    """The ``datasets.Features`` of ``schema`` (``answers`` is a dict of lists, ``edits`` a list of dicts)."""
    import datasets

    return datasets.Features.from_arrow_schema(schema)


def hf_schema(schema: pa.Schema = SCHEMA) -> pa.Schema:
    """``schema`` with the ``huggingface`` metadata that ``datasets`` stores in its own Arrow files."""
    return features(schema).arrow_schema


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some filesystems do not open directories; the rename is still atomic
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: the old or the new, never half."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    # A lone surrogate (a rejected record's "\ud800", kept in rejects.jsonl as read) is the only str UTF-8
    # cannot encode; written as its escape it reads back as the same string in JSON text.
    try:
        with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk: no half-written temporary file left to take the space
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_json(path, obj) -> None:
    """``obj`` as indented JSON, atomically; values JSON cannot hold (numpy scalars) become strings."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


class ShardWriter:
    """Stream record batches into one shard; :meth:`commit` makes it visible under its final name.

    Leaving the ``with`` block without a commit (an exception, a kill) leaves no file under the final
    name; the temporary file of a killed process is named ``.NAME.tmp-PID`` and is ignored by readers.
    """

    def __init__(self, path, schema: pa.Schema = SCHEMA):
        self.path = Path(path)
        self.schema = hf_schema(schema)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self._sink = pa.OSFile(str(self.tmp), "wb")
        self._writer = pa.ipc.new_stream(self._sink, self.schema)
        self.rows = 0

    def write_rows(self, rows: list[dict]) -> None:
        """Append rows (dicts with the schema's columns) as one record batch."""
        if rows:
            self._writer.write_batch(pa.RecordBatch.from_pylist(rows, schema=self.schema))
            self.rows += len(rows)

    def write_serialized(self, buffer) -> None:
        """Append a record batch serialised by ``RecordBatch.serialize()`` (another process encoded it)."""
        batch = pa.ipc.read_record_batch(pa.py_buffer(buffer), self.schema)
        if batch.num_rows:
            self._writer.write_batch(batch)
            self.rows += batch.num_rows

    def commit(self) -> dict:
        """Close, fsync and rename into place; return ``{"file", "rows", "sha256", "bytes", "mtime_ns", "ctime_ns"}``.
        The stamp is taken after the rename (which moves the change time), so size, mtime and ctime identify
        these bytes later (:func:`augment.manifest.shard_problem` trusts them instead of hashing again)."""
        writer, self._writer = self._writer, None  # closed below, whatever happens: abort() has nothing to close
        try:
            writer.close()
            self._sink.close()
            with open(self.tmp, "rb") as f:
                os.fsync(f.fileno())
            digest, size = sha256_file(self.tmp), self.tmp.stat().st_size
            os.replace(self.tmp, self.path)
        except BaseException:
            # A commit that failed (the end marker on a full disk, the rename onto a folder) left the writer closed
            # and the temporary file in place; abort() then met the closed writer (pyarrow's ArrowInvalid, a
            # traceback after the one-line error) and never removed the file.
            try:
                self._sink.close()
            except OSError:
                pass
            self.tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.path.parent)
        st = self.path.stat()
        return {"file": self.path.name, "rows": self.rows, "sha256": digest, "bytes": size,
                "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns}

    def abort(self) -> None:
        """Discard the shard: close the file and remove it. It runs after a failure, which the caller reports:
        on a full disk closing the stream fails too (its end marker cannot be written), and that second error
        would hide the first, leave the file open and its space taken."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            for close in (writer.close, self._sink.close):
                try:
                    close()
                except OSError:
                    pass
            self.tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.abort()
        return False


def write_dataset_files(directory, shard_files: list[str], schema: pa.Schema = SCHEMA,
                        fingerprint: str | None = None, split: str | None = "train",
                        description: str = "") -> None:
    """Write ``dataset_info.json`` and ``state.json`` so ``load_from_disk(directory)`` concatenates
    ``shard_files`` (names relative to ``directory``) in the order given.

    The keys are those ``Dataset.save_to_disk`` writes in datasets 5.x (``state.json``: ``_data_files``,
    ``_fingerprint``, ``_format_*``, ``_output_all_columns``, ``_split``).
    """
    import datasets

    directory = Path(directory)
    digest = hashlib.sha256(json.dumps([fingerprint, shard_files]).encode()).hexdigest()[:16]
    state = {
        "_data_files": [{"filename": f} for f in shard_files],
        "_fingerprint": digest,
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": split,
    }
    info = asdict(datasets.DatasetInfo(description=description, features=features(schema)))
    atomic_write_json(directory / "dataset_info.json", {k: info[k] for k in sorted(info)})
    atomic_write_json(directory / "state.json", state)
