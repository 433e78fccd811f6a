"""Evaluate an extractive QA model on ``squad_v2`` rows: windows, logits, answers, SQuAD 2.0 scores.

Shared by ``distill-train --eval`` and ``squad-eval``. The model is any ``*ForQuestionAnswering``
returning ``start_logits``/``end_logits``, already on ``device``; it is run in eval mode under
``torch.no_grad`` and put back into training mode afterwards if it was training.

    >>> result = evaluate(model, tokenizer, rows, max_length=384, doc_stride=128)  # doctest: +SKIP
    >>> print(format_table(result["metrics"]))                                      # doctest: +SKIP
"""
from __future__ import annotations

import inspect
import itertools
import math
import numbers
import sys

import numpy as np

from augment.errors import InputError, InvalidExample, NaNLogits
from augment.qa.attention import fast_attention
from augment.qa.features import prepare_eval_features
from augment.qa.metric import squad_v2_metric
from augment.qa.positions import length_problem, vocabulary_problem
from augment.qa.postprocess import apply_threshold, nan_examples, postprocess_predictions
from augment.validate import check_fields, check_question

_MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def check_least(**options) -> None:
    """Raise a ValueError naming each option (``name=(value, least)``) that is not an int of at least its least
    value. Otherwise a batch size of 0 fails inside range(), a negative stride inside the tokenizer (an
    OverflowError), a string in a comparison (a TypeError), a longest answer of 0 tokens makes every question
    abstain without a word, and an n_best of 0 or -1 silently searches all or all but one start and end."""
    def wrong_type(value) -> bool:  # True would mean 1 and 64.0 fail in range(): only ints count
        return not isinstance(value, numbers.Integral) or isinstance(value, bool)

    low = [f"{name} must be at least {least}, got {value!r}"
           + (f" (a {type(value).__name__}, not an int)" if wrong_type(value) else "")
           for name, (value, least) in options.items() if wrong_type(value) or value < least]
    if low:
        raise ValueError("; ".join(low))


def check_model_and_tokenizer(model, tokenizer, call: str) -> None:
    """Raise a ValueError unless ``model`` is a torch module and ``tokenizer`` a tokenizer (callable, with
    ``num_special_tokens_to_add``, which the windows need). Given the other way round, the first use failed with
    an AttributeError from deep inside ('BertTokenizerFast' object has no attribute 'training'). ``call``: the
    function's signature as the message shows it, ``answer(model, tokenizer, ...)``."""
    import torch

    def kind(value) -> str:
        return type(value).__name__

    model_ok = isinstance(model, torch.nn.Module)
    tokenizer_ok = (callable(tokenizer) and hasattr(tokenizer, "num_special_tokens_to_add")
                    and not isinstance(tokenizer, torch.nn.Module))
    if model_ok and tokenizer_ok:
        return
    if isinstance(tokenizer, torch.nn.Module) and hasattr(model, "num_special_tokens_to_add"):
        raise ValueError(f"{call}: model is a {kind(model)} and tokenizer a {kind(tokenizer)}; did you swap them?")
    problems = []
    if not model_ok:
        problems.append(f"model must be a torch.nn.Module question-answering model "
                        f"(AutoModelForQuestionAnswering), got a {kind(model)}")
    if not tokenizer_ok:
        problems.append(f"tokenizer must be a Hugging Face tokenizer (AutoTokenizer), got a {kind(tokenizer)}")
    raise ValueError(f"{call}: {'; '.join(problems)}")


def check_threshold(threshold) -> None:
    """Raise a ValueError unless the null threshold is a number: a string or None failed in the comparison with
    every question's null-score difference (a TypeError), and NaN compares false with all of them, so it answered
    every question without a word, as ``math.inf`` does by intent."""
    if (not isinstance(threshold, numbers.Real) or isinstance(threshold, bool)
            or math.isnan(threshold)):
        raise ValueError(f"threshold must be a number (math.inf: always answer, -math.inf: always abstain), "
                         f"got {threshold!r:.80}")


