"""Realised replacement rate per replaceable-word count, for both --variant-draw modes (BENCHMARKS.md section 5).

No model: each example has K replaceable words with C candidates each (15, as with --top-k 15), and
``augment.sampling.draw_variants`` draws N variants (20, as --multiplier 20) at p = 0.4, for many example ids.
Per K and mode: rows written per N, duplicate rows among them (a variant equal to an earlier one), and the
share of the K words replaced in the rows written.

    python benchmarks/replacement_rate.py [--examples 2000] [--json benchmarks/results-replacement-rate.json]
"""
from __future__ import annotations

import argparse
import json

from augment.sampling import Slot, draw_variants
from augment.segment import Word


def measure(k: int, draw: str, examples: int, n: int, p: float, candidates: int) -> dict:
    slots = [Slot("context", Word(f"w{i}", 10 * i, 10 * i + 2), tuple(f"c{j}" for j in range(candidates)), "mlm")
             for i in range(k)]
    rows = duplicates = replaced = 0
    for e in range(examples):
        seen = set()
        for edits in draw_variants(slots, n, p, seed=0, example_id=f"ex{e}", draw=draw):
            if edits is None:  # a dropped draw (independent mode)
                continue
            key = tuple((x.start, x.replacement) for x in edits)
            duplicates += key in seen
            seen.add(key)
            rows += 1
            replaced += len(edits)
    return {"words": k, "draw": draw, "rows_per_n": round(rows / examples, 2),
            "duplicate_rows_per_n": round(duplicates / examples, 2),
            "replacement_rate": round(replaced / max(rows * k, 1), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=2000)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--p", type=float, default=0.4)
    ap.add_argument("--candidates", type=int, default=15)
    ap.add_argument("--json")
    a = ap.parse_args()
    results = [measure(k, draw, a.examples, a.n, a.p, a.candidates)
               for k in (1, 2, 3, 4, 6, 10, 20) for draw in ("distinct", "independent")]
    print(f"| replaceable words | draw | rows per {a.n} | duplicate rows per {a.n} | replacement rate |")
    print("|---:|---|---:|---:|---:|")
    for r in results:
        print(f"| {r['words']} | {r['draw']} | {r['rows_per_n']} | {r['duplicate_rows_per_n']} | "
              f"{r['replacement_rate']} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"n": a.n, "p": a.p, "candidates": a.candidates, "examples": a.examples,
                       "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
