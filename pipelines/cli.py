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