def autocast_of(dtype):
    """``autocast_dtype`` as :func:`window_logits` takes it: torch.bfloat16 or torch.float16, or None for float32
    (torch.float32 too, which torch.autocast would refuse with a warning and run as float32 anyway). Anything else
    is a ValueError: a string was a TypeError inside torch.autocast, and torch.int8 a warning and float32."""
    import torch

    if dtype is None or dtype is torch.float32:  # identity: torch dtypes are singletons, and == with a numpy
        return None                               # dtype or an array would not be a plain bool
    if dtype is torch.bfloat16 or dtype is torch.float16:
        return dtype
    raise ValueError(f"autocast_dtype must be None (float32), torch.bfloat16 or torch.float16, got {dtype!r:.80}")


def as_rows(rows) -> list:
    """``rows`` as a list, read once: a generator or a ``datasets.Dataset`` (whose slices are dicts of columns)
    is taken as the rows it yields. A single row (a dict) or a string is a ValueError naming what was given."""
    if isinstance(rows, list):
        return rows
    if rows is None or isinstance(rows, (dict, str, bytes)) or not hasattr(rows, "__iter__"):
        raise ValueError(f"rows must be an iterable of squad_v2 row dicts (a list, a generator, a "
                         f"datasets.Dataset), got {type(rows).__name__}"
                         + (" (one row: wrap it in a list)" if isinstance(rows, dict) else ""))
    return list(rows)


def model_input_names(model) -> list[str]:
    """The feature columns ``model.forward`` takes; ``token_type_ids`` only with a type vocabulary."""
    core = getattr(model, "module", model)  # DDP / accelerate wrappers keep the model in .module
    params = inspect.signature(core.forward).parameters
    names = [k for k in _MODEL_INPUTS if k in params]
    if getattr(getattr(core, "config", None), "type_vocab_size", 2) < 2 and "token_type_ids" in names:
        names.remove("token_type_ids")  # RoBERTa-style: one type, ids from a BERT tokenizer would overflow
    return names


# Models whose token type ids are looked up in the word embeddings (wte, embeddings): no type vocabulary of their own.
_TYPES_AS_WORDS = ("gpt2", "gpt_neo", "xlm", "flaubert")


def asks_token_types(names: list[str], config) -> bool:
    """Whether a model that takes ``names`` (:func:`model_input_names`) and has ``config`` gets windows that ask
    the tokenizer for token type ids (transformers 5's ALBERT, Funnel and BigBird tokenizers make them only when
    asked, though their models read them). Not where the ids are looked up in the word embeddings: GPT-2's and
    GPT-Neo's tokenizers make none, so those models were trained without, and asked, every window token got the
    embedding of token 0 or 1 added (XLM's and Flaubert's tokenizers make theirs unasked)."""
    return "token_type_ids" in names and getattr(config, "model_type", None) not in _TYPES_AS_WORDS


def config_input_names(config, trust_remote_code: bool = False) -> list[str]:
    """:func:`model_input_names` of the question-answering model that ``config`` describes, asked before any
    weights load: the model is built on the meta device (no memory, no weights). For a recipe that makes the
    windows first (distill-train), so that they hold what the evaluation will give the model.

        >>> config_input_names(AlbertConfig())                                   # doctest: +SKIP
        ['input_ids', 'attention_mask', 'token_type_ids']
    """
    from contextlib import nullcontext

    import torch
    from transformers import AutoModelForQuestionAnswering, initialization

    # As from_pretrained builds it (PreTrainedModel.get_init_context): torch.linspace stays on the CPU, since model
    # code from the hub computes drop-path rates with linspace(...).item(), which a meta tensor cannot give; bare
    # meta, such a model that loads and trains was a RuntimeError traceback here.
    safe = getattr(initialization, "meta_device_safe_creation_ops", nullcontext)
    with torch.device("meta"), safe():
        model = AutoModelForQuestionAnswering.from_config(config, trust_remote_code=trust_remote_code)
    return model_input_names(model)


