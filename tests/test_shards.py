"""The shard writer: explicit schema, atomic commit, and files that datasets.load_from_disk reads."""
import hashlib

import pyarrow as pa
import pytest

from augment.shards import SCHEMA, ShardWriter, write_dataset_files


def _row(i: int, answered: bool = True) -> dict:
    return {"id": f"q{i}-aug1", "orig_id": f"q{i}", "variant": 1, "title": "T", "context": "Paris is big.",
            "question": "Where?",
            "answers": {"text": ["Paris"], "answer_start": [0]} if answered else {"text": [], "answer_start": []},
            "plausible_answers": {"text": [], "answer_start": []}, "is_impossible": not answered,
            "edits": [{"field": "context", "start": 9, "end": 12, "original": "big", "replacement": "large",
                       "source": "glove"}] if answered else []}


def test_shard_is_an_arrow_stream_with_the_explicit_schema(tmp_path):
    # All rows unanswerable and without edits: inference would type these lists as null.
    with ShardWriter(tmp_path / "shard-00000.arrow") as w:
        w.write_rows([_row(0, answered=False), _row(1, answered=False)])
        info = w.commit()
    table = pa.ipc.open_stream(tmp_path / "shard-00000.arrow").read_all()
    assert table.num_rows == info["rows"] == 2
    assert table.schema.remove_metadata() == SCHEMA
    assert table.schema.field("answers").type == pa.struct(
        [("text", pa.list_(pa.string())), ("answer_start", pa.list_(pa.int32()))])
    assert pa.types.is_struct(table.schema.field("edits").type.value_type)
    assert info["sha256"] == hashlib.sha256((tmp_path / "shard-00000.arrow").read_bytes()).hexdigest()


def test_uncommitted_shard_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError):
        with ShardWriter(tmp_path / "shard-00000.arrow") as w:
            w.write_rows([_row(0)])
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_commit_leaves_no_file_and_its_abort_no_second_error(tmp_path):
    """A commit that failed after closing the stream (here the rename onto a folder; a full disk at the end
    marker) left its ``.NAME.tmp-PID`` behind, and the abort that followed raised pyarrow's ArrowInvalid on the
    closed writer: augment-squad printed a traceback instead of its one-line error."""
    (tmp_path / "shard-00000.arrow" / "inside").mkdir(parents=True)  # os.replace cannot put a file there
    with pytest.raises(OSError):
        with ShardWriter(tmp_path / "shard-00000.arrow") as w:
            w.write_rows([_row(0)])
            w.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shard-00000.arrow"]
    assert (tmp_path / "shard-00000.arrow").is_dir()


def test_load_from_disk_concatenates_shards_in_listed_order(tmp_path):
    import datasets

    names = []
    for k, ids in enumerate([[3, 4], [], [1]]):  # an empty shard in the middle is fine
        with ShardWriter(tmp_path / f"shard-{k:05d}.arrow") as w:
            w.write_rows([_row(i) for i in ids])
            names.append(w.commit()["file"])
    write_dataset_files(tmp_path, names, fingerprint="sha256:test")
    ds = datasets.load_from_disk(str(tmp_path))
    assert ds["orig_id"] == ["q3", "q4", "q1"]
    assert ds.features["answers"]["answer_start"].feature.dtype == "int32"
    assert ds[0]["edits"][0]["replacement"] == "large"


def test_shard_row_keeps_is_impossible_derives_it_when_absent_and_never_casts():
    from augment.shards import shard_row

    answered, unanswered = _row(0), _row(1, answered=False)
    assert shard_row(answered)["is_impossible"] is False and shard_row(unanswered)["is_impossible"] is True
    # The API keeps its input's keys, and the hub's squad_v2 has no is_impossible: absent or null, the
    # answers decide (bool(None) would call an unanswerable question answerable).
    without = {k: v for k, v in unanswered.items() if k != "is_impossible"}
    assert shard_row(without)["is_impossible"] is True
    assert shard_row(dict(unanswered, is_impossible=None))["is_impossible"] is True
    assert shard_row(dict(answered, is_impossible=None))["is_impossible"] is False
    with pytest.raises(ValueError, match="'q0-aug1': is_impossible must be true or false, got 'false'"):
        shard_row(dict(answered, is_impossible="false"))


def test_atomic_write_keeps_a_lone_surrogate_as_its_json_escape(tmp_path):
    """A rejected record is written to rejects.jsonl as read, lone surrogate included, and reads back equal."""
    import json

    from augment.shards import atomic_write_json

    record = {"id": "q1", "context": "Paris \ud800 is big."}
    atomic_write_json(tmp_path / "r.json", record)
    assert "\\ud800" in (tmp_path / "r.json").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8")) == record


def test_a_failed_atomic_write_leaves_no_temporary_file(tmp_path):
    """A write that failed (a full disk; here the rename onto a folder) left its ``.NAME.tmp-PID`` behind,
    still taking the space, in --out or its .progress folder."""
    from augment.shards import atomic_write_text

    target = tmp_path / "manifest.json"
    (target / "inside").mkdir(parents=True)  # a non-empty folder: os.replace cannot put a file there
    with pytest.raises(OSError):
        atomic_write_text(target, "{}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]
