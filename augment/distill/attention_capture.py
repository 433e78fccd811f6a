"""Capturing pre-softmax attention scores for TinyBERT's attention loss.

TinyBERT (Jiao et al., 2020, eq. 7) distils the attention *scores* ``Q Kᵀ / √d`` before the softmax. A known
trainer (Haystack 1.x) read ``output_attentions`` instead, i.e. post-softmax probabilities, so its loss was not
the paper's. transformers 5 routes every attention layer of most encoders through ``AttentionInterface``; we
register one more implementation, ``"tinyaug_scores"``, that does exactly what eager attention does (scores,
additive mask, softmax, dropout, weighted sum of values) and, while a :class:`ScoreCapture` is active, records
the scores before the mask is added.

    >>> with ScoreCapture(model) as cap:                     # doctest: +SKIP
    ...     model(**batch)
    >>> cap.scores[0].shape                                   # (B, H, T, T) for layer 0
"""
from __future__ import annotations

import torch
from torch import nn

from augment.errors import ConfigError

IMPLEMENTATION = "tinyaug_scores"
_SINK = "_tinyaug_score_sink"  # attribute set on an attention module while its scores are wanted


def scores_attention_forward(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                             attention_mask: torch.Tensor | None, scaling: float | None = None,
                             dropout: float = 0.0, **kwargs):
    """Eager attention that also hands the raw scores to the module's sink, if it has one."""
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling  # (B, H, Tq, Tk), before mask and softmax
    sink = getattr(module, _SINK, None)
    if sink is not None:
        sink.append(scores)
    weights = scores if attention_mask is None else scores + attention_mask[..., : key.shape[-2]]
    weights = nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    out = torch.matmul(weights, value).transpose(1, 2).contiguous()  # (B, Tq, H, d)
    return out, weights


def register() -> str:
    """Register ``"tinyaug_scores"`` with transformers (idempotent) and return its name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, eager_mask

    AttentionInterface.register(IMPLEMENTATION, scores_attention_forward)
    # The mask builder is looked up by the same name; ours wants eager's additive float mask.
    ALL_MASK_ATTENTION_FUNCTIONS.register(IMPLEMENTATION, eager_mask)
    return IMPLEMENTATION


def use_score_attention(model) -> str:
    """Switch ``model`` to the capturing implementation; return the previous one so it can be restored.

    Raises :class:`ConfigError` if the model does not dispatch attention through ``AttentionInterface``.
    """
    previous = model.config._attn_implementation
    register()
    if not model._can_set_attn_implementation():
        raise ConfigError(f"{type(model).__name__} does not route attention through transformers' "
                          "AttentionInterface, so its pre-softmax attention scores cannot be captured; "
                          "use a BERT-style model or --stage prediction")
    model.set_attn_implementation(IMPLEMENTATION)
    return previous


def attention_modules(model) -> list[nn.Module]:
    """The self-attention modules in layer order: those that own query/key/value projections."""
    mods = [m for m in model.modules() if all(hasattr(m, a) for a in ("query", "key", "value"))]
    if not mods:
        raise ConfigError(f"{type(model).__name__}: found no self-attention modules with query/key/value "
                          "projections; cannot capture attention scores")
    return mods


class ScoreCapture:
    """Context manager: after a forward pass, ``scores[l]`` is layer ``l``'s pre-softmax scores (B, H, T, T).

    On exit it checks that every attention layer produced scores, so a model that bypassed the capturing
    implementation fails loudly instead of silently training on nothing (or on probabilities).
    """

    def __init__(self, model):
        self.model = model
        self.modules = attention_modules(model)
        self._sinks: list[list[torch.Tensor]] = []

    def __enter__(self) -> "ScoreCapture":
        if self.model.config._attn_implementation != IMPLEMENTATION:
            raise ConfigError(f"{type(self.model).__name__} uses attention implementation "
                              f"{self.model.config._attn_implementation!r}; call use_score_attention(model) first")
        self._sinks = []
        for m in self.modules:
            sink: list[torch.Tensor] = []
            setattr(m, _SINK, sink)
            self._sinks.append(sink)
        return self

    def __exit__(self, *exc) -> None:
        for m in self.modules:
            if hasattr(m, _SINK):
                delattr(m, _SINK)

    @property
    def scores(self) -> list[torch.Tensor]:
        missing = [i for i, s in enumerate(self._sinks) if len(s) != 1]
        if missing:
            raise RuntimeError(f"attention layers {missing} recorded {[len(self._sinks[i]) for i in missing]} "
                               "score tensors instead of one per forward pass")
        return [s[0] for s in self._sinks]
