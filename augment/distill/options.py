"""distill-train's options checked alone and together, before anything loads: each function returns the problems
it finds, in words naming the option and its value, for the recipe's one error line (listed in the order the
recipe calls them). ``args``: the namespace of the recipe's parser; ``given``: the options typed on the command
line (pipelines.cli.given_options). Nothing here imports torch but the --compile check, which needs it.

    >>> from argparse import Namespace
    >>> args = Namespace(teacher="none", stage=None, distill_weight=None)
    >>> resolve_defaults(args), args.stage, args.distill_weight
    ([], 'prediction', 0.0)
"""
from __future__ import annotations

import math

STAGES = ("intermediate", "prediction")
FLOAT_OPTIONS = ("lr_intermediate", "lr_prediction", "warmup", "weight_decay", "embedding_dropout", "temperature",
                 "distill_weight")
MAX_DIST_TIMEOUT = 999_999_999 * 86_400  # seconds: datetime.timedelta's limit in whole days
# torch.compile's modes. The two with CUDA graphs replay each step's kernels from one recording: the loop marks
# where a step begins, and a graph's outputs live only until the next step.
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")
# augment.distill.attention_loss.FORMS, named here so that --help does not import torch (a test pins them equal).
ATTENTION_FORMS = ("factored", "direct")

# What each option that only part of a run uses is for, to name it when the run has no such part (idle_options).
STAGE_ONLY = {"intermediate": {"lr_intermediate": "the intermediate stage's learning rate",
                               "projection": "part of the intermediate stage's loss",
                               "attention_loss": "part of the intermediate stage's loss"},
              "prediction": {"lr_prediction": "the prediction stage's learning rate",
                             "distill_weight": "the prediction stage's weight of the teacher's logits",
                             "temperature": "part of the prediction stage's distillation term",
                             "teacher_cache": "where the prediction stage gets the teacher's logits",
                             "cache_batch_size": "the batch size of the prediction stage's teacher-logit cache"}}
TEACHER_LOGITS = ("temperature", "teacher_cache", "cache_batch_size")  # read only where teacher logits are


def resolve_defaults(args) -> list[str]:
    """Set the defaults that depend on --teacher: --stage (prediction alone without a teacher, else both) and
    --distill-weight (0 without a teacher: the weight actually used is recorded); the problems of a --distill-weight
    or --stage that --teacher none cannot have."""
    problems = []
    if args.stage is None:
        args.stage = "prediction" if args.teacher == "none" else "both"
    if args.teacher == "none" and args.distill_weight not in (None, 0):
        # It would be recorded as 0 and train on the hard labels alone: a silent no-op.
        problems.append(f"--distill-weight {args.distill_weight:g} weights the teacher's logits and --teacher none "
                        "has none: leave --distill-weight out (hard labels only)")
    # No teacher, no distillation term: the weight actually used is recorded.
    args.distill_weight = 0.0 if args.teacher == "none" else 1.0 if args.distill_weight is None else args.distill_weight
    if args.teacher == "none" and args.stage != "prediction":
        problems.append(f"--stage {args.stage} needs a teacher; with --teacher none only --stage prediction "
                        "(plain fine-tuning) is possible")
    return problems


def value_problems(args, given: set[str]) -> list[str]:
    """An option whose value no run takes: the windows squad-eval would refuse, counts below 1, a --compile this
    torch cannot run or whose CUDA graphs cannot accumulate, an out-of-range --dist-timeout or --seed, floats that
    are not finite, a negative weight decay; options of an evaluation that will not happen."""
    from augment.qa.features import window_problems
    from augment.sources import split_problem

    # The window options as squad-eval checks them: eval.json records them for squad-eval to repeat.
    problems = window_problems(args.max_length, args.doc_stride)
    for opt in ("batch_size", "epochs", "grad_accum", "save_every", "log_every",
                "keep_checkpoints", "cache_batch_size"):
        if getattr(args, opt) < 1:
            problems.append(f"--{opt.replace('_', '-')} must be >= 1, got {getattr(args, opt)}")
    for opt in ("max_steps", "limit", "eval_limit", "pad_to_multiple_of"):
        if getattr(args, opt) is not None and getattr(args, opt) < 1:
            problems.append(f"--{opt.replace('_', '-')} must be >= 1, got {getattr(args, opt)}")
    if args.tokenize_workers is not None and args.tokenize_workers < 1:
        problems.append(f"--tokenize-workers must be >= 1, got {args.tokenize_workers}")
    if args.compile:
        import torch

        if not hasattr(torch.compiler, "set_stance"):  # the teacher cache and evaluation run eagerly through it
            problems.append("--compile needs torch 2.6 or later (torch.compiler.set_stance), found "
                            f"{torch.__version__}")
    if args.compile in CUDA_GRAPH_MODES and args.grad_accum > 1:
        # The gradients a CUDA-graph replay hands back live in the graph's memory, which the next micro-batch's
        # replay reuses: accumulating into them across replays is not something we have measured to be safe.
        problems.append(f"--compile {args.compile} (CUDA graphs) needs --grad-accum 1, got {args.grad_accum}; "
                        "use --compile default to accumulate")
    if args.dist_timeout < 1:
        problems.append(f"--dist-timeout must be >= 1, got {args.dist_timeout}")
    elif args.dist_timeout > MAX_DIST_TIMEOUT:  # timedelta's limit: an OverflowError traceback otherwise
        problems.append(f"--dist-timeout must be at most {MAX_DIST_TIMEOUT} (999,999,999 days), "
                        f"got {args.dist_timeout}")
    # accelerate's set_seed seeds NumPy's legacy generator, which takes 0 .. 2**32 - 1 only (a traceback otherwise).
    if not 0 <= args.seed < 2 ** 32:
        problems.append(f"--seed must be in [0, 2**32 - 1], got {args.seed}")
    # float() takes 'nan' and 'inf': a NaN learning rate is AdamW's traceback after the models load, an infinite
    # one or temperature a NaN loss for every step of a run that then reports success.
    for opt in FLOAT_OPTIONS:
        if not math.isfinite(getattr(args, opt)):
            problems.append(f"--{opt.replace('_', '-')} must be a finite number, got {getattr(args, opt)}")
    if math.isfinite(args.weight_decay) and args.weight_decay < 0:
        problems.append(f"--weight-decay must be >= 0, got {args.weight_decay}")
    if args.eval is None:  # options of an evaluation that will not happen: a typo'd command, not a silent no-op
        problems += [f"--{opt.replace('_', '-')} needs --eval" for opt in ("eval_every", "eval_limit", "eval_split")
                     if opt in given]
    elif "eval_split" in given:  # as silent a no-op with an --eval that has no splits (a file)
        problems += filter(None, [split_problem("--eval-split", args.eval_split, "--eval", args.eval)])
    return problems


