"""distill-train --report-to tensorboard: the scalars read back with TensorBoard's own reader."""
import json

import pytest

from augment.report.tracking import Scalars, hparams
from pipelines.distill_train import main
from tests.browser import load_page


def test_records_become_stage_scalars():
    to_scalars = Scalars()
    values, step = to_scalars({"stage": "intermediate", "step": 3, "epoch": 0, "lr": 1e-5, "loss": 2.0,
                               "hidden": 1.5, "attention": 0.5, "windows_per_s": 9.0})
    assert step == 3 and values == {"intermediate/epoch": 0, "intermediate/lr": 1e-5, "intermediate/loss": 2.0,
                                    "intermediate/hidden": 1.5, "intermediate/attention": 0.5,
                                    "intermediate/windows_per_s": 9.0}
    values, step = to_scalars({"stage": "intermediate", "step": "final", "eval": {"f1": 10.0}})
    assert (values, step) == ({"intermediate/eval/f1": 10.0}, 3)  # the final eval: at the last step
    assert hparams({"data": ["a", "b"], "limit": None, "bf16": False}) == {"data": "a b", "limit": "none",
                                                                            "bf16": False}


def test_tensorboard_event_files_hold_every_logged_step(tmp_path, sample_path, tiny_student_path, browser):
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    out = tmp_path / "out"
    assert main(["--data", str(sample_path), "--limit", "8", "--max-length", "96", "--doc-stride", "48",
                 "--batch-size", "4", "--cache-dir", str(tmp_path / "cache"), "--teacher", "none",
                 "--student", tiny_student_path, "--out", str(out), "--max-steps", "3", "--log-every", "1",
                 "--eval", str(sample_path), "--eval-limit", "4", "--eval-every", "2",
                 "--report-to", "tensorboard"]) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in records if "loss" in r]
    # metrics.jsonl's own keys, throughput (issue 10) included: the trackers add nothing to it
    assert set(logged[0]) == {"stage", "step", "epoch", "lr", "loss", "kd", "ce", "windows_per_s", "tflops"}
    events = EventMultiplexer().AddRunsFromDirectory(str(out / "tensorboard"))
    events.Reload()
    scalars = {}
    for run, tags in events.Runs().items():
        for tag in tags["scalars"]:
            scalars[tag] = [(e.step, e.value) for e in events.Scalars(run, tag)]
    for key in ("loss", "kd", "ce", "lr", "windows_per_s", "tflops"):
        assert [s for s, _ in scalars[f"prediction/{key}"]] == [r["step"] for r in logged]
        assert [v for _, v in scalars[f"prediction/{key}"]] == pytest.approx([r[key] for r in logged], rel=1e-5)
    evals = [r for r in records if "eval" in r]
    assert [s for s, _ in scalars["prediction/eval/f1"]] == [2, 3]  # --eval-every 2, then the final one
    assert [v for _, v in scalars["prediction/eval/f1"]] == pytest.approx([r["eval"]["f1"] for r in evals])
    # distill-train's evaluation writes its page beside eval.json.
    load_page(browser, out / "eval.html")
    assert browser.evaluate("document.querySelectorAll('table.worst tbody tr').length") == 4


def test_missing_tensorboard_is_reported_before_anything_loads(monkeypatch, tmp_path, sample_path, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import fails as if not installed
    code = main(["--data", str(sample_path), "--teacher", "none", "--student", str(tmp_path / "nowhere"),
                 "--out", str(tmp_path / "out"), "--report-to", "tensorboard"])
    err = capsys.readouterr().err
    assert code == 2 and "pip install 'tinyaug[tensorboard]'" in err and err.count("\n") == 1
