"""Checking a ``squad_v2`` row before augmenting it. Nothing is repaired: a bad row raises."""
from __future__ import annotations

from augment.errors import InvalidExample


def _check_spans(ex_id, context: str, spans, field: str) -> None:
    if not isinstance(spans, dict):
        raise InvalidExample(ex_id, f"{field} must be a dict with 'text' and 'answer_start', "
                                    f"got {type(spans).__name__}", "bad_type")
    texts, starts = spans.get("text"), spans.get("answer_start")
    if not isinstance(texts, list) or not isinstance(starts, list):
        raise InvalidExample(ex_id, f"{field}.text and {field}.answer_start must be lists", "bad_type")
    if len(texts) != len(starts):
        raise InvalidExample(ex_id, f"{field} has {len(texts)} texts but {len(starts)} starts", "bad_type")
    for k, (t, s) in enumerate(zip(texts, starts)):
        if not isinstance(t, str) or not t:
            raise InvalidExample(ex_id, f"{field}[{k}] text must be a non-empty string, got {t!r}", "bad_type")
        if isinstance(s, bool) or not isinstance(s, int):
            raise InvalidExample(ex_id, f"{field}[{k}] answer_start must be an int, got {s!r}", "bad_type")
        if s < 0 or s + len(t) > len(context):
            raise InvalidExample(ex_id, f"{field}[{k}] span [{s}, {s + len(t)}) is outside the context "
                                        f"of length {len(context)}", "offset_out_of_range")
        if context[s:s + len(t)] != t:
            raise InvalidExample(ex_id, f"{field}[{k}] text {t!r} is not at offset {s} "
                                        f"(the context there reads {context[s:s + len(t)]!r})",
                                 "answer_mismatch")


def validate_example(row) -> None:
    """Raise :class:`InvalidExample` naming the id and the problem if ``row`` cannot be augmented.

        >>> validate_example({"id": "q1", "context": "Paris is big.", "question": "What?",
        ...                   "answers": {"text": ["Paris"], "answer_start": [0]}})
    """
    if not isinstance(row, dict):
        raise InvalidExample(None, f"expected a dict row, got {type(row).__name__}", "bad_type")
    ex_id = row.get("id")
    if not isinstance(ex_id, str) or not ex_id:
        raise InvalidExample(ex_id, "id must be a non-empty string", "missing_id")
    context = row.get("context")
    if not isinstance(context, str):
        raise InvalidExample(ex_id, f"context must be a string, got {type(context).__name__}", "bad_type")
    if not context.strip():
        raise InvalidExample(ex_id, "context is empty", "empty_context")
    question = row.get("question")
    if not isinstance(question, str):
        raise InvalidExample(ex_id, f"question must be a string, got {type(question).__name__}",
                             "empty_question" if question is None else "bad_type")
    if not question.strip():
        raise InvalidExample(ex_id, "question is empty", "empty_question")
    if "answers" not in row:
        raise InvalidExample(ex_id, "missing 'answers' (squad_v2 rows always have it: empty lists for an "
                                    "unanswerable question)", "missing_answers")
    _check_spans(ex_id, context, row["answers"], "answers")
    if row.get("plausible_answers") is not None:
        _check_spans(ex_id, context, row["plausible_answers"], "plausible_answers")
