"""Scaled-dot-product attention for passes that need only a model's outputs (logits, hidden states).

transformers picks SDPA by default where a model supports it, but a model may arrive set to ``"eager"``
(loaded with ``attn_implementation="eager"``, or left so by a caller that wanted attention weights), which
materialises every (B, H, T, T) probability matrix. Evaluation, answering and the teacher-logit cache
switch such a model to SDPA for the pass and put the caller's choice back afterwards.

    >>> with fast_attention(model):                          # doctest: +SKIP
    ...     logits = model(**batch).start_logits
"""
from __future__ import annotations

from contextlib import contextmanager

FAST = ("sdpa", "flash_attention_2", "flash_attention_3", "flex_attention")


def set_fast_attention(model) -> str | None:
    """Switch ``model`` (or the model inside a DDP/accelerate wrapper) to SDPA unless it already uses a
    fused kernel or cannot; return the implementation it had, or None when nothing changed."""
    core = getattr(model, "module", model)
    config = getattr(core, "config", None)
    current = getattr(config, "_attn_implementation", None)
    if current is None or current in FAST or not getattr(core, "_supports_sdpa", False):
        return None
    can_set = getattr(core, "_can_set_attn_implementation", None)
    if can_set is not None and not can_set():
        return None
    core.set_attn_implementation("sdpa")
    return current


@contextmanager
def fast_attention(model):
    """SDPA for the duration of the block (see :func:`set_fast_attention`), then the model's own choice."""
    previous = set_fast_attention(model)
    try:
        yield model
    finally:
        if previous is not None:
            getattr(model, "module", model).set_attn_implementation(previous)
