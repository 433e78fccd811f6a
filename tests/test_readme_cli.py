"""The command lines of the README and BENCHMARKS.md against the parsers: every option they name exists, in the
command it is given to, with the default they state; and what --help states as a default is the default used."""
import argparse
import inspect
import re
import sys
from pathlib import Path
from unittest import mock

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = ("README.md", "BENCHMARKS.md")
sys.path.insert(0, str(REPO / "benchmarks"))
# The benchmark scripts with options; each BENCHMARKS.md section names the one that reproduces its numbers.
BENCH_SCRIPTS = ("bench_augment", "compiled_graphs", "cpu_distill", "cpu_step_ops", "gpu_augment", "gpu_distill",
                 "grouped_lengths", "mini_repro", "padding_effect", "paired_cost", "replacement_rate")

# How the README spells each command (console script, module, script) -> the command's name below.
SPELLINGS = {"augment-squad": "augment-squad", "pipelines.augment_squad": "augment-squad",
             "augment-report": "augment-report", "distill-train": "distill-train",
             "pipelines.distill_train": "distill-train", "squad-eval": "squad-eval", "init-student": "init-student",
             "pipelines.demo": "demo", "pipelines.tutorial": "tutorial",
             # benchmarks/gpu_all.sh hands AUG_ARGS to gpu_augment.py and DIST_ARGS to gpu_distill.py
             "AUG_ARGS=": "gpu_augment", "DIST_ARGS=": "gpu_distill",
             **{f"benchmarks/{name}.py": name for name in BENCH_SCRIPTS}}
# compiled_graphs.py passes what follows "--" to distill-train.
PASSES_ON = {"compiled_graphs": "distill-train"}
# Options of other programs that the docs name: torchrun's, tensorboard's, pip's and pytest-xdist's.
OTHER_TOOLS = {"--nproc_per_node", "--nnodes", "--rdzv_backend", "--rdzv_endpoint", "--logdir", "--target", "--dist",
               "--no-deps", "--dry-run"}
# Options that a dated BENCHMARKS.md run used and that are gone since, each with the words that say so there.
REMOVED = {"--compile-mode": "`--compile-mode` was a trial option of `gpu_distill.py`, removed again"}
OPTION = re.compile(r"(?<![\w-])--[a-z][\w-]*")


class _Built(Exception):
    def __init__(self, parser):
        self.parser = parser


def _stop(self, *args, **kwargs):
    raise _Built(self)


def built_by(main) -> argparse.ArgumentParser:
    """The parser that ``main`` builds and then parses with (init-student, the demo, the tutorial and the
    benchmark scripts build theirs inside main): caught at parse_args, before anything runs."""
    with mock.patch.object(argparse.ArgumentParser, "parse_args", _stop):
        try:
            main([]) if inspect.signature(main).parameters else main()  # some scripts' main reads sys.argv
        except _Built as built:
            return built.parser
    raise AssertionError(f"{main.__module__}.main returned without parsing its arguments")


@pytest.fixture(scope="module")
def parsers() -> dict[str, argparse.ArgumentParser]:
    import importlib

    from pipelines import augment_report, augment_squad, demo, distill_train, init_student, squad_eval, tutorial

    return {"augment-squad": augment_squad.build_parser(), "augment-report": augment_report.build_parser(),
            "distill-train": distill_train.build_parser(), "squad-eval": squad_eval.build_parser(),
            "init-student": built_by(init_student.main), "demo": built_by(demo.main),
            "tutorial": built_by(tutorial.main),
            **{name: built_by(importlib.import_module(name).main) for name in BENCH_SCRIPTS}}


def options(parser) -> dict[str, argparse.Action]:
    return {o: a for a in parser._actions for o in a.option_strings}


def readme_text(doc: str = "README.md") -> str:
    """The README (or BENCHMARKS.md) without its Python examples (test_readme.py runs the README's)."""
    return re.sub(r"```python\n.*?```", "", (REPO / doc).read_text(encoding="utf-8"), flags=re.S)


