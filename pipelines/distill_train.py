"""distill-train: two-stage TinyBERT task distillation for extractive QA (SQuAD 2.0).

    distill-train --data data/aug squad_v2 --out runs/tiny \
        --teacher deepset/bert-base-uncased-squad2 --student huawei-noah/TinyBERT_General_6L_768D

Stage "intermediate": MSE on hidden states (through trained projections) and on pre-softmax attention
scores, student layer m against teacher layer m*k. Stage "prediction": KL at temperature T on the start/end
distributions over context + CLS, mixed with hard-label cross-entropy. "both" runs one then the other on the
same student, as the seed model was made (Jiao et al., 2020; the Haystack 1.x recipe of the seed card).
``--teacher none`` fine-tunes on the hard labels alone, which is how a teacher is made.

Read top to bottom: options and their validation (nothing heavy is loaded until every option is known to
be good), setup, the training loop of one stage, checkpoints, evaluation and saving, ``main``. What this recipe
calls lives in augment/distill/: the option checks (options), the paths it reads and writes (paths), the run in
--out and its resume checks (resume), the models as files (models), the pair checks (pair), one step's losses and
optimizer (steps), the teacher-logit cache as the processes get it together (teacher_step), and what it reports
(summary, records, divergence, eval_report).
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import time
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

from augment import hub, outdir, versions
from augment.distill import records
from augment.distill.device_defaults import default_attention_form, fused_adamw, length_multiple, loader_options
from augment.distill.divergence import TrainingDiverged, diverged_message, logged_values
from augment.distill.models import load_pretrained, load_weights, model_fingerprints, save_model, teacher_files
from augment.distill.options import (ATTENTION_FORMS, COMPILE_MODES, CUDA_GRAPH_MODES, STAGE_ONLY, STAGES,
                                     idle_options, range_problems, resolve_defaults, value_problems)
from augment.distill.pair import check_models
from augment.distill.paths import default_cache_dir, folder_problems, named_once, named_sources, source_problems
from augment.distill.resume import remove_run, run_problems, token_types_change, write_config
from augment.distill.steps import accumulated, adamw_with_warmup, micro_batch_losses, optimizer_step
from augment.distill.summary import count, rates, summary
from augment.errors import ConfigError, InputError, NaNLogits, SourceProblems
from augment.weights import untrained
from pipelines import ranks
from pipelines.cli import (DefaultsOnce, Once, Parser, bars_shown, expand_tilde, given_options, library_bars,
                           no_effect)

PROG = "distill-train"


# ----------------------------------------------------------------------------- options
class _Parser(Parser):
    def error(self, message):  # one line, exit code 2: usage is one --help away
        print(f"{PROG}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description=__doc__.split("\n\n")[0], formatter_class=DefaultsOnce,
                epilog="An option given that this run never uses is refused, at any value typed, its default "
                       "included: one of a stage it does not run "
                       "(--lr-intermediate with --stage prediction or --teacher none, --temperature with --stage "
                       "intermediate or --teacher none), --eval-split without --eval or with an --eval file. One that another option "
                       "switches off (--temperature or --teacher-cache with --distill-weight 0, --cache-batch-size "
                       "with --teacher-cache off, --projection for a student as wide as its teacher, "
                       "--dist-timeout in a run of one process) gets a warning. --epochs with --max-steps is the "
                       "documented override. --teacher, --student, --out, --eval and --cache-dir given twice with "
                       "two values are refused (--data and --prediction-data read every source given). Progress "
                       "bars (this command's, datasets' and transformers') are drawn only when stderr is a "
                       "terminal, by the first process alone.")
    # "extend": --data a --data b reads both, as --data a b does; with nargs="+" alone the last --data replaced
    # the earlier ones, and a run trained on part of its data without a word.
    p.add_argument("--data", nargs="+", action="extend", required=True, metavar="SRC",
                   help="augment-squad output directories and/or SQuAD JSON/JSONL files, directories, hub ids "
                        "(several after one --data, or one --data each)")
    p.add_argument("--prediction-data", nargs="+", action="extend", metavar="SRC",
                   help="data of the prediction stage when it differs from --data (as Haystack's distillation "
                        "guide: intermediate stage on the augmented set, prediction stage on the original one); "
                        "default: --data")
    p.add_argument("--projection", choices=("shared", "per-layer"), default="shared",
                   help="intermediate stage, student width != teacher width: shared is the paper's (one W_h for "
                        "all hidden layers, one W_e for the embeddings); per-layer trains one per layer pair")
    p.add_argument("--teacher", default="deepset/bert-base-uncased-squad2", type=expand_tilde, action=Once,
                   help="QA teacher: hub id or path, or 'none' for plain fine-tuning on hard labels")
    p.add_argument("--student", default="huawei-noah/TinyBERT_General_6L_768D", type=expand_tilde, action=Once,
                   help="student: hub id or path")
    p.add_argument("--out", required=True, type=expand_tilde, action=Once, help="output directory")
    p.add_argument("--stage", choices=("intermediate", "prediction", "both"),
                   help="intermediate: hidden states and attention scores against the teacher's; prediction: "
                        "start/end logits (KL to the teacher's, mixed with hard labels by --distill-weight); "
                        "both: one then the other on the same student. Default: both, or prediction with "
                        "--teacher none")
    p.add_argument("--eval", metavar="SRC", action=Once, hint="the run evaluates on one source: evaluate the "
                   "student on others with squad-eval",
                   help="evaluate at the end on a hub id (squad_v2), FILE.json (official SQuAD, or a JSON array "
                        "of rows), FILE.jsonl or DIR (save_to_disk, or a directory of .json/.jsonl files)")
    p.add_argument("--eval-split", default="validation", help="split of a hub or saved DatasetDict --eval dataset "
                                                              "(refused for an --eval without splits, such as a file)")
    p.add_argument("--eval-limit", type=int, help="evaluate on the first N examples only (default: all)")
    p.add_argument("--batch-size", type=int, default=26, help="windows per process per micro-batch")
    p.add_argument("--max-length", type=int, default=384, help="tokens per window (question + context)")
    p.add_argument("--doc-stride", type=int, default=128, help="tokens of overlap between windows of a long context")
    p.add_argument("--epochs", type=int, default=5, help="epochs per stage")
    p.add_argument("--max-steps", type=int, help="optimizer steps per stage (overrides --epochs; default: from --epochs)")
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    p.add_argument("--lr-intermediate", type=float, default=5e-5, help="peak learning rate, intermediate stage")
    p.add_argument("--lr-prediction", type=float, default=3e-5, help="peak learning rate, prediction stage")
    p.add_argument("--warmup", type=float, default=0.1,
                   help="linear warm-up proportion, then linear decay; the warm-up is that share of a stage's "
                        "steps rounded down, as Haystack rounds it (none in a stage of fewer than 1/proportion steps)")
    p.add_argument("--weight-decay", type=float, default=0.01, help="AdamW weight decay (not on biases and LayerNorm)")
    p.add_argument("--embedding-dropout", type=float, default=0.1, help="dropout on the student's embeddings")
    p.add_argument("--temperature", type=float, default=1.0, help="T of the prediction-layer KL (scaled by T^2)")
    # default None: validate() tells an explicit weight (refused with --teacher none) from none given.
    p.add_argument("--distill-weight", type=float,
                   help="w in w*kd + (1-w)*ce (default: 1; 0 with --teacher none: hard labels only)")
    prec = p.add_mutually_exclusive_group()
    prec.add_argument("--bf16", action="store_true", help="bfloat16 mixed precision")
    prec.add_argument("--fp16", action="store_true", help="float16 mixed precision with loss scaling (CUDA)")
    p.add_argument("--seed", type=int, default=42,
                   help="seeds data order, dropout and projection init; each stage's random numbers come from "
                        "(seed, stage), so a stage run alone draws as it does within --stage both; under torchrun "
                        "each process but the first draws its dropout from (seed, stage, process)")
    p.add_argument("--group-by-length", action="store_true",
                   help="batch windows of similar length together (within runs of 64 batches, the batches then "
                        "shuffled), so less padding is computed: faster on GPUs when many windows are shorter "
                        "than --max-length; off by default (the seed card's batches are random)")
    p.add_argument("--pad-to-multiple-of", type=int, metavar="N",
                   help="pad each training batch to its longest window rounded up to a multiple of N tokens (at "
                        "most --max-length). Default: 1 on the CPU, 16 on CUDA; under --compile --max-length "
                        "(one shape to compile), or 64 with --group-by-length (at most --max-length/64 lengths, "
                        "each compiled once per model and stage). Padding changes no result, but a batch's shape decides its dropout "
                        "draws: changing N, like --compile, makes a resumed run differ from an uninterrupted one")
    p.add_argument("--eval-every", type=int, default=0,
                   help="evaluate every N steps and at the end of each stage (0: at the end only)")
    p.add_argument("--save-every", type=int, default=1000, help="checkpoint every N optimizer steps")
    p.add_argument("--keep-checkpoints", type=int, default=2, help="newest checkpoints kept on disk")
    p.add_argument("--log-every", type=int, default=10, help="append to metrics.jsonl every N steps")
    p.add_argument("--report-to", choices=("none", "tensorboard"), default="none",
                   help="also log every metrics.jsonl record through accelerate's trackers (tensorboard: "
                        "OUT/tensorboard/, needs the tensorboard extra)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the earlier run in --out (its config, records, checkpoints, students and evaluation "
                        "are removed once the models have loaded; other files stay)")
    p.add_argument("--num-workers", type=int,
                   help="data-loading worker processes (default: 4 per process on CUDA, at most the cores per "
                        "process; 0 on the CPU, whose cores do the training)")
    p.add_argument("--cache-batch-size", type=int, default=256,
                   help="windows per batch when caching the teacher's logits (forward only, so larger than training's)")
    p.add_argument("--compile", nargs="?", const="default", choices=COMPILE_MODES, metavar="MODE",
                   help="torch.compile the student and the teacher for training (every batch then padded to "
                        "--max-length: one shape; with --group-by-length to a multiple of 64 tokens: a few "
                        "shapes, see --pad-to-multiple-of). MODE: 'default' (what --compile alone means), "
                        "'reduce-overhead' (CUDA graphs: one launch per graph instead of one per kernel; "
                        "needs --grad-accum 1), 'max-autotune-no-cudagraphs' or 'max-autotune'. The teacher "
                        "cache and evaluation, whose batch lengths vary, run uncompiled")
    p.add_argument("--attention-loss", choices=("auto", *ATTENTION_FORMS), default="auto",
                   help="how the intermediate stage's attention loss compares scores: 'factored' from d x d Gram "
                        "matrices of Q and K (no T x T tensor; float32), 'direct' by forming the T x T score "
                        "difference as one product (autocast dtype); 'auto' is factored on the CPU, where it measured faster, and "
                        "direct on CUDA until measured there (README). Equal up to rounding")
    p.add_argument("--tokenize-workers", type=int,
                   help="processes for tokenising into windows (default: the machine's cores, at most 8, for "
                        "inputs of over 2,000 examples; 1 for smaller ones, where starting processes costs more)")
    p.add_argument("--dist-timeout", type=int, default=7200,
                   help="seconds a process waits for the others in a collective: the main process alone "
                        "tokenises the data (and joins the teacher-logit parts), which can take longer than "
                        "torch's 10-minute default on the full augmented set (under torchrun with several "
                        "processes; a run of one process waits for none)")
    p.add_argument("--teacher-cache", choices=("on", "off"), default="on",
                   help="prediction stage: cache the teacher's logits (Arrow, float16) in --cache-dir; off: compute "
                        "them live at every step")
    p.add_argument("--cache-dir", type=expand_tilde, action=Once,
                   help="where windows and teacher logits are cached (default: .distill-cache/ "
                        "beside the first local --data source, or OUT/cache with hub ids only)")
    p.add_argument("--trust-remote-code", action="store_true", help="allow model code from the hub repository")
    p.add_argument("--limit", type=int, help="use only the first N examples of the --data sources together, in "
                                            "order (and of --prediction-data): handy for tests (default: all)")
    return p


def validate(args) -> None:
    """Check every option without loading anything heavy; raise one ConfigError listing all problems."""
    try:  # first: idle_options and --resume read the number of processes (WORLD_SIZE=two: int()'s traceback)
        job = ranks.launch()
    except ranks.LaunchError as e:
        raise ConfigError(str(e)) from None
    # Typed on the command line, at any value (its default too); an option left out is not one given.
    given = given_options(args, {opt for options in STAGE_ONLY.values() for opt in options} | {
        "eval_every", "eval_limit", "eval_split", "dist_timeout"})
    problems = resolve_defaults(args)  # --stage and --distill-weight, by --teacher
    problems += value_problems(args, given)
    # Options of a part this run does not have: silently ignored, they hide a mistaken command.
    idle = idle_options(args, job.world_size)
    refused, warnings = no_effect(args, idle, given)
    problems += refused
    problems += range_problems(args)
    # Each source exists; what the training data holds now: config.json records it, a resume compares it.
    named = named_sources(args.data, args.prediction_data, args.eval)
    found, fingerprints = source_problems(named, args.data, args.prediction_data, args.eval_split)
    problems += found
    vars(args).update(fingerprints)
    # What a local teacher and student hold now: the same folder may hold another model later (a teacher trained
    # again into it), and a resume would then continue the run with it.
    args.teacher_fingerprint = args.student_fingerprint = None
    try:
        vars(args).update(model_fingerprints(args.teacher, args.student))
    except OSError as e:
        problems.append(f"{e.filename}: cannot be read ({e.strerror})")
    if args.fp16:
        import torch

        if not torch.cuda.is_available():
            problems.append("--fp16 needs a CUDA device; use --bf16 on CPU")
    # --out: an earlier run there, and whether a --resume continues it (another number of processes batches,
    # schedules and seeds otherwise: not the same run).
    found, said = run_problems(Path(args.out), args.resume, args.overwrite,
                               vars(args) | {"processes": job.world_size}, {opt for opt, _, _ in idle})
    problems += found
    warnings += said
    problems += folder_problems(args.out, args.cache_dir, args.data, named)  # --out and the cache folder
    from augment.report.tracking import check_available

    problems += filter(None, [check_available(args.report_to)])
    # Last, since a hub id costs a probe of the hub (a few seconds at most, and only offline).
    problems += hub.model_problems([("--teacher", args.teacher), ("--student", args.student)], hub.CLI_FIXES)
    if problems:
        raise ConfigError("; ".join(problems))
    if job.rank == 0:  # the same for every process: one copy under torchrun
        for warning in warnings:
            print(f"{PROG}: warning: {warning}", file=sys.stderr)


# ----------------------------------------------------------------------------- the recipe
class DistillRecipe:
    """setup() -> run() -> save(); one instance per process."""

    # Under --compile, also compile the intermediate losses? Off: the one GPU measurement (BENCHMARKS.md 5c) did not
    # show it faster; benchmarks/gpu_distill.py measures both.
    compile_losses = False
    # How the attention loss compares scores, over --attention-loss when set: benchmarks/gpu_distill.py sets the
    # form auto did not pick, to measure both in one process.
    attention_form: str | None = None

    def __init__(self, args):
        self.args = args
        self.out = Path(args.out)
        self.stages = STAGES if args.stage == "both" else (args.stage,)
        self.teacher_types = None  # the teacher tokenizer's pair template, when the windows need its type ids
        self.ask_token_types = False  # whether the windows ask the student's tokenizer for token type ids
        self.teacher_layers = None  # the teacher layers the intermediate stage reads (_build_stage)
        self.pred_loss = None  # the prediction stage's loss (_build_stage)

    # ---- setup ------------------------------------------------------------
    def setup(self) -> None:
        import torch
        from accelerate import Accelerator, DistributedDataParallelKwargs, InitProcessGroupKwargs
        from accelerate.utils import set_seed
        from transformers import AutoModelForQuestionAnswering

        from augment.qa.evaluate import read_rows
        from augment.qa.features import cut_questions, cut_warning

        a = self.args
        # accelerate only starts a CPU process group (gloo) when told the run is CPU-only; without it each
        # torchrun process would train alone on everything.
        cpu_ddp = not torch.cuda.is_available() and ranks.launch().world_size > 1  # (validate checked it)
        self.ddp_kwargs = DistributedDataParallelKwargs()  # find_unused_parameters is set per stage
        self.acc = Accelerator(cpu=cpu_ddp, mixed_precision="bf16" if a.bf16 else "fp16" if a.fp16 else "no",
                               log_with=None if a.report_to == "none" else a.report_to, project_dir=str(self.out),
                               kwargs_handlers=[self.ddp_kwargs,
                                                InitProcessGroupKwargs(timeout=timedelta(seconds=a.dist_timeout))])
        self.main = self.acc.is_main_process
        self.to_scalars = None
        if a.report_to != "none":
            from augment.report import tracking

            # --resume: written again from metrics.jsonl by run(), up to the checkpoint; --overwrite: a new run.
            # Before init_trackers, which opens the new event file in that folder.
            if (a.resume or a.overwrite) and self.main:
                shutil.rmtree(self.out / tracking.RUN_NAME, ignore_errors=True)
            self.acc.init_trackers(tracking.RUN_NAME, config=tracking.hparams(vars(a)))
            self.to_scalars = tracking.Scalars()
        self.amp_dtype = torch.bfloat16 if a.bf16 else torch.float16 if a.fp16 else None
        self.loading = loader_options(self.acc.device.type, a.num_workers, self.acc.num_processes, os.cpu_count())

        # Everything cheap first: configs and tokenizers decide whether the pair can work at all. Every problem
        # found is reported at once, before the data is tokenised and the weights load.
        self.tokenizer = load_pretrained("tokenizer", a.student, a.trust_remote_code)
        s_cfg = load_pretrained("config", a.student, a.trust_remote_code)
        t_tok = t_cfg = None
        if a.teacher != "none":
            t_tok = load_pretrained("tokenizer", a.teacher, a.trust_remote_code)
            t_cfg = load_pretrained("config", a.teacher, a.trust_remote_code)
        problems, self.teacher_types, self.ask_token_types = check_models(
            self.tokenizer, s_cfg, t_tok, t_cfg, a.student, a.teacher, "intermediate" in self.stages, a.max_length,
            a.doc_stride, a.trust_remote_code)
        if problems:
            raise ConfigError("; ".join(problems))
        if (a.teacher != "none" and "intermediate" in self.stages
                and given_options(a, {"projection"}) and s_cfg.hidden_size == t_cfg.hidden_size):  # known only now, from the configs
            # Equal widths: the hidden states are compared as they are (augment.distill.hidden_loss). A warning,
            # not a refusal: one command may run over students of several widths.
            self.log(f"warning: --projection {a.projection} has no effect: the student and the teacher are both "
                     f"{s_cfg.hidden_size} wide, so no projection is trained")
        # Every source is read before any is tokenised, and what cannot be read is reported for all of them at
        # once: offline, --data squad_v2 --eval squad_v2 named the --eval alone, and the --data on the next run.
        # (Whether a hub dataset loads offline only loading it tells; validate() cannot ask datasets' cache.) A source
        # that several options give is named once, after them (augment.distill.paths.named_once).
        said, self.eval_rows = [], None  # (option, line) of each problem
        if a.eval:
            # Checked now, not at the first evaluation mid-training; a bad row is named by its file and position.
            try:
                self.eval_rows = read_rows(a.eval, a.eval_split, "--eval", a.eval_limit)
            except InputError as e:
                said.append(("--eval", str(e)))
        data_options = {}  # distinct list of sources -> the options that give it (its words: the first's)
        for stage in self.stages:
            own = stage == "prediction" and a.prediction_data
            options = data_options.setdefault(tuple(a.prediction_data if own else a.data), [])
            if (option := "--prediction-data" if own else "--data") not in options:
                options.append(option)
        examples = {}
        for src, options in data_options.items():
            try:
                examples[src] = self._examples(list(src), options[0])
            except InputError as e:
                said += [(option, line) for option in options
                         for line in (e.problems if isinstance(e, SourceProblems) else [str(e)])]
        if said:
            raise InputError("; ".join(named_once(said)))
        if self.eval_rows is not None and self.main:  # as squad-eval says it of its --data: cut alike
            cut = cut_questions([r["question"] for r in self.eval_rows], self.tokenizer, a.max_length, a.doc_stride)
            if warning := cut_warning(cut, len(self.eval_rows), self.tokenizer, a.max_length, a.doc_stride,
                                      "--eval"):
                self.log(warning)

        # Data: one Dataset of squad_v2 rows -> windows, cached beside the data (main process first); the
        # prediction stage has its own when --prediction-data is given.
        self.cache_dir = Path(a.cache_dir) if a.cache_dir else default_cache_dir(a.data, self.out)
        built = {src: self._windows(list(src), examples[src], options[0]) for src, options in data_options.items()}
        self.stage_data = {stage: built[tuple(a.prediction_data if stage == "prediction" and a.prediction_data
                                              else a.data)] for stage in self.stages}
        self.key, self.features, self.windows = self.stage_data[self.stages[0]]

        # Models. Weights load as safetensors where the repo has them (transformers' default).
        set_seed(a.seed)  # a fresh QA head and the projections are initialised from this
        # float32 weights whatever the checkpoint's dtype: autocast (--bf16/--fp16) does mixed precision.
        self.student = load_weights(AutoModelForQuestionAnswering, "student", a.student, a.trust_remote_code)
        self.student_attn = self.student.config._attn_implementation
        embeddings = getattr(getattr(self.student, self.student.base_model_prefix, None), "embeddings", None)
        if embeddings is not None and hasattr(embeddings, "dropout"):
            embeddings.dropout.p = a.embedding_dropout
        self.teacher = None
        if a.teacher != "none":
            self.teacher, info = load_weights(AutoModelForQuestionAnswering, "teacher", a.teacher,
                                              a.trust_remote_code, output_loading_info=True)
            # A bare encoder or another task's checkpoint loads with a random QA head: its start/end logits would
            # be noise distilled into the student. The intermediate stage reads hidden states and scores alone.
            if "prediction" in self.stages and a.distill_weight > 0 and \
                    (lacks := untrained(self.teacher, info, "question-answering")):
                raise ConfigError(f"--teacher {a.teacher} has {lacks}, so the prediction stage would distil random "
                                  "start and end logits; pass a teacher trained for question answering (distill-train "
                                  "--teacher none fine-tunes one), or --stage intermediate")
            self.teacher.to(self.acc.device).eval()
            self.teacher.requires_grad_(False)
            self.teacher_attn = self.teacher.config._attn_implementation
        if a.compile:
            self.compile_models(a.compile)
        for stage in self.stages:
            if len(self.stage_data[stage][2]) < self.acc.num_processes:
                raise ConfigError(f"{count(len(self.stage_data[stage][2]), 'training window')} of the {stage} stage "
                                  f"cannot be shared by {self.acc.num_processes} processes")

    def compile_models(self, mode: str) -> None:
        """``--compile MODE``: dynamo set up (``configure_dynamo``), then the student and the teacher compiled in
        place, each run once eagerly first if the intermediate stage will ask it for hidden states
        (``install_output_hooks``). The benchmarks call this too, so they measure what distill-train runs."""
        from augment.distill.compilation import compile_in_place, configure_dynamo, install_output_hooks

        a = self.args
        multiple = length_multiple(self.acc.device.type, a.pad_to_multiple_of, a.compile, a.group_by_length,
                                   a.max_length)
        configure_dynamo(lengths=-(-a.max_length // multiple))
        for model in (self.student, self.teacher):
            if model is not None:
                if "intermediate" in self.stages:
                    install_output_hooks(model)
                compile_in_place(model, mode)

    def uncompiled(self):
        """A context in which the compiled models run eagerly: the teacher cache and evaluation, whose batch
        lengths vary (one compilation, or one CUDA-graph recording, per length) and which are measured fast
        enough without (BENCHMARKS.md section 5)."""
        import torch

        return torch.compiler.set_stance("force_eager") if self.args.compile else nullcontext()

    def _examples(self, sources, option: str):
        """The ``squad_v2`` rows of ``sources`` (which ``option`` named) as one Dataset, main process first."""
        from augment.distill import data

        with self.acc.main_process_first():
            return data.load_examples(sources, "train", self.args.limit, option)

    def _windows(self, sources, examples, option: str):
        """(cache key, tokenised features, WindowDataset) of ``examples``, the rows of ``sources`` (which
        ``option`` named)."""
        from augment.distill import data
        from augment.qa.features import cut_questions, cut_warning

        a = self.args
        key = data.features_key(sources, "train", a.limit, self.tokenizer, a.max_length, a.doc_stride,
                                self.teacher_types, self.ask_token_types)
        with self.acc.main_process_first():
            workers = a.tokenize_workers or (min(8, os.cpu_count() or 1) if len(examples) > 2000 else 1)
            features = data.tokenize(examples, self.tokenizer, self.cache_dir, key, a.max_length,
                                     a.doc_stride, num_proc=workers, token_types=self.teacher_types,
                                     with_token_types=self.ask_token_types)
        if self.main:
            if gone := data.remove_old_labels(self.cache_dir, key):
                self.log(f"removed {count(len(gone), 'windows cache file')} labelled by an earlier version, which "
                         f"no run reads again: {', '.join(f.name for f in gone)}")
            # A stride near --max-length cuts questions silently (and multiplies the windows).
            cut = cut_questions(examples["question"], self.tokenizer, a.max_length, a.doc_stride)
            if warning := cut_warning(cut, len(examples), self.tokenizer, a.max_length, a.doc_stride, option):
                self.log(warning)
        return key, features, data.WindowDataset(features)

    # ---- one stage --------------------------------------------------------
    def _build_stage(self, stage: str):
        """The trainable module, its optimizer and linear schedule, and the number of steps for ``stage``."""
        from augment.distill import IntermediateDistiller, LayerMap, PredictionLoss, use_score_attention
        from augment.distill.compilation import compile_in_place
        from augment.distill.intermediate import cast_frozen_linears
        from augment.distill.flops import StageCost
        from augment.qa.attention import set_fast_attention

        a = self.args
        self.key, self.features, self.windows = self.stage_data[stage]  # --prediction-data: its own windows
        if stage == "intermediate":
            use_score_attention(self.student)
            use_score_attention(self.teacher)
            lm = LayerMap(self.student.config.num_hidden_layers, self.teacher.config.num_hidden_layers)
            # The projections live inside the distiller, so they exist before the optimizer and are in it.
            form = self.attention_form or a.attention_loss
            if form == "auto":
                form = default_attention_form(self.acc.device.type)
            module = IntermediateDistiller(self.student, lm, self.teacher.config.hidden_size, a.projection, form)
            lr = a.lr_intermediate
            self.teacher_layers = module.teacher_layers  # the teacher computes scores for these layers only
            # The frozen teacher's linears in the autocast dtype for this stage: the same bits, ~150 fewer copy
            # kernels per step (train_stage puts the float32 weights back at its end).
            self.restore_teacher = cast_frozen_linears(self.teacher, self.amp_dtype)
            if a.compile and self.compile_losses:
                # The losses' elementwise work (for the direct attention form, over (B, H, T, T) tensors of
                # every layer pair) is a pass over memory per op eager; compiled, fused kernels (and, with CUDA
                # graphs, no launches of their own). Not yet shown to pay, so off.
                for loss in (module.hidden_loss, module.attention_loss):
                    compile_in_place(loss, a.compile)
        else:
            # No scores wanted: the stock implementation, SDPA wherever the model has it.
            self.student.set_attn_implementation(self.student_attn)
            set_fast_attention(self.student)
            if self.teacher is not None:
                self.teacher.set_attn_implementation(self.teacher_attn)
                set_fast_attention(self.teacher)
            module, lr = self.student, a.lr_prediction
            self.pred_loss = PredictionLoss(a.temperature, a.distill_weight if self.teacher is not None else 0.0)
        # At --distill-weight 0 the loss is the hard labels' alone and _loss never runs the teacher: no FLOPs for it.
        teacher_live = self.teacher is not None and a.teacher_cache == "off" and a.distill_weight > 0
        self.cost = StageCost.of(stage, self.student.config, getattr(self.teacher, "config", None), teacher_live)
        total = self.total_steps(stage)
        # The schedule is not prepared by accelerate: it is built for exactly the steps this process takes.
        optimizer, scheduler = adamw_with_warmup(module, lr, a.weight_decay, a.warmup, total,
                                                 fused=fused_adamw(self.acc.device.type))
        return module, optimizer, scheduler, total

    def total_steps(self, stage: str) -> int:
        """The optimizer steps of ``stage``: --max-steps, or --epochs of this process's share of its windows."""
        a = self.args
        batches = math.ceil(len(self.stage_data[stage][2]) // self.acc.num_processes / a.batch_size)
        return a.max_steps or a.epochs * math.ceil(batches / a.grad_accum)

    def _teacher_logits(self):
        """The prediction stage's source of teacher logits: the Arrow cache (built once, by every process together:
        augment.distill.teacher_step), or None (live, or none needed)."""
        # --distill-weight 0: no kd term reads the logits, so a whole teacher pass over the windows would be wasted.
        if self.teacher is None or self.args.teacher_cache == "off" or self.args.distill_weight == 0:
            return None
        from augment.distill import teacher_cache, teacher_step

        a, acc = self.args, self.acc
        # Named by everything that changes its bits (autocast, batch size, processes): another run's is not reused.
        path = teacher_cache.cache_path(self.cache_dir, self.key, self.teacher, a.cache_batch_size, acc.num_processes,
                                        self.amp_dtype, teacher_files(a.teacher, a.teacher_fingerprint))
        with self.uncompiled():
            return teacher_step.cached_logits(
                self.teacher, self.features, path, self._processes(), batch_size=a.cache_batch_size,
                device=acc.device, autocast_dtype=self.amp_dtype, progress=self.main and bars_shown(), log=self.log,
                report=lambda *measured: self.report("teacher_cache", *measured))

    def _processes(self):
        """This process and the run's collectives, as augment.distill.teacher_step takes them."""
        import torch
        from accelerate.utils import broadcast_object_list

        from augment.distill.teacher_step import Processes

        acc = self.acc

        def summed(counts: list) -> list:
            return acc.reduce(torch.tensor(counts, dtype=torch.int64, device=acc.device), "sum").tolist()
        return Processes(acc.process_index, acc.num_processes, acc.wait_for_everyone,
                         agree=lambda value: broadcast_object_list([value])[0] if acc.num_processes > 1 else value,
                         summed=summed)

    def _loss(self, stage, model, batch):
        """``stage``'s losses of one micro-batch (augment.distill.steps.micro_batch_losses)."""
        return micro_batch_losses(stage, model, batch, self.teacher, self.teacher_layers, self.pred_loss,
                                  self.acc.autocast)

    def train_stage(self, stage_index: int, stage: str, resume: dict | None) -> None:
        import functools

        import torch
        from accelerate.utils import set_seed
        from tqdm.auto import tqdm

        from augment.distill.checkpoint import own_stream, set_rng_state, stage_seed
        from augment.distill.compilation import compile_counts, compiled_since
        from augment.distill.data import (EpochBatches, WindowDataset, accumulation_shares, global_batches,
                                          trim_padding, window_lengths)

        a, acc = self.args, self.acc
        # Every stage starts its generators from (--seed, stage), before its projections are drawn: a stage run
        # alone draws the dropout masks it draws within --stage both (the data order is (seed, epoch)'s already).
        set_seed(stage_seed(a.seed, stage))
        module, optimizer, scheduler, total = self._build_stage(stage)
        # The projections are drawn alike by every process (DDP would broadcast process 0's anyway); dropout is
        # each process's own from here, process 0's the stream a single process draws. A resume then puts back
        # each process's state as it saved it (rng-<rank>.pt): from a checkpoint of an earlier version, the
        # stream the processes shared, to the end of that stage, so that it continues exactly the run it was.
        own_stream(a.seed, stage, acc.process_index)
        epoch, start_batch, step = 0, 0, 0
        if resume is not None:  # put every piece back exactly as it was at the checkpoint
            module.load_state_dict(resume["model"])
            optimizer.load_state_dict(resume["optimizer"])
            scheduler.load_state_dict(resume["scheduler"])
            epoch, start_batch, step = resume["state"]["epoch"], resume["state"]["batch"], resume["state"]["step"]
            if resume["rng"] is not None:
                set_rng_state(resume["rng"])
            if resume["scaler"] is not None and acc.scaler is not None:  # fp16 loss scale
                acc.scaler.load_state_dict(resume["scaler"])
        # DDP must be told that the QA head takes no part in the intermediate-stage losses.
        self.ddp_kwargs.find_unused_parameters = stage == "intermediate"
        unreached = module.unreached_parameters() if stage == "intermediate" else []
        model, optimizer = acc.prepare(module, optimizer)
        cached = self._teacher_logits() if stage == "prediction" else None
        windows = self.windows if cached is None else WindowDataset(self.features, cached)
        # Under DDP the intermediate losses' means over each process's tokens are weighted by its share of the
        # step's tokens (accumulation_shares), as are the micro-batches of an accumulated step: the processes hold
        # as many windows each, but not as many tokens. The prediction losses average over windows: equal shares.
        by_process = stage == "intermediate" and acc.num_processes > 1
        lengths = window_lengths(self.features) if a.group_by_length or a.grad_accum > 1 or by_process else None
        # Right padding is cut per batch, to a multiple of this (under --compile: the few shapes compiled).
        pad_to = length_multiple(acc.device.type, a.pad_to_multiple_of, a.compile, a.group_by_length, a.max_length)
        model.train()
        notes = {"attention_loss": module.attention_loss.form} if stage == "intermediate" else {}
        compiled_before = compile_counts() if a.compile else {}
        per_step = a.batch_size * a.grad_accum * acc.num_processes
        self.log(f"{stage} stage: {count(len(self.windows), 'window')}, {count(total, 'step')} of {a.batch_size} x "
                 f"{a.grad_accum} x {acc.num_processes} window{'' if per_step == 1 else 's'}"
                 + (f", from step {step}" if step else "")
                 + "".join(f", {k.replace('_', ' ')} {v}" for k, v in notes.items()))
        bar = tqdm(total=total, initial=step, desc=stage, dynamic_ncols=True,
                   disable=not (self.main and bars_shown()))
        graphs = a.compile in CUDA_GRAPH_MODES
        # Throughput bookkeeping on the host only (windows, summed lengths and squared lengths of the batches
        # as computed): the device is asked for nothing until a log step. A resumed stage goes on from the
        # checkpoint's totals, so that its summary covers the whole stage.
        paused = [0.0]  # seconds spent saving checkpoints and evaluating: not training time

        def clock() -> float:
            return time.perf_counter() - paused[0]

        tally = self._tally(clock, resume["state"].get("totals") if resume else None, step)
        parts = {}
        last_finite = None  # the last log step whose losses were finite
        # One loader for the stage, given each epoch's batches: its workers (CUDA) persist from one epoch to the
        # next instead of starting again. Its own generator: a DataLoader iterator otherwise draws a seed from the
        # global RNG, so a resumed run (one more iterator) would drop out different units than the uninterrupted
        # one. The generator, reseeded per epoch, seeds only the workers' own RNGs (persistent: once, at the
        # stage's first epoch), and they draw nothing (WindowDataset and trim_padding are deterministic): the
        # batches, from (seed, epoch) through the sampler, are what decides the data, as before.
        sampler, generator = EpochBatches(), torch.Generator()
        loader = torch.utils.data.DataLoader(windows, batch_sampler=sampler,
                                             collate_fn=functools.partial(trim_padding, pad_to=pad_to),
                                             **self.loading, generator=generator)
        while step < total:
            # Every process's batches (each takes its part of each), so that each can weigh its part of a step.
            everyone = global_batches(len(windows), a.batch_size, a.seed, epoch, acc.num_processes,
                                      lengths=lengths if a.group_by_length else None)
            batches = [b[acc.process_index::acc.num_processes].tolist() for b in everyone]
            sampler.batches = batches[start_batch:]  # before the loader starts the epoch, which reads them
            generator.manual_seed(a.seed + epoch)
            for i, batch in enumerate(loader, start=start_batch):
                group_start = (i // a.grad_accum) * a.grad_accum
                group_end = min(group_start + a.grad_accum, len(batches))
                group = group_end - group_start  # micro-batches in this step
                last = i + 1 == group_end
                tally.add(*batch["input_ids"].shape)                     # (B, T) after trimming
                # On the host: no device sync (model_inputs). Compiled, the mask is always given: a batch without
                # padding would be a second variant of every graph (one more compilation and CUDA-graph recording).
                # The price: such a batch, rare when every batch is padded to --max-length, cannot use SDPA's
                # flash kernel (not measured).
                padded = bool(a.compile) or not bool(batch["attention_mask"].all())
                batch = {k: v.to(acc.device, non_blocking=True) for k, v in batch.items()}
                batch["padded"] = padded
                if graphs:  # a new step: the graphs may reuse the memory of the last step's outputs
                    torch.compiler.cudagraph_mark_step_begin()
                with nullcontext() if last else acc.no_sync(model):  # all-reduce once per optimizer step
                    losses = self._loss(stage, model, batch)
                    if group > 1 or by_process:  # else no multiplication kernels (forward and backward) at all
                        losses = accumulated(stage, losses, accumulation_shares(
                            everyone[group_start:group_end], i - group_start, lengths, acc.process_index,
                            acc.num_processes))
                    acc.backward(losses["loss"])
                # Reported: the step's means, summed over its micro-batches (still on the device).
                parts = {k: v.detach() if group == 1 else parts.get(k, 0) + v.detach() for k, v in losses.items()}
                if not last:
                    continue
                lr = optimizer_step(model, optimizer, scheduler, acc.clip_grad_norm_, unreached)
                step += 1
                bar.update(1)
                next_pos = (epoch, i + 1) if i + 1 < len(batches) else (epoch + 1, 0)
                if step % a.log_every == 0 or step == total:
                    values = logged_values(parts, lambda v: acc.reduce(v, "mean"))  # the step's one sync
                    speed = rates(*tally.mark(), self.cost)  # every process's counts: one more all-reduce, of 3 ints
                    # NaN and inf are not JSON: such a value is recorded as null, and the run stops here (checked
                    # at log steps only, where the values come to the host anyway: a NaN weight never recovers).
                    # processes: as the summaries carry it, so that a reader tells a 2-process log (whose
                    # windows/s are the job's) from a 1-process one without config.json beside it.
                    self.metrics({"stage": stage, "step": step, "epoch": epoch, "lr": lr,
                                  **values, **speed, "processes": acc.num_processes})  # non-finite: null (metrics)
                    if not all(math.isfinite(v) for v in values.values()):
                        raise TrainingDiverged(diverged_message(stage, step, values, getattr(a, f"lr_{stage}"),
                                                                last_finite))
                    last_finite = step
                    bar.set_postfix({k: f"{v:.4f}" for k, v in values.items()} | {"win/s": speed["windows_per_s"]})
                t_pause = time.perf_counter()
                saves = step % a.save_every == 0 or step == total
                # The running totals as of this step (before an evaluation), for the checkpoint to carry.
                totals = tally.totals(compiled_since(compiled_before)) if saves else None
                # Evaluated before this step's checkpoint is written: a run killed during the evaluation resumes
                # from an earlier checkpoint and evaluates again. After it, the resumed run would start past the
                # evaluation, which metrics.jsonl (and TensorBoard) would never get. Evaluating draws no random
                # numbers, so the checkpoint's RNG states are those of an uninterrupted run either way.
                if self.evaluates_at(stage, step, total):
                    self.evaluate(stage, step)
                    model.train()
                if saves:
                    self.save_checkpoint(stage_index, stage, model, optimizer, scheduler, step, *next_pos,
                                         done=step == total, totals=totals)
                paused[0] += time.perf_counter() - t_pause
                parts = {}
                if step >= total:
                    break
            epoch, start_batch = epoch + 1, 0
        bar.close()
        if stage == "intermediate":
            self.restore_teacher()
        if compiled_before:
            notes.update(tally.with_compiled(compiled_since(compiled_before)))
        self._summary(stage, tally, total, notes)
        self.student = acc.unwrap_model(model) if stage == "prediction" else acc.unwrap_model(model).student
        self.student.set_attn_implementation(self.student_attn)
        if stage == "intermediate":
            self.save_intermediate_student()
        acc.free_memory()

    def evaluates_at(self, stage: str, step: int, total: int) -> bool:
        """Whether ``--eval-every`` evaluates after ``step`` of ``stage`` (of ``total`` steps): at every multiple
        of it and at the stage's last step, so that each stage's curve ends where the stage does. The last stage's
        last step is left to the final evaluation, which scores the saved student; an earlier stage's (the
        intermediate stage of --stage both) has no other."""
        if not self.args.eval_every:
            return False
        if step == total:
            return stage != self.stages[-1]
        return step % self.args.eval_every == 0

    def save_intermediate_student(self) -> None:
        """With --stage both: the student as the intermediate stage left it, so that other prediction stages can
        start from it (--stage prediction --student OUT/student-intermediate) without training this stage again."""
        if len(self.stages) > 1 and self.main:
            save_model(self.student, self.tokenizer, self.out / "student-intermediate")

    def _tally(self, clock, carried: dict | None, step: int):
        """The stage's :class:`augment.distill.tally.StageTally`: every process's counts, summed over the processes
        (an all-reduce of 3 ints) at log steps and checkpoints alone; a checkpoint's ``carried`` totals read as the
        number of processes that this run has."""
        import torch

        from augment.distill.tally import StageTally

        acc = self.acc

        def summed(counts: list) -> list:
            return acc.reduce(torch.tensor(counts, dtype=torch.int64, device=acc.device), "sum").tolist()
        return StageTally(clock, carried, step, summed if acc.num_processes > 1 else None, acc.num_processes)

    def _summary(self, stage: str, tally, total: int, extra: dict | None = None) -> None:
        """End of stage: throughput over the whole stage and in steady state (from the first log step on,
        which leaves out start-up, compilation and the first batches); ``extra`` joins the summary record.
        ``tally`` (augment.distill.tally) covers steps ``tally.from_step + 1`` to ``total``: all of them unless
        the run resumed from a checkpoint that carried no totals, which the record and the line then say."""
        if tally.steady_from is None:  # no log step: nothing was trained
            return
        whole = rates(tally.start, tally.last, self.cost)
        steady_from = tally.steady_start()
        steady = rates(steady_from, tally.last, self.cost) if steady_from is not None else whole
        covers = {"steps": total - tally.from_step}
        if tally.from_step:
            covers["from_step"] = tally.from_step
        self.report(stage, tally.last[1]["windows"], tally.last[0] - tally.start[0],
                    None, steady=steady, whole=whole, extra={**covers, **(extra or {})})

    def report(self, what: str, windows: int, seconds: float, flops: float | None, steady=None, whole=None,
               extra: dict | None = None):
        """One line on stderr and a ``summary`` record in metrics.jsonl (augment.distill.summary.summary)."""
        import torch

        device = torch.cuda.get_device_name(self.acc.device) if self.acc.device.type == "cuda" else "cpu"
        record, line = summary(what, windows, seconds, flops, device, self.acc.num_processes, steady, whole, extra)
        self.metrics({"stage": what, "summary": record})
        self.log(line)

    # ---- checkpoints, metrics, evaluation ----------------------------------
    def save_checkpoint(self, stage_index, stage, model, optimizer, scheduler, step, epoch, batch, done,
                        totals=None):
        """``totals``: the stage's running totals (augment.distill.tally), for a resumed run's summary."""
        from augment.distill import checkpoint

        root = self.out / "checkpoints"
        final = root / checkpoint.name(stage_index, stage, step)
        tmp = final.with_name(final.name + ".tmp")
        if self.main:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        self.acc.wait_for_everyone()
        checkpoint.write_rng(tmp, self.acc.process_index)
        self.acc.wait_for_everyone()
        if self.main:
            state = {"stage_index": stage_index, "stage": stage, "step": step, "epoch": epoch, "batch": batch,
                     "stage_done": done, "totals": totals}
            checkpoint.write_main(tmp, final, self.acc.unwrap_model(model).state_dict(), optimizer, scheduler,
                                  state, self.args.keep_checkpoints, scaler=self.acc.scaler)
        self.acc.wait_for_everyone()

    def _restore_records(self, state: dict) -> None:
        """metrics.jsonl as it stood at the checkpoint ``state`` (augment.distill.records.keep_until). The
        trackers' event files (removed in setup()) get the kept records again: TensorBoard would otherwise draw a
        killed run's steps after the checkpoint beside their repeats, and it has no way to drop them but by step
        across every stage."""
        path = self.out / "metrics.jsonl"
        if not self.main or not path.exists():
            return
        kept = records.keep_until(path, self.stages, state)
        if self.to_scalars is not None:
            for record in kept:
                self.acc.log(*self.to_scalars(record))

    def metrics(self, record: dict) -> None:
        if self.main:
            record = records.append(self.out / "metrics.jsonl", record)  # non-finite values as null
            if self.to_scalars is not None:
                self.acc.log(*self.to_scalars(record))

    def log(self, msg: str) -> None:
        if self.main:
            print(f"{PROG}: {msg}", file=sys.stderr)

    def evaluate(self, stage: str, step: int):
        """The SQuAD 2.0 metric on --eval (main process); writes eval.json and eval.html
        (augment.distill.eval_report) and prints the table."""
        if self.eval_rows is None:
            return None
        result = None
        if self.main:
            from augment.distill import eval_report
            from augment.qa.evaluate import evaluate, format_table, nonfinite_warning

            a = self.args
            model = self.acc.unwrap_model(self.student).eval()
            with self.uncompiled():
                result = evaluate(model, self.tokenizer, self.eval_rows, max_length=a.max_length,
                                  doc_stride=a.doc_stride, batch_size=2 * a.batch_size, n_best=eval_report.N_BEST,
                                  max_answer_length=eval_report.MAX_ANSWER_LENGTH, device=self.acc.device,
                                  autocast_dtype=self.amp_dtype, progress=bars_shown())
            if warning := nonfinite_warning(result["nonfinite"], len(self.eval_rows)):
                self.log(warning)
            self.metrics({"stage": stage, "step": step, "eval": result["metrics"]})
            options = eval_report.squad_eval_options(
                self.out / "student" if step == "final" else None, a.eval, a.eval_split, a.eval_limit, a.max_length,
                a.doc_stride, 2 * a.batch_size, self.acc.device.type, self.amp_dtype)
            eval_report.write(self.out, self.eval_rows, result, stage, step, options,
                              note=f"{PROG}: {stage} stage, step {step}, {a.eval}")
            print(format_table(result["metrics"]))
        self.acc.wait_for_everyone()
        return result

    # ---- the whole run ------------------------------------------------------
    def run(self) -> None:
        from augment.distill import checkpoint

        resume = None
        if self.args.resume:
            ckpt = checkpoint.latest(self.out / "checkpoints")
            if ckpt is not None:
                resume = checkpoint.read(ckpt, self.acc.process_index)
                s, total = resume["state"], self.total_steps(resume["state"]["stage"])
                if s["step"] > total:  # the data is not the checkpoint's (a run that recorded no fingerprints)
                    raise ConfigError(f"--resume: {ckpt} is at step {s['step']} of the {s['stage']} stage, which "
                                      f"now has {count(total, 'step')}; --overwrite starts the run again")
                self.log(f"resuming from {ckpt}")
                self._restore_records(resume["state"])
            else:  # killed before its first checkpoint: it starts again, and so do its records
                self._restore_records({"stage_index": 0, "stage": self.stages[0], "step": 0, "stage_done": False})
        for stage_index, stage in enumerate(self.stages):
            here = None
            if resume is not None:
                s = resume["state"]
                if s["stage_index"] > stage_index:
                    continue  # the checkpoint holds this stage's result already
                if s["stage_done"]:  # finished stage: keep its weights, train nothing
                    prefix = "student." if s["stage"] == "intermediate" else ""
                    self.student.load_state_dict({k.removeprefix(prefix): v for k, v in resume["model"].items()
                                                  if k.startswith(prefix)})
                    # No random state to put back: the next stage seeds its own (train_stage).
                    # Killed between the stage's last checkpoint and the save of its student, or by an older
                    # version in the middle of that save: save it now.
                    saved = self.out / "student-intermediate"
                    if s["stage"] == "intermediate" and hub.local_problem("", str(saved.absolute())) is not None:
                        self.save_intermediate_student()
                    resume = None
                    continue
                here, resume = resume, None
            self.train_stage(stage_index, stage, here)

    def save(self) -> None:
        if self.main:
            path = self.out / "student"
            save_model(self.acc.unwrap_model(self.student), self.tokenizer, path)
            self.log(f"saved the student to {path}")
        self.acc.wait_for_everyone()


# ----------------------------------------------------------------------------- entry point
def main(argv=None) -> int:
    """Under torchrun, each error line comes from the first process to ask (:mod:`pipelines.ranks`): one line for
    an error that every process meets, and the line of the process that failed when one does; the others, whose
    next collective fails as that one exits, stay quiet."""
    args = build_parser().parse_args(argv)
    ranks.end_with_agent()  # a torchrun agent killed outright leaves no process writing --out beside the rerun
    try:
        return run_command(args)
    except BaseException as e:  # Ctrl-C, another process gone: how to go on, in one line, not a traceback
        replacing = args.overwrite and not _began
        if from_ctrl_c(e):
            if ranks.rank_zero():
                print(f"{PROG}: {interrupted(Path(args.out), replacing)}", file=sys.stderr)
            return 130  # 128 + SIGINT, what a shell reports for a command Ctrl-C stopped
        words = ranks.lost_peer(e) if isinstance(e, Exception) else None
        if words is None:
            ranks.first_to_report()  # a failure of its own, as a traceback: the others' lost connections stay quiet
            raise
        if ranks.first_to_report():  # the process that exited said nothing: killed (torchrun's report names it)
            event = f"error: another process of this run stopped ({words})"
            print(f"{PROG}: {interrupted(Path(args.out), replacing, event)}", file=sys.stderr)
        return 1


def from_ctrl_c(error: BaseException) -> bool:
    """Whether ``error`` is a KeyboardInterrupt or was raised while handling one: datasets' multi-process
    map (--tokenize-workers above 1) answers Ctrl-C with a TimeoutError from its pool's clean-up."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


# Set once --out holds this run's config.json: before that, an --overwrite run has not yet removed the earlier
# run, whose checkpoints are not this run's to resume.
_began = False


def interrupted(out: Path, replacing: bool = False, event: str = "interrupted") -> str:
    """What a run in ``out`` that stopped (``event``: Ctrl-C, or another process gone) can do next; ``replacing``:
    an --overwrite run stopped before it removed the earlier run."""
    from augment.distill import checkpoint

    if replacing:
        return (f"{event} before the run began; the earlier run in --out is as it was: rerun with --overwrite "
                "to replace it")
    ckpt = checkpoint.latest(out / "checkpoints")
    if ckpt is not None:
        return f"{event}; the newest checkpoint is {ckpt}: rerun with --resume to continue from it"
    if (out / "config.json").exists():
        return f"{event} before the first checkpoint: rerun with --resume to start the run again"
    return f"{event} before the run began: nothing to resume"


def run_command(args) -> int:
    """``main`` past the parser: the exit code."""
    global _began
    _began = False
    try:
        validate(args)
        versions.require_transformers()  # an older one fails later, mid-setup or mid-step, in its own words
    except ConfigError as e:
        # The options and files are the same for every process: under torchrun one copy of the line is enough
        # (each process still exits with 2, so torchrun reports the failure).
        return error_once(e, 2)

    library_bars()  # datasets' "windows:" map and transformers' loading and saving bars follow the recipe's own
    try:
        recipe = DistillRecipe(args)
        made = outdir.missing_dirs(args.out)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        try:
            recipe.setup()
        except BaseException:  # nothing written yet: leave no empty --out that looks like a run
            outdir.remove_empty(made)
            raise
        if recipe.main and args.overwrite:  # the models loaded: now the earlier run may go
            # (not a tensorboard folder this run reports to: setup() removed it before it was opened)
            remove_run(Path(args.out), keep=("tensorboard",) if args.report_to != "none" else ())
        if recipe.main:  # on --resume too: options that may change there (--eval, --log-every) are recorded
            if args.resume and (warning := token_types_change(Path(args.out), recipe.ask_token_types)):
                recipe.log(f"warning: {warning}")
            write_config(Path(args.out), vars(args), recipe.acc.num_processes, recipe.ask_token_types)
        _began = True
        recipe.run()
        # Saved before the final evaluation: an evaluation that fails (or is killed) must not lose the trained
        # student, and eval.json's options name it for squad-eval to score again.
        recipe.save()
        recipe.evaluate(recipe.stages[-1], "final")
        recipe.acc.end_training()  # closes the trackers' writers
    except (ConfigError, InputError) as e:  # a model pair, the data, a checkpoint: the same for every process
        return error_once(e, 2)
    except TrainingDiverged as e:  # every process reduced the same values: one copy of the line
        return error_once(e, 1)
    except NaNLogits as e:  # an evaluation's (main process): the student is broken as a diverged one is, and the
        # final evaluation comes after recipe.save(), so the student is there to look at
        return error_once(e, 1)
    return 0


def error_once(error: Exception, code: int) -> int:
    """Print ``error`` as the command's one error line, from the first process to ask (:func:`ranks.first_to_report`:
    the one that met it, when one alone did, such as its own damaged checkpoint file); return ``code``."""
    if ranks.first_to_report():
        print(f"{PROG}: error: {error}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
