"""A one-value option given twice: argparse keeps the last value, so the first (a second --data meant to be read too,
an --out typed over a default in a script) was dropped without a word. pipelines.cli.Once refuses it."""
import argparse
import ast
import importlib
from pathlib import Path

import pytest

from pipelines.cli import Once


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tool")
    p.add_argument("--input", default="squad_v2", action=Once, hint="run it once per source")
    p.add_argument("--seed", type=int, default=0)  # numbers keep argparse's rule: the last one wins
    return p


def test_a_second_value_is_one_line_naming_both_and_exit_2(capsys):
    with pytest.raises(SystemExit) as stop:
        parser().parse_args(["--input", "a.json", "--seed", "1", "--input=b.json"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == ("tool: error: --input given twice (a.json, then b.json): it takes one value, "
                                       "and the second would replace the first; run it once per source\n")


def test_one_value_the_same_value_twice_and_the_default_given_first_are_told_apart(capsys):
    p = parser()
    assert p.parse_args(["--input", "a", "--seed", "1", "--seed", "2"]).seed == 2
    assert p.parse_args(["--input", "a", "--input", "a"]).input == "a"  # nothing dropped
    assert p.parse_args(["--input", "b"]).input == "b"  # the same parser again: a new parse, no repeat
    assert p.parse_args([]).input == "squad_v2"
    with pytest.raises(SystemExit):  # a value equal to the default is still a value given
        p.parse_args(["--input", "squad_v2", "--input", "b"])
    assert "(squad_v2, then b)" in capsys.readouterr().err


@pytest.mark.parametrize("first, second", [("data/sample", "data/sample/"), ("./data/sample", "data//sample"),
                                           ("runs/a/./", "runs/a")])
def test_one_folder_spelled_twice_is_one_value(first, second):
    """Tab completion's trailing separator on a repeat: one folder, which the raw strings called two values."""
    assert parser().parse_args(["--input", first, "--input", second]).input == second


@pytest.mark.parametrize("first, second", [("squad_v2", "./squad_v2"), ("a/../b", "b"), ("a", "b/a")])
def test_paths_that_may_name_different_things_are_still_refused(first, second, capsys):
    """A bare name may be a hub id where ./name is a folder; a/../b is not b where a is a symlink."""
    with pytest.raises(SystemExit):
        parser().parse_args(["--input", first, "--input", second])
    assert f"({first}, then {second})" in capsys.readouterr().err


@pytest.mark.parametrize("module, argv", [
    ("squad_eval", ["--data", "dev.json", "--data", "extra.json"]),
    ("squad_eval", ["--out", "a", "--out", "b"]),
    ("augment_squad", ["--input", "dev.json", "--input", "extra.json"]),
    ("augment_squad", ["--out", "a", "--out", "b"]),
    ("augment_report", ["run", "--out", "a", "--out", "b"]),
    ("distill_train", ["--eval", "dev.json", "--eval", "extra.json"]),
    ("distill_train", ["--out", "a", "--out", "b"]),
    ("distill_train", ["--cache-dir", "a", "--cache-dir", "b"]),
    ("init_student", ["--out", "a", "--out", "b"]),
    # The models and word lists: --teacher a --teacher b distilled from b alone, without a word.
    ("augment_squad", ["--mlm", "a", "--mlm", "b"]),
    ("augment_squad", ["--glove", "a", "--glove", "b"]),
    ("augment_squad", ["--stopwords", "nltk", "--stopwords", "tinybert"]),
    ("distill_train", ["--teacher", "a", "--teacher", "b"]),
    ("distill_train", ["--student", "a", "--student", "b"]),
    ("squad_eval", ["--model", "a", "--model", "b"]),
    ("init_student", ["--teacher", "a", "--teacher", "b"]),
    ("demo", ["--out", "a", "--out", "b"]),
    ("tutorial", ["--out", "a", "--out", "b"]),
])
def test_every_command_refuses_a_data_source_output_or_model_given_twice(module, argv, capsys, monkeypatch):
    """Refused while the options are read, before anything loads or is written."""
    main = importlib.import_module(f"pipelines.{module}").main

    class Parsed(Exception):
        """The options were taken: stop here, rather than run the command (the tutorial: minutes, into ./b)."""

    def parse_only(self, *args, **kwargs):
        parse_args(self, *args, **kwargs)
        raise Parsed

    parse_args = argparse.ArgumentParser.parse_args
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_only)
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.splitlines()) == 1, err
    option, first, _, second = argv[-4:]
    assert f"{option} given twice ({first}, then {second})" in err


def test_every_model_file_or_folder_option_takes_one_value():
    """The rule in one place: every option whose value is a path or a model (type=expand_tilde, as
    test_cli_paths lists them) refuses a second value. Read from the source, since init-student, the demo and the
    tutorial build their parsers inside main()."""
    pipelines = Path(__file__).resolve().parents[1] / "pipelines"
    plain = []
    for module in sorted(pipelines.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
                continue
            keywords = {k.arg: getattr(k.value, "id", None) for k in node.keywords}
            if str(node.args[0].value).startswith("--") and keywords.get("type") == "expand_tilde" \
                    and keywords.get("action") != "Once":
                plain.append(f"{module.stem} {node.args[0].value}")
    assert plain == []


def test_squad_eval_says_to_run_once_per_source(capsys):
    from pipelines.squad_eval import main

    with pytest.raises(SystemExit):
        main(["--model", "m", "--data", "dev.json", "--data", "extra.json"])
    assert "squad-eval evaluates one source: run it once per source" in capsys.readouterr().err
