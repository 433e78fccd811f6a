"""What the command-line recipes share: a help formatter that shows each default exactly once."""
from __future__ import annotations

import argparse
import os


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
