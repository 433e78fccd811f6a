"""A key given twice in one JSON object of the data: refused when its values differ, read as once when they are equal.

JSON does not forbid it (RFC 8259: names SHOULD be unique) and Python's json keeps the last value without a word,
so a hand edit that left a record with two ``"answers"`` (or two ``"context"``, one of them stale) was read with the
first one dropped. The readers (:mod:`augment.squad_io`) decode with :data:`DECODER`, whose hook sees every object's
key/value pairs; a differing repeat stops the decode (:class:`DuplicateKey`), and :func:`duplicate_problem` then decodes
that one record again to say where it is. An identical repeat changes nothing that is read, so it passes.

Cost: one hook call per object (about 3 per question), measured as CPU time of the readers iterated whole, best of
9 runs on 2 shared cores, without the hook and with it: the SQuAD 2.0 subset of data/squad_v2 (1.4 MB) 25.6 -> 27.6 ms
(+8%); that subset 25 times over (36 MB, train-v2.0.json's size) 612 -> 690 ms (+13%); the subset's rows as JSON lines
23 -> 26 ms, and 25 times over (123 MB) 575 -> 671 ms (+17%). The hook builds the dict in C and compares lengths; the
pairs are looked into only where a key repeats. Next to augmenting or tokenising those rows this is noise, so every
object is checked rather than some keys guessed at.

    >>> DECODER.decode('{"a": 1, "a": 1}')
    {'a': 1}
    >>> print(duplicate_problem('{"id": "q1", "answers": [], "answers": [{"text": "x"}]}', "line 3"))  # doctest: +ELLIPSIS
    line 3 (id 'q1'): key 'answers' is given twice with different values ([] and [{"text": "x"}]); a JSON reader ...
"""
from __future__ import annotations

import json


# What to do about it, after the key is named.
ADVICE = "a JSON reader keeps the last without a word: remove the wrong one"


class DuplicateKey(Exception):
    """A key given twice with different values in an object being decoded. Not a ValueError: json's own
    JSONDecodeError is one, which the readers catch to report the position of a syntax error."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _repeated(pairs: list) -> tuple[str, object, object] | None:
    """The first key of ``pairs`` given again with another value, with its first and that value; None if every
    repeat is equal to the first (compared as JSON text: ``1`` and ``true``, or ``1`` and ``1.0``, are equal in
    Python but not in the file)."""
    first = {}
    for key, value in pairs:
        if key not in first:
            first[key] = value
        elif _text(first[key]) != _text(value):
            return key, first[key], value
    return None


def _text(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _refuse_differing(pairs: list) -> dict:
    obj = dict(pairs)
    if len(obj) < len(pairs) and (found := _repeated(pairs)):  # only an object with a repeated key is looked into
        raise DuplicateKey(found[0])
    return obj


DECODER = json.JSONDecoder(object_pairs_hook=_refuse_differing)


class _Repeated(dict):
    """An object with a differing repeated key, as :func:`duplicate_problem` decodes it: ``repeat`` is
    (key, first value, later value)."""

    repeat: tuple


def _tag(pairs: list) -> dict:
    found = _repeated(pairs)
    if found is None:
        return dict(pairs)
    obj = _Repeated(pairs)
    obj.repeat = found
    return obj


def _find(value, path: tuple = ()):
    """(path, object) of the first object (in file order) that holds a differing repeated key, or None."""
    if isinstance(value, _Repeated):
        return path, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if (found := _find(item, (*path, (key, value)))) is not None:
            return found
    return None


def _short(value, width: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)  # as the file has it, keys in its order
    return text if len(text) <= width else text[:width - 3] + "..."


def duplicate_problem(text: str, where: str, pos: int = 0) -> str:
    """One line naming the record of the JSON value at ``pos`` of ``text`` that :data:`DECODER` refused, and its key
    given twice: ``where`` is the record's position ("line 12", "data[3]"); the question's id follows where it has
    one, and the path below the record holding the key ("of answers[0]"). Raises ``json.JSONDecodeError`` if the value
    is invalid JSON further on (the caller reports that instead)."""
    value, _ = json.JSONDecoder(object_pairs_hook=_tag).raw_decode(text, pos)
    path, obj = _find(value) or ((), {})
    key, first, later = getattr(obj, "repeat", ("?", None, None))
    # The record: the innermost object on the way that has an id (a question), else the object itself (a paragraph).
    steps = [*path, (None, obj)]
    cut = max((i for i, (_, holder) in enumerate(steps) if isinstance(holder, dict) and "id" in holder), default=None)
    if cut is None:
        cut = len(steps) - 1
    record = where + "".join(_step(k, holder) for k, holder in path[:cut])
    inner = "".join(_step(k, holder) for k, holder in path[cut:]).lstrip(".")
    ident = steps[cut][1].get("id") if isinstance(steps[cut][1], dict) else None
    return (f"{record}{f' (id {ident!r})' if isinstance(ident, str) else ''}: key {key!r}"
            f"{f' of {inner}' if inner else ''} is given twice with different values ({_short(first)} and "
            f"{_short(later)}); {ADVICE}")


def _step(key, holder) -> str:
    return f"[{key}]" if isinstance(holder, list) else f".{key}"
