"""The skeleton of a self-contained HTML page: inline style and script, escaped text, small tables.

Nothing here refers to a URL: a report opens from disk, offline, and a browser makes no request
beyond the file itself (the browser test checks this). Text from the data (ids, questions, contexts,
answers, replaced words) that shares a line with other text goes in with :func:`data_text` or
:func:`bdi`, so that the bidirectional controls it may hold act on it alone (a table cell, or a line
ended by ``<br>``, is a paragraph of its own and keeps them in already).

    >>> table([("EM", "50.0")], header=("metric", "value"))   # doctest: +ELLIPSIS
    '<table><thead><tr><th>metric</th><th>value</th></tr></thead>...'
"""
from __future__ import annotations

from html import escape

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1180px;
     padding:0 18px 40px;color:#1d1d1f;background:#fff}
h1{font-size:22px;margin:18px 0 6px} h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:14px 0 6px} .muted{color:#666} .bad{color:#b00020;font-weight:600}
.ok{color:#1a7f37;font-weight:600}
table{border-collapse:collapse;margin:6px 0 10px} td,th{border:1px solid #ddd;padding:3px 8px;
     text-align:left;vertical-align:top} th{background:#f5f5f7} td.num{text-align:right}
.grid{display:flex;flex-wrap:wrap;gap:8px 28px;align-items:flex-start}
.plot{margin:6px 0} .plot svg{max-width:100%;height:auto}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
details>summary{cursor:pointer}
"""


def page(title: str, body: str, script: str = "", style: str = "") -> str:
    """A whole HTML document; ``body`` is HTML already, ``title`` is text."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{escape(title)}</title>"
            f"<style>{STYLE}{style}</style></head>\n<body>\n{body}\n"
            + (f"<script>{script}</script>\n" if script else "") + "</body></html>\n")


def cell(value) -> str:
    """A table cell: numbers right-aligned, the rest escaped text (pass :class:`Raw` for HTML)."""
    if isinstance(value, Raw):
        return f"<td>{value}</td>"
    if isinstance(value, bool) or value is None:
        return f"<td>{escape(str(value))}</td>"
    if isinstance(value, int):
        return f"<td class=\"num\">{value:,}</td>"
    if isinstance(value, float):
        return f"<td class=\"num\">{value:,.4g}</td>"
    return f"<td>{escape(str(value))}</td>"


# U+2069 POP DIRECTIONAL ISOLATE. Chromium lays a <bdi> out as its text between U+2068 and U+2069, so a
# U+2069 of the data's own closes that isolate early and a U+202E after it reverses the page again: each
# one is kept inside by one more <bdi> (a U+2069 that closes the data's own U+2066-2068 costs a needless
# one, harmless; counting which close which would miss those a new line ends).
PDI = "\u2069"


def bdi(markup: str) -> str:
    r"""``markup``, the HTML of one data text, isolated from the rest of the page for the Unicode
    bidirectional algorithm: an unclosed U+202E RIGHT-TO-LEFT OVERRIDE (or U+202B, U+2067...) in an
    answer would otherwise reverse everything after it in its block (the next answer, the page's own
    words). A ``<bdi>`` also takes its direction from the text's first strong letter (an Arabic
    context reads right to left inside it, the page around it stays left to right).

        >>> bdi("Ann\u202e")
        '<bdi>Ann\u202e</bdi>'
    """
    depth = 1 + markup.count(PDI)
    return "<bdi>" * depth + markup + "</bdi>" * depth


def data_text(value) -> str:
    """``value`` as escaped text in :func:`bdi`: how a text from the data goes into a page."""
    return bdi(escape(str(value)))


class Raw(str):
    """HTML that :func:`cell` inserts as it is."""


def table(rows, header=None, cls: str = "") -> str:
    head = ("<thead><tr>" + "".join(f"<th>{escape(str(h))}</th>" for h in header) + "</tr></thead>"
            if header else "")
    body = "".join("<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows)
    return f"<table{f' class={cls!r}' if cls else ''}>{head}<tbody>{body}</tbody></table>"


def key_values(pairs) -> str:
    """A two-column table of ``(name, value)``."""
    return table(list(pairs))
