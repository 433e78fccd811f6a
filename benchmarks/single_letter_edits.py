"""How many of a GloVe-only run's edits replace a single letter (README: eligible words; 0632fdd made single
letters ineligible). One example per subset paragraph (its first question), 4 variants, default options.

    python benchmarks/single_letter_edits.py                           # this tree: none
    git worktree add /tmp/before 0632fdd^ && PYTHONPATH=/tmp/before python benchmarks/single_letter_edits.py

The second is the tree before the change. About 20 s on 2 cores (GloVe's load included).
"""
from __future__ import annotations

from pathlib import Path

from augment.api import Augmenter
from augment.squad_io import read_official_json

SUBSET = Path(__file__).resolve().parents[1] / "data" / "squad_v2" / "train-v2.0-subset.json"


def main() -> None:
    examples, seen = [], set()
    for _, ex in read_official_json(SUBSET):
        if ex["context"] not in seen:
            seen.add(ex["context"])
            examples.append(ex)
    rows = [r for rs in Augmenter(mlm=None).augment_batch(examples, n=4) for r in rs]
    edits = [e for r in rows for e in r["edits"]]
    single = sum(len(e["original"]) == 1 for e in edits)
    print(f"{len(examples)} paragraphs, {len(rows)} rows: {single} of {len(edits)} edits replace a single letter "
          f"({single / max(len(edits), 1):.1%})")


if __name__ == "__main__":
    main()
