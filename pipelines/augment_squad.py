"""augment-squad: SQuAD 2.0 to TinyBERT-augmented Arrow shards, resumable and distributed.

    augment-squad --input squad_v2 --out data/aug --multiplier 20
    torchrun --nproc_per_node 8 -m pipelines.augment_squad --input squad_v2 --out data/aug

How the work is cut, so that the rows never depend on --batch-size, the number of processes or where a
killed run was resumed:
- a *paragraph* is a run of consecutive input rows with the same context (about 7 SQuAD questions);
  its candidates are computed once (the augmenter caches them per context);
- a *block* is a run of whole paragraphs holding at least --shard-rows output rows (the last one may
  hold fewer). Where a block ends depends only on the input and the options, and every rank computes
  it by reading (and validating) the whole input, which costs little next to augmenting;
- block k becomes ``shard-{k:05d}.arrow``, augmented by the first rank to claim it once done with its
  last block (:class:`augment.manifest.BlockClaims`): fast ranks take more. When it is complete
  and renamed into place, ``.progress/shard-{k:05d}.json`` records its rows, SHA-256, counts and
  rejects. A rerun skips the blocks that have both files, once rank 0 has checked each shard against its
  record (a damaged one is rebuilt): it resumes after the last complete shard;
- rank 0 waits for every rank, then writes ``rejects.jsonl``, ``manifest.json`` and the
  ``dataset_info.json``/``state.json`` pair listing the shards in block order, so
  ``datasets.load_from_disk(DIR)`` gives the same rows in the same order for 1 or N processes.
"""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from datetime import timedelta
from itertools import chain
from pathlib import Path

from augment import __version__, hub, manifest, outdir, outlock, versions
from augment.blockjob import BlockJob, BlockQueue, Timers, WriteError, writing
from augment.blocks import walk
from augment.errors import ConfigError, InputError
from augment.fingerprints import fingerprint
from augment.glove import VOCAB_LIMIT
from augment.outconfig import (LM_ONLY, config_problem, hub_fingerprint, is_local_model, model_fingerprints,
                               output_config, recorded_option)
from augment.rowpool import DrawSpec, RowPool, frozen_heap
from augment.segment import STOPWORD_LISTS
from augment.shards import atomic_write_json, hf_schema, write_dataset_files
from augment.sources import augment_run, source_problem, split_problem
from augment.squad_io import iter_located, iter_rows
from augment.summary import all_rejected, already_complete, finished, model_info, run_manifest
from pipelines import ranks
from pipelines.cli import (DefaultsOnce, Once, Parser, bars_shown, expand_tilde, given_options, library_bars,
                           no_effect)

PROG = "augment-squad"
CACHE_TEXTS = 2048  # texts kept cached: > a chunk's contexts (not always its questions too: --augment-question)
MLM_FIXES = "pass a local model directory (--mlm PATH) or --mlm none (GloVe only, no model), or {download}"


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


