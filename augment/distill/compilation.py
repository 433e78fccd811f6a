"""torch.compile for the distillation trainer: how models and losses are compiled, how dynamo is set up so that
every variant training makes keeps a compiled, static-shape graph, and the counts of graphs compiled that a
stage's summary reports. ``pipelines/distill_train.py`` chooses when (``--compile MODE``); this module says how.

    configure_dynamo(lengths=6)
    install_output_hooks(model)  # before compiling, when hidden states will be asked for
    compile_in_place(model, "reduce-overhead")
    before = compile_counts()
    ...                          # train
    compiled_since(before)       # {"graphs_compiled": ..., "graph_breaks": ..., "cudagraph_skips": ...}

torch is imported inside each function, as it was in the recipe; the recipe imports this module only in the
methods that already need torch, so that ``distill-train --help`` still loads no torch.
"""
from __future__ import annotations


def compile_in_place(module, mode: str) -> None:
    """``module.compile`` in the ``--compile`` MODE (in place: parameter names, and so checkpoints, stay those
    of the plain module)."""
    module.compile(mode=None if mode == "default" else mode)


# How many compiled variants of one function dynamo may keep before it runs further ones eagerly (torch's default
# is 8). The teacher and the student share their forward's code (and the hidden-state wrapper's), and dynamo keeps
# one list of variants per code object: each (model, gradient mode, output flags, batch shape) is an entry. Before
# the mask was always given and the hooks installed first, a two-stage run with an epoch's short last batch passed 8
# (BENCHMARKS.md 6e: the whole prediction stage then ran uncompiled); now it makes 6, and --teacher-cache off, a
# resume or another batch size add more. Past the limit dynamo says so once in a log warning and runs the new
# variant uncompiled: silently slower training.
COMPILED_VARIANTS = 64


def dynamo_settings() -> dict:
    """The dynamo settings ``configure_dynamo`` changes, with their values now (``setattr`` each on
    ``torch._dynamo.config`` to put them back)."""
    import torch._dynamo

    config = torch._dynamo.config
    return {**{name: getattr(config, name) for name in _limit_names(config)},
            "automatic_dynamic_shapes": config.automatic_dynamic_shapes}


def _limit_names(config) -> tuple[str, str]:
    """Dynamo's two variant limits: per function, and in all (renamed in torch 2.7)."""
    if hasattr(config, "recompile_limit"):
        return "recompile_limit", "accumulated_recompile_limit"
    return "cache_size_limit", "accumulated_cache_size_limit"


def configure_dynamo(lengths: int = 1) -> None:
    """Set up torch.compile for ``--compile``, process-wide: room for every variant (``COMPILED_VARIANTS`` for
    each of the ``lengths`` batch lengths training can take), and static shapes.

    Static: by default a second batch size (an epoch's short last batch) makes dynamo recompile with a symbolic
    batch dimension, and since dynamo tracks that per code object, the other model and the next stage then get
    symbolic graphs too. Here every shape gets its own graph instead: the full batches, which are nearly all of
    them, keep the static kernels that the benchmarks measure; the short batch costs one more compilation."""
    import torch._dynamo

    config = torch._dynamo.config
    # Both limits: the accumulated one (256 in torch 2.13) would otherwise cap what the first allows.
    for name in _limit_names(config):
        setattr(config, name, max(getattr(config, name), COMPILED_VARIANTS * lengths))
    config.automatic_dynamic_shapes = False


def compile_counts() -> dict:
    """This process's running totals from ``torch._dynamo.utils.counters`` (internal, but long stable; empty where
    it is missing): graphs compiled, dynamo's graph-break events (several per split: one split showed as 6 on
    the CPU, so only zero reads plainly), and graphs inductor compiled without CUDA graphs under
    ``reduce-overhead`` (on the CPU, every one). A training stage's summary reports its own share under
    ``--compile`` (the main process's; DDP's bucket splits are not graph breaks). They do not show a step that
    ran eagerly, nor graphs per step: ``benchmarks/compiled_graphs.py`` counts those on the CPU."""
    try:
        from torch._dynamo.utils import counters
    except ImportError:
        return {}
    return {"graphs_compiled": int(counters["stats"]["unique_graphs"]),
            "graph_breaks": int(sum(counters["graph_break"].values())),
            "cudagraph_skips": int(counters["inductor"]["cudagraph_skips"])}


def compiled_since(before: dict) -> dict:
    """``compile_counts`` now less ``before`` (empty when ``before`` is: not compiled)."""
    return {k: v - before[k] for k, v in compile_counts().items()} if before else {}


def install_output_hooks(model) -> None:
    """Run ``model`` once eagerly on two tokens with ``output_hidden_states=True``, before it is compiled.

    transformers installs the hooks that collect hidden states on the first call that asks for them, under a
    ``threading.Lock`` that dynamo cannot trace. Met inside the first compiled call, that lock breaks the graph of
    the variant being compiled, and that variant keeps the break (its guards never see the hooks arrive): with
    one batch shape, every step's forward of the intermediate stage runs as two graphs with Python between them,
    under CUDA graphs two recordings (and so, presumably, its backward; the test counts forward graphs). Seen with
    torch 2.13 and transformers 5.17 and 5.24. Eval mode, so that no dropout draws from the random stream the
    training steps use."""
    import torch

    training = model.training
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            model.eval()(input_ids=torch.zeros(1, 2, dtype=torch.long, device=device), output_hidden_states=True)
    finally:
        model.train(training)
