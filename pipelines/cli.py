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


def model_spec(text: str) -> str:
    """A model option's value with a leading ``~`` expanded: the shell leaves ``--student=~/s`` as it is, the
    option checks expanded it and passed, and transformers then read ``~/s`` as a hub id ("not a valid model
    identifier"). Hub ids and other paths pass unchanged."""
    return os.path.expanduser(text) if text.startswith("~") else text