def idle_options(args, world_size: int) -> list[tuple[str, str, bool]]:
    """The options that take no part in this run, whatever their value: (option, why, refused) each. Refused
    (an option of a stage the run does not have, which no workflow gives on purpose), or only warned about
    where another option's value switches it off (``--distill-weight 0``, ``--teacher-cache off``): a sweep over
    that value passes the rest unchanged; so is --dist-timeout in a run of one process (``world_size`` 1), which
    the launch switches off (one script may run ``torchrun --nproc-per-node $GPUS`` on a one-GPU machine).
    ``args`` as :func:`resolve_defaults` left them (its stage, its weight)."""
    stages = STAGES if args.stage == "both" else (args.stage,)
    runs = "--teacher none runs the prediction stage alone" if args.teacher == "none" else \
        f"--stage {args.stage} runs the {args.stage} stage alone"
    idle = [(opt, f"it is {what}, and {runs}", True)
            for stage, options in STAGE_ONLY.items() if stage not in stages for opt, what in options.items()]
    if "prediction" in stages:
        what = STAGE_ONLY["prediction"]
        if args.teacher == "none":  # (its --distill-weight is refused by resolve_defaults, in words of its own)
            idle += [(opt, f"it is {what[opt]}, and --teacher none has no teacher", True) for opt in TEACHER_LOGITS]
        elif args.distill_weight == 0:
            idle += [(opt, f"it is {what[opt]}, and --distill-weight 0 reads no teacher logits", False)
                     for opt in TEACHER_LOGITS]
        elif args.teacher_cache == "off":
            idle.append(("cache_batch_size", f"it is {what['cache_batch_size']}, and --teacher-cache off builds "
                                             "none", False))
    if world_size < 2:  # torchrun sets WORLD_SIZE in each process; accelerate reads it too
        idle.append(("dist_timeout", "it is how long a process waits for the others, and this run is a single "
                                     "process (not started by torchrun with several)", False))
    return idle


def range_problems(args) -> list[str]:
    """The ranges of the counts that may be 0 and of the finite floats (a float that is not finite is named by
    :func:`value_problems` alone), and --prediction-data in a run that has one stage."""
    problems = []
    for opt in ("eval_every", "num_workers"):
        if getattr(args, opt) is not None and getattr(args, opt) < 0:
            problems.append(f"--{opt.replace('_', '-')} must be >= 0, got {getattr(args, opt)}")
    finite = {opt for opt in FLOAT_OPTIONS if math.isfinite(getattr(args, opt))}  # the others are named above
    if "temperature" in finite and args.temperature <= 0:
        problems.append(f"--temperature must be > 0, got {args.temperature}")
    if "distill_weight" in finite and not 0 <= args.distill_weight <= 1:
        problems.append(f"--distill-weight must be in [0, 1], got {args.distill_weight}")
    if "warmup" in finite and not 0 <= args.warmup < 1:
        problems.append(f"--warmup must be in [0, 1), got {args.warmup}")
    for opt in ("lr_intermediate", "lr_prediction"):
        if opt in finite and getattr(args, opt) <= 0:
            problems.append(f"--{opt.replace('_', '-')} must be > 0, got {getattr(args, opt)}")
    if "embedding_dropout" in finite and not 0 <= args.embedding_dropout < 1:
        problems.append(f"--embedding-dropout must be in [0, 1), got {args.embedding_dropout}")
    if args.prediction_data and args.stage == "intermediate":
        problems.append("--prediction-data is the data of the prediction stage; --stage intermediate has none")
    elif args.prediction_data and args.stage == "prediction":
        # The one stage would train on --prediction-data alone: --data would be fingerprinted, recorded and never read.
        problems.append(f"--prediction-data {' '.join(args.prediction_data)} with --stage prediction"
                        f"{' (the stage of --teacher none)' if args.teacher == 'none' else ''}: the only stage would "
                        f"train on it and --data {' '.join(args.data)} would go unused; pass the prediction "
                        "stage's data as --data")
    return problems
