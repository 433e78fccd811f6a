"""What distill-train chooses by device where no option says: the padding multiple of a training batch, the
DataLoader's workers, fused AdamW and the attention loss's form. Plain values in, plain values out: no torch.

    >>> length_multiple("cuda", pad_to_multiple_of=None, compile=None, group_by_length=False, max_length=384)
    16
    >>> loader_options("cpu", num_workers=None, processes=1, cpus=16)
    {'num_workers': 0, 'pin_memory': False, 'persistent_workers': False}
"""
from __future__ import annotations

# Under --compile with --group-by-length, each batch is padded up to a multiple of this many tokens: batches of
# similar windows keep most of the padding saved (on the SQuAD 2.0 subset at length 384 and batch 26, 52% of the
# FLOPs of one 384 shape, against 43% with no padding at all; BENCHMARKS.md 6f), in 6 lengths at 384 (7 shapes
# with an epoch's short batch), each compiled, and recorded as a CUDA graph, once per model and stage. A
# multiple of 16 would compute 45%, in 22 shapes.
GROUPED_COMPILE_MULTIPLE = 64


def length_multiple(device_type: str, pad_to_multiple_of: int | None, compile: str | None, group_by_length: bool,
                    max_length: int) -> int:
    """Each training batch is cut to its longest window rounded up to a multiple of this (``trim_padding``):
    ``--pad-to-multiple-of``, or by default 1 on the CPU, 16 on CUDA (aligned kernels), and under ``--compile``
    ``--max-length`` (one shape for the compiled graphs), or ``GROUPED_COMPILE_MULTIPLE`` with
    ``--group-by-length`` (a few shapes, where grouping saves most)."""
    if pad_to_multiple_of is not None:
        return pad_to_multiple_of
    if compile:
        return GROUPED_COMPILE_MULTIPLE if group_by_length else max_length
    return 16 if device_type == "cuda" else 1


def loader_options(device_type: str, num_workers: int | None, processes: int, cpus: int | None) -> dict:
    """The training DataLoader's ``num_workers``, ``pin_memory`` and ``persistent_workers``. On CUDA:
    ``--num-workers``, or by default 4 worker processes per process (at most the cores per process), and pinned
    host memory, from which the loop's ``.to(device, non_blocking=True)`` copies overlap the step. On the CPU no
    workers by default (its cores do the training) and nothing pinned (no device to copy to). Workers, wherever
    there are some, last the whole stage (train_stage: one loader, its batches given anew each epoch)."""
    cuda = device_type == "cuda"
    if num_workers is None:
        num_workers = min(4, max(1, (cpus or 1) // processes)) if cuda else 0
    return {"num_workers": num_workers, "pin_memory": cuda, "persistent_workers": num_workers > 0}


def fused_adamw(device_type: str) -> bool:
    """Fused AdamW on CUDA: one kernel for all parameters instead of several per tensor (the same update); under
    --fp16 the loss scaler hands it the overflow flag on the device instead of asking the host every step."""
    return device_type == "cuda"


def default_attention_form(device_type: str) -> str:
    """The attention loss's form (augment.distill.attention_loss) under ``--attention-loss auto``.
    "factored" (Gram matrices of Q and K, no (B, H, T, T) tensor) measured 3.5 to 7.7x faster as a loss on the
    CPU, about 17% more windows/s in the intermediate stage, and nearer float64 (BENCHMARKS.md 6d); on a GPU it
    trades bf16 tensor-core products for float32 ones and is not yet measured, so CUDA keeps "direct"."""
    return "direct" if device_type == "cuda" else "factored"