def window_logits(model, features: dict, names: list[str], batch_size: int, device, right_padded: bool,
                  autocast_dtype=None):
    """(F, L) start and end logits, float32 on the CPU; under ``autocast_dtype`` autocast when given.

    Per batch, one copy of its inputs to the device, one copy to the host (the start and end logits together) and
    no other read of the device: whether a batch is padded is known from the host's lists, and the padding mask is
    given in the form transformers uses as given where the model takes it (:func:`padding_mask_form`). Batch i's
    logits are read after batch i+1 is queued (:mod:`augment.transfers`), so on a GPU the device computes while the
    host stores the logits and builds the next batch; at most two batches' logits are on their way at once. On the
    CPU every copy is done at once: the same passes, the same logits."""
    from contextlib import nullcontext

    import torch

    from augment.transfers import to_device, to_host, wait

    amp = nullcontext() if autocast_dtype is None else torch.autocast(torch.device(device).type, autocast_dtype)
    n, length = len(features["input_ids"]), len(features["input_ids"][0])
    start = np.full((n, length), -1e4, dtype=np.float32)   # (F, L); trimmed padding stays very unlikely
    end = np.full((n, length), -1e4, dtype=np.float32)
    masked = "attention_mask" in names

    def collect(lo: int, keep: int, host, ready) -> None:  # a batch's logits, once on the host, into start and end
        wait(ready)
        logits = host.numpy()                                                   # (2, B, keep)
        hi = lo + logits.shape[1]
        start[lo:hi, :keep], end[lo:hi, :keep] = logits

    pending = None  # (lo, keep, host logits, event) of the batch queued last
    with torch.no_grad(), fast_attention(model), amp:
        form = padding_mask_form(model, features, names, device, autocast_dtype) if masked else None
        for lo in range(0, n, batch_size):
            # Right padding can be cut to the batch's longest window: same logits, much less work. Read
            # from the host's lists, not the device's tensor, which would wait for the last batch.
            keep, padded = length, True
            if masked:
                real = [sum(m) for m in features["attention_mask"][lo:lo + batch_size]]   # real tokens per window
                keep = max(real) if right_padded else length
                padded = min(real) < keep
            # Every input in one host tensor and one copy: torch.tensor(..., device="cuda") per input copied from
            # pageable memory, which waits for the batch before.
            inputs = torch.tensor([[f[:keep] for f in features[k][lo:lo + batch_size]] for k in names])  # (K, B, keep)
            batch = dict(zip(names, to_device(inputs, device).unbind(0)))
            if form is not None:
                batch["attention_mask"] = form(batch["attention_mask"], padded)
            out = model(**batch)                                                  # logits (B, keep)
            (host,), ready = to_host(torch.stack((out.start_logits, out.end_logits)).float(), device=device)
            del out  # the device's logits of this batch: only the copy on its way to the host stays
            if pending is not None:
                collect(*pending)  # batch i, now that batch i+1 is queued behind it
            pending = (lo, keep, host, ready)
    if pending is not None:
        collect(*pending)
    return start, end


def padding_mask_form(model, features: dict, names: list[str], device, autocast_dtype=None):
    """How :func:`window_logits` gives ``model`` a batch's padding mask: a function of the batch's 2D mask (on the
    device) and whether the host knows the batch to be padded, or None where the 2D mask stays as it is.

    Given the 2D mask, transformers' SDPA and eager attention ask the device whether it hides anything (a sync per
    batch, :mod:`augment.qa.attention_mask`). Where the model gives the same logits for the 4D mask that
    transformers builds, a padded batch gets that one, and a batch without padding none, as transformers does with
    an all-ones mask. Not DeBERTa (it multiplies its embeddings by the mask), ModernBERT (it builds its local
    attention from the 2D mask), a decoder such as GPT-2 (the 4D padding mask would replace its causal one), nor a
    model without a config. Tried once per model, implementation, precision and window length, and remembered on
    the model: two passes of the longest window at the full window length (the second hiding its second half), with
    its own ids and token types, so that a hook on the model sees windows it could have been given."""
    import torch

    from augment.qa.attention_mask import check_4d_mask, mask_4d, remembered

    core = getattr(model, "module", model)  # DDP / accelerate wrappers keep the model in .module
    implementation = getattr(getattr(core, "config", None), "_attn_implementation", None)
    if implementation not in ("sdpa", "eager"):
        return None
    model_dtype = getattr(core, "dtype", torch.float32)
    dtype = None if implementation == "sdpa" else model_dtype  # eager: additive, in the embeddings' dtype
    length = len(features["input_ids"][0])
    key = (implementation, str(model_dtype), str(device), str(autocast_dtype), length)

    def check() -> bool:
        longest = max(range(len(features["attention_mask"])), key=lambda i: sum(features["attention_mask"][i]))
        row = {k: torch.tensor(features[k][longest], device=device) for k in names if k != "attention_mask"}  # (L,)
        return check_4d_mask(core, row, [length], dtype)  # the window's padding too: the full length

    if not remembered(core, key, check):
        return None
    return lambda mask, padded: mask_4d(mask.bool(), dtype) if padded else None


