"""The drawing workers: they end with the process that started them, however it ends."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Starts a pool of two workers, prints their pids, then waits to be killed.
PARENT = """
import os, sys, time
import pyarrow as pa
from augment.rowpool import DrawSpec, RowPool
spec = DrawSpec(n=1, replace_prob=0.4, seed=0, answer_policy="keep", augment_question=False,
                include_original=False, schema=pa.schema([]))
pool = RowPool(spec, workers=2)
pids = {pool._pool.submit(os.getpid).result() for _ in range(8)}
print(" ".join(map(str, sorted(pids))), flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) has ended too
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_end_when_their_parent_is_killed():
    """SIGKILL gives the pool no chance to shut down: before, its workers waited on the task queue for good
    (their siblings hold the queue's other end open)."""
    proc = subprocess.Popen([sys.executable, "-c", PARENT], cwd=REPO, stdout=subprocess.PIPE, text=True)
    pids = []
    try:
        pids += [int(p) for p in proc.stdout.readline().split()]
        assert pids and all(alive(p) for p in pids)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 20
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(p) for p in pids)
    finally:
        proc.kill()
        for p in pids:  # a failed test leaves no orphans behind either
            if alive(p):
                os.kill(p, signal.SIGKILL)


def test_workers_leave_ctrl_c_to_the_parent():
    """Ctrl-C reaches the whole process group: an idle worker printed a KeyboardInterrupt traceback of its own."""
    import pyarrow as pa

    from augment.rowpool import DrawSpec, RowPool

    spec = DrawSpec(n=1, replace_prob=0.4, seed=0, answer_policy="keep", augment_question=False,
                    include_original=False, schema=pa.schema([]))
    with RowPool(spec, workers=1) as pool:
        assert pool._pool.submit(signal.getsignal, signal.SIGINT).result() == signal.SIG_IGN



def test_a_task_is_encoded_in_bounded_batches_and_drawn_when_asked_for(monkeypatch, glove_augmenter, sample_rows):
    """One record batch per task held every row of the task as Python objects (about 10 KB each) until it
    was encoded: at --multiplier 1000 a task of 16 paragraphs was 100,000 rows. Now at most BATCH_ROWS
    rows are, and the rows are the same, in the same order. With no workers a task is drawn only when its
    result is asked for: drawn at submission, every task of a chunk waited in memory to be written."""
    import pyarrow as pa

    from augment import rowpool
    from augment.shards import hf_schema, original_row, shard_row
    from augment.variants import variants_of

    examples = sample_rows[:3]
    table = glove_augmenter.candidate_table(examples)
    spec = rowpool.DrawSpec(n=5, replace_prob=0.4, seed=0, answer_policy="keep", augment_question=False,
                            include_original=True, schema=hf_schema())
    monkeypatch.setattr(rowpool, "BATCH_ROWS", 4)
    real, drawn = rowpool.draw_chunk, []
    monkeypatch.setattr(rowpool, "draw_chunk", lambda *a: drawn.append(a) or real(*a))
    with rowpool.RowPool(spec, workers=0) as pool:
        task = pool.submit(examples, table)
        assert drawn == []
        batches, n, _ = task.result()
        assert len(drawn) == 1 and task.result()[0] is batches  # drawn once
    decoded = [pa.ipc.read_record_batch(pa.py_buffer(b), spec.schema) for b in batches]
    assert [b.num_rows for b in decoded] == [4, 4, 4, 4, 2] and n == 3 * (1 + 5)
    want = [shard_row(r) for ex in examples
            for r in [original_row(ex), *variants_of(ex, table[ex["context"]], None, 5, 0.4, 0, "keep")]]
    assert [r for b in decoded for r in b.to_pylist()] == pa.Table.from_pylist(want, schema=spec.schema).to_pylist()
    # Long texts end a batch sooner (their rows' edits grow with them): here every row is over the budget.
    monkeypatch.setattr(rowpool, "BATCH_ROWS", 1000)
    monkeypatch.setattr(rowpool, "BATCH_CHARS", 1)
    batches, n, _ = real(spec, examples, table)
    decoded = [pa.ipc.read_record_batch(pa.py_buffer(b), spec.schema) for b in batches]
    assert [b.num_rows for b in decoded] == [1] * 18 and n == 18
    assert [r for b in decoded for r in b.to_pylist()] == pa.Table.from_pylist(want, schema=spec.schema).to_pylist()