# -- options --------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, formatter_class=DefaultsOnce,
               description="Augment SQuAD 2.0 TinyBERT-style (masked-LM and GloVe word "
                           "replacement) with char-exact answer spans, into Arrow shards "
                           "that datasets.load_from_disk(OUT) reads.",
               epilog="An option given that this run never uses is refused, at any value typed, its default "
                      "included: a masked-LM option (--mlm-mode, --mlm-context, --mask-rate, --batch-size, "
                      "--max-batch-tokens, --dtype, --device, --trust-remote-code) with --mlm none, and --split "
                      "with an input without splits. One that another option switches off (--mask-rate with "
                      "--mlm-mode exact) gets a warning. A file or model option (--input, --out, --mlm, --glove, "
                      "--stopwords) given twice with two different values is refused.")
    a = p.add_argument
    a("--input", default="squad_v2", action=Once,
      hint="augment-squad reads one source (a folder of .json/.jsonl files is one): run it once per source, "
           "each into its own --out, and give distill-train every --out as --data",
      help="a hub dataset id, or a local file or directory: an official SQuAD JSON file, a JSON array of "
           "squad_v2 rows, a JSON-lines file of squad_v2 rows (a .jsonl is read as JSON lines; a file of any "
           "other suffix, .json included, is told apart by its content), a datasets save_to_disk directory, "
           "or a directory of .json/.jsonl files (each in any of those formats, read in name order, e.g. "
           "data/sample); one source: a second --input is refused")
    a("--split", default="train", help="split of a hub dataset or a saved DatasetDict (refused for an input without splits, such as a file)")
    a("--out", required=True, type=expand_tilde, action=Once,
      help="output directory (required); rerunning the same command resumes")
    a("--multiplier", type=int, default=20, help="augmented variants per question")
    a("--mlm", default="bert-base-uncased", type=expand_tilde, action=Once,
      help="masked LM id or path, or 'none' (GloVe only)")
    a("--glove", default="default", type=expand_tilde, action=Once,
      help="'default' (GloVe 6B 50d, offline), a vectors file, or 'none'")
    a("--top-k", type=int, default=15, help="candidates per word")
    a("--replace-prob", type=float, default=0.4,
      help="probability in (0, 1] that a replaceable word is replaced (0 would only copy the originals)")
    a("--mlm-mode", choices=("exact", "multi"), default="exact",
      help="exact: one masked copy per word; multi: several words masked per copy (fast)")
    a("--mlm-context", choices=("masked", "paired"), default="masked",
      help="masked: the masked text alone (with exact: Haystack's input); paired: the masked text then the "
           "original as a sentence pair (with exact: TinyBERT's input, about twice the cost)")
    a("--mask-rate", type=float, default=0.15, help="share of tokens masked per copy in multi mode")
    a("--answer-policy", choices=("keep", "replace"), default="keep",
      help="keep: never edit a word in an answer; replace: words wholly inside answers may change")
    a("--augment-question", action="store_true", help="replace words of the question too")
    a("--stopwords", default="nltk", type=expand_tilde, action=Once, metavar="nltk|tinybert|FILE",
      help="words never replaced: NLTK's 179 English stopwords, TinyBERT's list (NLTK's without the 8 "
           "wh-words, plus 's and 're), or a file of one word per line")
    a("--variant-draw", choices=("distinct", "independent"), default="distinct",
      help="distinct: redraw a variant that repeats another; independent: one draw per variant, duplicates "
           "dropped (TinyBERT), so a question may get fewer rows")
    a("--keep-question-words", action="store_true",
      help="never replace a context word that the question also uses (ignoring case and accents; stopwords aside)")
    a("--include-original", action="store_true", help="also write each original row (variant 0, no edits)")
    a("--batch-size", type=int, default=64,
      help="masked-LM sequences per forward pass, padded and sorted by length across paragraphs")
    a("--max-batch-tokens", type=int, default=None,
      help="also close a pass before it exceeds this many padded tokens; a sequence longer than the "
           "budget runs alone (default: no budget)")
    a("--workers", default="auto",
      help="processes that draw variants and encode rows beside the one that finds candidates; 0: in that "
           "one. auto: the machine's cores (per local rank) less one, up to 8, with a masked LM on CUDA and "
           "with --mlm none (no model: the same with or without a GPU, but 0 where that would be a single worker); 0 "
           "with a masked LM on the CPU, whose threads use the cores (BENCHMARKS.md). The rows are the same for any value")
    a("--device", choices=("auto", "cpu", "cuda"), default="auto",
      help="device of the masked LM; auto: CUDA when available. On CUDA under torchrun each rank takes "
           "cuda:(LOCAL_RANK modulo the GPUs present), so several ranks may share one GPU")
    a("--dtype", choices=("auto", "float32", "bfloat16", "float16"), default="auto",
      help="masked-LM autocast dtype; auto: bfloat16/float16 on CUDA, float32 on CPU")
    a("--trust-remote-code", action="store_true",
      help="allow model code from the --mlm hub repository (off by default: only transformers' own code runs)")
    a("--seed", type=int, default=0, help="seed of the variant draws")
    a("--limit", type=int, default=None, help="read only the first N input examples (default: all)")
    a("--shard-rows", type=int, default=50_000,
      help="rows per shard (a shard holds whole paragraphs and closes at the first one that reaches this)")
    a("--strict", action="store_true", help="stop with exit code 2 at the first invalid record")
    a("--overwrite", action="store_true",
      help="start afresh, deleting this tool's files in --out (without it, a rerun resumes, and an --out "
           "written with another configuration is refused)")
    a("--report", action="store_true", help="also write OUT/report.html (as augment-report OUT does)")
    a("--quiet", action="store_true",
      help="no progress bars, neither this command's nor datasets', transformers' or the hub's downloads (without "
           "it they are drawn only when stderr is a terminal, and under torchrun by rank 0 alone)")
    return p


def idle_options(args) -> list[tuple[str, str, bool]]:
    """The options that take no part in this run, whatever their value: (option, why, refused) each, by
    distill-train's rule (augment.distill.options.idle_options). Refused: a masked-LM option with --mlm none, a
    part the run does not have. Only warned about: --mask-rate, which --mlm-mode exact switches off, so that a
    sweep over the mode passes the rest unchanged."""
    if args.mlm.lower() == "none":
        return [(opt, f"it is {what}, and --mlm none runs no masked LM (GloVe only)", True)
                for opt, what in LM_ONLY.items()]
    if args.mlm_mode == "exact":
        return [("mask_rate", f"it is {LM_ONLY['mask_rate']}, and --mlm-mode exact masks one word per copy",
                 False)]
    return []