def features_and_logits(model, tokenizer, rows: list[dict], max_length: int, doc_stride: int,
                        batch_size: int, device, autocast_dtype=None) -> tuple[dict, np.ndarray, np.ndarray]:
    """The windows of ``rows`` (``id``, ``question``, ``context``) and the model's (F, L) start and end
    logits on them; the caller puts the model in eval mode; attention runs as SDPA for the pass
    (:func:`augment.qa.attention.fast_attention`)."""
    config = getattr(getattr(model, "module", model), "config", None)
    if config is not None and (problem := length_problem(config, "model", max_length)):
        # Asked before any window is made: past the last position embedding the forward pass fails deep inside.
        raise ValueError(problem.replace("--max-length", "max_length"))
    if config is not None and (problem := vocabulary_problem(config, tokenizer, "model")):
        raise ValueError(problem)
    columns = {k: [r[k] for r in rows] for k in ("id", "question", "context")}
    names = model_input_names(model)
    features = prepare_eval_features(columns, tokenizer, max_length=max_length, doc_stride=doc_stride,
                                     with_token_types=asks_token_types(names, config))
    # A tokenizer that makes no token type ids even when asked: the model's own default (all 0), not a KeyError.
    names = [k for k in names if k in features]
    # Windows are padded on the right whatever the tokenizer's padding_side (augment.qa.features), so trimmable.
    start, end = window_logits(model, features, names, batch_size, device, True, autocast_dtype)
    return features, start, end


def check_rows(rows, where: str, locations: list | None = None) -> None:
    """Raise :class:`InputError` for the first row that cannot be scored: a field of the wrong type
    (:func:`augment.validate.check_fields`; answer offsets are not needed), an empty question (or one of
    whitespace alone: the model, asked nothing, still answers, and the score would count it) or an id an
    earlier row has (predictions are keyed by id: the later question would silently replace the earlier one). The message
    begins with ``where``, the data's name, or with ``locations`` (the :class:`augment.squad_io.Location` of
    each row, from :func:`augment.squad_io.iter_located`) the option, then the row's file and position, as
    augment-squad's rejects name them: the id alone does not find a row in a folder of files.

        >>> located = list(iter_located("dev/", option="--eval"))                    # doctest: +SKIP
        >>> check_rows([r for _, r in located], "--eval", [w for w, _ in located])  # doctest: +SKIP
        InputError: --eval dev/b.jsonl: line 2: example 'q1': duplicate id: ...; the first is at dev/a.json: item [0]
    """
    first = {}  # id -> index of the row that has it
    for k, row in enumerate(rows):
        try:
            check_fields(row)
            check_question(row)  # refused as a null question is, in augment-squad's words
            if row["id"] in first:
                earlier = f"; the first is at {locations[first[row['id']]]}" if locations is not None else ""
                raise InvalidExample(row["id"], "duplicate id: every question needs its own, as its prediction "
                                                f"is stored under it{earlier}", "duplicate_id")
            first[row["id"]] = k
        except InvalidExample as e:
            raise InputError(f"{where}: {e}" if locations is None else f"{where} {locations[k]}: {e}") from None


