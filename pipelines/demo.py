"""`make demo`: augment the bundled SQuAD sample x3 offline (GloVe only) and show two variants.

    python -m pipelines.demo [--out DIR]

Runs the real ``augment-squad`` command line on ``data/sample/train-v2.0-sample.json`` with ``--mlm none``
(GloVe 6B 50d from an installed package, so no network), loads the result with ``datasets.load_from_disk`` and
prints two variants of one answerable question side by side, edits marked, answers checked. ``--out``
may name a new or empty directory or the demo's own earlier output, which is redone; another run's
output or a folder of other files is refused, never overwritten.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
from pathlib import Path

from augment import outconfig, outdir
from augment.errors import InputError
from augment.fingerprints import fingerprint
from pipelines import augment_squad
from pipelines.cli import Once, expand_tilde

# The sample file, not its folder: squad-eval may write its report beside the --data file it read (README:
# squad-eval --data data/sample/train-v2.0-sample.json --out data/sample), and a folder holding a report is
# refused as data; the file alone reads the same whatever lands beside it.
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "train-v2.0-sample.json"
WIDTH = 58


def marked(text: str, edits) -> str:
    """The variant's ``text`` with every replaced word shown as [new]. Edits hold the original's offsets:
    each one lands shifted by the length changes (and brackets) of those before it."""
    out, shift = text, 0
    for e in sorted((e for e in edits if e["field"] == "context"), key=lambda e: e["start"]):
        a = e["start"] + shift
        b = a + len(e["replacement"])
        out = out[:a] + f"[{e['replacement']}]" + out[b:]
        shift += len(e["replacement"]) - (e["end"] - e["start"]) + 2
    return out


def side_by_side(left: str, right: str, width: int = WIDTH) -> str:
    a, b = textwrap.wrap(left, width), textwrap.wrap(right, width)
    a += [""] * (len(b) - len(a))
    b += [""] * (len(a) - len(b))
    return "\n".join(f"{x:<{width}} | {y}" for x, y in zip(a, b))


def not_demo_output(out: str, command: list[str]) -> str | None:
    """Why the demo must not write into ``out``, or None: it is new, empty, or holds the demo's own output,
    recognised as augment-squad recognises a run to resume, by the options and the input's fingerprint
    recorded in .progress/config.json (the tinyaug version aside: the demo redoes an old one; an older demo's
    --input data/sample/ is the same input, its one file's fingerprint). Anything else (another run's shards,
    a user's files) would be deleted by the --overwrite the demo passes."""
    args = augment_squad.build_parser().parse_args(command)
    config = outconfig.output_config(args)
    config.update(input_fingerprint=fingerprint(args.input, args.split), **outconfig.model_fingerprints(args))
    problem = outconfig.config_problem(Path(out), config, ignore=("version",))
    return problem and (f"{problem}; the demo replaces only its own earlier output: name a new or empty "
                        "directory, or leave out --out for a temporary one")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="demo", description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None, type=expand_tilde, action=Once,
                   help="output directory (default: a new temporary directory); a second --out is refused")
    args = p.parse_args(argv)
    out = args.out if args.out is not None else tempfile.mkdtemp(prefix="tinyaug-demo-")
    command = ["--input", str(SAMPLE), "--out", out, "--mlm", "none", "--glove", "default", "--multiplier", "3"]
    try:
        problem = outdir.out_problem("--out", out) or not_demo_output(out, command)
    except InputError as e:  # the sample file missing or damaged: one line, not a traceback
        problem = str(e)
    if problem:
        if args.out is None:
            Path(out).rmdir()  # the empty temporary directory made above
        print(f"demo: error: {problem}", file=sys.stderr)
        return 2
    # Only now --overwrite: it replaces the demo's own earlier output (even a damaged or interrupted one).
    code = augment_squad.main([*command, "--overwrite"])
    if code:
        return code

    import datasets

    ds = datasets.load_from_disk(out)
    # The answerable question whose first two variants have the most context edits between them.
    pairs = [(ds[i], ds[i + 1]) for i in range(len(ds) - 1)
             if ds[i]["variant"] == 1 and ds[i]["answers"]["text"] and ds[i + 1]["orig_id"] == ds[i]["orig_id"]]
    left, right = max(pairs, key=lambda p: len(p[0]["edits"]) + len(p[1]["edits"]))
    print(f"\n{len(ds)} rows in {out}; question {left['orig_id']!r}: {left['question']}\n")
    print(side_by_side(f"variant {left['variant']} ({len(left['edits'])} edits)",
                       f"variant {right['variant']} ({len(right['edits'])} edits)"))
    print("-" * (2 * WIDTH + 3))
    print(side_by_side(marked(left["context"], left["edits"]), marked(right["context"], right["edits"])))
    print("-" * (2 * WIDTH + 3))
    for r in (left, right):
        t, s = r["answers"]["text"][0], r["answers"]["answer_start"][0]
        ok = r["context"][s:s + len(t)] == t
        print(f"variant {r['variant']} answer: {t!r} at {s} "
              f"({'context[s:s+len] matches' if ok else 'MISMATCH'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
