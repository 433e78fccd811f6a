"""Inline SVG plots drawn with matplotlib (the optional ``report`` extra of setup.cfg; ``pip install matplotlib``).

Text is drawn as paths (``svg.fonttype = "path"``), so an SVG needs no font file, and element ids are
hashed with a fixed salt, so the same data give the same bytes. Without matplotlib every function
returns a short note instead of a plot, and the pages keep their tables.

    >>> svg = bar_chart(["mlm", "glove"], [120, 30], title="edits by source")   # doctest: +SKIP
    >>> svg.startswith("<svg")                                                   # doctest: +SKIP
    True
"""
from __future__ import annotations

import io
from html import escape

COLOURS = {"mlm": "#3b7dd8", "glove": "#e8871e", "none": "#9a9a9a", "question": "#c9302c", "other": "#6c8ebf"}


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def missing_note(what: str) -> str:
    return (f"<p class=\"muted\">({escape(what)}: plots need matplotlib, "
            "<code>pip install matplotlib</code>)</p>")


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=72)
    return fig, fig.subplots()


def _svg(fig) -> str:
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "tinyaug"}):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return "<div class=\"plot\">" + text[text.index("<svg"):] + "</div>"


def _style(ax, title: str, xlabel: str = "", ylabel: str = "") -> None:
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def histogram(edges, counts, title: str, xlabel: str, ylabel: str = "rows", mark: float | None = None) -> str:
    """Pre-binned counts (``len(edges) == len(counts) + 1``) as bars; ``mark`` draws a dashed line."""
    if not available():
        return missing_note(title)
    fig, ax = _figure(5.2, 2.8)
    ax.stairs(counts, edges, fill=True, color=COLOURS["mlm"], alpha=0.85)
    if mark is not None:
        ax.axvline(mark, color="#333", linestyle="--", linewidth=1)
    _style(ax, title, xlabel, ylabel)
    return _svg(fig)


def bar_chart(labels, values, title: str, xlabel: str = "", colours=None, fmt: str = "{:,}") -> str:
    """Horizontal bars, one per label, the value written at the end of each."""
    if not available():
        return missing_note(title)
    labels, values = list(labels), list(values)
    fig, ax = _figure(5.2, 0.5 + 0.32 * max(len(labels), 1))
    ys = range(len(labels))[::-1]
    ax.barh(list(ys), values, color=colours or COLOURS["mlm"], height=0.7)
    ax.set_yticks(list(ys), labels)
    for y, v in zip(ys, values):
        ax.text(v, y, " " + fmt.format(v), va="center", fontsize=8)
    ax.set_xlim(0, (max(values) if values and max(values) > 0 else 1) * 1.25)
    _style(ax, title, xlabel)
    return _svg(fig)


def stacked_counts(xs, series: dict, title: str, xlabel: str, ylabel: str) -> str:
    """Vertical bars at integer ``xs``, one stacked colour per series (``{name: counts}``)."""
    if not available():
        return missing_note(title)
    fig, ax = _figure(5.2, 2.8)
    bottom = [0] * len(xs)
    for name, counts in series.items():
        ax.bar(xs, counts, bottom=bottom, label=name, color=COLOURS.get(name), width=0.8)
        bottom = [b + c for b, c in zip(bottom, counts)]
    ax.legend(fontsize=8, frameon=False)
    _style(ax, title, xlabel, ylabel)
    return _svg(fig)


def line(xs, ys, title: str, xlabel: str, ylabel: str, marks: dict | None = None) -> str:
    """A step line (a metric as a function of a threshold); ``marks``: label -> x, drawn dashed."""
    if not available():
        return missing_note(title)
    fig, ax = _figure(5.6, 3.0)
    ax.step(xs, ys, where="post", color=COLOURS["mlm"], linewidth=1.5)
    for (label, x), colour in zip((marks or {}).items(), ("#333", COLOURS["glove"], COLOURS["question"])):
        ax.axvline(x, color=colour, linestyle="--", linewidth=1, label=label)
    if marks:
        ax.legend(fontsize=8, frameon=False)
    _style(ax, title, xlabel, ylabel)
    return _svg(fig)