def check_options(args) -> list[str]:
    """Every problem at once, before any model or data loads; returns the warnings (options another option
    switches off), for rank 0 to print."""
    problems = list(filter(None, [source_problem("--input", args.input)]))  # "$IN" unset: not "."
    if given_options(args, {"split"}):  # for an input without splits: a silent no-op
        problems += filter(None, [split_problem("--split", args.split, "--input", args.input)])
    # Options of a part this run does not have: silently ignored, they hide a mistaken command.
    idle = idle_options(args)
    refused, warnings = no_effect(args, idle, given_options(args, {opt for opt, _, _ in idle}))
    problems += refused
    for name, low in (("multiplier", 1), ("top_k", 1), ("batch_size", 1), ("shard_rows", 1), ("seed", 0)):
        if getattr(args, name) < low:
            problems.append(f"--{name.replace('_', '-')} {getattr(args, name)}: use an integer >= {low}")
    if args.max_batch_tokens is not None and args.max_batch_tokens < 1:
        problems.append(f"--max-batch-tokens {args.max_batch_tokens}: use an integer >= 1")
    # isdecimal, not isdigit: "²" is a digit that int() refuses.
    if args.workers != "auto" and not (args.workers.isdecimal() and int(args.workers) <= 64):
        problems.append(f"--workers {args.workers}: use 'auto' or an integer from 0 to 64")
    if args.limit is not None and args.limit < 1:
        problems.append(f"--limit {args.limit}: use an integer >= 1")
    if args.replace_prob == 0:  # every variant would be the original: n copies of it, or none at all
        problems.append("--replace-prob 0.0: no word would ever be replaced, so every variant would repeat the "
                        "original; use a probability in (0, 1] (with --include-original to write the originals "
                        "too), or use the input as it is")
    elif not 0.0 < args.replace_prob <= 1.0:
        problems.append(f"--replace-prob {args.replace_prob}: use a probability in (0, 1]")
    if not 0.0 < args.mask_rate <= 0.5:
        problems.append(f"--mask-rate {args.mask_rate}: use a value in (0, 0.5]")
    if args.stopwords not in STOPWORD_LISTS and not Path(args.stopwords).is_file():
        problems.append(f"--stopwords {args.stopwords}: no such file; use nltk, tinybert or a word-list file")
    elif args.stopwords not in STOPWORD_LISTS:
        # Read now: the augmenter reads it after the input's fingerprint, and its error names --mlm and --glove.
        try:
            Path(args.stopwords).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            problems.append(f"--stopwords {args.stopwords}: cannot read it ({type(e).__name__}); use nltk, tinybert "
                            "or a UTF-8 file of one word per line")
    if args.glove.lower() in ("default", "none"):  # spelled as --mlm none may be: NONE, None
        args.glove = args.glove.lower()
    if args.glove != "none" and args.top_k > VOCAB_LIMIT:  # more neighbours than words: see augment.glove
        problems.append(f"--top-k {args.top_k}: more than the {VOCAB_LIMIT} GloVe words kept, so no word has "
                        f"that many neighbours; use an integer from 1 to {VOCAB_LIMIT}")
    if args.mlm.lower() == "none" and args.glove == "none":
        problems.append("--mlm none with --glove none: no candidates at all; keep one of them")
    if args.glove not in ("default", "none") and not Path(args.glove).is_file():
        what = "a directory, not a file" if Path(args.glove).is_dir() else "no such file"
        problems.append(f"--glove {args.glove}: {what}; use 'default', 'none' or a vectors file")
    out_problem = outdir.out_problem("--out", args.out) or \
        outdir.source_folder_problem("--out", args.out, args.out, [("--input", args.input)])
    # Any other folder read as data too, which check_out refuses only without --overwrite (not empty, no earlier run):
    # with it, the shards and state.json went among the folder's files. An earlier augment-squad run in --out is
    # check_out's to resume, or to refuse as another configuration.
    if not out_problem and not augment_run(args.out):
        out_problem = outdir.data_folder_problem("--out", args.out, args.out, [("--input", args.input)],
                                                 own_folder=True, suffix="-aug")
    if out_problem:
        problems.append(out_problem)
    elif args.report and (Path(args.out) / "report.html").is_dir():  # else found when the page is renamed onto it,
        # after the whole run (augment-report refuses it up front the same way)
        problems.append(f"--report: {Path(args.out) / 'report.html'} is a directory, where the page goes; remove it")
    # Last: the hub is probed (a few seconds at most) only when a hub --mlm is asked for.
    problems += hub.model_problems([("--mlm", args.mlm)], fixes=MLM_FIXES)
    # Under --mlm none both are refused above, with no model to run on CUDA.
    if args.mlm.lower() != "none" and (args.device == "cuda" or args.dtype == "float16"):
        import torch

        if not torch.cuda.is_available():
            problems.append(f"--device {args.device} --dtype {args.dtype}: CUDA is not available here; "
                            "use --device cpu with --dtype float32 or bfloat16")
    if problems:
        raise CliError("; ".join(problems))
    return warnings


