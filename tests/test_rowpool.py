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
