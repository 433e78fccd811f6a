"""squad-eval: score any extractive QA model on SQuAD 2.0 the way distill-train does.

    squad-eval --model out/student --data dev-v2.0.json --out eval.json

Reads the data (official SQuAD JSON, JSON lines, a ``save_to_disk`` directory or a hub id such as
``squad_v2``), runs the model over sliding windows, post-processes n-best spans with the null score
from CLS, and reports the official SQuAD 2.0 metric with best thresholds from the real null-score
differences. Writes ``eval.json`` (metrics, options, predictions, null-score differences) and
``eval.html`` (EM/F1 by answerable/unanswerable, F1 against the null threshold, the 50 worst questions)
into ``--out DIR`` (or beside ``--out FILE.json``), and prints a short table. Bad input (a missing
model directory or data file, an impossible option) is one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from augment import hub, outdir, versions
from augment.errors import ConfigError, InputError
from pipelines.cli import DefaultsOnce, Once, Parser, expand_tilde, given_options, library_bars

PROG = "squad-eval"
# --autocast: torch dtype names, as distill-train's eval.json records the autocast of its evaluation.
AUTOCAST = ("bfloat16", "float16")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog=PROG, formatter_class=DefaultsOnce,
        description="Evaluate an extractive question-answering model with the official SQuAD 2.0 "
                    "metric (EM, F1, HasAns/NoAns breakdown, best null-score thresholds). A question is "
                    "answered with nothing when the null score (CLS) beats the best span's, i.e. at a "
                    "null-score difference above 0, the null_score_diff_threshold default of Google's "
                    "run_squad.py and Hugging Face's run_qa.py (the official evaluate-v2.0.py thresholds "
                    "no-answer probabilities, at 1.0 by default); best_f1_thresh in eval.json is the "
                    "threshold that would have scored best.",
        epilog="--split is refused for data without splits (a file, a folder of files, a saved single Dataset) "
               "at any value typed, its default included. --model, --data and --out given twice with two different "
               "values are refused: run squad-eval once per model and source. Progress bars (the evaluation's, the "
               "model's loading and a hub dataset's download) are drawn only when stderr is a terminal.")
    p.add_argument("--model", required=True, metavar="DIR", type=expand_tilde, action=Once,
                   help="directory saved with save_pretrained (model and tokenizer), or a hub id")
    # Once: a second --data is refused, not read in place of the first. One source, not several: eval.json's
    # metrics, thresholds and predictions (by id) are of one dataset, as distill-train's --eval is.
    p.add_argument("--data", required=True, metavar="FILE|DIR|ID", action=Once,
                   hint="squad-eval evaluates one source: run it once per source",
                   help="official SQuAD JSON file, JSON array of squad_v2 rows, JSON-lines file (a .jsonl, or "
                        "a .json holding JSON lines), save_to_disk directory, directory of .json/.jsonl files, or "
                        "a hub dataset id such as squad_v2 (one source: a second --data is refused)")
    p.add_argument("--split", default="validation", help="split to read from a hub id or DatasetDict (refused for data without splits, such as a file)")
    p.add_argument("--max-length", type=int, metavar="N", default=384,
                   help="tokens per window (question + context)")
    p.add_argument("--doc-stride", type=int, metavar="N", default=128,
                   help="tokens shared by consecutive windows")
    p.add_argument("--batch-size", type=int, metavar="N", default=32, help="windows per forward pass")
    p.add_argument("--n-best", type=int, metavar="N", default=20,
                   help="start and end candidates per window in the answer search")
    p.add_argument("--max-answer-length", type=int, metavar="N", default=30,
                   help="longest answer, in tokens")
    p.add_argument("--out", default="eval.json", type=expand_tilde, metavar="DIR|FILE.json", action=Once,
                   help="a directory (gets eval.json and eval.html) or a .json file (eval.html is written "
                        "beside it, named after it): metrics, options, predictions and a page of the worst "
                        "questions")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="evaluate only the first N questions (default: all)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto picks cuda when available")
    p.add_argument("--autocast", choices=AUTOCAST,
                   help="run the model under torch autocast in this dtype, as distill-train --bf16 / --fp16 "
                        "evaluates (its eval.json's options.autocast); float16 needs CUDA (default: float32, "
                        "no autocast)")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="allow model code from the model repository (off: only built-in architectures)")
    return p


def validate(args) -> None:
    """Every option problem at once, before anything loads."""
    from augment.qa.features import window_problems
    from augment.sources import source_problem, split_problem

    problems = window_problems(args.max_length, args.doc_stride)  # distill-train's words too
    problems += filter(None, [source_problem("--data", args.data)])  # not the working directory: "$DATA" unset
    if given_options(args, {"split"}):  # for a source without splits: a silent no-op
        problems += filter(None, [split_problem("--split", args.split, "--data", args.data)])
    for name in ("batch_size", "n_best", "max_answer_length"):
        if getattr(args, name) < 1:
            problems.append(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.limit is not None and args.limit < 1:
        problems.append(f"--limit must be at least 1, got {args.limit}")
    # Written at the end: found unwritable now, not after the evaluation. A rerun overwrites its own two
    # files; a directory standing where one of them would go is refused rather than written into.
    json_file, html_file = out_paths(args.out)
    # An empty --out ("$OUT" unset) is refused as every command refuses it, not taken for the working directory.
    out_problem = outdir.out_problem("--out", args.out if not args.out.strip() else json_file.parent) or \
        outdir.source_folder_problem("--out", args.out, json_file.parent, [("--data", args.data)]) or \
        outdir.data_folder_problem("--out", args.out, json_file.parent, [("--data", args.data)])
    taken = next((p for p in (json_file, html_file) if p.is_dir()), None)
    if out_problem:
        problems.append(out_problem)
    elif taken is not None:
        problems.append(f"--out {args.out}: {taken} is a directory, so {taken.name} cannot be written there; "
                        "name another --out")
    # A missing directory, or (offline) a hub id that is not cached: one line within seconds.
    problems += hub.model_problems([("--model", args.model)], hub.CLI_FIXES)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            problems.append("--device cuda: no CUDA device is available; use --device cpu")
    if args.autocast == "float16":  # as distill-train --fp16: float16 autocast is for CUDA
        import torch

        if args.device == "cpu" or not torch.cuda.is_available():
            problems.append("--autocast float16 needs a CUDA device; use --autocast bfloat16 on the CPU")
    if problems:
        raise ConfigError("; ".join(problems))


def out_paths(out: str) -> tuple[Path, Path]:
    """``(eval.json, eval.html)`` for ``--out``: inside a directory (an existing one, a name ending in "/", or a
    new name without the .json suffix), or ``FILE.json`` and ``FILE.html`` beside it.

        >>> out_paths("runs/eval")
        (PosixPath('runs/eval/eval.json'), PosixPath('runs/eval/eval.html'))
    """
    # A trailing "/" says a directory: Path() drops it, so "runs/x.json/" would be written as the file runs/x.json.
    meant_dir = out.endswith(tuple(filter(None, (os.sep, os.altsep))))
    out = Path(out)
    # The suffix in any case: EVAL.JSON is a file, not a directory named so (as Windows and macOS see it).
    is_file = out.suffix.lower() == ".json" and not out.is_dir() and not meant_dir
    json_file = out if is_file else out / "eval.json"
    return json_file, json_file.with_suffix(".html")


def load_model(path: str, trust_remote_code: bool, max_length: int = 384, doc_stride: int = 128):
    """The tokenizer, checked against the window options before the weights load, and the float32 model."""
    from transformers import AutoConfig, AutoModelForQuestionAnswering, AutoTokenizer

    from augment.qa.features import stride_problem
    from augment.qa.positions import vocabulary_problem
    from augment.weights import load_float32, untrained

    local = Path(path)
    has_safetensors = local.is_dir() and any(local.glob("*.safetensors"))
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    if problem := stride_problem(tokenizer, max_length, doc_stride):
        raise ConfigError(problem)
    # Before the weights: an id past the embeddings was an IndexError from the forward pass.
    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    if problem := vocabulary_problem(config, tokenizer, "model"):
        raise ConfigError(f"--model {path}: {problem}")
    model, info = load_float32(AutoModelForQuestionAnswering, path, trust_remote_code=trust_remote_code,
                               use_safetensors=True if has_safetensors else None, output_loading_info=True)
    # A bare encoder or another task's checkpoint (bert-base-uncased) loads with a random QA head and scores
    # random answers; transformers only logs a load report.
    if lacks := untrained(model, info, "question-answering"):
        raise ConfigError(f"--model {path} has {lacks}, so its answers would be random; evaluate a model trained "
                          "for question answering (distill-train's OUT/student, a SQuAD 2.0 checkpoint)")
    return model, tokenizer


def run(args) -> dict:
    validate(args)  # first: a bad option is one line in a second, not after torch, transformers and datasets load
    versions.require_transformers()

    # "Loading weights" and a hub dataset's bars: on a terminal only, in the first process; the evaluation's own
    # follows the same rule (evaluate's progress).
    bars = library_bars()
    import torch
    from transformers import AutoConfig

    from augment.qa.positions import length_problem
    from augment.qa.evaluate import evaluate, format_table, json_safe, nonfinite_warning, read_rows
    from augment.qa.features import cut_questions, cut_warning
    from augment.sources import reads_split

    # Before the model loads: a null question or a duplicate id is one line, naming its file and position.
    rows = read_rows(args.data, args.split, "--data", args.limit)
    if not rows:
        raise InputError(f"{args.data}: no questions to evaluate")
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else (
        "cpu" if args.device == "auto" else args.device)
    config = AutoConfig.from_pretrained(args.model, trust_remote_code=args.trust_remote_code)
    if problem := length_problem(config, "model", args.max_length):  # else an index error mid-evaluation
        raise ConfigError(f"{problem}; evaluate with a smaller --max-length")
    model, tokenizer = load_model(args.model, args.trust_remote_code, args.max_length, args.doc_stride)
    cut = cut_questions([r["question"] for r in rows], tokenizer, args.max_length, args.doc_stride)
    if warning := cut_warning(cut, len(rows), tokenizer, args.max_length, args.doc_stride):
        print(f"{PROG}: {warning}", file=sys.stderr)
    model.to(device)
    result = evaluate(model, tokenizer, rows, max_length=args.max_length, doc_stride=args.doc_stride,
                      batch_size=args.batch_size, n_best=args.n_best,
                      max_answer_length=args.max_answer_length, device=device,
                      autocast_dtype=getattr(torch, args.autocast) if args.autocast else None, progress=bars)
    if warning := nonfinite_warning(result["nonfinite"], len(rows)):
        print(f"{PROG}: {warning}", file=sys.stderr)
    # NaN or infinite values (null-score differences of NaN logits, a metric derived from them) become null:
    # JSON has neither, and a strict reader of eval.json would otherwise fail on it.
    # No split for data without splits (a file): none was read, and validate() refuses a --split passed back.
    # As distill-train's eval.json records it.
    split = args.split if reads_split(args.data) else None
    report = json_safe({"metrics": result["metrics"], "options": {**vars(args), "split": split, "device": device},
                        "predictions": result["predictions"], "null_diffs": result["null_diffs"]})
    out, html = out_paths(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    from augment.report.eval_page import eval_page

    html.write_text(eval_page(rows, result, note=shlex.join([PROG, "--model", args.model, "--data", args.data])),
                    encoding="utf-8")
    print(format_table(result["metrics"]))
    print(f"wrote {out} and {html}")
    return report


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except (InputError, ValueError, OSError) as e:
        message = " ".join(str(e).split()) or type(e).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
