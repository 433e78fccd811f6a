"""augment.distill.records: metrics.jsonl appended to, and cut back to a checkpoint on resume."""
import json

from augment.distill.records import append, keep_until


def test_a_resume_keeps_the_records_its_checkpoint_covers_and_drops_a_line_cut_short(tmp_path):
    path = tmp_path / "metrics.jsonl"
    for step in (1, 2, 3):
        append(path, {"stage": "prediction", "step": step, "loss": float("nan") if step == 3 else 0.5})
    assert json.loads(path.read_text().splitlines()[-1])["loss"] is None  # NaN is no JSON: null
    path.write_text(path.read_text() + '{"stage": "predic')  # a kill mid-write
    state = {"stage_index": 0, "stage": "prediction", "step": 2, "stage_done": False}
    kept = keep_until(path, ["prediction"], state)
    assert [r["step"] for r in kept] == [1, 2]
    assert [json.loads(x) for x in path.read_text().splitlines()] == kept
