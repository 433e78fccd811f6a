"""SQuAD rows to model features: sliding windows over the context with token-level answer labels.

Follows the windowing of Hugging Face ``run_qa.py`` (question and context in one sequence, the context
cut into windows of ``max_length`` tokens that overlap by ``doc_stride`` tokens), written against the
tokenizer's own answers rather than assumptions about BERT:

- the CLS index is where ``tokenizer.cls_token_id`` sits in the window (XLNet puts it last), 0 only for
  a tokenizer without one;
- context tokens are found with ``sequence_ids()``, never with ``token_type_ids`` (RoBERTa has none);
- the question goes first unless the tokenizer pads on the left (XLNet-style), as in ``run_qa.py``;
- windows are padded on the right whatever the tokenizer's ``padding_side``: BERT numbers positions by index,
  so a left-padded window's tokens got the positions of a longer sequence (other logits than the window alone),
  while ``position_ids`` to pass would differ by model family (RoBERTa counts from its padding index, XLNet's
  positions are relative); padding after the last token leaves every family's positions as for the window alone;
- a question too long to leave the stride's worth of context is cut to fit (the tokenizer would
  otherwise abort);
- answer labels come from the first answer's character span (``answer_start[0]``, ``len(text)``, less the
  answer's own leading and trailing whitespace) and the tokenizer's offsets; the text is never searched.

Both functions are batched and plain (dict of lists in, dict of lists out), so they work directly as
``Dataset.map(fn, batched=True, remove_columns=ds.column_names, fn_kwargs={"tokenizer": tok})``.

    >>> feats = prepare_train_features(                      # doctest: +SKIP
    ...     {"id": ["q1"], "question": ["Who?"], "context": ["Ann sang."],
    ...      "answers": [{"text": ["Ann"], "answer_start": [0]}]}, tok, max_length=32, doc_stride=8)
    >>> feats["start_positions"], feats["end_positions"]     # doctest: +SKIP
    ([4], [4])
"""
from __future__ import annotations

# Bumped when prepare_train_features labels the same windows differently, so that a training cache of
# windows (augment.distill.data.tokenize) is rebuilt; the windows' inputs, and so the teacher logits cached
# on them, stay valid. 2: an answer's edge whitespace no longer moves its span off a window (1: " Ann" at a
# window's first token was "no answer" there).
LABELS_VERSION = 3
# What each version changed, for the line that tells a resumed run it goes on with other labels (distill-train).
LABELS_CHANGES = {2: "an answer whose text begins or ends with whitespace at a window's edge is now labelled in "
                     "that window (version 1 labelled such windows 'no answer')",
                  3: "an answer that ends on a character no token holds (an accent a tokenizer strips, U+200B) at "
                     "the context's end is now labelled (version 2 labelled every window 'no answer')"}


def _question_first(tokenizer) -> bool:
    # run_qa.py: models that pad on the left (XLNet) take the context first.
    return getattr(tokenizer, "padding_side", "right") == "right"


def question_room(tokenizer, max_length: int, doc_stride: int) -> int:
    """The most question tokens a window holds. The tokenizer panics (a BaseException, not an error) unless
    every window has more context tokens than the stride, so longer questions are cut to this; below 1 the
    stride leaves no room at all (ask before tokenising anything)."""
    return max_length - tokenizer.num_special_tokens_to_add(pair=True) - doc_stride - 1


def window_problems(max_length: int, doc_stride: int) -> list[str]:
    """What is wrong with ``--max-length`` and ``--doc-stride`` before any tokenizer is asked, in the words
    of every command line: distill-train records the options of its evaluation so that squad-eval can
    repeat it, so the two must accept the same values."""
    problems = [f"--{name} must be at least 1, got {value}"
                for name, value in (("max-length", max_length), ("doc-stride", doc_stride)) if value < 1]
    if doc_stride >= max_length:
        problems.append(f"--doc-stride ({doc_stride}) must be smaller than --max-length ({max_length})")
    return problems


def stride_problem(tokenizer, max_length: int, doc_stride: int, option: str = "--doc-stride",
                   length_option: str = "--max-length", least_stride: int = 1) -> str | None:
    """Why ``--doc-stride`` leaves no room for the question in windows of ``--max-length``, or None: for the
    command lines, which ask before anything is tokenised or loaded (the API names its arguments instead, and
    takes a stride from 0: ``least_stride``)."""
    if question_room(tokenizer, max_length, doc_stride) >= 1:
        return None
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    below = max_length - specials - 1
    if below <= least_stride:  # no stride fits: "use a --doc-stride below 0" would send the user nowhere
        return (f"{length_option} {max_length} leaves no room for the question with any {option}; use a "
                f"{length_option} of at least {specials + 2 + least_stride}")
    return (f"{option} {doc_stride} leaves no room for the question in windows of {length_option} {max_length}; "
            f"use a {option} below {below}")


