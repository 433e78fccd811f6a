"""The mini reproduction's data split and table (the runs themselves take ~90 minutes: make mini-repro)."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import mini_repro  # noqa: E402


@pytest.mark.skipif(not mini_repro.SUBSET.exists(), reason="needs ../shared/data/squad_v2")
def test_split_is_by_article_and_holds_out_unanswerables(tmp_path):
    train, held = mini_repro.split_subset(tmp_path, smoke=False)
    t = json.loads(train.read_text())["data"]
    h = json.loads(held.read_text())["data"]
    assert len(t) == 8 and len(h) == 2
    assert not {a["title"] for a in t} & {a["title"] for a in h}
    contexts = lambda doc: {p["context"] for a in doc for p in a["paragraphs"]}  # noqa: E731
    assert not contexts(t) & contexts(h)  # no paragraph on both sides
    qs = lambda doc: [q for a in doc for p in a["paragraphs"] for q in p["qas"]]  # noqa: E731
    assert len(qs(t)) + len(qs(h)) == 4719
    assert sum(q["is_impossible"] for q in qs(h)) > 0 and sum(q["is_impossible"] for q in qs(t)) > 0


def test_table_reports_mean_and_spread():
    m = lambda em: {"EM": em, "F1": em + 1, "HasAns_F1": em, "NoAns_acc": 50.0}  # noqa: E731
    runs = {f"seed{s}": {"wall_s": {k: 60.0 * s for k, _ in mini_repro.ROWS} | {"augment": 3.0},
                         "metrics": {k: m(10.0 * s) for k, _ in mini_repro.ROWS}} for s in (1, 2)}
    text = mini_repro.table({"runs": runs, "config": {"multiplier": 1, "seeds": [1, 2]}, "init_wall_s": 4.0})
    row = next(line for line in text.splitlines() if line.startswith("| teacher"))
    assert "15.0 ± 7.1" in row and "16.0 ± 7.1" in row and "50.0 ± 0.0" in row and "1.5 min" in row
