"""What every command checks before anything loads: model paths and hub ids (offline in seconds, one
line naming the option, the id and the fixes), a usable --out, and no empty --out after a failure."""
import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_cli(module, *args, env=None, timeout=120):
    cmd = [sys.executable, "-m", module, *map(str, args)]
    return subprocess.run(cmd, cwd=REPO, env=env or os.environ, capture_output=True, text=True, timeout=timeout)


def one_line(err: str) -> str:
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err[-3000:]
    return err.strip()


@pytest.fixture
def unreachable_hub_env():
    """No HF_HUB_OFFLINE and a hub endpoint where nothing listens: what a machine without a route to the
    hub sees, on any machine (transformers alone would retry for about 40 s)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") and "proxy" not in k.lower()}
    return {**env, "HF_ENDPOINT": "http://127.0.0.1:9", "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def test_augment_squad_unreachable_hub_mlm_fails_within_seconds(tmp_path, sample_path, unreachable_hub_env):
    args = ["--input", sample_path, "--out", tmp_path / "aug", "--mlm", "tinyaug-tests/no-such-model"]
    t = time.perf_counter()
    run_cli("pipelines.augment_squad", *args, env={**unreachable_hub_env, "HF_HUB_OFFLINE": "1"})
    t_offline = time.perf_counter() - t  # the same failure without the probe: start-up and checks alone
    t = time.perf_counter()
    proc = run_cli("pipelines.augment_squad", *args, env=unreachable_hub_env)
    # The probe adds seconds at most (transformers' retries alone would add about 40 s); compared with the
    # offline run rather than a fixed bound, so that a loaded test machine's slow start-up does not count.
    assert time.perf_counter() - t - t_offline < 8
    assert proc.returncode == 2
    line = one_line(proc.stderr)
    for fragment in ("--mlm tinyaug-tests/no-such-model", "cannot be reached", "--mlm PATH", "--mlm none",
                     "HF_HUB_OFFLINE=1"):
        assert fragment in line
    assert not (tmp_path / "aug").exists()


def test_augment_squad_missing_mlm_directory_is_one_line(tmp_path, sample_path, capsys):
    from pipelines.augment_squad import main

    assert main(["--input", str(sample_path), "--mlm", "/nope", "--out", str(tmp_path / "aug")]) == 2
    assert one_line(capsys.readouterr().err) == "augment-squad: error: --mlm /nope: no such model directory"
    assert not (tmp_path / "aug").exists()


def test_distill_train_names_each_missing_model(tmp_path, sample_path, capsys):
    from pipelines.distill_train import main

    out = tmp_path / "runs" / "o"
    assert main(["--data", str(sample_path), "--out", str(out), "--teacher", "/nope", "--student",
                 str(tmp_path / "no-student")]) == 2
    line = one_line(capsys.readouterr().err)
    assert "--teacher /nope: no such model directory" in line
    assert f"--student {tmp_path / 'no-student'}: no such model directory" in line
    assert not (tmp_path / "runs").exists()


def test_init_student_missing_teacher_is_one_line(tmp_path, capsys):
    from pipelines.init_student import main

    assert main(["--teacher", "/nope", "--layers", "2", "--out", str(tmp_path / "s")]) == 2
    assert one_line(capsys.readouterr().err) == "init-student: error: --teacher /nope: no such model directory"


@pytest.fixture
def read_only_out(monkeypatch):
    """Every directory refuses new entries, as on a read-only filesystem (root ignores permissions)."""
    from augment import outdir

    def refuse(**kwargs):
        raise OSError(errno.EROFS, "Read-only file system")
    monkeypatch.setattr(outdir.tempfile, "mkdtemp", refuse)


def test_augment_squad_unwritable_out_stops_before_vectors_load(tmp_path, sample_path, read_only_out,
                                                                monkeypatch, capsys):
    from augment import glove
    from pipelines.augment_squad import main

    monkeypatch.setattr(glove, "load_glove", lambda *a, **k: pytest.fail("GloVe loaded before --out was checked"))
    assert main(["--input", str(sample_path), "--mlm", "none", "--out", str(tmp_path / "aug")]) == 2
    line = one_line(capsys.readouterr().err)
    assert line == (f"augment-squad: error: --out {tmp_path / 'aug'}: cannot write in {tmp_path} "
                    "(Read-only file system); choose a directory you can write to")


def test_distill_train_unwritable_out_is_one_line(tmp_path, sample_path, tiny_student_path, read_only_out, capsys):
    from pipelines.distill_train import main

    assert main(["--data", str(sample_path), "--out", str(tmp_path / "o"), "--teacher", "none",
                 "--student", tiny_student_path]) == 2
    assert "cannot write in" in one_line(capsys.readouterr().err)


def test_squad_eval_unwritable_out_stops_before_the_model_loads(tmp_path, sample_path, tiny_student_path,
                                                                read_only_out, capsys):
    from pipelines.squad_eval import main

    assert main(["--model", tiny_student_path, "--data", str(sample_path), "--out", str(tmp_path / "e.json")]) == 2
    assert f"--out {tmp_path}: cannot write in {tmp_path}" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize("module, shown", [
    ("pipelines.distill_train", "windows per process per micro-batch (default: 26)"),
    ("pipelines.init_student", "(default: lower)"),
    ("pipelines.augment_squad", "augmented variants per question (default: 20)"),
    ("pipelines.squad_eval", "windows per forward pass (default: 32)")])
def test_help_shows_each_default_once(module, shown, capsys):
    import importlib

    mod = importlib.import_module(module)
    with pytest.raises(SystemExit) as e:
        mod.main(["--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert shown in text  # a real default is shown (a help without any default passed the checks below)
    assert "(default: None)" not in text and "(default: False)" not in text
    for chunk in text.split(" --")[1:]:  # one option's help each (roughly)
        assert chunk.lower().count("default:") <= 1, chunk  # the word alone may be a value ('default')
