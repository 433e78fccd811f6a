"""What the command-line recipes share: a parser that remembers which options the command line gave, a help
formatter that shows each default exactly once, an option that refuses a second value, and when progress bars
are drawn."""
from __future__ import annotations

import argparse
import os
import re
import sys
import weakref


class Parsed(argparse.Namespace):
    """The options as :class:`Parser` parsed them, and ``typed``: the destinations the command line gave. A slot,
    not an attribute: ``vars(args)`` (the options a run records in its config.json and manifest) stays the
    options alone."""
    __slots__ = ("typed",)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose namespaces record which options were typed (:func:`given_options`). Comparing a
    value with the option's default cannot tell ``--mlm-mode exact`` (the default) from no --mlm-mode at all, so
    a check of options a run never uses let the first pass. argparse itself decides what was typed: the same
    arguments parsed once more with every default suppressed leave in the namespace exactly the options read,
    whatever their spelling (an abbreviation such as --mlm-m, ``--opt=value``). Values a command fills in
    after parsing (from a recorded config, say) are not typed."""

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)  # read twice: not an iterator used up by the first
        parsed, extras = super().parse_known_args(args, Parsed() if namespace is None else namespace)
        if isinstance(parsed, Parsed):
            parsed.typed = self._typed(args)
        return parsed, extras

    def _typed(self, args) -> frozenset[str]:
        saved, parser_defaults = [(action, action.default) for action in self._actions], self._defaults
        groups = self._mutually_exclusive_groups
        try:
            for action, _ in saved:
                action.default = argparse.SUPPRESS
            self._defaults = {}
            # The first parse checked them. argparse counts an exclusive option whose value is its default object
            # (a small int, an interned string) as not given: with the defaults suppressed it would be, and a
            # command the first parse accepted would stop with "not allowed with argument".
            self._mutually_exclusive_groups = []
            # The first parse passed, so this one does too (same arguments, same checks).
            bare, _ = super().parse_known_args(args, argparse.Namespace())
        finally:
            for action, default in saved:
                action.default = default
            self._defaults = parser_defaults
            self._mutually_exclusive_groups = groups
        return frozenset(vars(bare))


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
    twice drops nothing and passes, in any spelling of one path (:func:`path_spelling`: ``data/sample`` and
    ``data/sample/``). ``hint``: what to do instead, at the end of the line."""

    def __init__(self, option_strings, dest, hint: str = "pass it once", **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.hint = hint
        # The namespaces this option has been given in. By identity and weakly held: a parser built once and used
        # for several parses (a test, the demo) tells each parse's first value from a repeat, and a default that
        # equals the value given (--input squad_v2) is no earlier occurrence.
        self.given_in = weakref.WeakValueDictionary()

    def __call__(self, parser, namespace, values, option_string=None):
        first = getattr(namespace, self.dest, None)
        if self.given_in.get(id(namespace)) is namespace and path_spelling(values) != path_spelling(first):
            flag = max(self.option_strings, key=len)
            # Not parser.error: its usage lines would make it more than one line.
            parser.exit(2, f"{parser.prog}: error: {flag} given twice ({first}, then {values}): it takes one value, "
                           f"and the second would replace the first; {self.hint}\n")
        self.given_in[id(namespace)] = namespace
        setattr(namespace, self.dest, values)


def path_spelling(text: str) -> str:
    """``text`` as :class:`Once` compares it: every value it takes names a path, a model or a data source, and
    a repeat spelled otherwise (``data/sample/`` after ``data/sample``, tab-completion's trailing separator) is one
    folder, not a second value. Separators repeated or at the end and ``.`` components are dropped. ``..`` is
    kept: ``a/../b`` is not ``b`` where ``a`` is a symlink. A bare name keeps a leading ``./``: ``squad_v2``,
    ``nltk`` or ``none`` may be a hub id or a keyword where ``./squad_v2`` is a path
    (augment.sources.local_path), so the two are different values.

        >>> path_spelling("data//./sample/"), path_spelling("./data/sample"), path_spelling("./nltk")
        ('data/sample', 'data/sample', './nltk')
    """
    seps = os.sep + (os.altsep or "")
    parts = [part for part in re.split(f"[{re.escape(seps)}]+", text) if part not in ("", ".")]
    if not text or text[0] in seps:
        return text[:1] + "/".join(parts)  # "" (an unset variable) stays itself; "/" stays the root
    if not parts:
        return "."  # ".", "./": the working directory, not the empty value
    bare = len(parts) == 1 and text[0] == "." and text[1:2] in seps
    return ("./" if bare else "") + "/".join(parts)


def expand_tilde(text: str) -> str:
    """A path option's value with a leading ``~`` expanded (the ``type`` of every model, file and output option).
    The shell leaves ``--out=~/o`` as it is (no tilde is expanded after '=' in an option): ``--out`` made a folder
    named ``~`` in the working directory, ``--glove``/``--stopwords`` were "no such file", and ``--student=~/s``
    passed the option check (which expands it) and then failed to load as a hub id. Hub ids, the values
    'default', 'none', 'nltk' and other paths pass unchanged."""
    return os.path.expanduser(text) if text.startswith("~") else text


def given_options(args, options) -> set[str]:
    """Which of ``options`` (destinations) the command line gave, at any value, its default included: ``args``
    as a :class:`Parser` returned them.

        >>> from pipelines import augment_squad
        >>> args = augment_squad.build_parser().parse_args(["--out", "o", "--mlm-m=exact"])  # exact: the default
        >>> given_options(args, {"mlm_mode", "mask_rate"})
        {'mlm_mode'}
    """
    if not isinstance(args, Parsed):  # a copy or a hand-made namespace: what was typed is unknown, not "nothing"
        raise TypeError(f"given_options needs the namespace a pipelines.cli.Parser returned, got {type(args).__name__}")
    return set(options) & args.typed


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