def cut_questions(questions, tokenizer, max_length: int, doc_stride: int) -> int:
    """How many of ``questions`` are too long for windows of ``max_length`` with ``doc_stride`` and so are cut
    (to :func:`question_room` tokens). Only questions that could be longer are tokenised: a token of WordPiece
    or byte-level BPE covers at least one byte, and SentencePiece's only token of no byte, a lone "▁", comes
    at most once per word, so a question of fewer bytes plus words than that room fits (at the default
    options, nearly every question)."""
    room = question_room(tokenizer, max_length, doc_stride)
    long = [q for q in (q.lstrip() for q in questions) if len(q.encode("utf-8")) + len(q.split()) > room]
    if not long:
        return 0
    ids = tokenizer(long, add_special_tokens=False, split_special_tokens=True, verbose=False)["input_ids"]
    return sum(len(x) > room for x in ids)


def cut_warning(cut: int, total: int, tokenizer, max_length: int, doc_stride: int,
                option: str | None = None, names: tuple[str, str] = ("--max-length", "--doc-stride")) -> str | None:
    """One line that says how many questions :func:`cut_questions` found cut, or None when none are; ``option``:
    the command-line option the questions came from, named where a command reads several (``--eval``);
    ``names``: what the caller calls the window length and stride (``max_length=`` for a function)."""
    if not cut:
        return None
    room = question_room(tokenizer, max_length, doc_stride)
    of = f" of {option}" if option else ""
    length, stride = names
    return (f"warning: {cut} of {total} question{'' if total == 1 else 's'}{of} ({cut / total:.1%}) cut to {room} "
            f"token{'' if room == 1 else 's'}: windows of {length} {max_length} with {stride} {doc_stride} "
            f"leave no more room for the question; a smaller {stride} leaves more")


def _tokenize(examples: dict, tokenizer, max_length: int, doc_stride: int, with_token_types: bool = False):
    """Windows of every row; returns the BatchEncoding and the index of the context sequence (0 or 1).
    ``with_token_types``: ask for token type ids even where the tokenizer leaves them out by default."""
    room = question_room(tokenizer, max_length, doc_stride)
    if room < 1:
        raise ValueError(stride_problem(tokenizer, max_length, doc_stride, "doc_stride", "max_length", 0))
    # Leading spaces in some SQuAD questions waste window room and can make truncation fail (run_qa.py).
    questions = [q.lstrip() for q in examples["question"]]
    # verbose=False: a question alone longer than the model's maximum is no problem here (it is cut next),
    # so transformers' "Token indices sequence length is longer than..." warning would be a false alarm.
    pieces = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True,
                       split_special_tokens=True, verbose=False)["offset_mapping"]
    questions = [_cut_question(q, offs, room) for q, offs in zip(questions, pieces)]
    contexts = examples["context"]
    first = _question_first(tokenizer)
    enc = tokenizer(
        questions if first else contexts,
        contexts if first else questions,
        truncation="only_second" if first else "only_first",
        max_length=max_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
        # Never "left", even for a tokenizer saved so (the module's docstring): a model with absolute positions
        # (BERT) would see its tokens shifted by the padding. Right padding is also what the evaluation and the
        # training batches trim (window_logits, distill.data.trim_padding).
        padding_side="right",
        # A text that spells a special token ("<s>" of HTML strikethrough, "[SEP]", "<mask>") is text: read as
        # the token, it would start or end a sequence mid-window, and its characters would have no offsets.
        # (Feature caches keep their key: a cache built before holds the old windows of such rows, which
        # the SQuAD subset does not have; a new cache folder rebuilds them.)
        split_special_tokens=True,
        # transformers 5's ALBERT, Funnel and BigBird tokenizers leave token type ids out unless asked, though
        # their models were trained on them (question 0, context 1); None keeps the tokenizer's own choice.
        return_token_type_ids=True if with_token_types else None,
    )
    return enc, (1 if first else 0)


def _cut_question(question: str, offsets: list, room: int) -> str:
    """``question`` cut to at most ``room`` of its tokens (``offsets``: their character spans), at a character
    boundary. Byte-level BPE splits a character of several UTF-8 bytes (an emoji, most CJK) into several tokens,
    each with the whole character's span; a cut after the first of them would keep the whole character, so up to
    three tokens more than ``room``, and the tokenizer would panic. The cut ends at the last kept token that ends
    where the first dropped one starts or before."""
    if len(offsets) <= room:
        return question
    first_dropped = offsets[room][0]
    return question[:max((end for _, end in offsets[:room] if end <= first_dropped), default=0)]


