"""What the command-line recipes share: a help formatter that shows each default exactly once."""
from __future__ import annotations

import argparse


class DefaultsOnce(argparse.ArgumentDefaultsHelpFormatter):
    """``(default: X)`` after an option's help, except where it would say nothing or say it twice:
    required options, flags and options without a default (``None``/``False``), and help that already
    names its default."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.required or action.default in (None, False) or "default" in text.lower():
            return text
        return super()._get_help_string(action)
