"""What a distill-train run says of its progress: counts in words, windows/s and TFLOP/s between two marks of a
stage's tally, and the summary record and line of a stage or of the teacher cache. Records and lines are
returned, never printed: the recipe writes them (main process) to metrics.jsonl and stderr.

    >>> count(1, "step"), count(2, "process", "processes")
    ('1 step', '2 processes')
    >>> sig(0.000044712), sig(989.04)
    (4.471e-05, 989.0)
"""
from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun, singular for 1: "1 step", "2 steps", "1 process"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def sig(x: float) -> float:
    """Four significant digits: TFLOP/s of a tiny CPU model are 1e-5, of a GPU run hundreds."""
    return float(f"{x:.4g}")


def rates(start: tuple, end: tuple, cost) -> dict:
    """windows/s and achieved TFLOP/s of the whole job (every process's counts: augment.distill.tally.StageTally)
    between two (time, counts) marks; TFLOP/s where the stage's ``cost`` (augment.distill.flops.StageCost) is
    known."""
    seconds = max(end[0] - start[0], 1e-9)
    done = {k: end[1][k] - start[1][k] for k in end[1]}
    out = {"windows_per_s": round(done["windows"] / seconds, 2)}
    if cost is not None:
        out["tflops"] = sig(cost.flops(done["tokens"], done["tokens_sq"]) / seconds / 1e12)
    return out


def summary(what: str, windows: int, seconds: float, flops: float | None, device: str, world: int, steady=None,
            whole=None, extra: dict | None = None) -> tuple[dict, str]:
    """The ``summary`` record of metrics.jsonl and the line for stderr of ``what`` (a stage, or the teacher cache):
    windows/s and TFLOP/s of the whole job (``windows`` and ``flops``: every process's, of ``world`` processes),
    and the share of the dense bf16 peak per card (one card per process, as accelerate places them: the job's
    TFLOP/s over the peaks of them all). ``whole`` and ``steady``: rates already measured (:func:`rates`), in
    place of ``windows`` and ``flops`` over ``seconds``; ``extra`` joins the record."""
    from augment.distill.flops import peak_share

    whole = whole or {"windows_per_s": round(windows / max(seconds, 1e-9), 2),
                      **({"tflops": sig(flops / max(seconds, 1e-9) / 1e12)} if flops is not None else {})}
    record = {"windows": windows, "seconds": round(seconds, 3), **whole, "device": device, "processes": world,
              **(extra or {})}
    if steady is not None:
        record["steady"] = steady
    best = steady or whole
    if "tflops" in best and (share := peak_share(best["tflops"], device, world)) is not None:
        record["peak_share"] = round(share, 4)
    together = f" by {count(world, 'process', 'processes')} together" if world > 1 else ""
    line = (f"{what}: {count(windows, 'window')} in {seconds:.1f} s{together}, "
            f"{whole['windows_per_s']:.1f} windows/s")
    if record.get("from_step"):  # resumed from a checkpoint of an older version, which carried no totals
        line = (f"{what} (steps {record['from_step'] + 1} to {record['from_step'] + record['steps']}: its "
                f"checkpoint held no totals of the steps before){line.removeprefix(what)}")
    if "tflops" in whole:
        line += f", {whole['tflops']:.3g} TFLOP/s"
    if steady is not None:
        line += f"; steady {steady['windows_per_s']:.1f} windows/s" + (
            f", {steady['tflops']:.3g} TFLOP/s" if "tflops" in steady else "")
    if "peak_share" in record:
        card = f"each {device}" if world > 1 else f"the {device}"
        line += f" ({100 * record['peak_share']:.1f}% of {card}'s dense bf16 peak)"
    return record, line