def command_lines(text: str) -> list[str]:
    """Each line of the shell blocks and of the blocks indented by four spaces (continuations joined, comments
    cut) and each inline code span."""
    lines = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        lines += [line.split(" #")[0] for line in block.replace("\\\n", " ").splitlines()]
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    for block in re.findall(r"(?:^|\n\n)((?: {4}.*\n)+)", prose):
        lines += [line.split(" #")[0] for line in block.splitlines()]
    return lines + [span.replace("\n", " ") for span in re.findall(r"`([^`]+)`", prose)]


def given_to(line: str) -> list[tuple[str, list[str]]]:
    """(command, the options after it) for each command that the line runs."""
    spelled = re.compile(r"(?<![\w./-])(" + "|".join(map(re.escape, SPELLINGS)) + r")(?![\w-])")
    found = list(spelled.finditer(line))
    ends = [m.start() for m in found[1:]] + [len(line)]
    runs = []
    for m, end in zip(found, ends):
        command, args = SPELLINGS[m.group(1)], line[m.end():end]
        own, _, passed = args.partition(" -- ") if command in PASSES_ON else (args, "", "")
        runs += [(command, OPTION.findall(own))] + ([(PASSES_ON[command], OPTION.findall(passed))] if passed else [])
    return runs


# What each document's command lines run at least (so that a change to the patterns that finds none fails).
RUN_THERE = {"README.md": {"augment-squad", "augment-report", "distill-train", "squad-eval", "init-student",
                           "tutorial", "mini_repro", "gpu_distill"},
             "BENCHMARKS.md": {"augment-squad", "distill-train", "bench_augment", "compiled_graphs", "cpu_distill",
                               "cpu_step_ops", "gpu_augment", "gpu_distill", "grouped_lengths", "mini_repro",
                               "padding_effect", "paired_cost", "replacement_rate"}}


@pytest.mark.parametrize("doc", DOCS)
def test_each_command_line_uses_options_of_its_own_command(parsers, doc):
    text = readme_text(doc)
    runs = [(cmd, opts, line) for line in command_lines(text) for cmd, opts in given_to(line)]
    assert {cmd for cmd, _, _ in runs} >= RUN_THERE[doc]
    wrong = [f"{cmd} {o}: {line.strip()}" for cmd, opts, line in runs for o in opts
             if o not in options(parsers[cmd]) and not (o in REMOVED and REMOVED[o] in text)]
    assert not wrong, f"options the command does not have ({doc}):\n" + "\n".join(wrong)


@pytest.mark.parametrize("doc", DOCS)
def test_every_option_the_docs_name_exists(parsers, doc):
    text = readme_text(doc)
    known = set(OTHER_TOOLS).union(*(options(p) for p in parsers.values()))
    unknown = sorted(o for o in set(OPTION.findall(text)) - known if not (o in REMOVED and REMOVED[o] in text))
    assert not unknown, f"{doc} names options that no command has: {unknown}"


def section_command(text: str, at: int) -> str | None:
    """The command whose section (the nearest heading naming one) holds position ``at``."""
    for heading in reversed(re.findall(r"^#{2,3} (\S+?):? ", text[:at], flags=re.M)):
        if heading in SPELLINGS:
            return SPELLINGS[heading]
    return None


# "`--batch-size` (default 64)", "`--cache-batch-size`, default 256)", "`--stage both` (default)",
# "`--report-to tensorboard` (default `none`" and "the default `--mlm-context masked`".
STATED = [re.compile(r"`(--[\w-]+)`(?:,| \w+)? \(?default (?P<value>\d[\d,]*(?:\.\d+)?)(?=[);])"),
          re.compile(r"`(--[\w-]+) (?P<value>[\w-]+)` \(default\)"),
          re.compile(r"`(--[\w-]+)(?: [^`]*)?`,? \(default `(?P<value>[^`]+)`"),
          re.compile(r"the default `(--[\w-]+) (?P<value>[\w-]+)`")]
# Some of what each document states, so that a change to the patterns that finds none fails.
STATED_THERE = {"README.md": {("augment-squad", "--batch-size"), ("augment-squad", "--shard-rows"),
                              ("distill-train", "--stage"), ("distill-train", "--cache-batch-size"),
                              ("distill-train", "--report-to")},
                "BENCHMARKS.md": {("augment-squad", "--mlm-context")}}