def _cls_index(input_ids: list[int], tokenizer) -> int:
    cls_id = getattr(tokenizer, "cls_token_id", None)
    if cls_id is None:
        return 0
    try:
        return input_ids.index(cls_id)
    except ValueError:
        return 0


def _window_info(enc, i: int, context_seq: int, tokenizer):
    """(cls index, context mask, first and last context token) of window ``i``."""
    seq_ids = enc.sequence_ids(i)
    cls = _cls_index(enc["input_ids"][i], tokenizer)
    mask = [1 if s == context_seq else 0 for s in seq_ids]
    mask[cls] = 1  # the null answer lives on CLS, so the softmax must range over it
    ctx = [t for t, s in enumerate(seq_ids) if s == context_seq]
    return cls, mask, (ctx[0], ctx[-1]) if ctx else (None, None)


def _window_indices(sample_map: list[int]) -> list[int]:
    """0, 1, 2, ... within each example for ``overflow_to_sample_mapping``."""
    out, prev, k = [], None, 0
    for s in sample_map:
        k = k + 1 if s == prev else 0
        out.append(k)
        prev = s
    return out


def answer_chars(text: str, start: int) -> tuple[int, int]:
    """The character span [start, end) of the answer ``text`` at ``start`` without its leading and trailing
    whitespace (empty when the answer is only whitespace). Offsets leave spaces out of every token (WordPiece
    drops them, byte-level BPE trims them off "Ġword"), so a window whose first token starts the words of
    " Ann sang" would not hold its space and would be labelled "no answer"; some tokenizers (DeBERTa's) give
    "Ġword" its space, so "Ann " would end on the next word's token. The span is moved by the counts of the
    answer's own edge spaces, not found by searching the context.

        >>> answer_chars(" Ann sang ", 3)
        (4, 12)
    """
    return start + len(text) - len(text.lstrip()), start + len(text.rstrip())


def _answer_token_chars(enc, sample_map: list[int], infos: list, answers: list) -> dict[int, tuple | None]:
    """Each answered example's (by row index) first answer as the characters its context's tokens hold: from the
    start of the first token it overlaps to the end of the last (None: it overlaps none, as an answer of only
    whitespace). ``infos``: each window's :func:`_window_info`; an example's windows together cover its context.

    A tokenizer that strips accents gives a decomposed "e\u0301" the span of its base letter (and BERT's drops
    format characters, U+200B), so an answer ending on one ended past its last token: on the context's last token
    no window reached that end, and every window was labelled "no answer"."""
    spans = {}
    for i, (ex, (_, _, (first, last))) in enumerate(zip(sample_map, infos)):
        if first is not None and answers[ex]["text"]:  # a window's context tokens are first..last
            spans.setdefault(ex, set()).update(map(tuple, enc["offset_mapping"][i][first:last + 1]))
    out = {}
    for ex, found in spans.items():
        start_char, end_char = answer_chars(answers[ex]["text"][0], answers[ex]["answer_start"][0])
        held = sorted((a, b) for a, b in found if a < end_char and b > start_char)
        out[ex] = (held[0][0], held[-1][1]) if held and start_char < end_char else None
    return out


def _answer_tokens(offsets, first: int, last: int, start_char: int, end_char: int):
    """Token span of the characters [start_char, end_char) inside window tokens first..last, or None.

    The window must hold the whole answer; the start token is the first one ending after
    ``start_char`` and the end token the last one beginning before ``end_char``, so an answer that
    is part of a word maps to the word piece(s) that contain it.
    """
    if offsets[first][0] > start_char or offsets[last][1] < end_char:
        return None
    start = next((t for t in range(first, last + 1) if offsets[t][1] > start_char), None)
    end = next((t for t in range(last, first - 1, -1) if offsets[t][0] < end_char), None)
    if start is None or end is None or start > end:
        return None
    return start, end


