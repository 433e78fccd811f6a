"""Path options given as --opt=~/x: no shell expands a tilde after '=', so the commands must."""
import ast
import importlib
from pathlib import Path

import pytest

from pipelines import augment_squad

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
PATH_OPTIONS = {  # every option whose value is a model, a file or a folder, besides the data sources (squad_io)
    "augment_squad": ["--out", "--mlm", "--glove", "--stopwords"],
    "augment_report": ["dir", "--out"],
    "distill_train": ["--out", "--teacher", "--student", "--cache-dir"],
    "squad_eval": ["--out", "--model"],
    "init_student": ["--out", "--teacher"],
    "demo": ["--out"],
    "tutorial": ["--out"],
}


def _types(module: str) -> dict[str, str]:
    """{option: the name its add_argument passes as type=}, read from the module's source: init-student, demo and
    the tutorial build their parsers inside main()."""
    found = {}
    for node in ast.walk(ast.parse((PIPELINES / f"{module}.py").read_text())):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            kind = next((k.value.id for k in node.keywords if k.arg == "type" and isinstance(k.value, ast.Name)), None)
            found.setdefault(node.args[0].value, kind)
    return found


@pytest.mark.parametrize("module", sorted(PATH_OPTIONS))
def test_every_path_option_expands_a_leading_tilde(module):
    types = _types(module)
    assert {opt: types.get(opt) for opt in PATH_OPTIONS[module]} == {opt: "expand_tilde" for opt in PATH_OPTIONS[module]}


@pytest.mark.parametrize("module, option", [("augment_squad", "--out"), ("augment_squad", "--mlm"),
                                            ("distill_train", "--student"), ("squad_eval", "--model")])
def test_the_parsers_expand_tilde_and_leave_hub_ids_and_keywords(module, option, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    parser = importlib.import_module(f"pipelines.{module}").build_parser()
    action = next(a for a in parser._actions if option in a.option_strings)
    assert parser._get_value(action, "~/m") == str(tmp_path / "m")
    for kept in ("org/name", "none", "runs/x", "a~b"):
        assert parser._get_value(action, kept) == kept


def test_augment_squad_out_with_an_unexpanded_tilde_writes_under_home(sample_path, tmp_path, monkeypatch):
    """--out=~/o made a folder named '~' in the working directory; --glove=~/v.txt was 'no such file'."""
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    (home / "v.txt").write_text("the 0.1 0.2\nquick 0.3 0.1\nfox 0.2 0.2\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    assert augment_squad.main(["--input", str(sample_path), "--mlm", "none", "--glove=~/v.txt", "--limit", "2",
                               "--multiplier", "2", "--quiet", "--out=~/o"]) == 0
    assert (home / "o" / "manifest.json").is_file()
    assert list(cwd.iterdir()) == []