def shard_rows_warning(args) -> str | None:
    """A warning when one example's rows exceed --shard-rows. A shard holds whole paragraphs, and one example's
    rows are drawn and encoded together (with the edits of all its variants, to keep them distinct), so
    memory then grows with --multiplier, not with --shard-rows (one 5.5 KB context at x20000 with --mlm none:
    1.7 GB peak, of which the GloVe vectors and the interpreter are 0.8 GB; with a masked LM loaded, more)."""
    rows = args.multiplier + int(args.include_original)
    if rows <= args.shard_rows:
        return None
    return (f"{PROG}: warning: --multiplier {args.multiplier} gives each example {rows} rows, more than --shard-rows "
            f"{args.shard_rows}: shards will be larger than asked, and memory grows with --multiplier (one 5 KB "
            "context at x20000 takes about 2 GB)")


# -- output directory -----------------------------------------------------------------------------
def check_out(out: Path, config: dict, overwrite: bool, world: int, ignore=()) -> None:
    """Refuse an --out written with another configuration (or holding other files) unless --overwrite.
    Nothing is written here; every rank looks, then they all pass the barrier (or all refuse)."""
    mismatch = config_problem(out, config, ignore)
    ranks.barrier(world)
    if mismatch and not overwrite:
        raise CliError(f"{mismatch}; rerun with --overwrite to replace it, or choose another --out")


def prepare_out(out: Path, config: dict, overwrite: bool, rank: int, world: int,
                claims: manifest.BlockClaims) -> None:
    """Rank 0 records ``config`` in --out (wiping an earlier run with --overwrite) and makes the run's claims
    folder. Called only once the models have loaded, so a failed load leaves nothing that would refuse the
    corrected command."""
    check_out(out, config, overwrite, world)  # every rank has looked before rank 0 writes
    if rank == 0:  # the others wait at the barrier below, so nothing is being written or claimed yet
        manifest.prepare(out, config, wipe=overwrite)
        for line in manifest.drop_damaged(out):  # resumed shards must be the bytes their records hold
            print(f"{PROG}: {line}", file=sys.stderr)
        claims.create()
    ranks.barrier(world)


# -- the run --------------------------------------------------------------------------------------
def build_augmenter(args, device: str):
    from augment import Augmenter

    if args.mlm.lower() != "none":  # transformers' loading bars and notes would crowd stderr
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    try:
        return Augmenter(mlm=args.mlm, glove=None if args.glove == "none" else args.glove, top_k=args.top_k,
                         replace_prob=args.replace_prob, mlm_mode=args.mlm_mode, mlm_context=args.mlm_context,
                         answer_policy=args.answer_policy, augment_question=args.augment_question,
                         seed=args.seed, stopwords=args.stopwords, variant_draw=args.variant_draw,
                         keep_question_words=args.keep_question_words, device=device, batch_size=args.batch_size,
                         mask_rate=args.mask_rate, dtype=args.dtype, trust_remote_code=args.trust_remote_code,
                         max_batch_tokens=args.max_batch_tokens,
                         # A paragraph's rows are consecutive and a chunk computes its texts at once,
                         # so a few chunks' worth of cache suffices; the default 4096 would hold
                         # hundreds of MB of candidate lists on a large input.
                         cache_size=CACHE_TEXTS)
    except (OSError, ValueError) as e:  # model not found / hub offline / bad vectors file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        if not isinstance(e, ConfigError):  # ours are one short line; transformers' can run on
            first = first[:200]
        raise CliError(f"could not load --mlm {args.mlm} / --glove {args.glove}: {first}") from None


def count_rows(args) -> int | None:
    n = sum(1 for _ in iter_rows(args.input, args.split, "--input"))
    return min(n, args.limit) if args.limit else n


