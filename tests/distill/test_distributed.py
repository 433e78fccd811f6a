"""distill-train as users run it: separate processes, a SIGKILL mid-run, and torchrun with two workers."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]


def argv(sample_path, tmp, teacher, student, out, *extra):
    return ["--data", str(sample_path), "--limit", "12", "--max-length", "96", "--doc-stride", "48",
            "--batch-size", "4", "--cache-dir", str(tmp / "cache"), "--teacher", teacher, "--student", student,
            "--out", str(out), "--stage", "both", "--max-steps", "10", "--grad-accum", "2", "--save-every", "2",
            "--keep-checkpoints", "50", *extra]


def env():
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1",
            "PYTHONPATH": str(REPO)}


def weights(out):
    from safetensors.torch import load_file

    return load_file(str(out / "student" / "model.safetensors"))


def test_resume_after_sigkill_is_bit_exact(tmp_path, sample_path, tiny_teacher_path, tiny_student_path):
    cmd = [sys.executable, "-m", "pipelines.distill_train"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    subprocess.run(cmd + argv(sample_path, tmp_path, tiny_teacher_path, tiny_student_path, whole),
                   check=True, env=env(), cwd=REPO, capture_output=True)

    proc = subprocess.Popen(cmd + argv(sample_path, tmp_path, tiny_teacher_path, tiny_student_path, cut),
                            env=env(), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list((cut / "checkpoints").glob("*/state.json")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (cut / "student").exists()

    done = subprocess.run(cmd + argv(sample_path, tmp_path, tiny_teacher_path, tiny_student_path, cut, "--resume"),
                          env=env(), cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming from" in done.stderr
    a, b = weights(whole), weights(cut)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes_train_and_save(tmp_path, sample_path, tiny_teacher_path, tiny_student_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), "-m", "pipelines.distill_train",
           *argv(sample_path, tmp_path, tiny_teacher_path, tiny_student_path, out)]
    cmd[cmd.index("--max-steps") + 1] = "2"
    run = subprocess.run(cmd, env=env(), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (out / "student" / "model.safetensors").exists()
    # Both processes saved their own RNG stream; one process wrote everything else.
    last = sorted((out / "checkpoints").iterdir())[-1]
    assert {p.name for p in last.iterdir()} >= {"rng-0.pt", "rng-1.pt", "model.pt", "state.json"}
    assert run.stderr.count("saved the student") == 1
    assert "4 x 2 x 2 windows" in run.stderr  # batch x accumulation x processes