def test_a_batch_ends_at_the_first_row_that_brings_it_to_the_character_budget(monkeypatch, glove_augmenter,
                                                                             sample_rows):
    """BATCH_CHARS counts the contexts and questions of the rows in the batch being filled: every batch but the
    last reaches it and was below it before its last row. The budget here is exactly the first two rows, so the
    first batch is those two (a batch that reaches the budget ends; it need not pass it), and the count starts
    again at each batch: carried over, every later row would end a batch of its own."""
    import pyarrow as pa

    from augment import rowpool
    from augment.shards import hf_schema

    examples = sample_rows[:3]
    table = glove_augmenter.candidate_table(examples)
    spec = rowpool.DrawSpec(n=5, replace_prob=0.4, seed=0, answer_policy="keep", augment_question=False,
                            include_original=True, schema=hf_schema())
    monkeypatch.setattr(rowpool, "BATCH_CHARS", 10**9)
    everything, = rowpool.draw_chunk(spec, examples, table)[0]
    rows = pa.ipc.read_record_batch(pa.py_buffer(everything), spec.schema).to_pylist()
    chars = [len(r["context"]) + len(r["question"]) for r in rows]
    budget = chars[0] + chars[1]
    monkeypatch.setattr(rowpool, "BATCH_CHARS", budget)
    batches, n, _ = rowpool.draw_chunk(spec, examples, table)
    sizes = [pa.ipc.read_record_batch(pa.py_buffer(b), spec.schema).num_rows for b in batches]
    assert sum(sizes) == n == len(rows) == 18 and sizes[0] == 2 and len(sizes) > 3
    ends = [sum(sizes[:i + 1]) for i in range(len(sizes))]
    for first, last in zip([0] + ends, ends[:-1]):  # every batch but the last
        assert sum(chars[first:last - 1]) < budget <= sum(chars[first:last]), (first, last)


def test_a_negative_worker_count_is_a_config_error_naming_it():
    import pyarrow as pa

    from augment.errors import ConfigError
    from augment.rowpool import DrawSpec, RowPool

    spec = DrawSpec(n=1, replace_prob=0.4, seed=0, answer_policy="keep", augment_question=False,
                    include_original=False, schema=pa.schema([]))
    with pytest.raises(ConfigError, match=r"^workers=-1: use an integer >= 0 \(0 draws in the model's process\)$"):
        RowPool(spec, workers=-1)


def test_rows_may_hold_edits_as_tuples_and_encode_to_the_same_bytes(glove_augmenter, sample_rows):
    """draw_chunk keeps each edit as its Edit tuple, which Arrow reads into the edit struct by position: the
    tuple's fields must be the struct's, in its order, and the bytes those of the dicts the API's rows hold."""
    from augment.rowpool import _encode
    from augment.shards import SCHEMA, hf_schema, shard_row
    from augment.spans import Edit
    from augment.variants import iter_variants

    assert Edit._fields == tuple(f.name for f in SCHEMA.field("edits").type.value_type)
    examples = sample_rows[:4]
    table = glove_augmenter.candidate_table(examples)
    rows = {dicts: [shard_row(r) for ex in examples
                    for r in iter_variants(ex, table[ex["context"]], None, 5, 0.6, 0, "keep", edit_dicts=dicts)]
            for dicts in (True, False)}
    assert all(type(e) is dict for r in rows[True] for e in r["edits"])
    assert all(type(e) is Edit for r in rows[False] for e in r["edits"]) and sum(len(r["edits"]) for r in rows[False])
    assert _encode(rows[False], hf_schema()) == _encode(rows[True], hf_schema())


def test_a_frozen_heap_is_frozen_inside_and_thawed_after():
    import gc

    from augment.rowpool import frozen_heap

    before = gc.get_freeze_count()
    with frozen_heap():
        assert gc.get_freeze_count() > before + 1000  # the test process's modules, at least
    assert gc.get_freeze_count() == before
    gc.freeze()  # a caller's own frozen objects stay frozen: gc.unfreeze would thaw every one
    try:
        ours = gc.get_freeze_count()
        with frozen_heap():
            pass
        assert gc.get_freeze_count() >= ours > 0
    finally:
        gc.unfreeze()


def test_a_worker_keeps_its_start_up_heap_out_of_collections():
    """A worker draws as the model's process does: its imports are frozen (see rowpool.frozen_heap)."""
    import gc

    import pyarrow as pa

    from augment.rowpool import DrawSpec, RowPool

    spec = DrawSpec(n=1, replace_prob=0.4, seed=0, answer_policy="keep", augment_question=False,
                    include_original=False, schema=pa.schema([]))
    with RowPool(spec, workers=1) as pool:
        assert pool._pool.submit(gc.get_freeze_count).result() > 1000
