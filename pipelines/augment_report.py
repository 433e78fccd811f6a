"""augment-report: one self-contained HTML page about an augment-squad output directory.

    augment-report data/aug                  # writes data/aug/report.html
    augment-report data/aug --sample 30 --seed 1 --out /tmp/aug.html

Reads manifest.json and streams the shards once (memory stays flat on a full SQuAD x20 output). The
page loads nothing from the network; plots need the optional ``report`` extra (matplotlib).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from augment import outdir
from augment.errors import InputError
from augment.manifest import ARTEFACTS, PROGRESS
from pipelines.cli import DefaultsOnce, Once, expand_tilde

PROG = "augment-report"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, formatter_class=DefaultsOnce,
                                description="Write DIR/report.html: the run's configuration and counts, plots of "
                                            "the replacements, and a viewer of a seeded sample of questions.")
    p.add_argument("dir", metavar="DIR", type=expand_tilde, help="an augment-squad --out directory")
    p.add_argument("--out", type=expand_tilde, action=Once,
                   help="where to write the page (default: DIR/report.html); a second --out is refused")
    p.add_argument("--sample", type=int, default=12, help="questions shown in the viewer, with all their variants")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample of questions")
    return p


def check(args) -> str | None:
    """The problem with the options, or None."""
    problems = []
    d = Path(args.dir)
    if not args.dir.strip():  # Path("") is the working directory: "$DIR" unset, as every command refuses it
        problems.append(f"DIR {args.dir!r}: an empty path (an unset variable?); name an augment-squad --out directory")
    elif d.is_file():  # its manifest.json or a shard: "no such directory" read as a missing path
        folder = f" such as its folder {d.parent}" if (d.parent / "manifest.json").is_file() else ""
        problems.append(f"{args.dir}: a file, not a directory; name an augment-squad --out directory{folder}")
    elif not d.is_dir():
        problems.append(f"{args.dir}: no such directory; name an augment-squad --out directory")
    elif not any(d.glob("shard-*.arrow")):
        problems.append(f"{args.dir}: no shard-*.arrow files; is it an augment-squad --out directory?")
    elif not (d / "manifest.json").exists():
        problems.append(f"{args.dir}: no manifest.json (the run has not finished); rerun augment-squad to complete it")
    if args.out is None and d.is_dir() and (d / "report.html").is_dir():  # renaming the page onto it would fail
        problems.append(f"{d / 'report.html'}: a directory, where the page goes; remove it or name a file with --out")
    if args.sample < 0:
        problems.append(f"--sample {args.sample}: use an integer >= 0")
    if args.seed < 0:  # numpy's default_rng refuses it, after the shards have been read
        problems.append(f"--seed {args.seed}: use an integer >= 0")
    if args.out is not None:  # the page is written last: an unwritable --out is found now, not after the shards
        out = Path(args.out)
        if not args.out.strip():  # Path("") is the working directory, as for DIR
            problems.append(f"--out {args.out!r}: an empty path (an unset variable?); name a file such as "
                            f"{d / 'report.html'}")
        elif out.is_dir():
            problems.append(f"--out {args.out}: a directory; name a file such as {out / 'report.html'}")
        elif args.out.endswith(tuple(filter(None, (os.sep, os.altsep)))):
            # Path() drops the trailing "/": the page would be written as a file named as the folder meant.
            problems.append(f"--out {args.out}: a directory (it ends in {os.sep}); name a file such as "
                            f"{out / 'report.html'}")
        else:
            problems.append(run_file_problem(args.out, d)
                            or outdir.out_problem(f"--out {args.out}: its folder", out.parent))
    return "; ".join(p for p in problems if p) or None


def run_file_problem(out: str, run_dir: Path) -> str | None:
    """Why the page must not be written to ``out``, or None: a name the run itself writes (its manifest, state,
    rejects, a shard), or any other file there that is not a page, would be overwritten and the run spoilt: its
    next augment-report or resume would refuse it, or silently read a page as its rows. Anything in the run's
    PROGRESS folder is the run's too: its config.json, which a resume compares, and the shards' records."""
    path = Path(out)
    parent, run = path.parent.resolve(), run_dir.resolve()
    bookkeeping = parent == run / PROGRESS or run / PROGRESS in parent.parents
    if not bookkeeping and (parent != run or path.suffix.lower() in (".html", ".htm")):
        return None
    if bookkeeping or path.name in ARTEFACTS or path.name.startswith("shard-") or path.exists():
        return (f"--out {out}: a file of the augment-squad run in {run_dir}, which the page would overwrite; "
                f"name a page such as {run_dir / 'report.html'}")
    return None


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    problem = check(args)
    if problem:
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 2
    from augment.report.augment_page import build_report
    from augment.shards import atomic_write_text

    t0 = time.perf_counter()
    path = Path(args.out) if args.out else Path(args.dir) / "report.html"
    made = outdir.missing_dirs(path.parent) if args.out else []
    try:
        if made:  # as squad-eval's --out FILE.json: the folders it names are created
            made[-1].mkdir(parents=True)
        # The run's stopword file, moved or changed since: the page says so too, but it may go unread.
        text, _ = build_report(args.dir, sample=args.sample, seed=args.seed,
                               warn=lambda line: print(f"{PROG}: warning: {line}", file=sys.stderr))
        try:
            atomic_write_text(path, text)
        except OSError as e:  # a full disk: the write of the page itself, not a shard read before it
            outdir.remove_empty(made)
            print(f"{PROG}: error: could not write {path}: {os.strerror(e.errno) if e.errno else e}", file=sys.stderr)
            return 2
    except InputError as e:  # a corrupt or unreadable manifest.json or shard: the message names the file
        outdir.remove_empty(made)
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except BaseException:
        outdir.remove_empty(made)  # no empty folders left behind by a failed report
        raise
    print(f"{PROG}: wrote {path} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
