"""distill-train as users run it: separate processes, a SIGKILL mid-run, and torchrun with two workers.

The single-process runs are forks of the test worker's preloaded server (tests/forkrun.py), processes of
their own that skip the interpreter's start-up, except the resume after the SIGKILL, a fresh interpreter
(another hash seed than the run it must match); torchrun starts its workers as users do."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests import forkrun

REPO = Path(__file__).resolve().parents[2]


def argv(sample_path, tmp, teacher, student, out, *extra):
    return ["--data", str(sample_path), "--limit", "12", "--max-length", "96", "--doc-stride", "48",
            "--batch-size", "4", "--cache-dir", str(tmp / "cache"), "--teacher", teacher, "--student", student,
            "--out", str(out), "--stage", "both", "--max-steps", "10", "--grad-accum", "2", "--save-every", "2",
            "--keep-checkpoints", "50", "--log-every", "1", *extra]


def env():
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def logged(out) -> list[tuple]:
    """metrics.jsonl's training records as (stage, step, loss, is a summary); the teacher cache's left out (a run
    that finds the cache built reports none)."""
    records = map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
    return [(r["stage"], r.get("step"), r.get("loss"), "summary" in r) for r in records if r["stage"] != "teacher_cache"]


def summed(out) -> dict:
    """Each training stage's summary as far as it is deterministic: windows and steps."""
    records = map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
    return {r["stage"]: (r["summary"]["windows"], r["summary"]["steps"]) for r in records
            if "summary" in r and r["stage"] != "teacher_cache"}


def weights(out):
    from safetensors.torch import load_file

    return load_file(str(out / "student" / "model.safetensors"))


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory, sample_path, tiny_teacher_path, tiny_student_path) -> Path:
    """The uninterrupted run every resumed run must match, made once for the module's three resume tests.
    Its folder also holds the windows and teacher-logit caches that those runs reuse."""
    tmp = tmp_path_factory.mktemp("distill_whole")
    done = forkrun.run("pipelines.distill_train", *argv(sample_path, tmp, tiny_teacher_path, tiny_student_path,
                                                         tmp / "whole"))
    assert done.returncode == 0, done.stderr[-2000:]
    return tmp


def start_until_checkpoint(args: list, out: Path):
    """A forked distill-train run, returned once its first checkpoint is complete (or it has ended)."""
    proc = forkrun.start("pipelines.distill_train", *args)
    deadline = time.time() + 120
    while not has_checkpoint(out) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    return proc


def has_checkpoint(out: Path) -> bool:
    """Whether a checkpoint of ``out`` is complete. Not a "step-N.tmp" folder's state.json: it is written there
    last, just before the rename that completes the checkpoint, and a signal sent in between found none (a flaky
    "interrupted before the first checkpoint")."""
    return any(not p.parent.name.endswith(".tmp") for p in (out / "checkpoints").glob("*/state.json"))