def augment_blocks(out: Path, rows, aug, args, rank: int, run_started: float, claims: manifest.BlockClaims) -> int:
    """Augment this rank's incomplete blocks into shards; returns the number of blocks in the input. Drawing tasks
    are written in submission order from one queue that spans blocks (:class:`augment.blockjob.BlockQueue`)."""
    timers = Timers()
    if aug.mlm is not None:  # simple timers around the two candidate sources, for the manifest
        aug.mlm.candidates_many = timers.wrap(aug.mlm.candidates_many, "lm")
    if aug.glove is not None:
        aug.glove.neighbours = timers.wrap(aug.glove.neighbours, "glove")

    from tqdm import tqdm

    show = rank == 0 and bars_shown(args.quiet)
    bar = tqdm(total=count_rows(args) if show else None, unit="ex", disable=not show, dynamic_ncols=True)
    per_example = args.multiplier + int(args.include_original)
    spec = DrawSpec(n=args.multiplier, replace_prob=args.replace_prob, seed=args.seed,
                    answer_policy=args.answer_policy, augment_question=args.augment_question,
                    include_original=args.include_original, schema=hf_schema(), draw=args.variant_draw,
                    keep_question_words=args.keep_question_words, stopwords=aug.stopwords)
    pool = RowPool(spec, args.workers)
    queue = BlockQueue(pool)
    job, n_blocks, t_run = None, 0, time.perf_counter()
    queued = 0  # rows of this run's paragraphs so far: the bar's rate is live, not per finished chunk
    # Blocks go to whichever process asks first (every process walks the whole input and asks at each new
    # block): one that is done with its block takes the next free one.
    seen = -1
    try:
        for k, examples, rejects, n_read in walk(rows, per_example, args.shard_rows, args.strict, args.limit,
                                                 args.multiplier if args.include_original else 0, args.input):
            if k != seen:  # a new block: the last one's passes run now (close), then this one is claimed
                queue.close(job)
                job, seen = None, k
                if not manifest.is_complete(out, k) and claims.take(k):
                    job = queue.open(BlockJob(out, k, aug, args, timers, run_started, pool))
                n_blocks = k + 1
            if job is not None:
                queue.submit(job, job.add(examples, rejects, n_read))
                queued += per_example * len(examples)
                bar.set_postfix_str(f"{queued / max(time.perf_counter() - t_run, 1e-9):.1f} rows/s",
                                    refresh=False)
            bar.update(n_read)
        if n_blocks == 0 and rank == 0 and not manifest.is_complete(out, 0):  # empty input: one empty shard
            job, n_blocks = queue.open(BlockJob(out, 0, aug, args, timers, run_started, pool)), 1
        queue.close(job)
        queue.drain()
        claims.report(rank, manifest.span_of([j.meta for j in queue.jobs]))  # every job is committed now
    except BaseException as e:  # --strict, a bad input line, Ctrl-C: no half shard is left behind
        queue.abort()
        # Every rank walks the whole input and closes a block only once it has read past it, so a bad row met
        # before the walk left block 0 stops every rank there, before any shard is complete (see run_held()).
        if isinstance(e, InputError) and seen <= 0:  # --strict's stop is one (augment.blocks.StrictStop)
            e.in_first_block = True
        raise
    finally:
        pool.close()
        bar.close()
    return n_blocks


def resolve_workers(args, device: str) -> int:
    """``--workers`` as a count. ``auto``: this rank's share of the cores less one (for the process that finds the
    candidates and writes the shards), up to 8, where the cores are free to draw rows: beside a masked LM on CUDA,
    and with none at all (--mlm none), on any machine, whether or not it has a GPU. Beside a masked LM on the
    CPU, none: its threads already use every core (BENCHMARKS.md)."""
    if args.workers != "auto":
        return int(args.workers)
    if args.mlm.lower() != "none" and not device.startswith("cuda"):
        return 0
    cores = (os.cpu_count() or 1) // ranks.launch().local_world_size  # checked in run (ranks.gloo_group)
    if args.mlm.lower() == "none" and cores - 1 < 2:
        # One worker beside a process that only reads GloVe candidates moves the drawing rather than spreading
        # it, and adds its start-up: 2 cores, sample x2 6.8-7.6 s with 0 workers, 8.8-9.6 s with 1 (2026-11-29).
        return 0
    return max(0, min(8, cores - 1))


def run(args, argv: list[str] | None = None) -> int:
    """One augment-squad run of the parsed ``args``; ``argv``, the arguments as given (the manifest's
    ``command``: main's caller, such as the demo, passes them instead of the process's own)."""
    t0 = time.time()
    # Start-up, by part, for the manifest: what the process spent before its first block.
    startup = {"python_and_imports": manifest.process_age()}
    # The group first, under torchrun: an option error that every process meets is then printed by the first
    # of them to ask (pipelines.ranks), not by each.
    try:  # the long timeout lets fast ranks wait for the slowest one's last shard
        rank, world, local_rank = ranks.gloo_group(timeout=timedelta(hours=48))
    except ranks.LaunchError as e:
        raise CliError(str(e)) from None
    warnings = check_options(args)
    if rank == 0:  # the same for every process: one copy under torchrun
        for line in warnings:
            print(f"{PROG}: warning: {line}", file=sys.stderr)
    warning = shard_rows_warning(args)
    if warning and rank == 0:
        print(warning, file=sys.stderr)
    out = Path(args.out)
    made = outdir.missing_dirs(out)  # made for the lock: removed again if the run leaves nothing there
    lock = hold_out(out, rank, world)  # before anything is read or loaded
    try:
        return run_held(args, argv, out, made, lock, rank, world, local_rank, t0, startup)
    finally:
        if lock is not None:
            lock.release()
        if rank == 0:
            outdir.remove_empty(made)


