"""Answering questions with a QA model: what ``pipeline("question-answering")`` did before
transformers 5 removed that task, with the evaluation's own windows, span search and null score.

    >>> from transformers import AutoModelForQuestionAnswering, AutoTokenizer     # doctest: +SKIP
    >>> model = AutoModelForQuestionAnswering.from_pretrained("runs/tiny/student")  # doctest: +SKIP
    >>> tok = AutoTokenizer.from_pretrained("runs/tiny/student")                    # doctest: +SKIP
    >>> answer(model, tok, "Who wrote it?", "It was written by Ann Lee in 1990.")   # doctest: +SKIP
    {'answer': 'Ann Lee', 'start': 18, 'end': 25, 'null_diff': -3.1}

``start``/``end`` are character offsets into the context from the tokenizer's offset mapping (never a
search for the text). The model abstains (``answer == ""``, ``start is None``) when the null score
beats the best span by more than ``threshold``, the convention of the SQuAD 2.0 metric.

The windows are the model's own unless told otherwise: ``device=None`` runs them where the model's
weights are (a model moved to CUDA is answered on CUDA), ``max_length=None`` takes 384 tokens, the
evaluation's default, or fewer when the model has fewer positions, and ``doc_stride=None`` 128 tokens,
or a third of a shorter window.
"""
from __future__ import annotations

import warnings

from augment.qa.evaluate import (check_least, check_model_and_tokenizer, check_threshold, features_and_logits,
                                 model_device)
from augment.qa.features import cut_questions, cut_warning
from augment.qa.positions import usable_positions
from augment.qa.postprocess import best_spans, nan_examples

DEFAULT_MAX_LENGTH, DEFAULT_DOC_STRIDE = 384, 128  # squad-eval's and distill-train's defaults


def answer(model, tokenizer, question, context, threshold: float = 0.0, max_length: int | None = None,
           doc_stride: int | None = None, n_best: int = 20, max_answer_length: int = 30, batch_size: int = 32,
           device=None):
    """The answer to one question (``str``) or to each of a list (any iterable) of questions about a context
    (``str``, shared) or contexts (as many). Returns a dict, or a list of them:
    ``{"answer", "start", "end", "null_diff"}``. A parameter of the wrong kind, or an empty question, is a
    ValueError naming it; an empty context is answered with nothing (``start`` None, ``null_diff`` inf). Questions
    too long for the windows are cut to fit, as in the evaluation, with one UserWarning that counts them; NaN logits
    (a diverged model, float16 overflow) give one that names the first question they touch (:func:`nan_warning`)."""
    check_model_and_tokenizer(model, tokenizer, "answer(model, tokenizer, question, context, ...)")
    single = isinstance(question, str)
    questions = texts("question", question)
    for k, q in enumerate(questions):
        if not q.strip():  # asked nothing, the model still picks a span (transformers' pipeline refused it too)
            raise ValueError(f"{'question' if single else f'question[{k}]'} is empty"
                             f"{' (only whitespace)' if q else ''}: there is nothing to answer, got {q!r:.80}")
    contexts = texts("context", context)
    if isinstance(context, str):  # one context shared by every question
        contexts *= len(questions)
    if len(contexts) != len(questions):
        raise ValueError(f"{len(questions)} questions but {len(contexts)} contexts")
    check_least(batch_size=(batch_size, 1), max_answer_length=(max_answer_length, 1), n_best=(n_best, 1),
                doc_stride=(0 if doc_stride is None else doc_stride, 0),
                max_length=(1 if max_length is None else max_length, 1))
    check_threshold(threshold)
    if not questions:
        return []
    if device is None:
        device = model_device(model)
    if max_length is None:
        max_length = default_max_length(model)
    if doc_stride is None:  # 128 of 384, as the evaluation; a third of a shorter window
        doc_stride = min(DEFAULT_DOC_STRIDE, max_length // 3)
    rows = [{"id": str(i), "question": q, "context": c} for i, (q, c) in enumerate(zip(questions, contexts))]
    was_training = model.training
    model.eval()
    try:
        features, start, end = features_and_logits(model, tokenizer, rows, max_length, doc_stride,
                                                   batch_size, device)
    finally:
        model.train(was_training)
    # After the windows, which refuse a stride that leaves the question no room: as squad-eval's line, one warning
    # per call. (Python's default filter shows a repeat of the same text from the same caller once.)
    cut = cut_questions(questions, tokenizer, max_length, doc_stride)
    if line := cut_warning(cut, len(questions), tokenizer, max_length, doc_stride, names=("max_length", "doc_stride")):
        warnings.warn(line.removeprefix("warning: "), stacklevel=2)
    spans = best_spans(rows, features, start, end, n_best=n_best, max_answer_length=max_answer_length)
    if nan := nan_examples(features, start, end):  # a warning, not evaluate's error: the other answers stand
        warnings.warn(nan_warning([int(i) for i in nan], single), stacklevel=2)
    out = []
    for r in rows:
        a, b, diff = spans[r["id"]]
        if a is None or diff > threshold:
            out.append({"answer": "", "start": None, "end": None, "null_diff": diff})
        else:
            out.append({"answer": r["context"][a:b], "start": a, "end": b, "null_diff": diff})
    return out[0] if single else out


def nan_warning(indices: list[int], single: bool) -> str:
    """The warning for questions (their ``indices``; ``single``: the one question of a call given a string) whose
    logits held NaN where an answer is read. Left unsaid, such a question abstained with ``null_diff`` inf, as one
    the model was sure had no answer (:mod:`augment.qa.postprocess`).

        >>> nan_warning([3, 5], single=False)
        'the model produced NaN logits for question[3] (and 1 more): answered from its finite scores, or abstaining (null_diff inf) where it has no finite null score or span; the model may have diverged, or overflowed in float16'
    """
    which = "the question" if single else f"question[{indices[0]}]"
    more = f" (and {len(indices) - 1} more)" if len(indices) > 1 else ""
    return (f"the model produced NaN logits for {which}{more}: answered from its finite scores, or abstaining "
            "(null_diff inf) where it has no finite null score or span; the model may have diverged, or overflowed "
            "in float16")


def texts(name: str, value) -> list[str]:
    """``value`` (one string, or an iterable of them) as a list of strings, or a ValueError naming ``name`` and
    the bad value: None or a number failed inside ``list()``, a None among the strings inside the tokenizer."""
    if value is None or isinstance(value, (bytes, dict)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{name} must be a string or a list of strings, got {value!r:.80}")
    items = [value] if isinstance(value, str) else list(value)
    for k, item in enumerate(items):
        where = name if isinstance(value, str) else f"{name}[{k}]"
        if not isinstance(item, str):
            raise ValueError(f"{where} must be a string, got {item!r:.80}")
        if item.isascii():  # most texts: no encoding needed to know
            continue
        try:  # an unpaired "\ud800" (json.loads makes them) was a TypeError from inside the tokenizer
            item.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(f"{where} holds a lone surrogate {item[e.start]!r} at character {e.start}, which is "
                             "not Unicode text") from None
    return items


def default_max_length(model) -> int:
    """384 tokens, or the model's usable positions when it has fewer (a small model of 128 positions)."""
    config = getattr(getattr(model, "module", model), "config", None)
    limit = usable_positions(config) if config is not None else None
    return min(DEFAULT_MAX_LENGTH, limit) if limit else DEFAULT_MAX_LENGTH