def test_resume_after_sigkill_is_bit_exact(whole_run, tmp_path, sample_path, tiny_teacher_path, tiny_student_path):
    whole, cut = whole_run / "whole", tmp_path / "cut"
    proc = start_until_checkpoint(argv(sample_path, whole_run, tiny_teacher_path, tiny_student_path, cut), cut)
    proc.kill(signal.SIGKILL)
    assert proc.wait().returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (cut / "student").exists()

    # The resumed run in a fresh interpreter: its string hashes (PYTHONHASHSEED) differ from the forked
    # runs', so a resume that depended on set or dict order of strings would not match.
    done = subprocess.run([sys.executable, "-m", "pipelines.distill_train",
                           *argv(sample_path, whole_run, tiny_teacher_path, tiny_student_path, cut, "--resume")],
                          env=env(), cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming from" in done.stderr
    a, b = weights(whole), weights(cut)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # The killed run's records past its checkpoint were dropped, not kept beside the resumed run's.
    assert logged(cut) == logged(whole)
    # Each stage's summary covers the whole stage, the steps before the checkpoint too.
    assert summed(cut) == summed(whole) == {"intermediate": (80, 10), "prediction": (80, 10)}


def test_ctrl_c_is_one_line_that_names_the_checkpoint_to_resume_from(whole_run, tmp_path, sample_path,
                                                                     tiny_teacher_path, tiny_student_path):
    """SIGINT (Ctrl-C) mid-training: exit code 130 and one line saying where --resume continues, no traceback."""
    from augment.distill import checkpoint

    cut = tmp_path / "cut"
    args = argv(sample_path, whole_run, tiny_teacher_path, tiny_student_path, cut)
    # Steps enough to outlast a loaded machine's delay in noticing the first checkpoint: at 10 steps the run
    # finished in the second between that checkpoint and the signal (exit 0), seen once under the full suite.
    args[args.index("--max-steps") + 1] = "400"
    proc = start_until_checkpoint(args, cut)
    proc.kill(signal.SIGINT)
    done = proc.wait()
    assert done.returncode == 130, done.stderr[-2000:]
    newest = checkpoint.latest(cut / "checkpoints")
    assert done.stderr.strip().splitlines()[-1] == (f"distill-train: interrupted; the newest checkpoint is {newest}: "
                                                    "rerun with --resume to continue from it")
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr


@pytest.mark.parametrize("resume_from", ["0-intermediate-step00000010", "1-prediction-step00000004"])
def test_resume_from_any_checkpoint_is_bit_exact(whole_run, tmp_path, sample_path, tiny_teacher_path,
                                                 tiny_student_path, resume_from):
    """The end of the intermediate stage (the next stage starts from the saved RNG streams) and the middle
    of the prediction stage: each resumed run must end with the weights of the uninterrupted one."""
    whole = whole_run / "whole"
    cut = tmp_path / "cut"
    shutil.copytree(whole, cut)
    shutil.rmtree(cut / "student")
    later = [c for c in (cut / "checkpoints").iterdir() if c.name > resume_from]
    assert (cut / "checkpoints" / resume_from).is_dir() and later
    for c in later:  # as if the process had died right after writing resume_from
        shutil.rmtree(c)
    done = forkrun.run("pipelines.distill_train",
                       *argv(sample_path, whole_run, tiny_teacher_path, tiny_student_path, cut, "--resume"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"resuming from {cut / 'checkpoints' / resume_from}" in done.stderr
    a, b = weights(whole), weights(cut)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # The copied metrics.jsonl ran to the end: the records past the checkpoint are logged once, by the resumed run.
    assert logged(cut) == logged(whole)
    assert summed(cut) == summed(whole)
    assert (cut / "metrics.jsonl").read_text().count('"teacher_cache"') == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The two-process runs, and the one-process run they are compared with: 22 questions of one window each, the first
# 15 on a shorter context than the others (so the processes' contiguous shares of the teacher's logits differ in
# length), 2 steps a stage; a student without dropout (two processes draw other masks than one does). 22 windows
# are 3 batches of 8 between the processes: with --grad-accum 2 a stage's 2nd step is one micro-batch, as every
# step is without accumulation (the processes' weighting then stands alone: with 30 windows no step tested it).
DDP = {"--limit": "22", "--max-length": "384", "--doc-stride": "128", "--max-steps": "2"}


def ddp_argv(sample_path, tmp_path, teacher, student, out, *extra) -> list:
    args = argv(sample_path, tmp_path, teacher, student, out, "--embedding-dropout", "0", *extra)
    for option, value in DDP.items():
        args[args.index(option) + 1] = value
    return args


def torchrun(sample_path, tmp_path, teacher, student, out, *extra) -> subprocess.CompletedProcess:
    """distill-train in two processes under torchrun (``ddp_argv``)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), "-m", "pipelines.distill_train",
           *ddp_argv(sample_path, tmp_path, teacher, student, out, *extra)]
    return subprocess.run(cmd, env=env(), cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory, sample_path, tiny_teacher_path, tiny_student_path):
    """A two-process run of a student without dropout: its folder (the run in ddp/, the caches in cache/, the
    student in student/) and its process."""
    tmp_path = tmp_path_factory.mktemp("distill_ddp")
    student = tmp_path / "student"
    shutil.copytree(tiny_student_path, student)
    config = json.loads((student / "config.json").read_text())
    (student / "config.json").write_text(json.dumps(config | {"hidden_dropout_prob": 0.0,
                                                             "attention_probs_dropout_prob": 0.0}))
    return tmp_path, torchrun(sample_path, tmp_path, tiny_teacher_path, str(student), tmp_path / "ddp")


def test_torchrun_two_processes_train_and_save(ddp_run, tiny_student_path):
    tmp_path, run = ddp_run
    out = tmp_path / "ddp"
    assert run.returncode == 0, run.stderr[-3000:]
    assert (out / "student" / "model.safetensors").exists()
    # stderr is no terminal: no bar, the recipe's nor datasets' ("windows:" map) nor transformers' (loading, saving).
    assert not [bar for bar in ("windows:", "Loading weights", "Writing model shards", "%|") if bar in run.stderr]
    # Both processes saved their own RNG stream; one process wrote everything else.
    last = sorted((out / "checkpoints").iterdir())[-1]
    assert {p.name for p in last.iterdir()} >= {"rng-0.pt", "rng-1.pt", "model.pt", "state.json"}
    # Their own streams: seeded alike, the two drew the same dropout masks for batches of one shape. (This
    # student draws none: the states are where each process's seeding left them.)
    streams = [torch.load(last / f"rng-{rank}.pt", weights_only=False)["torch"] for rank in (0, 1)]
    assert not torch.equal(*streams)
    assert run.stderr.count("saved the student") == 1
    # It trained: both stages logged their steps, and the student's encoder moved away from its start.
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["step"]) for r in records if "loss" in r] == [
        ("intermediate", 1), ("intermediate", 2), ("prediction", 1), ("prediction", 2)]
    from transformers import AutoModelForQuestionAnswering

    start = AutoModelForQuestionAnswering.from_pretrained(tiny_student_path).state_dict()
    end = weights(out)
    moved = [k for k in end if "encoder.layer.0" in k and not torch.equal(end[k], start[k])]
    assert moved
    # The two processes each computed half of the teacher's logits; the merged cache holds every window.
    assert "(2 processes)" in run.stderr
    caches = list((tmp_path / "cache").glob("teacher-*.arrow"))
    assert len(caches) == 1 and not list((tmp_path / "cache").glob("*.part*"))
    from datasets import Dataset

    from augment.distill import teacher_cache

    feats = Dataset.from_file(str(next((tmp_path / "cache").glob("features-*.arrow"))))
    teacher_cache.TeacherLogits(caches[0], feats)  # raises unless its windows are exactly the features'
    assert "4 x 2 x 2 windows" in run.stderr  # batch x accumulation x processes


def test_torchrun_resume_with_dropout_is_bit_exact(tmp_path, sample_path, tiny_teacher_path, tiny_student_path):
    """Two processes of a student with dropout, each drawing its own masks (checkpoint.own_stream), resumed under
    torchrun from the middle of the intermediate stage: each process puts back its own stream (rng-<rank>.pt), and
    the run ends with the uninterrupted run's weights and losses. Its step 2 and the prediction stage after it draw
    dropout in both processes: process 1 given rng-0.pt at the resume left all 39 tensors up to 4.7e-5 apart (step
    2's loss 3e-4 off); own_stream skipped in a resumed run (the prediction stage's), 9e-5 apart."""
    config = json.loads((Path(tiny_student_path) / "config.json").read_text())
    assert config["hidden_dropout_prob"] > 0 and config["attention_probs_dropout_prob"] > 0
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    dropout = ("--embedding-dropout", "0.1", "--save-every", "1")  # ddp_argv's "--embedding-dropout 0" overridden
    run = torchrun(sample_path, tmp_path, tiny_teacher_path, tiny_student_path, whole, *dropout)
    assert run.returncode == 0, run.stderr[-3000:]
    resume_from = "0-intermediate-step00000001"
    ckpts = whole / "checkpoints"
    # Both processes drew random numbers (dropout) after the checkpoint the run resumes from.
    for rank in (0, 1):
        drawn = [torch.load(ckpts / c / f"rng-{rank}.pt", weights_only=False)["torch"]
                 for c in (resume_from, "0-intermediate-step00000002")]
        assert not torch.equal(*drawn), rank

    shutil.copytree(whole, cut)
    shutil.rmtree(cut / "student")
    later = [c for c in (cut / "checkpoints").iterdir() if c.name > resume_from]
    assert later
    for c in later:  # as if both processes had died right after writing resume_from
        shutil.rmtree(c)
    done = torchrun(sample_path, tmp_path, tiny_teacher_path, tiny_student_path, cut, *dropout, "--resume")
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resuming from {cut / 'checkpoints' / resume_from}" in done.stderr
    a, b = weights(whole), weights(cut)
    assert a.keys() == b.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert logged(cut) == logged(whole)


def test_two_processes_train_as_one_process_of_their_joint_batch(ddp_run, sample_path, tiny_teacher_path):
    """Two processes of --batch-size 4 take, step by step, the windows one process of --batch-size 8 takes
    (--grad-accum 2 both). The intermediate losses average over real tokens and (query, key) pairs, which the
    processes hold unequally: each process's own mean, averaged by DDP, was 6e-6 off the joint batch's in the
    logged loss and left weights 1.2e-4 elsewhere after 2 steps (4e-7 now). Weighted by each process's share of
    the step's tokens and pairs, both stages are the one-process run's up to rounding; so is the 2nd step, one
    micro-batch (without the processes' weighting there its attention loss was 2e-4 off, and weights 4e-5 apart)."""
    tmp_path, run = ddp_run
    assert run.returncode == 0, run.stderr[-3000:]
    one = tmp_path / "one"
    # Caches of its own: the two-process run's folder holds one teacher-logit cache (its test counts them).
    args = ddp_argv(sample_path, tmp_path / "single", tiny_teacher_path, str(tmp_path / "student"), one)
    args[args.index("--batch-size") + 1] = "8"
    done = forkrun.run("pipelines.distill_train", *args)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "8 x 2 x 1 windows" in done.stderr and "4 x 2 x 2 windows" in run.stderr

    def steps(out):
        return [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r]

    ones, twos = steps(one), steps(tmp_path / "ddp")
    assert [(r["stage"], r["step"]) for r in ones] == [(r["stage"], r["step"]) for r in twos]
    # Each step's record says how many processes its rates are of, as the summaries do.
    assert {r["processes"] for r in ones} == {1} and {r["processes"] for r in twos} == {2}
    for a, b in zip(ones, twos):
        for name in ("loss", "hidden", "attention", "kd"):
            if name in a:
                assert b[name] == pytest.approx(a[name], rel=2e-6), (a["stage"], a["step"], name)
    from safetensors.torch import load_file

    for saved in ("student-intermediate", "student"):
        a, b = (load_file(str(out / saved / "model.safetensors")) for out in (one, tmp_path / "ddp"))
        assert max((a[k] - b[k]).abs().max().item() for k in a) < 2e-6, saved
    # The first process's random stream is the one process's (the other has its own: the test above).
    for ckpt in (one / "checkpoints").iterdir():
        a, b = (torch.load(out / "checkpoints" / ckpt.name / "rng-0.pt", weights_only=False)
                for out in (one, tmp_path / "ddp"))
        assert torch.equal(a["torch"], b["torch"]) and a["python"] == b["python"], ckpt.name


def test_the_teacher_cache_summary_counts_the_tokens_of_every_process(ddp_run, tiny_teacher_path):
    """Each process computes the teacher's logits of a contiguous share of the windows: here the first 15 questions
    on one context, the next 7 on a longer one. The summary's FLOPs (and TFLOP/s) were the main process's share
    times two, 24% short of what the two computed; they are the two shares' sums."""
    from datasets import Dataset
    from transformers import AutoConfig, AutoModelForQuestionAnswering

    from augment.distill import teacher_cache
    from augment.distill.flops import StageCost

    tmp_path, run = ddp_run
    assert run.returncode == 0, run.stderr[-3000:]
    feats = Dataset.from_file(str(next((tmp_path / "cache").glob("features-*.arrow"))))
    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path)
    counted = []
    for rank in (0, 1):  # each process's share, batched as the run batched it
        stats = {}
        teacher_cache.build(teacher, feats.select(teacher_cache.share(len(feats), rank, 2)),
                            tmp_path / "shares" / f"{rank}.arrow", batch_size=256, stats=stats)
        counted.append(stats)
    assert counted[0]["tokens"] < 0.8 * counted[1]["tokens"]  # the shares differ: the main one's is shorter
    cost = StageCost.of("teacher_cache", AutoConfig.from_pretrained(tmp_path / "student"), teacher.config)
    flops = cost.flops(sum(c["tokens"] for c in counted), sum(c["tokens_sq"] for c in counted))
    records = [json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    (summary,) = [r["summary"] for r in records if r["stage"] == "teacher_cache"]
    assert summary["windows"] == len(feats) == 22
    # FLOPs per window, from the record's rates (the seconds cancel out), as each is rounded
    assert summary["tflops"] * 1e12 / summary["windows_per_s"] == pytest.approx(flops / len(feats), rel=5e-3)


def test_training_throughput_is_every_process_windows_and_flops(ddp_run, tiny_teacher_path):
    """Each process cuts its own part of a step's batch to that part's longest window, so the processes compute
    unlike token counts. The log records' and the summaries' TFLOP/s were the main process's FLOPs times two; they
    are the processes' counts summed at each log step (the rates' ratio is FLOPs per window, the seconds cancel)."""
    from datasets import Dataset
    from transformers import AutoConfig

    from augment.distill.data import global_batches, window_lengths
    from augment.distill.flops import StageCost

    tmp_path, run = ddp_run
    assert run.returncode == 0, run.stderr[-3000:]
    feats = Dataset.from_file(str(next((tmp_path / "cache").glob("features-*.arrow"))))
    lengths = window_lengths(feats)
    # Epoch 0 at --seed 42: 3 joint batches of 8, 8 and 6 windows; step 1 is the first two, step 2 the third.
    batches = global_batches(len(feats), 4, 42, 0, 2)
    assert [len(b) for b in batches] == [8, 8, 6]
    parts = [[lengths[b[r::2]].max() for r in (0, 1)] for b in batches]  # (batch, process): the computed length
    assert any(a != b for a, b in parts)  # the test means something: the two processes' parts differ

    def per_window(cost, batch_ids):
        tokens = sum(len(batches[j][r::2]) * parts[j][r] for j in batch_ids for r in (0, 1))
        tokens_sq = sum(len(batches[j][r::2]) * parts[j][r] ** 2 for j in batch_ids for r in (0, 1))
        return cost.flops(int(tokens), int(tokens_sq)) / sum(len(batches[j]) for j in batch_ids)

    student, teacher = (AutoConfig.from_pretrained(p) for p in (tmp_path / "student", tiny_teacher_path))
    records = [json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    for stage in ("intermediate", "prediction"):
        cost = StageCost.of(stage, student, teacher)  # prediction: the teacher's logits cached, no teacher FLOPs
        steps = [r for r in records if r["stage"] == stage and "loss" in r]
        (summary,) = [r["summary"] for r in records if r["stage"] == stage and "summary" in r]
        for rates, batch_ids in [(steps[0], [0, 1]), (steps[1], [2]), (summary, [0, 1, 2]),
                                 (summary["steady"], [2])]:
            assert rates["tflops"] * 1e12 / rates["windows_per_s"] == pytest.approx(
                per_window(cost, batch_ids), rel=5e-3), (stage, batch_ids)
        assert summary["windows"] == 22 and summary["processes"] == 2
        assert summary["windows_per_s"] == pytest.approx(22 / summary["seconds"], rel=5e-3)
    # The stderr line says the rates are the whole job's.
    assert re.search(r"distill-train: intermediate: 22 windows in [0-9.]+ s by 2 processes together, [0-9.]+ "
                     "windows/s", run.stderr), run.stderr[-3000:]


def test_a_checkpoint_file_of_one_torchrun_process_that_is_damaged_is_its_line_alone(
        ddp_run, tmp_path, sample_path, tiny_teacher_path, tiny_student_path):
    """Only process 1 reads rng-1.pt: damaged, it was a traceback from that process, then gloo's "Connection closed
    by peer" traceback from process 0, whose next collective failed as it exited."""
    run = tmp_path / "run"
    shutil.copytree(ddp_run[0] / "ddp", run)
    shutil.rmtree(run / "student")
    first, *later = sorted((run / "checkpoints").iterdir())
    for c in later:  # as if killed after the first checkpoint
        shutil.rmtree(c)
    (first / "rng-1.pt").write_bytes((first / "rng-1.pt").read_bytes()[:100])  # truncated
    done = torchrun(sample_path, ddp_run[0], tiny_teacher_path, str(ddp_run[0] / "student"), run, "--resume")
    assert done.returncode != 0
    lines = [x for x in done.stderr.splitlines() if x.startswith("distill-train: error:")]
    assert lines == [f"distill-train: error: --resume: the checkpoint file {first / 'rng-1.pt'} cannot be read ("
                     "PytorchStreamReader failed reading zip archive: failed finding central directory); remove "
                     f"{first} to resume from the checkpoint before it (or the start), or start again with "
                     "--overwrite"], done.stderr[-3000:]
    assert "[rank" not in done.stderr, done.stderr[-3000:]  # torch's prefix on a process's traceback


def test_a_process_whose_partner_is_killed_ends_at_once_with_one_line(whole_run, tmp_path, sample_path,
                                                                       tiny_teacher_path, tiny_student_path):
    """Two processes without torchrun's agent (as on another node of a multi-node job, whose agent does not stop
    its workers when a worker elsewhere dies): process 1 is killed mid-training, and process 0's next collective
    failed with gloo's traceback; now with one line naming the checkpoint to resume from."""
    from augment.distill import checkpoint

    out = tmp_path / "run"
    base = {**env(), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    cmd = [sys.executable, "-m", "pipelines.distill_train",
           *argv(sample_path, whole_run, tiny_teacher_path, tiny_student_path, out)]
    cmd[cmd.index("--max-steps") + 1] = "200"  # still training when process 1 is killed
    procs = [subprocess.Popen(cmd, cwd=REPO, env={**base, "RANK": r, "LOCAL_RANK": r}, stderr=subprocess.PIPE,
                              text=True) for r in "01"]
    try:
        deadline = time.time() + 120
        while not has_checkpoint(out) and time.time() < deadline:
            time.sleep(0.02)
        assert procs[0].poll() is None, procs[0].communicate()[1][-3000:]
        procs[1].kill()
        started = time.time()
        err = procs[0].communicate(timeout=60)[1]
        assert time.time() - started < 10  # not --dist-timeout's 2 hours
    finally:
        for proc in procs:
            proc.kill()
            proc.communicate()
    newest = checkpoint.latest(out / "checkpoints")
    assert procs[0].returncode == 1, err[-3000:]
    assert re.fullmatch(r"distill-train: error: another process of this run stopped \(Connection (closed|reset) by "
                        rf"peer\); the newest checkpoint is {re.escape(str(newest))}: rerun with --resume to "
                        "continue from it", err.strip().splitlines()[-1]), err[-3000:]
    assert "Traceback" not in err

