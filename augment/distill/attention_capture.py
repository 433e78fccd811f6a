"""Capturing pre-softmax attention scores for TinyBERT's attention loss, at the cost of SDPA elsewhere.

TinyBERT (Jiao et al., 2020, eq. 7) distils the attention *scores* ``Q Kᵀ / √d`` before the softmax. A known
trainer (Haystack 1.x) read ``output_attentions`` instead, i.e. post-softmax probabilities, so its loss was not
the paper's. transformers 5 routes every attention layer of most encoders through ``AttentionInterface``; we
register one more implementation, ``"tinyaug_scores"``. Every layer computes its output with PyTorch's
scaled-dot-product attention (flash / memory-efficient kernels: no (B, H, T, T) probabilities are stored for
the backward pass); a layer whose scores are wanted (a :class:`ScoreCapture` is active on it) also hands its
scores' two factors, ``Q / √d`` and ``K`` (each (B, H, T, d)), to the capture. The scores are their product;
the attention loss can use the factors without ever forming the (B, H, T, T) product
(:mod:`augment.distill.attention_loss`). Gradients flow to Q and K through the loss and through SDPA, so
their sum is the eager gradient.

    >>> with ScoreCapture(model, layers=[1, 3]) as cap:       # doctest: +SKIP
    ...     model(**batch)
    >>> q, k = cap.factors[1]            # (B, H, T, d) each, for layer 1                  # doctest: +SKIP
    >>> cap.scores[1].shape              # their product q @ kᵀ: (B, H, T, T)             # doctest: +SKIP
"""
from __future__ import annotations

import torch
from torch import nn

from augment.errors import ConfigError

IMPLEMENTATION = "tinyaug_scores"
_SINK = "_tinyaug_score_sink"  # attribute set on an attention module while its scores are wanted


def _eager_with_weights(module, query, key, value, attention_mask, scaling, dropout):
    """Only for ``output_attentions=True``: the probabilities must exist to be returned."""
    weights = torch.matmul(query, key.transpose(2, 3)) * scaling  # (B, H, Tq, Tk)
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:  # the SDPA-style mask: True where a key may be attended
            weights = weights.masked_fill(~attention_mask[..., : key.shape[-2]], torch.finfo(weights.dtype).min)
        else:
            weights = weights + attention_mask[..., : key.shape[-2]]
    weights = nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights  # (B, Tq, H, d)


def scores_attention_forward(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                             attention_mask: torch.Tensor | None, scaling: float | None = None,
                             dropout: float = 0.0, **kwargs):
    """SDPA attention that also hands the raw scores to the module's sink, if it has one."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if scaling is None:
        scaling = query.size(-1) ** -0.5
    sink = getattr(module, _SINK, None)
    if sink is not None:
        # The scores' factors, not their (B, H, T, T) product: the loss decides whether to form it. Q is
        # scaled here, as the product would be (T*d multiplications instead of T*T).
        sink.append((query * scaling, key))  # (B, H, Tq, d), (B, H, Tk, d): scores before mask and softmax
    if kwargs.get("output_attentions"):
        return _eager_with_weights(module, query, key, value, attention_mask, scaling, dropout)
    return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                  **kwargs)


def register() -> str:
    """Register ``"tinyaug_scores"`` with transformers (idempotent) and return its name."""
    from augment.versions import require_transformers

    require_transformers()  # 4.x lacks these imports or has BERT ignore the registered implementation
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(IMPLEMENTATION, scores_attention_forward)
    # The mask builder is looked up by the same name: SDPA's boolean mask, or none when nothing is padded
    # (which lets SDPA pick its flash kernel).
    ALL_MASK_ATTENTION_FUNCTIONS.register(IMPLEMENTATION, sdpa_mask)
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


def capture_problem(config, name: str, trust_remote_code: bool = False) -> str | None:
    """Why the attention scores of a QA model of ``config`` (called ``name``) cannot be captured, or None.

    Asked of the model's structure, built on the meta device (no memory, no weights: milliseconds), so that
    the intermediate stage refuses such a model before the data is tokenised and the weights load."""
    from transformers import AutoModelForQuestionAnswering

    from augment.versions import require_transformers

    require_transformers()  # else an older transformers' BERT would be reported as a model that cannot be captured

    with torch.device("meta"):
        model = AutoModelForQuestionAnswering.from_config(config, trust_remote_code=trust_remote_code)
    if not model._can_set_attn_implementation():
        why = "does not route attention through transformers' AttentionInterface"
    elif not _qkv_modules(model):
        why = "has no self-attention modules with query/key/value projections"
    elif len(_qkv_modules(model)) != getattr(config, "num_hidden_layers", len(_qkv_modules(model))):
        # ALBERT's layers share their weights: one module runs every layer's attention, and the capture, which
        # holds one place per module, found too few of them (a traceback once the first batch reached it).
        why = (f"shares {len(_qkv_modules(model))} attention module(s) among its {config.num_hidden_layers} "
               f"layers (cross-layer weight sharing, as ALBERT's)")
    else:
        return None
    return (f"the {name} ({type(model).__name__}) {why}, so its pre-softmax attention scores cannot be captured "
            f"for the intermediate stage; use a BERT-style {name} or --stage prediction")


# The names of the query, key and value projections of an attention module: BERT and RoBERTa, DistilBERT.
QKV_NAMES = (("query", "key", "value"), ("q_lin", "k_lin", "v_lin"))


def _qkv_modules(model) -> list[nn.Module]:
    return [m for m in model.modules() if any(all(hasattr(m, a) for a in names) for names in QKV_NAMES)]


def attention_modules(model) -> list[nn.Module]:
    """The self-attention modules in layer order: those that own query/key/value projections (``QKV_NAMES``)."""
    mods = _qkv_modules(model)
    if not mods:
        raise ConfigError(f"{type(model).__name__}: found no self-attention modules with query/key/value "
                          "projections; cannot capture attention scores")
    return mods


class ScoreCapture:
    """Context manager: after a forward pass, ``factors[l]`` is ``(Q / √d, K)`` of layer ``l`` (each
    (B, H, T, d)) and ``scores[l]`` their product, the pre-softmax scores (B, H, T, T), for each ``l`` in
    ``layers`` (default: every layer). The other layers capture nothing.

    On exit it checks that every wanted layer produced scores, so a model that bypassed the capturing
    implementation fails loudly instead of silently training on nothing (or on probabilities).
    """

    def __init__(self, model, layers=None):
        self.model = model
        modules = attention_modules(model)
        self.layers = list(range(len(modules))) if layers is None else sorted(set(layers))
        bad = [i for i in self.layers if not 0 <= i < len(modules)]
        if bad:
            raise ValueError(f"layers {bad} out of range: {type(model).__name__} has {len(modules)} attention layers")
        self.modules = [modules[i] for i in self.layers]
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
    def factors(self) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        missing = [layer for layer, s in zip(self.layers, self._sinks) if len(s) != 1]
        if missing:
            counts = [len(s) for layer, s in zip(self.layers, self._sinks) if layer in missing]
            raise RuntimeError(f"attention layers {missing} recorded {counts} score captures instead of one per "
                               "forward pass")
        return {layer: s[0] for layer, s in zip(self.layers, self._sinks)}

    @property
    def scores(self) -> dict[int, torch.Tensor]:
        """The (B, H, T, T) scores, formed from :attr:`factors` on each access."""
        return {layer: q @ k.transpose(-1, -2) for layer, (q, k) in self.factors.items()}