def hold_out(out: Path, rank: int, world: int) -> outlock.OutLock | None:
    """Lock --out for this run (:mod:`augment.outlock`), or refuse when another run is writing there, whatever
    the options (--overwrite too: it would delete what that run is writing). The ranks of one torchrun job are
    one run: rank 0 takes the lock for all, and tells every rank whether it could. Returns rank 0's lock (None on
    the others, or where the filesystem takes no locks)."""
    lock = holder = None
    if rank == 0:
        with writing(out):
            out.mkdir(parents=True, exist_ok=True)
        lock = outlock.OutLock(out)
        try:
            holder = lock.acquire()
        except OSError as e:  # NFS without its lock service (ENOLCK): go on, as runs did before the lock
            print(f"{PROG}: warning: could not lock {lock.path} ({os.strerror(e.errno) if e.errno else e}); "
                  "a second augment-squad started on this --out would not be refused", file=sys.stderr)
            lock = None
    holder = ranks.broadcast(holder, world)
    if holder is not None:
        raise CliError(f"--out {out} is being written by another {PROG} run ({outlock.holder_words(holder)}); "
                       "wait for it to end, or stop it, then rerun to resume, or choose another --out (--overwrite "
                       "does not take a running run's folder)")
    return lock


def preload(module: str, *names: str) -> None:
    """Import ``module``, and the lazily imported ``names`` of it (transformers loads a class on first use), now:
    start-up imports for the manifest's start-up timings, each timed on its own instead of inside the first call
    that needs it."""
    loaded = importlib.import_module(module)
    for name in names:
        getattr(loaded, name)


def run_held(args, argv, out: Path, made: list[Path], lock: outlock.OutLock | None, rank: int, world: int,
             local_rank: int, t0: float, startup: dict) -> int:
    """The rest of :func:`run`, with --out locked: ``made``, the folders the lock's file needed (for a failed
    first run to remove); ``startup``, the start-up timings so far."""
    t = time.perf_counter()
    library_bars(args.quiet)  # before the input is read: a hub dataset's download bars follow --quiet as well
    startup["library_bars"] = time.perf_counter() - t  # off a terminal, datasets' and transformers' imports
    t = time.perf_counter()
    rows = iter_located(args.input, args.split, "--input")
    first = next(rows, None)  # surfaces a missing or malformed input before any model loads
    rows = chain([first], rows) if first is not None else iter(())
    config = output_config(args)
    config.update(input_fingerprint=fingerprint(args.input, args.split), version=__version__)
    startup["input_fingerprint"] = time.perf_counter() - t
    t = time.perf_counter()
    config.update(model_fingerprints(args))
    startup["weight_fingerprint"] = time.perf_counter() - t
    hub_mlm = args.mlm.lower() != "none" and not is_local_model(args.mlm)
    # Refuse a changed configuration before a model loads; a hub model's commit is known only after, and the
    # precision --dtype auto means once the device is (both compared in prepare_out).
    unknown = (("mlm_fingerprint",) if hub_mlm else ()) + (("dtype",) if config["dtype"] == "auto" else ())
    check_out(out, config, args.overwrite, world, ignore=unknown)
    # A hub model's commit is compared below. Rank 0 alone reads the shards to check them.
    if not hub_mlm and not args.overwrite and ranks.broadcast(rank == 0 and finished(out), world):
        code = 0
        if rank == 0:
            line, code = already_complete(out, args.report)
            print(f"{PROG}: {line}", file=sys.stderr)
            if args.report:  # cheap next to the run, and what --report asks for
                write_page(out)
        ranks.shutdown(world)
        return code
    run_started = ranks.broadcast(t0, world)

    t = time.perf_counter()
    if args.mlm.lower() != "none":  # torch and transformers: seconds of imports, timed on their own
        preload("torch")
        preload("transformers", "AutoModelForMaskedLM")
        versions.require_transformers()  # before the model loads: an older one fails in its first forward pass
    startup["import_torch_transformers"] = time.perf_counter() - t
    # The shards' schema carries datasets' metadata (augment.shards.hf_schema): its import (about 1 s on 2
    # cores) belongs to start-up, not to the first block, where it would leave a shared GPU idle.
    t = time.perf_counter()
    preload("datasets")
    startup["import_datasets"] = time.perf_counter() - t
    from augment.mlm import resolve_device, resolve_dtype

    device = resolve_device(args.device)
    if device == "cuda" and world > 1:
        import torch

        # Several ranks may share a GPU (torchrun --nproc_per_node 4 on one card): ranks beyond the
        # card count wrap around.
        device = f"cuda:{local_rank % torch.cuda.device_count()}"
    if config["dtype"] is not None:  # recorded resolved: a CPU run (float32) resumed on a GPU (bf16) is refused
        config["dtype"] = resolve_dtype(args.dtype, device)
        # A run begun by an earlier 0.2.1 build recorded "auto" itself: resumed with --dtype auto it goes on as
        # it could then (its precision unknown, so nothing to compare), and keeps that record. (Since 0.2.2 such a
        # run is refused for its version first, in check_out: this keeps a record of "auto" resumable as it was.)
        if args.dtype == "auto" and not args.overwrite and recorded_option(out, "dtype") == "auto":
            config["dtype"] = "auto"
    args.workers = resolve_workers(args, device)
    aug = build_augmenter(args, device)
    if aug.mlm is not None:
        startup.update({k: v for k, v in aug.mlm.timings.items() if k != "import_transformers"})
    startup["glove"] = aug.glove_seconds
    if hub_mlm:
        config["mlm_fingerprint"] = hub_fingerprint(aug, args)
    fresh = args.overwrite or not (out / manifest.PROGRESS / "config.json").exists()
    claims = manifest.BlockClaims(out, run_started, world)
    prepare_out(out, config, args.overwrite, rank, world, claims)  # only now: a failed load must not block a rerun
    startup["total"] = manifest.process_age()  # from process start to the first block
    if startup["total"] is not None and startup["python_and_imports"] is not None:
        startup["other"] = startup["total"] - sum(v for k, v in startup.items() if k != "total")
    augment_started = time.time()
    try:
        with frozen_heap():  # the models, vectors and modules loaded by now live to the end
            n_blocks = augment_blocks(out, rows, aug, args, rank, run_started, claims)
    except BaseException as e:  # a bad record under --strict, a bad line mid-file, Ctrl-C
        # A first run that completed no shard leaves nothing to resume: its config.json would refuse the
        # corrected input as another configuration. Under torchrun only when the input stopped every rank in
        # block 0 (otherwise one may be finishing a shard): they all get here, and past the barrier none
        # writes any more; the first of them to ask then says why (main).
        every_rank = world > 1 and getattr(e, "in_first_block", False)
        if every_rank:
            ranks.barrier(world)
        if fresh and (world == 1 or every_rank) and rank == 0:
            claims.drop()
            manifest.discard_unstarted(out)
            if lock is not None:  # now, not in run(): torchrun may stop this rank once the others are past the barrier
                lock.release()
            outdir.remove_empty(made)
        if every_rank:
            ranks.barrier(world)
        raise

    ranks.barrier(world)  # every shard is in place past this point
    code = 0
    if rank == 0:
        spans = claims.reports()  # who did which blocks, when (empty for one process)
        claims.drop()  # no process takes blocks any more
        models = model_info(aug, args, config)
        timing = {"startup_seconds": {k: (round(v, 3) if v is not None else None) for k, v in startup.items()},
                  "augment_started": augment_started, "augment_ended": time.time()}
        command = [PROG, *(sys.argv[1:] if argv is None else argv)]
        with writing(out):  # rejects.jsonl, dataset_info.json, state.json, manifest.json
            # Rank 0's masked LM decides as every rank's: the same model, loaded the same way.
            lm_attention = aug.mlm.attention_record() if aug.mlm is not None else None
            code = summarise(out, args, command, config, models, n_blocks, world, run_started, t0, timing, spans,
                             lm_attention)
        if args.report:
            write_page(out)
    ranks.shutdown(world)
    return code