def read_rows(source, split: str, option: str, limit: int | None = None) -> list[dict]:
    """The first ``limit`` rows of ``source`` (what :func:`augment.squad_io.iter_located` reads), checked by
    :func:`check_rows` with each row's file and position, so that a bad one is named where it is; ``option``
    (``--data``, ``--eval``) is the command-line option that named the source."""
    from augment.squad_io import iter_located

    located = list(itertools.islice(iter_located(source, split, option), limit))
    rows = [row for _, row in located]
    check_rows(rows, option, [where for where, _ in located])
    return rows



def model_device(model):
    """Where the model's weights are; the CPU for a module without any."""
    param = next(iter(model.parameters()), None)
    return param.device if param is not None else "cpu"

def evaluate(model, tokenizer, rows, max_length: int = 384, doc_stride: int = 128,
             batch_size: int = 32, n_best: int = 20, max_answer_length: int = 30, device=None,
             threshold: float = 0.0, chunk_size: int = 512, autocast_dtype=None,
             progress: bool | None = None) -> dict:
    """SQuAD 2.0 evaluation of ``model`` on ``rows`` (any iterable of ``squad_v2`` rows, read once).

    Rows are windowed ``chunk_size`` at a time, so memory stays flat on the full dev set (every
    window of a question is in the same chunk, so chunking changes no result).
    Returns ``metrics`` (see :func:`augment.qa.metric.squad_v2_metric`, best thresholds included),
    ``predictions`` (the answers after the null threshold: ``""`` means no answer),
    ``raw_predictions`` (the best non-null span of every question), ``null_diffs`` and ``nonfinite``, the
    number of questions with an infinite logit in any window (see :func:`nonfinite_warning`). NaN logits where an
    answer is read raise :class:`augment.errors.NaNLogits` (:func:`nan_message`): left to the span search, such a
    question abstained, and a diverged model scored the share of unanswerable questions (50% on SQuAD 2.0 dev).
    ``device``: where the windows go, by default the model's (as :func:`augment.qa.answer.answer`); it was
    the CPU, so a model on a GPU failed on its first batch with a device mismatch.
    ``progress``: whether to draw the "eval" bar; None draws it when stderr is a terminal. Passed in, not decided
    here: a command's rule has more to it (pipelines.cli.bars_shown: not with --quiet, nor in a torchrun process
    other than the first), and the library knows nothing of commands.
    """
    from tqdm.auto import tqdm

    check_model_and_tokenizer(model, tokenizer, "evaluate(model, tokenizer, rows, ...)")
    if device is None:
        device = model_device(model)
    rows = as_rows(rows)
    if not rows:
        raise ValueError("no rows to evaluate")
    check_least(batch_size=(batch_size, 1), chunk_size=(chunk_size, 1), n_best=(n_best, 1),
                max_answer_length=(max_answer_length, 1), max_length=(max_length, 1), doc_stride=(doc_stride, 0))
    check_threshold(threshold)
    autocast_dtype = autocast_of(autocast_dtype)
    check_rows(rows, "evaluate")  # a repeated id would silently replace a question; a missing field, a KeyError
    raw, null_diffs, bad = {}, {}, set()
    was_training = model.training
    model.eval()
    shown = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(rows), desc="eval", unit="q", disable=not shown)
    try:
        for lo in range(0, len(rows), chunk_size):
            chunk = rows[lo:lo + chunk_size]
            features, start, end = features_and_logits(model, tokenizer, chunk, max_length, doc_stride,
                                                       batch_size, device, autocast_dtype)
            if nan := nan_examples(features, start, end):  # before the rest: no use scoring on
                raise NaNLogits(nan, nan_message(nan, lo + len(chunk)))
            preds, diffs = postprocess_predictions(chunk, features, start, end, n_best=n_best,
                                                   max_answer_length=max_answer_length)
            broken = ~(np.isfinite(start).all(axis=1) & np.isfinite(end).all(axis=1))   # (F,)
            bad.update(qid for qid, b in zip(features["example_id"], broken) if b)
            # NaN or -inf: only infinite logits give these now (+inf is also a question with no context token).
            bad.update(qid for qid, d in diffs.items() if math.isnan(d) or d == -math.inf)
            raw.update(preds)
            null_diffs.update(diffs)
            bar.update(len(chunk))
    finally:
        bar.close()
        model.train(was_training)
    return {"metrics": squad_v2_metric(rows, raw, null_diffs, threshold=threshold),
            "predictions": apply_threshold(raw, null_diffs, threshold),
            "raw_predictions": raw, "null_diffs": null_diffs, "nonfinite": len(bad)}


