"""pipelines.cli.Parser records which options the command line typed. The checks of options a run never uses
compared each value with its default, so an option typed at its default (--mlm-mode exact with --mlm none)
looked left out and passed without a word."""
import argparse
import pickle

import pytest

from pipelines.cli import Parser, given_options

OPTIONS = {"mode", "mask_rate", "data", "flag"}


def parser() -> Parser:
    p = Parser(prog="tool")
    p.add_argument("--mode", choices=("exact", "multi"), default="exact")
    p.add_argument("--mask-rate", type=float, default=0.15)
    p.add_argument("--data", nargs="+", action="extend")
    p.add_argument("--flag", action="store_true")
    return p


@pytest.mark.parametrize("argv", [["--mode", "exact"], ["--mode=exact"], ["--mo", "exact"], ["--mo=exact"]])
def test_an_option_typed_at_its_default_is_given_in_any_spelling(argv):
    args = parser().parse_args(argv)
    assert args.mode == "exact" and given_options(args, OPTIONS) == {"mode"}


def test_options_left_out_are_not_given_and_the_parser_keeps_its_defaults():
    p = parser()
    assert given_options(p.parse_args(["--flag", "--data", "a", "--data", "b"]), OPTIONS) == {"flag", "data"}
    # Only the options asked about: a check of one option (--projection) must not see any other typed as it.
    assert given_options(p.parse_args(["--flag", "--mode", "multi"]), {"mode", "mask_rate"}) == {"mode"}
    args = p.parse_args([])  # the same parser again: the second parse of the first left its defaults as they were
    assert given_options(args, OPTIONS) == set()
    assert (args.mode, args.mask_rate, args.data, args.flag) == ("exact", 0.15, None, False)


def test_the_record_stays_out_of_the_options_a_run_records():
    """vars(args) is what config.json, the manifest and eval.json record: the options alone."""
    args = parser().parse_args(["--mode", "exact"])
    assert vars(args) == {"mode": "exact", "mask_rate": 0.15, "data": None, "flag": False}
    assert pickle.loads(pickle.dumps(args)).typed == args.typed == {"mode"}
    with pytest.raises(TypeError, match="pipelines.cli.Parser"):  # a copy does not know: not taken as "nothing"
        given_options(argparse.Namespace(**vars(args)), OPTIONS)


def test_an_exclusive_pair_typed_at_defaults_argparse_lets_pass_is_given_not_an_error():
    """argparse lets two mutually exclusive options pass when a value is its option's default object (an int of
    -5..256, an interned string). The second parse, with every default suppressed, counted it as given and
    stopped the command argparse accepted with 'not allowed with argument'. The first parse checks the group;
    the second only says what was typed. (No command's group takes values today: --bf16/--fp16 are flags.)"""
    p = Parser(prog="tool")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--a", type=int, default=1)
    group.add_argument("--b", type=int, default=2)
    assert given_options(p.parse_args(["--a", "1", "--b", "2"]), {"a", "b"}) == {"a", "b"}
    with pytest.raises(SystemExit):  # still refused where argparse refuses it
        p.parse_args(["--a", "3", "--b", "4"])