# -- the end --------------------------------------------------------------------------------------
def write_page(out: Path) -> None:
    """--report: OUT/report.html, as ``augment-report OUT`` writes it, with its warnings on stderr as well. A shard
    that cannot be read is an InputError naming it (exit 2); only the page's own write is a :class:`WriteError`:
    under one ``writing()`` a shard that could not be read was "could not write" it, and "make room"."""
    from augment.report.augment_page import build_report
    from augment.shards import atomic_write_text

    text, _ = build_report(out, warn=lambda line: print(f"{PROG}: warning: {line}", file=sys.stderr))
    path = out / "report.html"
    with writing(path):
        atomic_write_text(path, text)
    print(f"{PROG}: wrote {path}", file=sys.stderr)


def summarise(out: Path, args, command: list[str], config: dict, models: dict, n_blocks: int, world: int,
              run_started: float, t0: float, timing: dict, spans: list[dict], lm_attention: dict | None = None) -> int:
    """Rank 0: rejects.jsonl, dataset_info.json/state.json, manifest.json and the summary line; returns the
    exit code (2 when every example was rejected: the files are written, so rejects.jsonl says why)."""
    records, missing = manifest.read_records(out, n_blocks)
    if missing:
        raise CliError(f"shards {missing} of {n_blocks} have no record in {out}; did a rank fail? rerun to resume")
    manifest.write_rejects(out, records)
    write_dataset_files(out, [r["file"] for r in records], fingerprint=config["input_fingerprint"],
                        description=f"{PROG} {__version__}: TinyBERT-style augmentation of {args.input}")
    this_run = [r for r in records if r["run_started"] == run_started]
    if not this_run and (out / "manifest.json").exists():  # a rerun of a finished job: keep its manifest
        line, code = already_complete(out, args.report)
        print(f"{PROG}: {line}", file=sys.stderr)
        return code
    wall, rows_run, counts = time.time() - t0, sum(r["rows"] for r in this_run), manifest.counts(records)
    lm = manifest.lm_section(records, lm_attention)
    atomic_write_json(out / "manifest.json", run_manifest(
        PROG, args, command, config, models, records, this_run, counts, lm, timing, spans, world, wall))
    error = all_rejected(out, counts)
    if error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    print(f"{PROG}: {counts['written']} rows from {counts['read']} examples ({counts['rejected_total']} rejected"
          f"{', see rejects.jsonl' if counts['rejected_total'] else ''}) in {wall:.1f} s "
          f"({rows_run / max(wall, 1e-9):.1f} rows/s this run) -> {out}", file=sys.stderr)
    if lm and lm.get("note"):
        print(f"{PROG}: note: {lm['note']}", file=sys.stderr)
    return 0


