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


def test_each_torchrun_process_draws_its_own_dropout_and_the_first_the_single_process_masks():
    """Seeded by (seed, stage) alone, every process drew the same dropout masks for batches of one shape."""
    import numpy as np
    import torch
    from accelerate.utils import set_seed

    from augment.distill.checkpoint import own_stream, rng_state, set_rng_state, stage_seed

    def stream(rank: int | None, stage: str = "intermediate"):
        """The projections' draw, then a dropout mask and a NumPy draw, in process ``rank`` (None: no torchrun)."""
        set_seed(stage_seed(42, stage))
        projection = torch.randn(8, 8)
        if rank is not None:
            own_stream(42, stage, rank)
        mask = torch.nn.functional.dropout(torch.ones(4, 96, 32), 0.1, training=True) == 0
        return projection, mask, np.random.random_sample()

    before = rng_state()  # the test process's generators, as they were
    try:
        alone, *ranks = stream(None), stream(0), stream(1), stream(2)
        prediction = stream(1, "prediction")
    finally:
        set_rng_state(before)
    assert all(torch.equal(r[0], alone[0]) for r in ranks)  # the projections are every process's
    assert torch.equal(ranks[0][1], alone[1]) and ranks[0][2] == alone[2]  # process 0: today's stream
    masks = [alone[1], ranks[1][1], ranks[2][1], prediction[1]]
    assert all(not torch.equal(a, b) for i, a in enumerate(masks) for b in masks[i + 1:])
    assert len({alone[2], ranks[1][2], ranks[2][2]}) == 3


def test_process_seeds_differ_by_seed_stage_and_process_and_from_the_stage_seeds():
    """No two processes, stages or --seed values share a stream (another --seed drew the same masks in process 1)."""
    from augment.distill.checkpoint import process_seed, stage_seed

    seeds = [process_seed(seed, stage, rank) for seed in (42, 43) for stage in STAGES for rank in (1, 2)]
    seeds += [stage_seed(seed, stage) for seed in (42, 43) for stage in STAGES]
    assert len(set(seeds)) == len(seeds) == 12


def test_a_checkpoint_file_changed_after_it_was_written_is_refused_naming_it(tmp_path):
    """torch.load checks no checksum: a byte changed inside model.pt's tensors resumed on other weights silently."""
    import pytest
    import torch

    from augment.distill import checkpoint
    from augment.errors import ConfigError

    model = torch.nn.Linear(16, 4)
    torch.nn.init.constant_(model.weight, 1.0)
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    tmp, final = tmp_path / "0-prediction-step00000002.tmp", tmp_path / "0-prediction-step00000002"
    tmp.mkdir()
    checkpoint.write_rng(tmp, 0)
    checkpoint.write_main(tmp, final, model.state_dict(), optimizer, scheduler, {"step": 2}, keep=2)
    assert checkpoint.read(final, 0)["model"]["weight"].eq(1.0).all()
    data = (final / "model.pt").read_bytes()
    at = data.index(torch.ones(8).numpy().tobytes())  # inside the weight's values: the archive stays readable
    (final / "model.pt").write_bytes(data[:at] + b"\x01" + data[at + 1:])
    with pytest.raises(ConfigError, match=f"the checkpoint file {final / 'model.pt'} cannot be read \\(its CRC-32"):
        checkpoint.read(final, 0)
