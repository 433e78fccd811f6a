"""A one-value option given twice: argparse keeps the last value, so the first (a second --data meant to be read too,
an --out typed over a default in a script) was dropped without a word. pipelines.cli.Once refuses it."""
import argparse
import importlib

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
    ("demo", ["--out", "a", "--out", "b"]),
    ("tutorial", ["--out", "a", "--out", "b"]),
])
def test_every_command_refuses_a_data_source_or_output_given_twice(module, argv, capsys, monkeypatch):
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


def test_squad_eval_says_to_run_once_per_source(capsys):
    from pipelines.squad_eval import main

    with pytest.raises(SystemExit):
        main(["--model", "m", "--data", "dev.json", "--data", "extra.json"])
    assert "squad-eval evaluates one source: run it once per source" in capsys.readouterr().err
