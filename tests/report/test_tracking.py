"""distill-train --report-to tensorboard: the scalars read back with TensorBoard's own reader."""
import json
import shutil

import pytest

from augment.report.tracking import Scalars, hparams
from pipelines.distill_train import main
from pipelines.squad_eval import main as squad_eval
from tests.browser import load_page


def scalars_of(folder) -> dict:
    """{tag: [(step, value), ...]} of every run under ``folder``, read with TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    events = EventMultiplexer().AddRunsFromDirectory(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(run, tag)]
            for run, tags in events.Runs().items() for tag in tags["scalars"]}


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
    out = tmp_path / "out"
    assert main(["--data", str(sample_path), "--limit", "8", "--max-length", "96", "--doc-stride", "48",
                 "--batch-size", "4", "--cache-dir", str(tmp_path / "cache"), "--teacher", "none",
                 "--student", tiny_student_path, "--out", str(out), "--max-steps", "3", "--log-every", "1",
                 "--eval", str(sample_path), "--eval-limit", "4", "--eval-every", "2",
                 "--report-to", "tensorboard"]) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in records if "loss" in r]
    # metrics.jsonl's own keys, throughput (issue 10) included: the trackers add nothing to it
    # (no teacher: the loss is the hard-label term alone, and no distillation term is logged)
    assert set(logged[0]) == {"stage", "step", "epoch", "lr", "loss", "ce", "windows_per_s", "tflops", "processes"}
    scalars = scalars_of(out / "tensorboard")
    assert "prediction/kd" not in scalars
    for key in ("loss", "ce", "lr", "windows_per_s", "tflops"):
        assert [s for s, _ in scalars[f"prediction/{key}"]] == [r["step"] for r in logged]
        assert [v for _, v in scalars[f"prediction/{key}"]] == pytest.approx([r[key] for r in logged], rel=1e-5)
    evals = [r for r in records if "eval" in r]
    assert [s for s, _ in scalars["prediction/eval/f1"]] == [2, 3]  # --eval-every 2, then the final one
    assert [v for _, v in scalars["prediction/eval/f1"]] == pytest.approx([r["eval"]["f1"] for r in evals])
    # distill-train's evaluation writes its page beside eval.json.
    load_page(browser, out / "eval.html")
    assert browser.evaluate("document.querySelectorAll('table.worst tbody tr').length") == 4
    # eval.json names its options as squad-eval does: given them, squad-eval on the saved student agrees.
    report = json.loads((out / "eval.json").read_text())
    options = report["options"]
    assert (report["step"], options["model"], options["limit"], options["autocast"]) == (
        "final", str(out / "student"), 4, None)
    argv = [x for k in ("model", "data", "limit", "max_length", "doc_stride", "batch_size", "n_best",
                        "max_answer_length", "device") for x in (f"--{k.replace('_', '-')}", str(options[k]))]
    assert squad_eval(argv + ["--out", str(tmp_path / "again")]) == 0
    assert json.loads((tmp_path / "again" / "eval.json").read_text())["metrics"] == report["metrics"]


def test_resumed_run_logs_each_step_once(tmp_path, sample_path, tiny_student_path):
    """A run killed after its step-2 checkpoint had logged steps 3 and 4 already (here: the step-4 checkpoint
    removed); the resumed run logs them again. TensorBoard must hold them once, with metrics.jsonl's values."""
    out = tmp_path / "out"
    argv = ["--data", str(sample_path), "--limit", "8", "--max-length", "96", "--doc-stride", "48",
            "--batch-size", "2", "--cache-dir", str(tmp_path / "cache"), "--teacher", "none",
            "--student", tiny_student_path, "--out", str(out), "--max-steps", "4", "--log-every", "1",
            "--save-every", "2", "--report-to", "tensorboard"]
    assert main(argv) == 0
    shutil.rmtree(out / "checkpoints" / "0-prediction-step00000004")
    assert [s for s, _ in scalars_of(out / "tensorboard")["prediction/loss"]] == [1, 2, 3, 4]
    assert main(argv + ["--resume"]) == 0
    logged = [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r]
    loss = scalars_of(out / "tensorboard")["prediction/loss"]
    assert [s for s, _ in loss] == [r["step"] for r in logged] == [1, 2, 3, 4]
    assert [v for _, v in loss] == pytest.approx([r["loss"] for r in logged], rel=1e-6)


def test_missing_tensorboard_is_reported_before_anything_loads(monkeypatch, tmp_path, sample_path, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import fails as if not installed
    code = main(["--data", str(sample_path), "--teacher", "none", "--student", str(tmp_path / "nowhere"),
                 "--out", str(tmp_path / "out"), "--report-to", "tensorboard"])
    err = capsys.readouterr().err
    assert code == 2 and "pip install tensorboard" in err and err.count("\n") == 1