# -- a run that stops, and main -------------------------------------------------------------------
def kept(out: Path) -> str | None:
    """What a stopped run leaves in ``out`` for a rerun to keep, in the words of the lines below, or None when no
    shard was complete. It leaves nothing else: no half shard, and a first run with no complete shard leaves no
    configuration either."""
    done = len(list((out / manifest.PROGRESS).glob("shard-*.json")))
    return f"(it keeps the {done} complete shard{'s' if done > 1 else ''} in {out})" if done else None


def interrupted(out: Path) -> str:
    """The line for Ctrl-C."""
    if not (keeps := kept(out)):
        return f"{PROG}: interrupted before any shard was complete; rerun the same command to start again"
    return f"{PROG}: interrupted; rerun the same command to resume {keeps}"


def write_failed(out: Path, e: WriteError) -> str:
    """The line for a failed write. The run leaves what Ctrl-C leaves (:func:`kept`)."""
    if not (keeps := kept(out)):
        return f"{PROG}: error: {e}; no shard was complete: make room (or fix the cause) and rerun the same command"
    return f"{PROG}: error: {e}; make room (or fix the cause) and rerun the same command to resume {keeps}"


def _interrupt_once(signum, frame):
    """Ctrl-C raises KeyboardInterrupt once; later ones are ignored (an impatient second Ctrl-C, which torchrun
    passes on to its ranks too), so that neither the cleanup (no half shard left) nor the line about it is
    cut short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def peer_lost(out: Path, words: str) -> str:
    """The line of a process whose collective failed because another one exited without saying why (killed:
    torchrun's report names it). The run leaves what Ctrl-C leaves (:func:`kept`)."""
    what = f"{PROG}: error: another process of this run stopped ({words})"
    if not (keeps := kept(out)):
        return f"{what}; no shard was complete: rerun the same command to start again"
    return f"{what}; rerun the same command to resume {keeps}"


def worker_lost(out: Path, workers) -> str:
    """The line of a run whose drawing worker (--workers) ended without a word: killed outright, most likely by
    the out-of-memory killer at a large --multiplier, or crashed. The run leaves what Ctrl-C leaves (:func:`kept`)."""
    what = (f"{PROG}: error: a process drawing the rows (--workers {workers}) ended abruptly, killed (by the "
            "out-of-memory killer?) or crashed")
    if not (keeps := kept(out)):
        return f"{what}; no shard was complete: rerun the same command to start again, with fewer --workers if " \
               "memory ran out"
    return f"{what}; rerun the same command to resume {keeps}, with fewer --workers if memory ran out"


def main(argv=None) -> int:
    """Under torchrun, each error line comes from the first process to ask (:mod:`pipelines.ranks`): one line for
    an error that every process meets, and the line of the process that failed when one does; the others, whose
    next barrier fails as that one exits, stay quiet."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    ranks.end_with_agent()  # a torchrun agent killed outright leaves no worker writing --out beside the rerun
    previous = signal.signal(signal.SIGINT, _interrupt_once)
    try:
        return run(args, None if argv is None else [str(a) for a in argv])
    except (CliError, InputError, ConfigError) as e:
        if ranks.first_to_report():
            print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except WriteError as e:  # met by one rank, most likely: the others may go on until torchrun stops them
        if ranks.first_to_report():
            print(write_failed(Path(args.out), e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # one line, from the first rank, instead of a traceback from each
        if ranks.rank_zero():
            print(interrupted(Path(args.out)), file=sys.stderr)
        return 128 + signal.SIGINT  # 130, as a shell reports a process ended by SIGINT
    except BrokenProcessPool:  # a drawing worker killed (the OOM killer): this rank's alone, as a failed write
        if ranks.first_to_report():
            print(worker_lost(Path(args.out), args.workers), file=sys.stderr)
        return 1
    except Exception as e:
        words = ranks.lost_peer(e)
        if words is None:
            ranks.first_to_report()  # a failure of its own, as a traceback: the others' lost connections stay quiet
            raise
        if ranks.first_to_report():
            print(peer_lost(Path(args.out), words), file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, previous)  # main() called in a process that goes on (a test, a notebook)


if __name__ == "__main__":
    sys.exit(main())
