"""What the command-line recipes share: a help formatter that shows each default exactly once."""
from __future__ import annotations

import argparse


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
