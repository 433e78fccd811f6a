"""What the command-line recipes share: a help formatter that shows each default exactly once, an option
that refuses a second value, and when progress bars are drawn."""
from __future__ import annotations

import argparse
import os
import sys
import weakref


class DefaultsOnce(argparse.ArgumentDefaultsHelpFormatter):
    """``(default: X)`` after an option's help, except where it would say nothing or say it twice:
    required options, options without a default (``None``) and off flags (``False``), and help that
    already states its default (``default: ...`` in its text).

    ``None``/``False`` are compared by identity: ``0 == False``, so ``0 in (None, False)`` would hide a
    default of 0 (``--seed``). Only a stated ``default:`` counts as naming it: the bare word appears in
    help for other reasons (``--glove``'s value 'default', torch's "10-minute default")."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.required or action.default is None or action.default is False or "default:" in text.lower():
            return text
        return super()._get_help_string(action)


class Once(argparse.Action):
    """A one-value option (a data source, an output) given twice with two values: one line and exit code 2.
    argparse keeps the last value of a repeated option, so ``squad-eval --data dev.json --data extra.json``
    evaluated extra.json alone and ``augment-squad --input a.json --input b.json`` augmented b.json alone,
    without a word (distill-train's --data, which reads several sources, extends instead). The same value
    twice drops nothing and passes. ``hint``: what to do instead, at the end of the line."""

    def __init__(self, option_strings, dest, hint: str = "pass it once", **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.hint = hint
        # The namespaces this option has been given in. By identity and weakly held: a parser built once and used
        # for several parses (a test, the demo) tells each parse's first value from a repeat, and a default that
        # equals the value given (--input squad_v2) is no earlier occurrence.
        self.given_in = weakref.WeakValueDictionary()

    def __call__(self, parser, namespace, values, option_string=None):
        first = getattr(namespace, self.dest, None)
        if self.given_in.get(id(namespace)) is namespace and values != first:
            flag = max(self.option_strings, key=len)
            # Not parser.error: its usage lines would make it more than one line.
            parser.exit(2, f"{parser.prog}: error: {flag} given twice ({first}, then {values}): it takes one value, "
                           f"and the second would replace the first; {self.hint}\n")
        self.given_in[id(namespace)] = namespace
        setattr(namespace, self.dest, values)


def expand_tilde(text: str) -> str:
    """A path option's value with a leading ``~`` expanded (the ``type`` of every model, file and output option).
    The shell leaves ``--out=~/o`` as it is (no tilde is expanded after '=' in an option): ``--out`` made a folder
    named ``~`` in the working directory, ``--glove``/``--stopwords`` were "no such file", and ``--student=~/s``
    passed the option check (which expands it) and then failed to load as a hub id. Hub ids, the values
    'default', 'none', 'nltk' and other paths pass unchanged."""
    return os.path.expanduser(text) if text.startswith("~") else text


def given_options(args, parser: argparse.ArgumentParser, options) -> set[str]:
    """Which of ``options`` (destinations) ``args`` holds at other values than ``parser``'s defaults: given."""
    return {opt for opt in options if getattr(args, opt) != parser.get_default(opt)}


def no_effect(args, idle, given) -> tuple[list[str], list[str]]:
    """(problems, warnings) for the options in ``given`` that this run never uses. ``idle``: (destination, why,
    refused) each, from a command's ``idle_options``: refused where the run has no such part, only warned about
    where another option's value switches it off (a sweep over that value keeps one command)."""
    problems, warnings = [], []
    for opt, why, refused in idle:
        if opt in given:
            value = getattr(args, opt)
            flag = f"--{opt.replace('_', '-')}"
            shown = flag if isinstance(value, bool) else f"{flag} {value:g}" if isinstance(value, float) \
                else f"{flag} {value}"
            (problems if refused else warnings).append(f"{shown} has no effect: {why}")
    return problems, warnings


def bars_shown(quiet: bool = False) -> bool:
    """Whether this process draws progress bars: on a terminal, without --quiet (``quiet``), and in the first
    process of a torchrun group only (RANK unset or 0; the others would draw the same bars over it). In a log
    file or a pipe a bar is hundreds of carriage-return-separated updates around the lines that matter."""
    return not quiet and sys.stderr.isatty() and os.environ.get("RANK", "0") == "0"


def library_bars(quiet: bool = False) -> bool:
    """Make datasets', transformers' and huggingface_hub's progress bars follow :func:`bars_shown`, as the
    command's own do: off it turns them off ("windows:" from datasets' map, "Loading weights" and "Writing model
    shards" from transformers, downloads from the hub). Only bars: their warnings and errors still print. Never
    turns them on, so a caller that switched them off (the tutorial) keeps them off. Returns bars_shown.

    Called once options are checked: datasets and transformers take about a second to import, which an option
    error should not wait for."""
    shown = bars_shown(quiet)
    if not shown:
        import datasets
        import huggingface_hub.utils
        from transformers.utils import logging as hf_logging

        datasets.disable_progress_bars()
        huggingface_hub.utils.disable_progress_bars()
        hf_logging.disable_progress_bar()  # transformers copies the hub's setting once, at its import
    return shown
