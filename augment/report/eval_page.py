"""``eval.html``: a SQuAD 2.0 evaluation, question by question.

EM/F1 overall and by answerable/unanswerable, F1 as a function of the null threshold (a question is
answered when its null-score difference is at most the threshold, as in
:func:`augment.qa.metric.squad_v2_metric`), and the 50 worst questions with the prediction, the gold
answers and the null-score difference.

    >>> result = evaluate(model, tokenizer, rows)                  # doctest: +SKIP
    >>> Path("eval.html").write_text(eval_page(rows, result))      # doctest: +SKIP
"""
from __future__ import annotations

import math
from html import escape

import numpy as np

from augment.qa.metric import f1_score, gold_answers
from augment.report import plots
from augment.report.html import Raw, key_values, page, table

WORST = 50

# Fixed column widths, so that a word wider than its column (a URL, a long id) wraps inside it instead of
# widening the table past the page; auto layout sizes a column to its longest word.
STYLE = """
table.worst{table-layout:fixed;width:100%} table.worst td{overflow-wrap:anywhere}
table.worst th:nth-child(1){width:21%} table.worst th:nth-child(2){width:39%}
table.worst th:nth-child(3),table.worst th:nth-child(4){width:14%} table.worst th:nth-child(5){width:8%}
table.worst th:nth-child(6){width:4%}
"""


def threshold_curve(rows: list[dict], raw: dict, null_diffs: dict) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds, F1 %) where F1 steps: at every distinct finite null-score difference, plus a point
    below them all (every question abstains, but one at NaN or -inf) and one above them all."""
    n = len(rows)
    diffs = np.array([null_diffs[r["id"]] if null_diffs[r["id"]] is not None else math.inf for r in rows])
    answered_f1 = np.array([max(f1_score(raw[r["id"]], g) for g in gold_answers(r)) for r in rows])  # (N,)
    abstain_f1 = np.array([0.0 if r["answers"]["text"] else 1.0 for r in rows])  # (N,)
    # NaN or -inf (a model's infinite logits) answers at every threshold, as the metric applies it (NaN > t is false).
    always = np.isnan(diffs) | (diffs == -math.inf)
    below = np.where(always, answered_f1, abstain_f1)  # (N,): each question's score below every finite difference
    order = np.argsort(diffs, kind="stable")
    finite = order[np.isfinite(diffs[order])]
    if len(finite) == 0:
        return np.array([0.0]), np.array([100 * below.mean()])
    # Crossing question q's difference swaps its abstain score for its answered score.
    gains = np.cumsum(answered_f1[finite] - below[finite])
    ts = diffs[finite]
    last = np.r_[ts[1:] != ts[:-1], True]  # ties are crossed together
    xs = np.r_[ts[0] - 1.0, ts[last], ts[-1] + 1.0]  # flat one unit beyond both ends, for the plot
    ys = 100 * (below.sum() + np.r_[0.0, gains[last], gains[-1]]) / n
    return xs, ys


def question_scores(rows: list[dict], predictions: dict) -> list[tuple[float, dict]]:
    return [(max(f1_score(predictions[r["id"]], g) for g in gold_answers(r)), r) for r in rows]


def eval_page(rows: list[dict], result: dict, title: str = "SQuAD 2.0 evaluation", note: str = "") -> str:
    """The page for ``evaluate(...)``'s ``result`` on ``rows`` (``raw_predictions`` are needed for the
    threshold curve; without them it is left out)."""
    m = result["metrics"]
    preds, diffs = result["predictions"], result["null_diffs"]
    headline = [("all", round(m["exact"], 2), round(m["f1"], 2), m["total"])]
    for prefix, name in (("HasAns_", "answerable (HasAns)"), ("NoAns_", "unanswerable (NoAns)")):
        n = m.get(f"{prefix}total", 0)  # an empty subset scores "n/a", not the metric's 0.0
        headline.append((name, round(m[f"{prefix}exact"], 2) if n else "n/a",
                         round(m[f"{prefix}f1"], 2) if n else "n/a", n))
    best = [(f"best {'F1' if k == 'f1' else 'EM'}", f"{m[f'best_{k}']:.2f} at threshold {m[f'best_{k}_thresh']:.4g}")
            for k in ("exact", "f1") if f"best_{k}" in m]
    curve = ""
    if result.get("raw_predictions"):
        xs, ys = threshold_curve(rows, result["raw_predictions"], diffs)
        marks = {"threshold 0 (used)": 0.0}
        if "best_f1_thresh" in m:
            marks["best F1 threshold"] = m["best_f1_thresh"]
        curve = plots.line(xs, ys, "F1 as a function of the null threshold", "null threshold (null - best span score)",
                           "F1 %", marks=marks)
    scored = question_scores(rows, preds)

    def badness(item):  # lowest F1 first; among equals, the most confident mistake
        f1, r = item
        d = diffs[r["id"]]
        return f1, -abs(d) if d is not None else 0.0

    worst = sorted(scored, key=badness)[:WORST]
    worst_rows = [(r["id"], r["question"], Raw(f"<q>{escape(preds[r['id']])}</q>" if preds[r["id"]] else
                                           "<span class=\"muted\">(no answer)</span>"),
                   Raw("<br>".join(f"<q>{escape(t)}</q>" for t in dict.fromkeys(r["answers"]["text"]))
                       or "<span class=\"muted\">(unanswerable)</span>"),
                   diffs[r["id"]], round(100 * f1, 1)) for f1, r in worst]
    body = (f"<h1>{escape(title)}</h1>" + (f"<p class=\"muted\">{escape(note)}</p>" if note else "")
            + "<div class=\"grid\"><div><h3>EM / F1 (threshold 0)</h3>"
            + table(headline, header=("questions", "EM", "F1", "n"), cls="headline")
            + key_values(best) + f"</div><div>{curve}</div></div>"
            + f"<h2>the {len(worst)} worst questions</h2><p class=\"muted\">lowest F1 first; among equal F1, the "
              "largest |null-score difference| (the most confident mistake). A question is answered when its "
              "difference is at most the threshold.</p>"
            + table(worst_rows, header=("id", "question", "prediction", "gold answers", "null score diff", "F1"),
                    cls="worst"))
    return page(title, body, style=STYLE)
