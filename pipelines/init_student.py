"""Build a shallow student from a deeper model's layers (TinyBERT / DistilBERT-style initialisation).

    init-student --teacher runs/teacher/student --layers 3 --out runs/student-init
    python -m pipelines.init_student --teacher PATH --layers 2 --pick uniform --out DIR

The student keeps the teacher's embeddings, tokenizer and (if it has one) QA head, and takes ``--layers``
of its transformer layers: the lowest ones (``--pick lower``, default: its hidden states then equal the
teacher's first layers exactly), or evenly spaced ones (``--pick uniform``: layers k-1, 2k-1, ... for
k = teacher layers / student layers, the TinyBERT layer mapping).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from augment import hub, outdir, versions
from pipelines.cli import DefaultsOnce, Once, expand_tilde, library_bars

# The layer index in a weight's name: BERT-style "encoder.layer.3.", and ModernBERT's (and the decoder QA
# models') "model.layers.3.".
LAYER_KEY = re.compile(r"(?:(?<=\.layer\.)|(?<=\.layers\.))(\d+)(?=\.)")
DEPTH_ATTRS = ("num_hidden_layers", "n_layers", "num_layers")
# Config lists with one entry per layer (ModernBERT's alternating global and sliding-window attention): the
# student's entries are those of the layers it takes, so each copied layer attends as it did in the teacher.
PER_LAYER_ATTRS = ("layer_types",)


def chosen_layers(n_teacher: int, n_student: int, pick: str) -> list[int]:
    """Teacher layer indices the student's layers 0..n_student-1 are copied from."""
    if not 1 <= n_student <= n_teacher:
        raise ValueError(f"--layers {n_student}: use 1..{n_teacher} (the teacher has {n_teacher} layers)")
    if pick == "lower":
        return list(range(n_student))
    if pick == "uniform":
        # Layer (m + 1) * n_teacher / n_student, halves rounded up: Python's round() sends them to the even
        # neighbour, which bunched the picks (12 -> 8: 1, 2, 3, 5, 7, 8, 9, 11 instead of 1, 2, 4, 5, 7, 8, 10, 11).
        return [(2 * (m + 1) * n_teacher + n_student) // (2 * n_student) - 1 for m in range(n_student)]
    raise ValueError(f"--pick {pick!r}: use 'lower' or 'uniform'")


def build_student(teacher, n_layers: int, pick: str = "lower"):
    """A new model of the teacher's class with ``n_layers`` layers copied from it, and the teacher layers they
    are copied from: None where no weight names a layer (ALBERT's cross-layer sharing), as then every weight
    is kept whole and the student runs the shared layer ``n_layers`` times; ``pick`` has no layer to pick."""
    import copy

    cfg = copy.deepcopy(teacher.config)
    attr = next((a for a in DEPTH_ATTRS if hasattr(cfg, a)), None)
    if attr is None:
        raise ValueError(f"{type(teacher).__name__}: its config names no layer count ({DEPTH_ATTRS})")
    n_teacher = getattr(cfg, attr)
    layers = chosen_layers(n_teacher, n_layers, pick)
    setattr(cfg, attr, n_layers)
    for name in PER_LAYER_ATTRS:
        per_layer = getattr(cfg, name, None)
        if isinstance(per_layer, (list, tuple)) and len(per_layer) == n_teacher:
            setattr(cfg, name, [per_layer[t] for t in layers])
    student = type(teacher)(cfg)
    new_index = {str(t): str(s) for s, t in enumerate(layers)}
    own = student.state_dict()
    state = {}
    for key, value in teacher.state_dict().items():
        m = LAYER_KEY.search(key)
        if m is None:
            state[key] = value  # embeddings, QA head, pooler
        elif m.group(1) in new_index:
            new_key = LAYER_KEY.sub(new_index[m.group(1)], key, count=1)
            # ModernBERT's layer 0 has no attention norm (nn.Identity: the embeddings end in a norm) and its other
            # layers have one, so a teacher layer above 0 that becomes the student's first (--pick uniform) leaves
            # that norm behind; its input there is normalised by the embeddings instead.
            if new_key not in own and _is_identity(student, new_key):
                continue
            state[new_key] = value
    missing, unexpected = student.load_state_dict(state, strict=False)
    if unexpected or missing:
        raise ValueError(f"layer copy left missing={missing[:5]} unexpected={unexpected[:5]}")
    # No weight named by a layer: the layers share them (ALBERT), all kept above, so no layer was chosen.
    shared = not any(LAYER_KEY.search(key) for key in state)
    return student, None if shared else layers


def copied_from(teacher, n_layers: int, layers: list[int] | None) -> str:
    """What :func:`build_student` took from ``teacher``, for the line init-student prints. ALBERT's layers
    share one set of weights (or one per layer group): "teacher layers [1, 3]" said a pick was made where the
    student runs those same weights fewer times.

        >>> copied_from(None, 2, [1, 3])
        'teacher layers [1, 3]'
    """
    if layers is not None:
        return f"teacher layers {layers}"
    cfg = teacher.config  # the teacher's own: build_student changed a copy
    depth = next(getattr(cfg, a) for a in DEPTH_ATTRS if hasattr(cfg, a))
    groups = getattr(cfg, "num_hidden_groups", 1)
    run = (f"one shared layer, run {n_layers} times", "one set") if groups == 1 else (
        f"{groups} shared layer groups, run over {n_layers} layers", f"{groups} sets")
    return (f"the teacher's {run[0]} (the {depth} layers of {type(teacher).__name__} share {run[1]} of weights, "
            "kept whole; --pick has no layer to pick)")


def _is_identity(model, key: str) -> bool:
    """Whether the module that would hold the weight ``key`` is a parameterless ``nn.Identity`` in ``model``."""
    from torch import nn

    try:
        return isinstance(model.get_submodule(key.rsplit(".", 1)[0]), nn.Identity)
    except AttributeError:
        return False


def same_dir_problem(teacher: str, out: str) -> str | None:
    """Saving into the teacher's own directory would replace the teacher's weights by the student's."""
    t, o = Path(teacher), Path(out)
    if t.is_dir() and o.exists() and o.samefile(t):  # any spelling of it: ./T, T/, a symlink to T
        return f"--out {out}: it is the --teacher directory, which the student would overwrite; choose another --out"
    return None


# What save_pretrained (model and tokenizer) writes, and what another model's save left that would be read with
# it: a sharded teacher's index beside a student's single file, or a BPE tokenizer's merges beside a WordPiece vocab.
MODEL_FILES = ("config.json", "generation_config.json", "*.safetensors", "*.bin", "*.index.json", "tokenizer.json",
               "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.txt", "vocab.json",
               "merges.txt", "*.model", "chat_template.jinja")


def model_files(out) -> list[Path]:
    """The files of a saved model or tokenizer in ``out`` (none if it does not exist)."""
    out = Path(out)
    return sorted({f for pattern in MODEL_FILES for f in out.glob(pattern) if f.is_file()}) if out.is_dir() else []


def occupied_problem(out: str, overwrite: bool) -> str | None:
    """A student saved into a folder holding another model would be mixed with that model's other files. A
    distill-train output folder is refused even with ``overwrite``: its config.json is the run's options, not a
    model's, and replacing it would take the run's record (its --resume) with it."""
    if outdir.distill_run_options(out) is not None:
        return (f"--out {out}: it is a distill-train output folder (its config.json holds that run's options, not a "
                "model); choose another --out")
    found = model_files(out)
    if found and not overwrite:
        names = ", ".join(f.name for f in found[:3]) + (", ..." if len(found) > 3 else "")
        return f"--out {out}: it holds a saved model ({names}); pass --overwrite to replace it, or choose another --out"
    return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="init-student", description=__doc__.split("\n\n")[0],
                                formatter_class=DefaultsOnce)
    p.add_argument("--teacher", required=True, type=expand_tilde, action=Once,
                   help="model id or directory to take layers from (a second --teacher is refused)")
    p.add_argument("--layers", type=int, required=True, help="number of layers of the student")
    p.add_argument("--pick", default="lower", choices=["lower", "uniform"],
                   help="lowest layers, or every k-th (TinyBERT's uniform mapping; for a depth that does not "
                        "divide the teacher's, layer (m+1)*teacher/student rounded half up, e.g. 12 -> 8: layers "
                        "1 2 4 5 7 8 10 11, counted from 0)")
    p.add_argument("--out", required=True, type=expand_tilde, action=Once,
                   help="directory to save the student (model and tokenizer); a second --out is refused")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a model already saved in --out (its model and tokenizer files are removed first)")
    p.add_argument("--trust-remote-code", action="store_true", help="allow code from the model repository")
    args = p.parse_args(argv)
    problems = [x for x in [outdir.out_problem("--out", args.out), same_dir_problem(args.teacher, args.out)] if x]
    problems += [x for x in [None if problems else occupied_problem(args.out, args.overwrite)] if x]
    problems += hub.model_problems([("--teacher", args.teacher)], hub.CLI_FIXES)
    if problems:  # before anything loads
        print(f"init-student: error: {'; '.join(problems)}", file=sys.stderr)
        return 2

    library_bars()  # transformers' "Loading weights" and "Writing model shards": on a terminal only
    try:
        from transformers import AutoConfig, AutoModelForQuestionAnswering, AutoTokenizer
        from augment.weights import load_float32, untrained

        versions.require_transformers()

        # --layers against the teacher's depth from its config, before its weights load (seconds for a large one).
        config = AutoConfig.from_pretrained(args.teacher, trust_remote_code=args.trust_remote_code)
        depth = next((getattr(config, a) for a in DEPTH_ATTRS if hasattr(config, a)), None)
        if depth is not None:
            chosen_layers(depth, args.layers, args.pick)
        tok = AutoTokenizer.from_pretrained(args.teacher, trust_remote_code=args.trust_remote_code)
        teacher, info = load_float32(AutoModelForQuestionAnswering, args.teacher, output_loading_info=True,
                                     trust_remote_code=args.trust_remote_code)
        student, layers = build_student(teacher, args.layers, args.pick)
    except (OSError, ValueError) as e:
        print(f"init-student: error: {str(e).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    for f in model_files(args.out):  # --overwrite: nothing of the old model is left to be loaded with the new one
        f.unlink()
    student.save_pretrained(args.out)
    tok.save_pretrained(args.out)
    print(f"init-student: {args.layers}-layer student from {copied_from(teacher, args.layers, layers)} -> {args.out}")
    # A bare encoder (bert-base-uncased) is a fair start for the layers, but its student's QA head is as random
    # as the teacher's was at load, and squad-eval cannot tell: its file holds head weights now.
    if lacking := untrained(teacher, info, "question-answering"):
        print(f"init-student: note: --teacher {args.teacher} had {lacking}; the student's head starts at random "
              "until distill-train's prediction stage trains it, which needs a --teacher fine-tuned for question "
              "answering")
    return 0


if __name__ == "__main__":
    sys.exit(main())
