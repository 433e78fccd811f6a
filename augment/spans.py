"""Edits on a text, and answer spans carried through them by offset arithmetic (never by searching).

    >>> e = [Edit("context", 4, 9, "quick", "speedy", "mlm")]
    >>> apply_edits("The quick fox", e)
    'The speedy fox'
    >>> shift_offset(10, e)          # "fox" moves one character right
    11

A row's ``edits`` are stored as dicts (Arrow has no dataclasses); they apply as they are, and ``field``
picks the context's or the question's:

    >>> stored = [{"field": "context", "start": 4, "end": 9, "original": "quick", "replacement": "fast",
    ...            "source": "glove"}, {"field": "question", "start": 0, "end": 3, "original": "Who",
    ...            "replacement": "What", "source": "mlm"}]
    >>> apply_edits("The quick fox", stored, field="context")
    'The fast fox'
"""
from __future__ import annotations

import copy
from typing import NamedTuple


class Edit(NamedTuple):
    """Replace ``original`` at ``[start, end)`` of the original ``field`` text by ``replacement``.

    A NamedTuple, not a frozen dataclass: the sampler makes ~25 per row (2.3M for the SQuAD subset x20)
    and a frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field) took 5x as long."""

    field: str  # "context" or "question"
    start: int
    end: int
    original: str
    replacement: str
    source: str  # "mlm" or "glove"

    def as_dict(self) -> dict:
        # Written out: dataclasses.asdict deep-copies field by field and took 3/4 of sampling time.
        field, start, end, original, replacement, source = self
        return {"field": field, "start": start, "end": end, "original": original,
                "replacement": replacement, "source": source}


def apply_edits(text: str, edits, field: str | None = None) -> str:
    """The text with non-overlapping ``edits`` (offsets in ``text``) applied; everything else kept.
    ``edits``: :class:`Edit` objects or their dicts as a row stores them; ``field``: apply only the edits of
    that field ("context" or "question"); None applies all of them."""
    edits = [Edit(**e) if type(e) is dict else e for e in edits]
    if field is not None:
        edits = [e for e in edits if e.field == field]
    return splice(text, sorted(edits, key=lambda e: e.start))


def splice(text: str, edits: list[Edit]) -> str:
    """:func:`apply_edits` for :class:`Edit` objects of one text already in start order, as the sampler
    makes them: an edit that starts before the previous one ends is refused as overlapping."""
    parts, pos = [], 0
    for e in edits:
        if e.start < pos:
            raise ValueError(f"overlapping edits at {e.start}: {e!r}")
        if text[e.start:e.end] != e.original:
            raise ValueError(f"edit {e!r} does not match the text there ({text[e.start:e.end]!r})")
        parts.append(text[pos:e.start])
        parts.append(e.replacement)
        pos = e.end
    parts.append(text[pos:])
    return "".join(parts)


def shift_offset(offset: int, edits) -> int:
    """Where original position ``offset`` lands after the edits that end at or before it."""
    return offset + sum(len(e.replacement) - (e.end - e.start) for e in edits if e.end <= offset)


def move_spans(spans: dict, new_text: str, edits) -> dict:
    """Carry ``{"text", "answer_start"}`` through ``edits`` of the context.

    Edits lie either wholly outside a span or wholly inside it (the sampler never touches a word that
    straddles a span boundary), so both ends move by offset arithmetic and the text is the slice of the
    new context between them: with ``answer_policy="keep"`` it is the old text unchanged.

    Other keys (per-answer metadata, as SubjQA's ``answer_subj_level``) are copied: a user's field is never
    lost. An ``answer_end`` of ints, one per answer, moves with its span, at the same distance from the span's
    end as before (exclusive or inclusive, as the input has it): copied, it would point at the old context.

        >>> move_spans({"text": ["fox"], "answer_start": [10], "answer_end": [13], "id": [7]}, "The speedy fox",
        ...            [Edit("context", 4, 9, "quick", "speedy", "mlm")])
        {'text': ['fox'], 'answer_start': [11], 'answer_end': [14], 'id': [7]}
    """
    texts, starts = [], []
    for t, s in zip(spans["text"], spans["answer_start"]):
        a, b = shift_offset(s, edits), shift_offset(s + len(t), edits)
        texts.append(new_text[a:b])
        starts.append(a)
    moved = {"text": texts, "answer_start": starts}
    if len(spans) == 2:  # only text and answer_start: nearly every row
        return moved
    ends = spans.get("answer_end")
    if (isinstance(ends, list) and len(ends) == len(texts)
            and all(isinstance(e, int) and not isinstance(e, bool) for e in ends)):
        moved["answer_end"] = [a + len(t) + (e - (s + len(t0)))
                               for a, t, e, s, t0 in zip(starts, texts, ends, spans["answer_start"], spans["text"])]
    return {k: moved[k] if k in moved else copy.deepcopy(v) for k, v in spans.items()}  # the input's key order
