"""augment.summary: what a rerun into a finished --out says, and when a run is finished. The manifest itself is
read by the whole runs of tests/pipelines/test_augment_squad.py and tests/report/."""
import json

from augment import manifest
from augment.shards import ShardWriter
from augment.summary import already_complete, finished


def test_a_rerun_of_a_finished_run_says_so_with_the_exit_code_of_the_run(tmp_path):
    """A run that rejected every example ended with exit code 2: its rerun does too, not 0 with "complete"."""
    counts = {"read": 2, "written": 3, "rejected_total": 1}
    (tmp_path / "manifest.json").write_text(json.dumps({"counts": counts}))
    assert already_complete(tmp_path) == (f"{tmp_path} is already complete (3 rows from 2 examples); nothing to do "
                                          "(--overwrite starts afresh)", 0)
    assert "; only its report is written (" in already_complete(tmp_path, report=True)[0]
    (tmp_path / "manifest.json").write_text(json.dumps({"counts": {**counts, "written": 0, "rejected_total": 2}}))
    line, code = already_complete(tmp_path)
    assert code == 2 and line.startswith("error: all 2 examples were rejected, so no rows were written; see "
                                         f"{tmp_path / 'rejects.jsonl'}")


def test_a_run_is_finished_while_every_shard_it_lists_is_the_one_recorded(tmp_path):
    (tmp_path / manifest.PROGRESS).mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps({"shards": [{"file": manifest.shard_name(0)}]}))
    assert not finished(tmp_path)  # listed, never recorded
    manifest.write_record(tmp_path, 0, ShardWriter(tmp_path / manifest.shard_name(0)).commit())
    assert finished(tmp_path)
    with open(tmp_path / manifest.shard_name(0), "ab") as shard:  # damaged since: the run rebuilds it
        shard.write(b"\0")
    assert not finished(tmp_path)
    (tmp_path / "manifest.json").write_text("{")  # unreadable: the run looks again, record by record
    assert not finished(tmp_path)
