"""``DIR/report.html``: the augmentation report of an ``augment-squad`` output directory.

Header (the run's options, counts, rejects by reason and throughput, from ``manifest.json``), plots
(replacement rate per row, edits by source, candidates per eligible word, the most replaced words and
their replacements, how often a word that the question uses is replaced in the context), and the
variant viewer over a seeded sample of questions. One streaming pass over the shards
(:class:`augment.report.augment_stats.AugmentStats`).

    >>> path = write_report("data/aug", sample=12, seed=0)   # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import time
from html import escape
from pathlib import Path

import numpy as np

from augment.errors import InputError
from augment.report import plots
from augment.report.augment_stats import RATE_BINS, AugmentStats, shard_paths, unreadable
from augment.report.html import Raw, data_text, key_values, page, table
from augment.report.viewer import SCRIPT, STYLE, render_question
from augment.shards import sha256_file

HEADER_OPTIONS = ("input", "split", "multiplier", "mlm", "mlm_mode", "glove", "top_k", "replace_prob",
                  "answer_policy", "augment_question", "include_original", "seed", "limit", "stopwords",
                  "variant_draw", "keep_question_words")
# Of those, the ones only a masked LM uses: a run with --mlm none has no masked LM for them to describe (an
# earlier version even recorded --mlm-mode multi beside --mlm none), so the header leaves them out.
MLM_ONLY = ("mlm_mode",)


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def header(manifest: dict, summary: dict) -> str:
    # A part recorded as null is read as one not recorded (read_manifest refuses only the other non-objects).
    opts, counts, tp = (manifest.get(k) or {} for k in ("options", "counts", "throughput"))
    no_mlm = str(opts.get("mlm")).lower() == "none"  # as augment-squad reads it: NONE and None too
    config = [(k.replace("_", "-"), str(opts[k])) for k in HEADER_OPTIONS
              if k in opts and not (no_mlm and k in MLM_ONLY)]
    models = manifest.get("models") or {}
    for name in ("mlm", "glove"):
        m = models.get(name)
        if m and isinstance(m, dict):  # a string or a list there is not recorded either (it has no .get)
            config.append((f"{name} model", m.get("revision") or m.get("package") or m.get("path") or m.get("spec")))
    count_rows = [("examples read", counts.get("read")), ("paragraphs", counts.get("paragraphs")),
                  ("rows written", counts.get("written")), ("shards", counts.get("shards")),
                  ("rejected", counts.get("rejected_total"))]
    count_rows += [(name.replace("_", " "), counts[name]) for name in ("dropped_duplicates", "protected_words")
                   if counts.get(name)]
    rejects = [(reason, n) for reason, n in (counts.get("rejected") or {}).items()] or [("(none)", 0)]
    share = ", ".join(f"{k} {100 * v:.0f}%" for k, v in (tp.get("time_share") or {}).items())
    throughput = [("rows/s (last run)", tp.get("rows_per_second")), ("wall seconds", tp.get("wall_seconds")),
                  ("processes", tp.get("processes")), ("shards resumed", tp.get("shards_resumed")),
                  ("peak RSS MB (rank 0)", tp.get("peak_rss_mb")), ("time share", share or "n/a")]
    broken = summary["answers_broken"]
    check = ("<span class=\"muted\">no answer spans to check</span>" if not summary["answers_checked"] else
             f"<span class=\"ok\">all {summary['answers_checked']:,} answer spans exact</span>" if not broken else
             f"<span class=\"bad\">{broken:,} of {summary['answers_checked']:,} answer spans not exact</span> "
             f"(e.g. {', '.join(map(data_text, summary['broken_examples'][:5]))})")
    # Quoted as a shell reads it, so that the line copied into a shell is the run's command, paths with
    # spaces, quotes or ";" included.
    return (f"<p class=\"muted\">{data_text(shlex.join(map(str, manifest.get('command') or [])))} &middot; "
            f"{escape(str(manifest.get('created', '')))} &middot; "
            f"tinyaug {escape(str(manifest.get('version', '')))}</p>"
            + (f"<p class=\"bad\">{escape(summary['stopwords_problem'])}</p>" if summary.get("stopwords_problem")
               else "")
            + f"<p>{check}; {summary['rows']:,} variants of {summary['questions']:,} questions, "
            f"{summary['unchanged_rows']:,} unchanged; mean replacement rate {_pct(summary['mean_rate'])} "
            "of the eligible context words.</p>"
            "<div class=\"grid\">"
            f"<div><h3>configuration</h3>{key_values(config)}<details><summary>every option</summary>"
            f"{key_values((k, str(v)) for k, v in opts.items())}</details></div>"
            f"<div><h3>counts</h3>{key_values(count_rows)}<h3>rejects by reason</h3>"
            f"{table(rejects, header=('reason', 'records'))}</div>"
            f"<div><h3>throughput</h3>{key_values(throughput)}</div></div>")


def candidates_section(manifest: dict) -> str:
    counts = manifest.get("candidates_per_eligible_word")
    if counts == {}:  # recorded, and empty: rerunning would record the same
        return ("<p class=\"muted\">Candidates per eligible word: the run counted no eligible words (every "
                "example rejected, or no context with an eligible word).</p>")
    if not counts:
        return ("<p class=\"muted\">Candidates per eligible word: not recorded by this run. The rows keep only "
                "the chosen replacements, so augment-squad counts the candidates while augmenting "
                "(manifest.json <code>candidates_per_eligible_word</code>); rerun it with --overwrite to "
                "get this plot.</p>")
    by_source: dict[str, dict[int, int]] = {}
    for key, n in counts.items():
        source, k = key.split(":")
        by_source.setdefault(source, {})[int(k)] = n
    top = max(k for d in by_source.values() for k in d)
    xs = list(range(top + 1))
    series = {s: [by_source[s].get(x, 0) for x in xs] for s in ("mlm", "glove", "none") if s in by_source}
    total = sum(counts.values())
    rows = [(s, sum(d.values()), _pct(sum(d.values()) / total)) for s, d in by_source.items()]
    return (plots.stacked_counts(xs, series, "candidates per eligible word (distinct texts)", "candidates",
                                 "eligible words")
            + table(rows, header=("source", "eligible words", "share")))


def plots_section(stats: AugmentStats, manifest: dict) -> str:
    s = stats.summary()
    edges = np.linspace(0.0, 1.0, RATE_BINS + 1)
    replace_prob = (manifest.get("options") or {}).get("replace_prob")
    rate = plots.histogram(edges, stats.rate_hist, "replacement rate per row", "replaced / eligible context words",
                           mark=replace_prob)
    by_source = sorted(stats.sources.items(), key=lambda kv: -kv[1])
    sources = plots.bar_chart([f"{s_} ({f})" for (f, s_), _ in by_source], [c for _, c in by_source],
                              "edits by source", "edits",
                              colours=[plots.COLOURS.get(s_, "#888") for (_, s_), _ in by_source])
    top = stats.top_replaced(20, 3)
    words = plots.bar_chart([w for w, _, _ in top], [c for _, c, _ in top], "most replaced words", "edits")
    word_rows = [(w, c, Raw(", ".join(f"{data_text(r)} ({n:,})" for r, n in reps))) for w, c, reps in top]
    shared = plots.bar_chart(["also in the question", "not in the question"],
                             [100 * (s["shared_rate"] or 0), 100 * (s["other_rate"] or 0)],
                             "eligible context words replaced", "% of occurrences replaced",
                             colours=[plots.COLOURS["question"], plots.COLOURS["other"]], fmt="{:.1f}%")
    shared_rows = [("also in the question", *s["shared"]["question"], _pct(s["shared_rate"])),
                   ("not in the question", *s["shared"]["other"], _pct(s["other_rate"]))]
    shared_words = ", ".join(f"{data_text(w)} ({n:,})" for w, n in stats.shared_replaced.most_common(15)) or "none"
    pruned = (f" The (word, replacement) table kept the most frequent pairs: {stats.pairs_pruned:,} rare pairs were "
              "dropped along the way." if stats.pairs_pruned else "")
    return ("<div class=\"grid\">"
            f"<div>{rate}<p class=\"muted\">dashed: --replace-prob</p></div>"
            f"<div>{sources}</div>"
            f"<div>{candidates_section(manifest)}</div></div>"
            f"<div class=\"grid\"><div>{words}</div><div><h3>most replaced words and their top replacements</h3>"
            f"{table(word_rows, header=('word', 'edits', 'top replacements'))}"
            f"<p class=\"muted\">{pruned}</p></div></div>"
            f"<h3>words the question also uses, replaced in the context</h3>"
            "<p class=\"muted\">A replaced context word that the question also uses can rename what the question "
            "asks about (\"Destiny's Child\" becoming \"Dreams' Woman\" in the context only). In the viewer "
            "such words are outlined in red.</p>"
            f"<div class=\"grid\"><div>{shared}</div><div>"
            f"{table(shared_rows, header=('eligible context words', 'replaced', 'occurrences', 'rate'))}"
            f"<p>most often replaced: {shared_words}</p></div></div>")


def viewer_section(stats: AugmentStats, seed: int) -> str:
    groups = stats.sampled()
    legend = ("<p class=\"legend\"><span><mark class=\"rep mlm\">masked LM</mark></span>"
              "<span><mark class=\"rep glove\">GloVe</mark></span>"
              "<span><mark class=\"rep mlm inq\">also in the question</mark></span>"
              "<span class=\"ans\">answer</span><span class=\"pla\">plausible answer</span>"
              "<span class=\"muted\">hover a replaced word for the original</span></p>")
    drawn = f"{len(groups)} question" + ("" if len(groups) == 1 else "s")
    return (f"<p>{drawn} drawn with seed {seed} (every question equally likely). "
            f"<span id=\"shown\"></span> &middot; <label><input type=\"checkbox\" id=\"toggle-orig\" checked> "
            f"show originals</label></p>{legend}" + "\n".join(render_question(g, stats.stopwords) for g in groups))


def run_stopwords(manifest: dict, directory=None) -> tuple[frozenset | None, str | None]:
    """The stopwords the run used (``--stopwords``), so that "eligible" means here what it meant there, and
    None; or None (NLTK's list) and why the run's list cannot be had: its file is missing, unreadable or changed.

    A file is read from the absolute path manifest.json records beside its SHA-256, not as typed (relative to
    the directory the run started in). Older manifests have only the path as typed; their SHA-256 is in
    ``directory/.progress/config.json``."""
    from augment.errors import ConfigError
    from augment.segment import STOPWORD_LISTS, load_stopwords

    record = manifest.get("stopwords") if isinstance(manifest.get("stopwords"), dict) else {}
    spec = record.get("spec") or (manifest.get("options") or {}).get("stopwords", "nltk")
    if spec in STOPWORD_LISTS:
        return load_stopwords(spec), None
    path, want = Path(record.get("path") or spec), record.get("fingerprint")
    if want is None and directory is not None:
        try:
            want = json.loads((Path(directory) / ".progress" / "config.json").read_text()).get("stopwords_fingerprint")
        except (OSError, ValueError, AttributeError):
            pass
    instead = "eligible words are counted with NLTK's list, so the replacement rates are not the run's"
    try:
        if want is not None and "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest() != want:
            return None, f"the run's --stopwords file {path} has changed since the run (its SHA-256 differs); {instead}"
        return load_stopwords(path), None
    except (OSError, ConfigError):  # moved or deleted since, or not UTF-8 any more
        what = "is missing" if not path.is_file() else "is unreadable"
        return None, f"the run's --stopwords file {path} {what}; {instead}"


# The manifest's parts that the page reads as objects (a list there would be an AttributeError).
MANIFEST_OBJECTS = ("options", "counts", "throughput", "models", "candidates_per_eligible_word")


def read_manifest(path: Path) -> dict:
    """``manifest.json`` as a dict ({} when absent); an InputError naming the file when it is not
    JSON, or not the object augment-squad writes."""
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InputError(f"{path}: unreadable ({type(e).__name__}: {e}); rerun augment-squad to rewrite "
                         "it") from None
    if not isinstance(manifest, dict):
        raise InputError(f"{path}: a JSON {type(manifest).__name__}, not the object augment-squad writes; "
                         "rerun augment-squad to rewrite it")
    wrong = [k for k in MANIFEST_OBJECTS if manifest.get(k) is not None and not isinstance(manifest[k], dict)]
    if wrong:
        raise InputError(f"{path}: {', '.join(f'{k!r} is a {type(manifest[k]).__name__}' for k in wrong)}, "
                         "not an object; rerun augment-squad to rewrite it")
    return manifest


def check_shard_list(directory: Path, paths: list[Path], listed: dict) -> None:
    """Raise an InputError unless the shards to be read (``paths``: from state.json, or every shard-*.arrow
    without it) are those manifest.json lists (``listed``, by file name; an older manifest lists none)."""
    if not listed:
        return
    names = {p.name for p in paths}
    extra = next((p for p in paths if p.name not in listed), None)
    if extra is not None:
        raise InputError(f"{extra}: not one of the shards manifest.json lists (left from another run?); remove "
                         "it, or rerun augment-squad with --overwrite")
    unread = next((f for f in listed if f not in names), None)
    if unread is not None:
        state = directory / "state.json"
        raise InputError(f"{directory / str(unread)}: " + (f"listed in manifest.json but not in {state}"
                                                           if state.exists() else "no such shard file")
                         + "; rerun augment-squad with --overwrite to rewrite the run")


def shard_sha256(path: Path) -> str:
    """The SHA-256 of a shard whose rows were just read; an OSError (the file gone since, a failing disk) as an
    InputError naming it, as :func:`augment.report.augment_stats.shard_batches` names one met reading its rows."""
    try:
        return sha256_file(path)
    except OSError as e:
        raise unreadable(path, e) from None


def build_report(directory, sample: int = 12, seed: int = 0, warn=None) -> tuple[str, dict]:
    """The page of ``directory`` and the summary numbers behind it; an unreadable manifest or shard
    raises an InputError naming the file. ``warn``, if given, is called with each warning the page shows
    (the run's stopword list cannot be had) before the shards are read, so that a command line says it too."""
    directory = Path(directory)
    manifest = read_manifest(directory / "manifest.json")
    t0 = time.perf_counter()
    stopwords, stopwords_problem = run_stopwords(manifest, directory)  # hashes the run's file: once per page
    if stopwords_problem and warn is not None:
        warn(stopwords_problem)
    stats = AugmentStats(sample=sample, seed=seed, stopwords=stopwords)
    # A shard cut exactly between two record batches reads as a whole, shorter one: the manifest's count says.
    # A shard edited in place still reads, and its spans may even be exact: the manifest's SHA-256 says.
    listed = {s.get("file"): s for s in manifest.get("shards") or [] if isinstance(s, dict)}
    paths = shard_paths(directory)
    check_shard_list(directory, paths, listed)
    for path in paths:
        want = listed.get(path.name, {})
        rows = stats.add_shard(path)
        if isinstance(want.get("rows"), int) and rows != want["rows"]:
            why = "cut short?" if rows < want["rows"] else "from another run?"
            raise InputError(f"{path}: {rows:,} rows, but manifest.json lists {want['rows']:,} ({why}); "
                             "rerun augment-squad with --overwrite to rewrite it")
        if isinstance(want.get("sha256"), str) and shard_sha256(path) != want["sha256"]:
            raise InputError(f"{path}: its SHA-256 differs from the one manifest.json records: changed since "
                             "augment-squad wrote it; rerun augment-squad with --overwrite to rewrite it")
    summary = {**stats.summary(), "stopwords_problem": stopwords_problem}
    # The folder's own name also for "." or "..", whose Path.name is "" or ".."; abspath, not resolve: a run
    # reached through a symbolic link keeps the name it was given.
    name = Path(os.path.abspath(directory)).name or str(directory)
    body = (f"<h1>augmentation report: {data_text(name)}</h1>"
            + header(manifest, summary) + "<h2>plots</h2>" + plots_section(stats, manifest)
            + "<h2>variants</h2>" + viewer_section(stats, seed)
            + f"<p class=\"muted\">read {summary['rows'] + summary['originals']:,} rows in "
              f"{time.perf_counter() - t0:.1f} s</p>")
    return page(f"tinyaug report: {name}", body, script=SCRIPT, style=STYLE), summary


def write_report(directory, out=None, sample: int = 12, seed: int = 0, warn=None) -> Path:
    """Write ``directory/report.html`` (or ``out``); returns its path. ``warn``: see :func:`build_report`."""
    from augment.shards import atomic_write_text

    text, _ = build_report(directory, sample, seed, warn)
    out = Path(out) if out else Path(directory) / "report.html"
    atomic_write_text(out, text)
    return out
