"""What a resumed run keeps of metrics.jsonl (the resume itself: test_distributed.py)."""
from augment.distill.checkpoint import records_before

STAGES = ["intermediate", "prediction"]
RECORDS = [{"stage": "intermediate", "step": 1, "loss": 1.0}, {"stage": "intermediate", "step": 2, "loss": 0.9},
           {"stage": "intermediate", "step": 2, "eval": {}}, {"stage": "intermediate", "summary": {}},
           {"stage": "teacher_cache", "summary": {}},
           {"stage": "prediction", "step": 1, "loss": 0.5}, {"stage": "prediction", "step": 2, "loss": 0.4},
           {"stage": "prediction", "summary": {}}, {"stage": "prediction", "step": "final", "eval": {}}]


def state(index, step, done=False):
    return {"stage_index": index, "stage": STAGES[index], "step": step, "stage_done": done}


def test_a_resume_keeps_the_records_its_checkpoint_covers():
    assert records_before(RECORDS, STAGES, state(0, 1)) == 1  # intermediate step 1
    assert records_before(RECORDS, STAGES, state(0, 2)) == 3  # and step 2's evaluation, made after its checkpoint
    # The stage done: its summary too, and the teacher cache (its file is reused, not reported again).
    assert records_before(RECORDS, STAGES, state(0, 2, done=True)) == 5
    assert records_before(RECORDS, STAGES, state(1, 1)) == 6
    # A finished run resumed: all but the final evaluation, which it makes again.
    assert records_before(RECORDS, STAGES, state(1, 2, done=True)) == 8
    assert records_before([], STAGES, state(1, 2)) == 0
    # Prediction alone (--stage prediction): its records only.
    assert records_before(RECORDS[4:], ["prediction"], {**state(1, 1), "stage_index": 0}) == 2
