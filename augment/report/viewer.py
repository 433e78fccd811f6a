"""The variant viewer: one question's original next to its variants, as HTML.

Each replaced word is a ``<mark class="rep mlm|glove">`` whose tooltip (``title``) gives the original
word; a replaced context word that the question also uses gets the class ``inq`` as well (the case of
"Destiny's Child" renamed in the context while the question still asks about it). Answers are
underlined (``ans``), plausible answers dashed (``pla``), and every answer is listed with the check
``context[start:start + len(text)] == text`` of that row.

Text is cut at every boundary of an edit or an answer, and each piece is written once with the classes
of everything covering it, so overlapping answers and answers containing replaced words nest correctly.

    >>> html = render_question(rows)   # rows: every row of one question, from the shards  # doctest: +SKIP
"""
from __future__ import annotations

from html import escape

from augment.report.augment_stats import original_text, spans_exact
from augment.report.html import bdi, data_text
from augment.segment import english_stopwords, fold, is_eligible, split_words

SOURCE_NAMES = {"mlm": "masked LM", "glove": "GloVe"}


def variant_spans(edits: list[dict]) -> list[tuple[int, int, dict]]:
    """``(start, end, edit)`` of each replacement in the variant text (edits hold original offsets)."""
    out, shift = [], 0
    for e in sorted(edits, key=lambda e: e["start"]):
        start = e["start"] + shift
        out.append((start, start + len(e["replacement"]), e))
        shift += len(e["replacement"]) - (e["end"] - e["start"])
    return out


def original_spans(spans: dict | None, context: str, edits: list[dict]) -> dict:
    """A variant's answers moved back to the original context: each start and end is mapped through
    the edits before it (an answer never straddles an edit, so both ends map exactly)."""
    spans = spans or {"text": [], "answer_start": []}
    placed = variant_spans(edits)

    def back(pos: int, is_end: bool) -> int:
        shift = 0
        for start, end, e in placed:
            if end < pos or (end == pos and is_end) or (end == pos and start < pos):
                shift += len(e["replacement"]) - (e["end"] - e["start"])
        return pos - shift

    starts, texts = [], []
    for t, s in zip(spans["text"], spans["answer_start"]):
        a, b = back(s, False), back(s + len(t), True)
        starts.append(a)
        texts.append(context[a:b])
    return {"text": texts, "answer_start": starts}


def marked(text: str, edits: list[dict], answers: dict | None = None, plausible: dict | None = None,
           question_words: frozenset = frozenset()) -> str:
    """``text`` as HTML with its replacements and answers marked (see the module docstring);
    ``question_words`` are folded (:func:`augment.segment.fold`)."""
    marks = [(s, e, "edit", ed) for s, e, ed in variant_spans(edits)]
    for cls, spans in (("ans", answers), ("pla", plausible)):
        spans = spans or {"text": [], "answer_start": []}
        marks += [(s, s + len(t), cls, None) for t, s in zip(spans["text"], spans["answer_start"]) if t]
    cuts = sorted({0, len(text), *(m[0] for m in marks), *(m[1] for m in marks)})
    out = []
    for a, b in zip(cuts, cuts[1:]):
        piece = escape(text[a:b])
        covering = [m for m in marks if m[0] <= a and b <= m[1] and m[0] < m[1]]
        for s, e, kind, edit in covering:
            if kind == "edit":
                source = edit["source"]
                cls = f"rep {source}" + (" inq" if fold(edit["original"]) in question_words else "")
                tip = f"was: {edit['original']} ({SOURCE_NAMES.get(source, source)})"
                piece = f"<mark class=\"{cls}\" title=\"{escape(tip)}\">{piece}</mark>"
        for s, e, kind, _ in covering:
            if kind != "edit":
                piece = f"<span class=\"{kind}\">{piece}</span>"
        out.append(piece)
    return "".join(out)


def answer_checks(row: dict) -> str:
    """One line per answer and plausible answer: its text, start and the exactness check."""
    items = []
    for field, label in (("answers", "answer"), ("plausible_answers", "plausible")):
        spans = row.get(field) or {"text": [], "answer_start": []}
        for (t, s), ok in zip(zip(spans["text"], spans["answer_start"]), spans_exact(spans, row["context"])):
            mark = "<span class=\"ok\">&#10003;</span>" if ok else "<span class=\"bad\">&#10007; not exact</span>"
            items.append(f"<span class=\"chk {'ok' if ok else 'bad'}-span\" data-ok=\"{int(ok)}\">{label} "
                         f"<q>{data_text(t)}</q> at {s}: {mark}</span>")
    if not items:
        items.append("<span class=\"muted\">no answer (unanswerable, no plausible answer)</span>")
    return "<div class=\"checks\">" + " &middot; ".join(items) + "</div>"