@pytest.mark.parametrize("doc", DOCS)
def test_defaults_the_docs_state_are_the_parsers(parsers, doc):
    text = readme_text(doc)
    checked, wrong = set(), []
    for pattern in STATED:
        for m in pattern.finditer(text):
            option, said = m.group(1), m.group("value").replace(",", "")
            owners = [name for name, p in parsers.items() if option in options(p)]
            name = owners[0] if len(owners) == 1 else section_command(text, m.start())
            assert name in owners, f"{m.group(0)!r}: which command's? {owners}"
            action = options(parsers[name])[option]
            if action.default is None:  # computed (--stage: both, or prediction with --teacher none): as help says
                if f"default: {said}" not in (action.help or "").lower():
                    wrong.append(f"{name} {option}: {doc} says default {said}, --help {action.help!r}")
            elif said != str(action.default) and not (said.replace(".", "").isdecimal()
                                                      and float(said) == action.default):
                wrong.append(f"{name} {option}: {doc} says default {said}, the parser has {action.default!r}")
            checked.add((name, option))
    assert not wrong, "\n".join(wrong)
    assert STATED_THERE[doc] <= checked  # the patterns still find what they were written for


def test_a_default_that_help_states_is_the_default_used(parsers):
    """DefaultsOnce shows no default of its own where the help states one ("(default: ...)"), so a stated
    default that drifts from the parser's would be the only one a user sees. A computed default (None in the
    parser: "default: 4 per process on CUDA") is the code's business, not the parser's, and so is a default
    stated in words ("default: this one", compiled_graphs.py's --code: the repository it runs from)."""
    wrong = []
    for name, parser in parsers.items():
        for action in parser._actions:
            stated = re.search(r"\(default: ([^);,]+)\)", action.help or "")
            if (stated and action.default is not None and " " not in stated.group(1)
                    and stated.group(1) != str(action.default)):
                wrong.append(f"{name} {action.option_strings}: help says {stated.group(1)!r}, "
                             f"the default is {action.default!r}")
    assert not wrong, "\n".join(wrong)


def test_augment_squad_help_lists_every_option_with_its_default(parsers):
    """The README: "`augment-squad --help` lists every option with its default" (an on/off flag is off)."""
    parser = parsers["augment-squad"]
    formatter = parser._get_formatter()
    missing = [action.option_strings[-1] for action in parser._actions
               if not action.required and action.nargs != 0  # --out; --help and the on/off flags
               and "default:" not in formatter._get_help_string(action).lower()]
    assert not missing, f"augment-squad --help states no default for {missing}"


# The commands of pipelines/ whose options include a pipelines.cli.Once one (checked complete below).
ONCE_COMMANDS = ["augment-squad", "augment-report", "distill-train", "squad-eval", "init-student", "demo", "tutorial"]


def test_every_command_that_uses_once_is_checked():
    """A command that takes a Once option later fails here until it is named in ONCE_COMMANDS, so that the test
    below reads its --help too."""
    using = {f.stem.replace("_", "-") for f in (REPO / "pipelines").glob("*.py")
             if f.stem != "cli" and re.search(r"from pipelines\.cli import [^\n]*\bOnce\b", f.read_text())}
    assert using <= set(ONCE_COMMANDS), f"add {sorted(using - set(ONCE_COMMANDS))} to ONCE_COMMANDS"


@pytest.mark.parametrize("name", ONCE_COMMANDS)
def test_help_names_every_option_that_refuses_a_second_value(parsers, name):
    """argparse keeps the last of a repeated option; a pipelines.cli.Once option refuses it instead, which a user
    reading --help should learn: in the option's own help ("a second --data is refused") or the epilog's
    "given twice" sentence."""
    from pipelines.cli import Once

    parser = parsers[name]
    twice = " ".join(s for s in re.split(r"(?<=\.)\s", parser.epilog or "") if "given twice" in s)
    silent = [a.option_strings[-1] for a in parser._actions if isinstance(a, Once)
              and f"a second {a.option_strings[-1]} is refused" not in (a.help or "")
              and not re.search(re.escape(a.option_strings[-1]) + r"(?![\w-])", twice)]
    assert not silent, f"{name} --help does not say that a second value of {silent} is refused"
