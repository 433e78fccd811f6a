"""Per-step overhead of distill-train's two stages, measured on the CPU: aten ops dispatched per optimizer step
(by phase) and host milliseconds per step. Runs the recipe's own ``DistillRecipe._loss`` and the training loop's
step (accelerate autocast bf16, backward, clip, AdamW as on CUDA: fused, scheduler, zero_grad), with random-weight
BERT models of the real recipe's shape (12L-768 teacher, 6L-768 student, 12 heads) for the op counts and the same
depths at width 48 in float32 for host time (the CPU emulates bf16 matmuls slowly; at that width a step is almost
all per-op overhead, as it is on a GPU at batch 26).

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/cpu_step_ops.py [--steps 20]
"""
from __future__ import annotations

import argparse
import collections
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode


# The loop of the code under test: since the overhead fixes it skips dividing by a group of one micro-batch
# (``if group > 1 else``; since the torchrun weighting, ``if group > 1 or by_process``: no multiplication either).
NO_DIV = "if group > 1" in (Path(__file__).resolve().parents[1] / "pipelines" / "distill_train.py").read_text()


class OpCounter(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.counts = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[str(func.overloadpacket.__name__)] += 1
        return func(*args, **(kwargs or {}))


def make_models(width: int, heads: int = 12):
    from transformers import BertConfig, BertForQuestionAnswering

    torch.manual_seed(0)
    cfg = dict(vocab_size=1000, hidden_size=width, num_attention_heads=heads, intermediate_size=4 * width,
               max_position_embeddings=512, attn_implementation="sdpa")
    teacher = BertForQuestionAnswering(BertConfig(num_hidden_layers=12, **cfg)).eval().requires_grad_(False)
    student = BertForQuestionAnswering(BertConfig(num_hidden_layers=6, **cfg))
    return teacher, student


def make_batch(b: int, t: int) -> dict:
    g = torch.Generator().manual_seed(1)
    lengths = torch.randint(t // 2, t + 1, (b,), generator=g)
    lengths[0] = t
    mask = (torch.arange(t)[None] < lengths[:, None]).long()
    ctx = mask.clone()
    ctx[:, 1:t // 4] = 0
    return {"input_ids": torch.randint(1, 1000, (b, t), generator=g) * mask, "attention_mask": mask,
            "token_type_ids": (torch.arange(t)[None] >= t // 4).long() * mask, "context_mask": ctx,
            "start_positions": torch.zeros(b, dtype=torch.long), "end_positions": torch.zeros(b, dtype=torch.long),
            "teacher_start": torch.randn(b, t, generator=g), "teacher_end": torch.randn(b, t, generator=g)}


def recipe(stage: str, teacher, student, bf16: bool = True):
    """A DistillRecipe with just what ``_build_stage`` and ``_loss`` read, on an Accelerator as the CLI makes it."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    from pipelines.distill_train import DistillRecipe, build_parser

    # --distill-weight as validate() resolves its default (the prediction loss is built from it)
    args = build_parser().parse_args(["--data", "x", "--out", "/tmp/x", "--bf16", "--stage", stage,
                                      "--distill-weight", "1"])
    r = DistillRecipe(args)
    AcceleratorState._reset_state(True)  # the precision is a process-wide singleton
    r.acc = Accelerator(mixed_precision="bf16" if bf16 else "no")
    r.teacher, r.student = teacher, student
    r.student_attn = r.teacher_attn = "sdpa"
    r.amp_dtype = torch.bfloat16 if bf16 else None
    r.windows = [0] * 1000
    r.stage_data = {stage: (None, None, r.windows)}  # (key, features, windows): _build_stage counts the steps
    return r


def step_fn(r, stage: str):
    module, optimizer, scheduler, _ = r._build_stage(stage)
    # As on CUDA: one fused AdamW kernel (the recipe asks for fused only there).
    groups = [{"params": g["params"], "weight_decay": g["weight_decay"]} for g in optimizer.param_groups]
    optimizer = type(optimizer)(groups, lr=optimizer.defaults["lr"], fused=True)
    from transformers import get_linear_schedule_with_warmup
    scheduler = get_linear_schedule_with_warmup(optimizer, 10, 1000)
    model, optimizer = r.acc.prepare(module, optimizer)
    model.train()
    acc = r.acc
    phases = {}

    def step(batch, counter=None):
        def mark(name):
            if counter is not None:
                phases[name] = phases.get(name, 0) + sum(counter.counts.values()) - mark.seen
                mark.seen = sum(counter.counts.values())
        mark.seen = 0
        losses = r._loss(stage, model, batch)
        mark("forward+loss")
        acc.backward(losses["loss"] if NO_DIV else losses["loss"] / 1)  # as train_stage at --grad-accum 1
        mark("backward")
        parts = {k: v.detach() if NO_DIV else v.detach() / 1 for k, v in losses.items()}
        acc.clip_grad_norm_(model.parameters(), 1.0)
        mark("clip+bookkeeping")
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        mark("optimizer")
        return parts
    return step, phases


def measure(stage: str, width: int, b: int, t: int, steps: int, count: bool):
    teacher, student = make_models(width)
    r = recipe(stage, teacher, student, bf16=count)  # host time in float32: CPU bf16 matmuls are emulated
    step, phases = step_fn(r, stage)
    batch = make_batch(b, t)
    for _ in range(3):
        step(batch)
    if count:
        with OpCounter() as c:
            step(batch, c)
        return sum(c.counts.values()), dict(phases), c.counts
    t0 = time.perf_counter()
    for _ in range(steps):
        step(batch)
    return (time.perf_counter() - t0) / steps * 1000


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--top", type=int, default=0, help="also print the N most frequent ops")
    a = p.parse_args()
    torch.set_num_threads(1)
    for stage in ("intermediate", "prediction"):
        total, phases, counts = measure(stage, 768, 1, 32, 1, count=True)
        ms = measure(stage, 48, 2, 32, a.steps, count=False)
        print(f"{stage}: {total} aten ops/step ({', '.join(f'{k} {v}' for k, v in phases.items())}); "
              f"host {ms:.1f} ms/step (float32, width 48, batch 2 x 32, 1 thread)", flush=True)
        if a.top:
            print("   ", ", ".join(f"{k} {v}" for k, v in counts.most_common(a.top)))


if __name__ == "__main__":
    main()