def render_question(rows: list[dict], stopwords=None) -> str:
    """The original (rebuilt from the first row's edits, or the row with variant 0) and every variant."""
    stopwords = stopwords if stopwords is not None else english_stopwords()
    first = rows[0]
    ctx_edits = [e for e in first["edits"] if e["field"] == "context"]
    q_edits = [e for e in first["edits"] if e["field"] == "question"]
    context = original_text(first["context"], ctx_edits)
    question = original_text(first["question"], q_edits)
    original = {"context": context, "question": question,
                "answers": original_spans(first["answers"], context, ctx_edits),
                "plausible_answers": original_spans(first.get("plausible_answers"), context, ctx_edits)}
    # Folded (case and accents), as the report's table counts them and --keep-question-words compares: a
    # "Beyonce" in the question makes the context's "Beyoncé" a word the question uses.
    q_words = frozenset(fold(w.text) for w in split_words(question) if is_eligible(w.text, stopwords))
    kind = "unanswerable" if first.get("is_impossible") else "answerable"
    parts = [f"<section class=\"question\" data-orig=\"{escape(first['orig_id'])}\">",
             f"<h3><span class=\"mono\">{data_text(first['orig_id'])}</span> &middot; "
             f"{data_text(first.get('title') or '')}"
             f" <span class=\"muted\">({kind}, {len(rows)} rows)</span></h3>",
             "<div class=\"orig\"><div class=\"label\">original</div>",
             f"<div class=\"q\">Q: {data_text(question)}</div>",
             f"<div class=\"ctx\">{bdi(marked(context, [], original['answers'], original['plausible_answers']))}</div>",
             answer_checks(original), "</div>"]
    for row in rows:
        edits = row["edits"] or []
        c_edits = [e for e in edits if e["field"] == "context"]
        v_question = marked(row["question"], [e for e in edits if e["field"] == "question"])
        v_context = marked(row["context"], c_edits, row["answers"], row.get("plausible_answers"), q_words)
        label = "original row" if row.get("variant") == 0 else f"variant {row.get('variant')}"
        parts += [f"<div class=\"variant\" data-variant=\"{row.get('variant')}\" data-edits=\"{len(edits)}\">",
                  f"<div class=\"label\">{label} <span class=\"muted\">({len(c_edits)} in the context, "
                  f"{len(edits) - len(c_edits)} in the question)</span></div>",
                  f"<div class=\"q\">Q: {bdi(v_question)}</div>",
                  f"<div class=\"ctx\">{bdi(v_context)}</div>",
                  answer_checks(row), "</div>"]
    parts.append("</section>")
    return "\n".join(parts)


STYLE = """
.question{border:1px solid #ddd;border-radius:6px;padding:4px 12px 10px;margin:12px 0}
.orig,.variant{padding:6px 8px;margin:6px 0;border-left:3px solid #ccc}
.orig{background:#fafafa;border-left-color:#888} .label{font-size:12px;font-weight:600;color:#555}
.q{font-weight:500;margin:2px 0} .ctx{white-space:pre-wrap}
.question h3,.q,.ctx,.checks{overflow-wrap:anywhere}  /* a word wider than the page (a URL) wraps */
.checks{font-size:12px;margin-top:3px}
mark.rep{border-radius:3px;padding:0 1px;cursor:help} mark.mlm{background:#cfe0fa} mark.glove{background:#fde0bd}
mark.inq{outline:2px solid #c9302c}
.ans{text-decoration:underline 2px #1a7f37;text-underline-offset:3px}
.pla{text-decoration:underline dashed 2px #b26a00;text-underline-offset:3px}
.legend span{margin-right:14px} body.hide-orig .orig{display:none}
"""

# Counts the variants on the page (the browser test reads the number back) and toggles the originals.
SCRIPT = """
(function () {
  var variants = document.querySelectorAll(".variant");
  var questions = document.querySelectorAll(".question");
  var shown = document.getElementById("shown");
  shown.textContent = variants.length + " rows of " + questions.length + " questions shown";
  shown.dataset.variants = String(variants.length);
  var toggle = document.getElementById("toggle-orig");
  toggle.addEventListener("change", function () {
    document.body.classList.toggle("hide-orig", !toggle.checked);
  });
})();
"""
