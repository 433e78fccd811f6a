"""An older transformers is refused at start, in one line naming the installed and the needed versions.

The old versions are not installed here: transformers' version string is patched, which is all the check reads.
"""
import configparser
import importlib
from pathlib import Path

import pytest
import transformers

from augment import versions
from augment.errors import DependencyError

OLD = "4.57.6"  # the last 4.x: BERT there ignores the registered attention implementation


@pytest.fixture
def old_transformers(monkeypatch):
    # The module that ``import transformers`` gives now: after the session's model fixtures, sys.modules may
    # hold another module object than the one this file imported.
    monkeypatch.setattr(importlib.import_module("transformers"), "__version__", OLD)


def one_line_naming_both(err: str, prog: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{prog}: error: transformers {OLD} is installed"), err
    assert f"transformers>={versions.MIN_TRANSFORMERS}" in lines[0]


def test_setup_cfg_requires_the_version_the_check_needs():
    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).parents[1] / "setup.cfg")
    requires = cfg["options"]["install_requires"].split()
    assert f"transformers>={versions.MIN_TRANSFORMERS}" in requires


@pytest.mark.parametrize("installed", ["4.45.2", "4.57.6", "5.0.0", "5.5.4"])
def test_older_versions_are_named_with_the_one_needed(installed):
    problem = versions.transformers_problem(installed)
    assert problem.startswith(f"transformers {installed} is installed, but tinyaug needs "
                              f"transformers>={versions.MIN_TRANSFORMERS}")


@pytest.mark.parametrize("installed", [versions.MIN_TRANSFORMERS, "5.24.0", "6.0.0",
                                       f"{versions.MIN_TRANSFORMERS}rc1", f"{versions.MIN_TRANSFORMERS}.dev0"])
def test_the_needed_version_and_later_ones_pass(installed):
    assert versions.transformers_problem(installed) is None


def test_the_installed_transformers_passes():
    versions.require_transformers()


def test_the_library_refuses_before_loading_a_masked_lm(old_transformers, tiny_mlm_path):
    from augment.mlm import MaskedLMCandidates

    with pytest.raises(DependencyError, match=f"transformers {OLD} is installed"):
        MaskedLMCandidates.from_pretrained(tiny_mlm_path)


def test_attention_capture_refuses_instead_of_blaming_the_model(old_transformers):
    from augment.distill.attention_capture import capture_problem, register

    with pytest.raises(DependencyError, match=f"transformers {OLD} is installed"):
        register()
    with pytest.raises(DependencyError, match=f"transformers {OLD} is installed"):
        capture_problem(transformers.BertConfig(), "student")


def test_distill_train_refuses_in_one_line_before_writing(old_transformers, sample_path, tiny_student_path,
                                                           tmp_path, capsys):
    from pipelines.distill_train import main

    out = tmp_path / "out"
    code = main(["--data", str(sample_path), "--teacher", "none", "--student", tiny_student_path,
                 "--out", str(out), "--max-steps", "1"])
    assert code == 2
    one_line_naming_both(capsys.readouterr().err, "distill-train")
    assert not out.exists()


def test_squad_eval_refuses_in_one_line(old_transformers, sample_path, tiny_teacher_path, tmp_path, capsys):
    from pipelines.squad_eval import main

    code = main(["--model", tiny_teacher_path, "--data", str(sample_path), "--out", str(tmp_path / "e.json")])
    assert code == 2
    one_line_naming_both(capsys.readouterr().err, "squad-eval")
    assert not (tmp_path / "e.json").exists()


def test_init_student_refuses_in_one_line(old_transformers, tiny_teacher_path, tmp_path, capsys):
    from pipelines.init_student import main

    code = main(["--teacher", tiny_teacher_path, "--layers", "1", "--out", str(tmp_path / "student")])
    assert code == 2
    one_line_naming_both(capsys.readouterr().err, "init-student")
    assert not (tmp_path / "student").exists()


def test_augment_squad_refuses_in_one_line_when_it_needs_the_masked_lm(old_transformers, sample_path, tiny_mlm_path,
                                                                      tmp_path, capsys):
    from pipelines.augment_squad import main

    code = main(["--input", str(sample_path), "--out", str(tmp_path / "aug"), "--mlm", tiny_mlm_path,
                 "--glove", "none", "--limit", "2"])
    assert code == 2
    one_line_naming_both(capsys.readouterr().err, "augment-squad")