def nan_message(example_ids: list, evaluated: int) -> str:
    """What :class:`augment.errors.NaNLogits` says when ``example_ids`` had NaN logits among the first ``evaluated``
    questions (the evaluation stops at the first chunk that has any).

        >>> nan_message(["q7", "q9"], 512)
        "the model produced NaN logits for question 'q7' (and 1 more of the first 512): EM and F1 from them would mean nothing; it may have diverged, or overflowed in float16 (evaluate it in bfloat16 or float32)"
    """
    more = f" (and {len(example_ids) - 1} more of the first {evaluated})" if len(example_ids) > 1 else ""
    return (f"the model produced NaN logits for question {example_ids[0]!r}{more}: EM and F1 from them would mean "
            "nothing; it may have diverged, or overflowed in float16 (evaluate it in bfloat16 or float32)")


def nonfinite_warning(count: int, total: int) -> str | None:
    """One line for the ``count`` of ``total`` questions whose logits held infinity, or None when none did (NaN
    logits are an error: :func:`nan_message`). Their answers come from the finite spans where a window has any
    (:mod:`augment.qa.postprocess`), and a null-score difference that is NaN or infinite is written as null; a
    NaN one never abstains.

        >>> nonfinite_warning(2, 10)
        '2 of 10 questions had non-finite scores (infinite logits): they are scored on their finite spans, and a null-score difference that is not finite is written as null; the model may have diverged or overflowed under --autocast float16'
    """
    if not count:
        return None
    return (f"{count} of {total} questions had non-finite scores (infinite logits): they are scored on "
            "their finite spans, and a null-score difference that is not finite is written as null; the model may "
            "have diverged or overflowed under --autocast float16")


def format_table(metrics: dict) -> str:
    """A short aligned table of the headline scores (percentages; thresholds are null-score diffs).

        >>> print(format_table({"exact": 50.0, "f1": 60.0, "total": 2}))
        EM                50.00
        F1                60.00
        questions             2
    """
    def score(part: str, key: str) -> str:  # no questions of that kind: no score (not a score of 0)
        return f"{metrics[f'{part}_{key}']:.2f}" if metrics[f"{part}_total"] else "-"

    lines = [("EM", f"{metrics['exact']:.2f}", ""), ("F1", f"{metrics['f1']:.2f}", "")]
    if "HasAns_total" in metrics:
        lines += [("HasAns EM", score("HasAns", "exact"), f"n={metrics['HasAns_total']}"),
                  ("HasAns F1", score("HasAns", "f1"), "")]
    if "NoAns_total" in metrics:
        lines.append(("NoAns accuracy", score("NoAns", "exact"), f"n={metrics['NoAns_total']}"))
    for key, name in (("exact", "best EM"), ("f1", "best F1")):
        if f"best_{key}" in metrics:
            lines.append((name, f"{metrics[f'best_{key}']:.2f}",
                          f"at threshold {metrics[f'best_{key}_thresh']:.4g}"))
    lines.append(("questions", str(metrics["total"]), ""))
    return "\n".join(f"{name:<14}{value:>9}" + (f"   {note}" if note else "") for name, value, note in lines)


def finite(x: float) -> float | None:
    """A null-score difference for JSON, which has no infinity: an example whose windows hold no context
    token has no span to compare with (difference ``inf``) and is written as null."""
    return x if math.isfinite(x) else None


def json_safe(value):
    """``value`` with every NaN or infinite float (at any depth of dicts, lists and tuples) replaced by None,
    as JSON has neither: ``json.dumps(..., allow_nan=False)`` of the result cannot fail on a float.

        >>> json_safe({"best_f1_thresh": float("nan"), "f1": [50.0, float("inf")]})
        {'best_f1_thresh': None, 'f1': [50.0, None]}
    """
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
