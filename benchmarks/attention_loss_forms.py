"""The attention loss's two forms (augment.distill.attention_loss) on the CPU: time and accuracy.

    OMP_NUM_THREADS=1 python benchmarks/attention_loss_forms.py

Time: CPU seconds (one thread) of the loss's forward and backward for all mapped layer pairs of one batch,
on random (Q/√d, K) factors of three shapes: the CPU benchmark's models (benchmarks/cpu_distill.py), the
MiniLM pair of the mini reproduction, and a bert-base pair. Accuracy: each form's loss against the same
inputs' float64 value, in float32 and with bfloat16 factors under autocast (as the GPU path sees them).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from augment.distill.attention_loss import AttentionScoreLoss  # noqa: E402

SHAPES = (  # name, batch, heads, length, student head width, teacher head width, mapped pairs
    ("cpu_distill models (2L-128 from 4L-256)", 8, 4, 384, 32, 64, 2),
    ("MiniLM pair (3L from 6L, 384 wide)", 8, 12, 384, 32, 32, 3),
    ("bert-base pair (6L from 12L, 768 wide)", 8, 12, 384, 64, 64, 6),
)


def factors(b, h, t, d_s, d_t, pairs, seed=0, dtype=torch.float32, scale=1.5):
    """Random factors whose scores are a few units, the student near the teacher (the case that cancels)."""
    g = torch.Generator().manual_seed(seed)
    teacher = [tuple(scale * torch.randn(b, h, t, d_t, generator=g) for _ in range(2)) for _ in range(pairs)]
    student = []
    for q, k in teacher:
        if d_s == d_t:
            near = tuple(x + 0.1 * scale * torch.randn(x.shape, generator=g) for x in (q, k))
        else:
            near = tuple(scale * torch.randn(b, h, t, d_s, generator=g) for _ in range(2))
        student.append(tuple(x.to(dtype).requires_grad_() for x in near))
    return student, [tuple(x.to(dtype) for x in pair) for pair in teacher]


def mask_of(b, t):
    mask = torch.ones(b, t, dtype=torch.long)
    mask[0, int(0.8 * t):] = 0  # one padded window
    return mask


def timing(reps: int = 3) -> list[str]:
    lines = ["| shapes (B=8, T=384) | direct ms | factored ms | direct / factored |", "|---|---:|---:|---:|"]
    for name, b, h, t, d_s, d_t, pairs in SHAPES:
        student, teacher = factors(b, h, t, d_s, d_t, pairs)
        mask = mask_of(b, t)
        ms = {}
        for form in ("direct", "factored"):
            loss = AttentionScoreLoss(form)
            loss(student, teacher, mask).backward()  # warm-up
            t0 = time.process_time()
            for _ in range(reps):
                loss(student, teacher, mask).backward()
            ms[form] = (time.process_time() - t0) / reps * 1000
        lines.append(f"| {name} | {ms['direct']:.0f} | {ms['factored']:.0f} | {ms['direct'] / ms['factored']:.1f}x |")
    return lines


def accuracy() -> list[str]:
    lines = ["| inputs | float64 value | direct, relative error | factored, relative error |", "|---|---:|---:|---:|"]
    _, b, h, t, d_s, d_t, pairs = SHAPES[2]
    mask = mask_of(b, t)
    with torch.no_grad():
        for label, dtype, autocast in (("float32", torch.float32, False),
                                       ("bfloat16 under autocast", torch.bfloat16, True)):
            student, teacher = factors(b, h, t, d_s, d_t, 1, dtype=dtype)
            wide = ([tuple(x.double() for x in p) for p in student], [tuple(x.double() for x in p) for p in teacher])
            exact = AttentionScoreLoss("direct")(*wide, mask).item()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                got = {form: AttentionScoreLoss(form)(student, teacher, mask).item() for form in ("direct", "factored")}
            errors = {form: abs(value - exact) / exact for form, value in got.items()}
            lines.append(f"| {label}, one bert-base layer pair | {exact:.6f} | {errors['direct']:.1e} | "
                         f"{errors['factored']:.1e} |")
    return lines


def main() -> int:
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, CPU time on one thread, forward + backward of every mapped pair\n")
    print("\n".join(timing()) + "\n")
    print("\n".join(accuracy()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