def _model_inputs(enc, i: int, token_types=None) -> dict:
    out = {"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i]}
    if "token_type_ids" in enc:
        out["token_type_ids"] = enc["token_type_ids"][i]
    elif token_types is not None:
        out["token_type_ids"] = template_types(out["input_ids"], enc.sequence_ids(i), token_types)
    return out


def template_types(input_ids: list[int], seq_ids: list, template) -> list[int]:
    """The token type ids another tokenizer's pair ``template`` (:class:`augment.pairing.PairTemplate`) gives
    a window whose own tokenizer gives none: a DistilBERT student's windows, read by a BERT teacher that was
    trained with question 0 and context 1. The window must be laid out as the template lays out a pair
    (the same special tokens in the same places); padding gets 0.

        >>> template_types([101, 7, 102, 8, 9, 102, 0], [None, 0, None, 1, 1, None, None], bert_template)  # doctest: +SKIP
        [0, 0, 0, 1, 1, 1, 0]
    """
    first = [t for t, s in zip(input_ids, seq_ids) if s == 0]
    second = [t for t, s in zip(input_ids, seq_ids) if s == 1]
    ids, types, _ = template.build(first, second)
    if ids != input_ids[:len(ids)] or any(s is not None for s in seq_ids[len(ids):]):
        raise ValueError("a window is not laid out as the teacher's tokenizer lays out a pair, so the teacher's "
                         f"token type ids cannot be given to it: {input_ids[:8]}... against {ids[:8]}...")
    return types + [0] * (len(input_ids) - len(ids))


def _collect(rows: list[dict], enc, extra: tuple[str, ...]) -> dict[str, list]:
    have = rows[0] if rows else enc  # a window's inputs: token_type_ids may come from a template, not enc
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in have] + list(extra)
    return {k: [r[k] for r in rows] for k in keys}


def prepare_train_features(examples: dict[str, list], tokenizer, max_length: int = 384,
                           doc_stride: int = 128, token_types=None, with_token_types: bool = False) -> dict[str, list]:
    """Training windows with ``start_positions``/``end_positions`` labels.

    Output columns: ``input_ids``, ``attention_mask``, ``token_type_ids`` (if the tokenizer makes them by
    default, or whenever it can with ``with_token_types``, as :func:`prepare_eval_features` asks for a model
    that takes them; or else from ``token_types``, a teacher tokenizer's pair template: :func:`template_types`),
    ``start_positions``, ``end_positions``, ``context_mask`` (1 on context tokens and CLS), ``example_id``
    and ``window_index``. Unanswerable rows and windows that do not hold the whole first answer are labelled
    start = end = CLS index.
    """
    enc, context_seq = _tokenize(examples, tokenizer, max_length, doc_stride, with_token_types)
    sample_map = enc["overflow_to_sample_mapping"]
    infos = [_window_info(enc, i, context_seq, tokenizer) for i in range(len(sample_map))]
    held = _answer_token_chars(enc, sample_map, infos, examples["answers"])
    rows = []
    for i, (ex, win) in enumerate(zip(sample_map, _window_indices(sample_map))):
        cls, mask, (first, last) = infos[i]
        span = None
        if first is not None and held.get(ex) is not None:  # answered, by characters a token holds (not whitespace)
            span = _answer_tokens(enc["offset_mapping"][i], first, last, *held[ex])
        start, end = span if span is not None else (cls, cls)
        rows.append({**_model_inputs(enc, i, token_types), "start_positions": start, "end_positions": end,
                     "context_mask": mask, "example_id": examples["id"][ex], "window_index": win})
    return _collect(rows, enc, ("start_positions", "end_positions", "context_mask", "example_id",
                                "window_index"))


def prepare_eval_features(examples: dict[str, list], tokenizer, max_length: int = 384,
                          doc_stride: int = 128, with_token_types: bool = False) -> dict[str, list]:
    """Evaluation windows: the model inputs plus what post-processing needs.

    Output columns: the model inputs (``token_type_ids`` where the tokenizer makes them by default, or
    whenever it can with ``with_token_types``: for a model that takes them), ``offset_mapping`` (a
    ``[start, end]`` character pair on context tokens and ``None`` elsewhere; Arrow stores these as null list
    items, so it survives ``Dataset.map``), ``context_mask``, ``example_id`` and ``window_index``.
    """
    enc, context_seq = _tokenize(examples, tokenizer, max_length, doc_stride, with_token_types)
    sample_map = enc["overflow_to_sample_mapping"]
    rows = []
    for i, (ex, win) in enumerate(zip(sample_map, _window_indices(sample_map))):
        seq_ids = enc.sequence_ids(i)
        _, mask, _ = _window_info(enc, i, context_seq, tokenizer)
        offsets = [list(o) if s == context_seq else None
                   for o, s in zip(enc["offset_mapping"][i], seq_ids)]
        rows.append({**_model_inputs(enc, i), "offset_mapping": offsets, "context_mask": mask,
                     "example_id": examples["id"][ex], "window_index": win})
    return _collect(rows, enc, ("offset_mapping", "context_mask", "example_id", "window_index"))
