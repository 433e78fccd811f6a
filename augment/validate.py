"""Checking a ``squad_v2`` row before augmenting it. Nothing is repaired: a bad row raises.

:func:`check_fields` checks what any reader of a row needs (the types of its fields, text that is
Unicode); :func:`validate_example` adds what training and augmenting need (non-empty texts, answers at
their offsets, an ``is_impossible`` that agrees with the answers).
"""
from __future__ import annotations

from augment.errors import InvalidExample


def _check_text(ex_id, text: str, field: str) -> None:
    # json.loads turns an unpaired "\ud800" escape into a str that UTF-8 cannot encode: tokenizers and
    # Arrow then fail mid-run on the whole batch, so the row is rejected here instead.
    if text.isascii():  # most texts: no encoding needed to know
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidExample(ex_id, f"{field} holds a lone surrogate {text[e.start]!r} at character "
                                    f"{e.start}, which is not Unicode text", "bad_text") from None


def is_answer(ans) -> bool:
    """Whether ``ans`` is an answer of the official list form: a dict with 'text' and 'answer_start'."""
    return isinstance(ans, dict) and "text" in ans and "answer_start" in ans


def _check_span_types(ex_id, spans, field: str) -> None:
    if isinstance(spans, list):  # the official form, left unconverted by squad_io because an item is malformed
        for k, ans in enumerate(spans):
            if not is_answer(ans):
                raise InvalidExample(ex_id, f"{field}[{k}]: expected {{'text', 'answer_start'}}, got {ans!r:.80}",
                                     "bad_type")
    if not isinstance(spans, dict):
        raise InvalidExample(ex_id, f"{field} must be a dict with 'text' and 'answer_start', "
                                    f"got {type(spans).__name__}", "bad_type")
    texts, starts = spans.get("text"), spans.get("answer_start")
    for key, value in (("text", texts), ("answer_start", starts)):
        if not isinstance(value, list):  # say which: "an answer without answer_start" is the usual one
            got = "it is missing" if key not in spans else f"got {value!r:.80}"
            raise InvalidExample(ex_id, f"{field}.{key} must be a list ({got})", "bad_type")
    if len(texts) != len(starts):
        raise InvalidExample(ex_id, f"{field} has {len(texts)} texts but {len(starts)} starts", "bad_type")
    for k, (t, s) in enumerate(zip(texts, starts)):
        if not isinstance(t, str) or not t:
            raise InvalidExample(ex_id, f"{field}[{k}] text must be a non-empty string, got {t!r}", "bad_type")
        if isinstance(s, bool) or not isinstance(s, int):
            raise InvalidExample(ex_id, f"{field}[{k}] answer_start must be an int, got {s!r}", "bad_type")


def _check_span_offsets(ex_id, context: str, spans, field: str) -> None:
    for k, (t, s) in enumerate(zip(spans["text"], spans["answer_start"])):
        if s < 0 or s + len(t) > len(context):
            raise InvalidExample(ex_id, f"{field}[{k}] span [{s}, {s + len(t)}) is outside the context "
                                        f"of length {len(context)}", "offset_out_of_range")
        if context[s:s + len(t)] != t:
            raise InvalidExample(ex_id, f"{field}[{k}] text {t!r} is not at offset {s} "
                                        f"(the context there reads {context[s:s + len(t)]!r})",
                                 "answer_mismatch")


def check_fields(row) -> None:
    """Raise :class:`InvalidExample` unless ``row``'s fields have the types every reader needs: a
    non-empty string id, string context and question, a string title if any, answer lists of texts and
    int starts, all of it Unicode text. Offsets are not checked (``squad-eval`` scores texts only).

        >>> check_fields({"id": "q1", "context": "", "question": "What?",
        ...               "answers": {"text": [], "answer_start": []}})
    """
    if not isinstance(row, dict):
        raise InvalidExample(None, f"expected a dict row, got {type(row).__name__}", "bad_type")
    ex_id = row.get("id")
    if not isinstance(ex_id, str) or not ex_id:
        raise InvalidExample(ex_id, "id must be a non-empty string", "missing_id")
    _check_text(ex_id, ex_id, "id")
    title = row.get("title")
    if title is not None:  # optional metadata, but written to a string column: 5 would fail in Arrow
        if not isinstance(title, str):
            raise InvalidExample(ex_id, f"title must be a string, got {title!r:.80}", "bad_type")
        _check_text(ex_id, title, "title")
    context = row.get("context")
    if not isinstance(context, str):
        raise InvalidExample(ex_id, f"context must be a string, got {type(context).__name__}", "bad_type")
    _check_text(ex_id, context, "context")
    question = row.get("question")
    if not isinstance(question, str):
        raise InvalidExample(ex_id, f"question must be a string, got {type(question).__name__}",
                             "empty_question" if question is None else "bad_type")
    _check_text(ex_id, question, "question")
    if "answers" not in row:
        raise InvalidExample(ex_id, "missing 'answers' (squad_v2 rows always have it: empty lists for an "
                                    "unanswerable question)", "missing_answers")
    _check_span_types(ex_id, row["answers"], "answers")
    if row.get("plausible_answers") is not None:
        _check_span_types(ex_id, row["plausible_answers"], "plausible_answers")


def validate_example(row) -> None:
    """Raise :class:`InvalidExample` naming the id and the problem if ``row`` cannot be augmented.

        >>> validate_example({"id": "q1", "context": "Paris is big.", "question": "What?",
        ...                   "answers": {"text": ["Paris"], "answer_start": [0]}})
    """
    check_fields(row)
    ex_id, context = row["id"], row["context"]
    if not context.strip():
        raise InvalidExample(ex_id, "context is empty", "empty_context")
    check_question(row)
    _check_span_offsets(ex_id, context, row["answers"], "answers")
    if row.get("plausible_answers") is not None:
        _check_span_offsets(ex_id, context, row["plausible_answers"], "plausible_answers")
    is_impossible(row)


def check_question(row) -> None:
    """Raise :class:`InvalidExample` for a question of whitespace alone (or none): asked nothing, a QA model still
    picks a span, and a score would count it. ``row`` has passed :func:`check_fields`."""
    if not row["question"].strip():
        raise InvalidExample(row["id"], "question is empty", "empty_question")


def is_impossible(row) -> bool:
    """``row``'s ``is_impossible``: as given, or (absent or null, as in the hub's ``squad_v2``) what its answers
    say. Raises :class:`InvalidExample` for a value that is not a boolean (never ``bool(value)``:
    ``bool("false")`` is True) or that contradicts the answers."""
    n = len(row["answers"]["text"])
    value = row.get("is_impossible")
    if value is None:
        return n == 0
    if not isinstance(value, bool):
        raise InvalidExample(row["id"], f"is_impossible must be true or false, got {value!r:.80}", "bad_type")
    if value == bool(n):
        answers = "1 answer" if n == 1 else f"{n} answers"
        raise InvalidExample(row["id"], f"is_impossible is {str(value).lower()} but the question has {answers}",
                             "is_impossible_mismatch")
    return value
