"""eval.html: the threshold curve agrees with the official metric's best F1; squad-eval --out DIR writes
the page and it renders in the browser."""
import json

import pytest

from augment.qa.metric import squad_v2_metric
from augment.report.eval_page import threshold_curve
from pipelines.squad_eval import main
from tests.browser import blank, load_page


def test_threshold_curve_peaks_at_the_metrics_best_f1():
    rows = [{"id": f"q{i}", "answers": {"text": [t] if t else [], "answer_start": [0] if t else []}}
            for i, t in enumerate(["red fox", "", "blue", "", "green tea", "owl"])]
    raw = {"q0": "red fox", "q1": "cat", "q2": "blue sky", "q3": "dog", "q4": "tea", "q5": "hen"}
    diffs = {"q0": -2.0, "q1": 1.0, "q2": 0.5, "q3": -1.0, "q4": 0.5, "q5": None}
    xs, ys = threshold_curve(rows, raw, diffs)
    metric = squad_v2_metric(rows, raw, {k: (v if v is not None else float("inf")) for k, v in diffs.items()})
    assert max(ys) == pytest.approx(metric["best_f1"])
    assert ys[0] == pytest.approx(100 * 2 / 6)  # below every difference: only the two NoAns score
    at_zero = ys[xs <= 0.0][-1]  # the curve at threshold 0 is the reported F1
    assert at_zero == pytest.approx(squad_v2_metric(rows, raw, {k: v if v is not None else float("inf")
                                                               for k, v in diffs.items()}, 0.0)["f1"])


def test_squad_eval_writes_a_page_into_out_dir(tmp_path, tiny_teacher_path, sample_path, browser):
    out = tmp_path / "evaldir"
    assert main(["--model", tiny_teacher_path, "--data", str(sample_path), "--limit", "12", "--max-length", "96",
                 "--doc-stride", "32", "--batch-size", "8", "--out", str(out), "--device", "cpu"]) == 0
    report = json.loads((out / "eval.json").read_text())
    load_page(browser, out / "eval.html")
    assert browser.evaluate("document.querySelectorAll('table.worst tbody tr').length") == 12  # < 50 questions
    headline = browser.evaluate(
        "[...document.querySelectorAll('table.headline tbody tr')].map(r => r.cells[0].textContent)")
    assert headline[0] == "all" and {"answerable (HasAns)", "unanswerable (NoAns)"} <= set(headline)
    f1 = browser.evaluate("document.querySelector('table.headline tbody tr').cells[2].textContent")
    assert float(f1) == pytest.approx(report["metrics"]["f1"], abs=0.01)
    assert browser.evaluate("document.querySelectorAll('.plot svg').length") == 1
    assert not blank(browser.screenshot())


def test_threshold_curve_answers_nan_and_minus_inf_questions_as_the_metric_does():
    """A NaN or -inf null-score difference (a model's infinite logits, as float16 autocast can overflow to)
    answers at every threshold in the metric (``NaN > t`` is false). The curve counted it as abstaining, so
    at threshold 0 the page's plot disagreed with the F1 in its own headline table."""
    rows = [{"id": f"q{i}", "answers": {"text": [t] if t else [], "answer_start": [0] if t else []}}
            for i, t in enumerate(["red fox", "", "blue", "owl"])]
    raw = {"q0": "red fox", "q1": "cat", "q2": "blue", "q3": "owl"}
    diffs = {"q0": float("nan"), "q1": 1.0, "q2": -1.0, "q3": -float("inf")}
    xs, ys = threshold_curve(rows, raw, diffs)
    for t in (-1.5, 0.0, 5.0):  # below both finite differences, between them, above both
        assert ys[xs <= t][-1] == pytest.approx(squad_v2_metric(rows, raw, diffs, t)["f1"])


def test_worst_table_is_text_and_wraps_a_long_word(tmp_path, browser):
    """Questions, predictions and gold answers are shown as text, and a word wider than the page wraps in
    its column: a 3,000-letter one widened the worst-questions table, and the page, to 100,000 px."""
    from augment.report.eval_page import eval_page

    long = "y" * 3000
    rows = [{"id": "a" * 24, "question": f"Which </script><img src=x onerror=alert(1)> {long}?",
             "answers": {"text": [f"<b>{long}</b>"], "answer_start": [0]}},
            {"id": "b" * 24, "question": "Who?", "answers": {"text": [], "answer_start": []}}]
    preds = {"a" * 24: f"<i>{long}</i>", "b" * 24: ""}
    diffs = {"a" * 24: -1.0, "b" * 24: 2.0}
    result = {"metrics": squad_v2_metric(rows, preds, diffs), "predictions": preds, "null_diffs": diffs,
              "raw_predictions": preds}
    page = tmp_path / "eval.html"
    page.write_text(eval_page(rows, result))
    load_page(browser, page)
    assert browser.evaluate("document.querySelectorAll('body img, body b, body i, body script').length") == 0
    cells = browser.evaluate("[...document.querySelector('table.worst tbody tr').cells].map(c => c.textContent)")
    assert cells[1:4] == [rows[0]["question"], f"<i>{long}</i>", f"<b>{long}</b>"]  # <q> draws its quotes in CSS
    assert browser.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
