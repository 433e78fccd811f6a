"""The padding mask of a forward pass in a form that transformers uses as given, decided on the host.

From a 2D (B, T) mask, transformers' mask builder for SDPA and eager attention asks ``mask.all()`` whether it
hides anything (``masking_utils._ignore_bidirectional_mask_sdpa``), to drop a mask that does not: a device-to-host
read in every forward pass, which makes the host wait for the pass before it can queue the next one. A 4D mask is
used as given. So a caller that knows on the host whether a batch is padded (from the lists or arrays it made the
batch from) passes no mask for a batch without padding, as transformers makes of an all-ones mask, and for a padded
batch the 4D mask transformers would build (:func:`mask_4d`). Used by the masked LM (:mod:`augment.mlm`), the
distillation's training and teacher-cache passes (:func:`augment.distill.intermediate.model_inputs`) and the
evaluation (:func:`augment.qa.evaluate.window_logits`).

Not every model hands its mask to that builder alone: DeBERTa also multiplies its embeddings by it (a 4D mask is
a shape error there), GPT-2 builds its causal mask from it (the 4D padding mask would replace that), ModernBERT a
sliding-window mask (given a 4D mask, its local layers see the whole sequence). A model of unknown code takes the
4D mask only where :func:`check_4d_mask` finds that it gives the 2D mask's outputs, at lengths that show a local
window (:func:`probe_lengths`).

    >>> row = {"input_ids": window_ids}      # (T,) on the model's device               # doctest: +SKIP
    >>> check_4d_mask(model, row, probe_lengths(model.config, 384))   # BERT, SDPA      # doctest: +SKIP
    True
"""
from __future__ import annotations


def mask_4d(keep, dtype=None):
    """The (B, 1, T, T) mask transformers builds from ``keep`` (B, T, bool: True at real tokens): boolean (True =
    attend) for SDPA (``dtype`` None), or additive in ``dtype`` (0 = attend, the dtype's minimum = not) for eager
    attention. Expanded views, not copies: built on ``keep``'s device, with no read of its values."""
    import torch

    b, t = keep.shape
    if dtype is None:
        return keep[:, None, None, :].expand(b, 1, t, t)
    bias = torch.zeros((), dtype=dtype, device=keep.device).masked_fill(
        ~keep[:, None, None, :], torch.finfo(dtype).min)  # (B, 1, 1, T)
    return bias.expand(b, 1, t, t)


def takes_4d_mask(run, keep, mask) -> bool:
    """Whether ``run(m)`` (a model's outputs at the real tokens of a probe batch, one tensor) is the same for the 4D
    ``mask`` (:func:`mask_4d` of ``keep``) as for the 2D mask ``keep`` (B, T, bool) given as integers. Tried once per
    model (it reads both results on the host); a model that refuses the 4D mask (a RuntimeError or the like from
    inside) does not take it.

    The probe should be as long as the passes it stands for: a model may treat a long sequence otherwise (a local
    attention window), which a short one never shows."""
    import torch

    try:
        want = run(keep.long())
        got = run(mask)
    except (RuntimeError, ValueError, TypeError, IndexError):
        return False
    return got.shape == want.shape and bool(torch.allclose(got.float(), want.float(), rtol=1e-3, atol=1e-4))


def declared_window(config) -> int:
    """The longest local attention window, in tokens, that ``config`` declares (0: none): every whole number in a
    field named for one, ModernBERT's ``local_attention``, Mistral's ``sliding_window``, Longformer's
    ``attention_window`` (one per layer), GPT-Neo's ``window_size``. Read by name pattern, not from a list of
    models: a field that is no window (Qwen2's ``max_window_layers``) only makes :func:`probe_lengths` longer."""
    sizes = []
    for name, value in vars(config).items() if config is not None else ():
        if "window" in name or name == "local_attention":
            values = value if isinstance(value, (list, tuple)) else [value]
            sizes += [v for v in values if isinstance(v, int) and not isinstance(v, bool) and v > 0]
    return max(sizes, default=0)


