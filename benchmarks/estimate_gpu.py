"""How long a mini-repro profile should take on one H100, from FLOP counts and measured H100 rates.

An estimate, not a measurement: `python benchmarks/mini_repro.py --profile gpu --estimate` prints it,
and BENCHMARKS.md §3b shows it until the profile has run on a GPU.

Windows are the real ones: the profile's training articles cut into windows by the teacher's tokenizer at
the profile's length and stride; augmented copies are counted with their originals' lengths (GloVe and
masked-LM replacements swap words, they do not add any). Batches are drawn as distill-train draws them
(`epoch_batches`) and cut to their longest window, rounded up to 16 as on CUDA. FLOPs per batch come
from `augment.distill.flops`, the formula in the README.

Time per optimizer step = a fixed cost per layer pass + FLOPs / marginal rate, both fitted to the H100
rates of BENCHMARKS.md §5b (bf16, bert-base teacher 12L-768, student 6L-768), two batch sizes per stage:

    intermediate: 26 -> 558 windows/s, 128 -> 909 windows/s at 159.2 TFLOP/s
    prediction:   26 -> 1,110 windows/s, 128 -> 2,143 windows/s at 225.1 TFLOP/s
    teacher cache (forward only, batch 256): 146.2 TFLOP/s

A linear fit t(b) = a + b * c gives a fixed cost a of 22.6 ms (intermediate: 6 student layers forward
and backward = 18 layer passes, 12 teacher layers = 12) and 14.1 ms (prediction: 18 layer passes), both
about 0.77 ms per layer pass, and marginal rates of about 189 and 295 TFLOP/s. A 384-wide model's
smaller matrices may reach lower rates than bert-base's, which would make the real run slower than this.

Start-up: §5b's set-up (imports, CUDA, tokenising, model loads) took 26 s per distill-train process.
Augmentation runs on the CPU beside the GPU work (its time is the profile's own measurement on CPU,
given as an option, since it depends on the host's cores).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

LAYER_PASS_S = 0.77e-3
MARGINAL_TFLOPS = {"intermediate": 189.0, "prediction": 295.0}
CACHE_TFLOPS = 146.2
STARTUP_S = 26.0
SOURCE = "BENCHMARKS.md §5b, NVIDIA H100 80GB HBM3, bf16"


def window_lengths(train_json: Path, tokenizer, max_length: int, doc_stride: int) -> list[int]:
    from augment.qa.features import prepare_train_features
    from augment.squad_io import iter_rows

    rows = list(iter_rows(str(train_json)))
    cols = {k: [r[k] for r in rows] for k in ("id", "question", "context", "answers")}
    feats = prepare_train_features(cols, tokenizer, max_length, doc_stride)
    return [sum(m) for m in feats["attention_mask"]]


def stage_seconds(lengths: list[int], epochs: int, batch: int, cost, layer_passes: int, rate_tflops: float,
                  grouped: bool, seed: int = 1) -> tuple[float, float]:
    """(seconds, FLOPs, of those seconds the fixed per-step part) of ``epochs`` epochs over windows of
    ``lengths`` at ``batch`` windows per step, batched as distill-train does (``grouped``: ``--group-by-length``)."""
    import numpy as np

    from augment.distill.data import epoch_batches

    seconds = flops = fixed = 0.0
    arr = np.asarray(lengths)
    for epoch in range(epochs):
        for idx in epoch_batches(len(lengths), batch, seed, epoch, lengths=arr if grouped else None):
            t = 16 * math.ceil(max(lengths[i] for i in idx) / 16)
            f = cost.flops(tokens=len(idx) * t, tokens_sq=len(idx) * t * t)
            seconds += layer_passes * LAYER_PASS_S + f / (rate_tflops * 1e12)
            fixed += layer_passes * LAYER_PASS_S
            flops += f
    return seconds, flops, fixed


def forward_seconds(lengths: list[int], batch: int, cost) -> tuple[float, float]:
    """(seconds, FLOPs) of one forward pass over every window in order (teacher cache, evaluation)."""
    f = 0.0
    for i in range(0, len(lengths), batch):
        t = 16 * math.ceil(max(lengths[i:i + batch]) / 16)
        f += cost.flops(tokens=len(lengths[i:i + batch]) * t, tokens_sq=len(lengths[i:i + batch]) * t * t)
    return f / (CACHE_TFLOPS * 1e12), f, 0.0


def estimate(a) -> dict:
    """Seconds per step of the profile ``a`` (mini_repro's resolved options), and the totals."""
    import tempfile

    from transformers import AutoConfig, AutoTokenizer

    from augment.distill.flops import StageCost
    import mini_repro

    tok = AutoTokenizer.from_pretrained(a.encoder)
    t_cfg = AutoConfig.from_pretrained(a.encoder)
    s_cfg = AutoConfig.from_pretrained(a.encoder, num_hidden_layers=a.student_layers)
    with tempfile.TemporaryDirectory() as tmp:
        train_json, eval_json = mini_repro.split_subset(Path(tmp), a.smoke, Path(a.data))
        orig = window_lengths(train_json, tok, a.max_length, a.doc_stride)
        held = window_lengths(eval_json, tok, a.max_length, a.doc_stride)
    # Original + multiplier copies, in the order the data loads (the original file, then the shards).
    aug = orig + [n for n in orig for _ in range(a.multiplier)]
    L_t, L_s = t_cfg.num_hidden_layers, a.student_layers
    inter = StageCost.of("intermediate", s_cfg, t_cfg)
    pred = StageCost.of("prediction", s_cfg)
    fine_tune = StageCost.of("prediction", t_cfg)  # the teacher trains as a student would
    t_fwd, s_fwd = StageCost.forward(t_cfg), StageCost.forward(s_cfg)
    b, e = a.batch_size, a.student_epochs

    def run(stages: list, evaluated_by=None) -> dict:
        secs = flops = fixed = 0.0
        for kind, data, model_passes, cost, rate in stages:
            if kind == "cache":
                s, f, x = forward_seconds(data, 256, cost)
            else:
                teacher = kind == "teacher"
                s, f, x = stage_seconds(data, a.teacher_epochs if teacher else e,
                                        a.teacher_batch_size if teacher else b, cost, model_passes, rate,
                                        a.group_by_length)
            secs, flops, fixed = secs + s, flops + f, fixed + x
        s, f, _ = forward_seconds(held, 2 * b, evaluated_by or s_fwd)
        return {"gpu_s": secs + s, "fixed_s": fixed, "pflop": (flops + f) / 1e15}

    I = ("inter", None, 3 * L_s + L_t, inter, MARGINAL_TFLOPS["intermediate"])
    P = ("pred", None, 3 * L_s, pred, MARGINAL_TFLOPS["prediction"])
    C = ("cache", None, 0, t_fwd, None)

    def on(stage, data):
        return (stage[0], data, *stage[2:])

    steps = {
        "teacher": run([("teacher", orig, 3 * L_t, fine_tune, MARGINAL_TFLOPS["prediction"])], t_fwd),
        "ft": run([on(P, orig)]),
        "pred": run([on(C, orig), on(P, orig)]),
        "inter_pred": run([on(I, orig), on(C, orig), on(P, orig)]),
        "pred_aug": run([on(C, aug), on(P, aug)]),
        "inter_pred_aug": run([on(I, aug), on(C, aug), on(P, aug)]),
        "guide": run([on(I, aug), on(C, orig), on(P, orig)]),
        "inter_pred_kqw": run([on(I, aug), on(C, aug), on(P, aug)]),
    }
    if a.share_intermediate:  # its intermediate stage is the guide's
        steps["inter_pred_aug"] = run([on(C, aug), on(P, aug)])
    steps = {k: v for k, v in steps.items() if k in a.rows}
    n_seeds = len(a.seeds)
    gpu = n_seeds * sum(v["gpu_s"] for v in steps.values())
    fixed = n_seeds * sum(v["fixed_s"] for v in steps.values())
    processes = n_seeds * len(steps) + 1
    # The card does every step's GPU work one after the other (processes share it, they do not add to it);
    # start-ups overlap other processes' GPU work except along the longest chain: init, teacher, the
    # longest student run (and the run that starts from its intermediate student); the augmentation runs
    # on the CPU while the teacher trains.
    chain = (4 if a.share_intermediate else 3) * STARTUP_S
    return {"profile": a.profile, "source": SOURCE, "windows": {"original": len(orig), "original_plus_aug": len(aug),
                                                                 "held_out": len(held)},
            "per_seed": steps, "seeds": n_seeds, "processes": processes, "gpu_s": gpu, "fixed_s": fixed,
            "wall_s_compute_only": gpu - fixed + chain,
            "wall_s_overlapped": gpu + chain, "wall_s_serial": gpu + processes * STARTUP_S,
            "pflop": n_seeds * sum(v["pflop"] for v in steps.values()), "jobs": a.jobs}


def render(est: dict) -> str:
    lines = [f"Estimate for --profile {est['profile']} on one H100 (from FLOP counts and {est['source']}; "
             "not a measurement)",
             f"windows: {est['windows']['original']} original, {est['windows']['original_plus_aug']} original + "
             f"augmented, {est['windows']['held_out']} held out",
             "", "| step | GPU seconds per seed | PFLOP per seed |", "|---|---:|---:|"]
    for k, v in est["per_seed"].items():
        lines.append(f"| {k} | {v['gpu_s']:.0f} | {v['pflop']:.2f} |")
    lines += ["", f"GPU work, {est['seeds']} seeds: {est['gpu_s'] / 60:.1f} min ({est['pflop']:.0f} PFLOP), of which "
              f"{est['fixed_s'] / 60:.1f} min are fixed per-step costs (launches, small kernels); "
              f"{est['processes']} processes of about {STARTUP_S:.0f} s start-up each.",
              f"Wall time: about {est['wall_s_overlapped'] / 60:.1f} min with start-ups overlapping other steps' "
              f"GPU work ({est['jobs']} steps at a time), {est['wall_s_serial'] / 60:.1f} min if none overlapped; "
              f"{est['wall_s_compute_only'] / 60:.1f} min if the concurrent processes also hid the fixed per-step costs.",
              "", json.dumps({"windows": est["windows"], **{k: round(v, 1) for k, v in est.items() if isinstance(v, float)}})]
    return "\n".join(lines)