def probe_lengths(config, length: int, limit: int | None = None) -> list[int]:
    """The lengths at which to try the 4D mask on a model of ``config`` for passes of up to ``length`` tokens, or of
    any length up to ``limit`` (its positions, :func:`augment.qa.positions.usable_positions`): ``length``, then,
    where the config declares a local window that ``length`` fits in, ``window + 2`` tokens (within ``limit``).

    The 2D and 4D masks can differ where the model's own code reads the 2D one: a shape error or a product with the
    embeddings (DeBERTa) and a causal mask (GPT-2) show at any length, a local window only in a longer sequence.
    w + 2 tokens put the first and the last more than w apart, whether the field counts one side of a token
    (Mistral's ``sliding_window``) or both (ModernBERT's ``local_attention``). Such a window is a trained setting,
    declared in the config (:func:`declared_window`), so a model that declares none gives at any length the answer
    it gives at ``length``; one that does needs no probe as long as all of ``limit``. The second length costs one
    more pair of passes, and only where the first passed.

        >>> probe_lengths(ModernBertConfig(local_attention=128), 8, 8192)            # doctest: +SKIP
        [8, 130]
    """
    window = declared_window(config)
    longer = window + 2 if limit is None else min(window + 2, limit)
    return [length, longer] if window and longer > length else [length]


def remembered(core, key: tuple, check) -> bool:
    """``check()``'s answer for ``key`` (what the answer depends on: implementation, precision, device, ...), asked
    once per model and remembered on it (``core``: the model itself, not a DDP/accelerate wrapper), so that the
    training loop and the evaluation of one model share their decisions and no batch after the first reads the
    device for it."""
    tried = core.__dict__.setdefault("_tinyaug_takes_4d_mask", {})
    if key not in tried:
        tried[key] = check()
    return tried[key]


def check_4d_mask(model, row: dict, lengths, dtype=None) -> bool:
    """Whether ``model`` gives the same outputs at the real tokens for the 4D mask (:func:`mask_4d` in ``dtype``) as
    for the 2D one, at each of ``lengths`` (:func:`probe_lengths`), from ``row``: one sequence's inputs but its mask
    (name -> (T,) tensor on the model's device, e.g. a window's ids and token types), cut or repeated to each
    length, in two copies, the second with its second half padded (:func:`takes_4d_mask`).

    Run in eval mode without gradients, and eagerly under ``torch.compile`` (a probe's shape would be one more
    compiled variant): no dropout, so no random numbers are drawn, and every module's training flag is put back as
    it was. It reads both results on the host: call it once per model (and implementation, precision, length),
    remembering the answer. ``model``: a wrapper's (DDP, accelerate) ``.module`` is used. Inside a function that
    torch.compile traces, where the results cannot be read, the model keeps the 2D mask (False)."""
    from contextlib import nullcontext

    import torch

    if torch.compiler.is_compiling():
        return False
    core = getattr(model, "module", model)
    flags = [(m, m.training) for m in core.modules()]
    eager = torch.compiler.set_stance("force_eager") if hasattr(torch.compiler, "set_stance") else nullcontext()
    core.eval()
    try:
        with torch.no_grad(), eager:
            for n in lengths:
                inputs = {k: v.repeat(-(-n // len(v)))[:n].repeat(2, 1) for k, v in row.items()}  # (2, n) each
                device = next(iter(inputs.values())).device
                keep = torch.ones(2, n, dtype=torch.bool, device=device)
                keep[1, n // 2:] = False

                def run(mask):
                    out = core(**inputs, attention_mask=mask)
                    # Every output with a value per token: QA's start and end logits, an LM's logits or hidden states.
                    return torch.cat([v[keep].flatten() for v in out.values()
                                      if torch.is_tensor(v) and v.shape[:2] == keep.shape])

                if not takes_4d_mask(run, keep, mask_4d(keep, dtype)):
                    return False
        return True
    finally:
        for m, training in flags:
            m.training = training
