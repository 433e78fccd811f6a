"""One module that owns everything trainable in TinyBERT's intermediate stage: the student and the projections.

Wrapping both in one ``nn.Module`` means ``Accelerator.prepare`` (DDP) and the optimizer see the projections as
ordinary parameters, which is the fix for trainers that build them too late to ever train.
"""
from __future__ import annotations

import torch
from torch import nn

from augment.distill.attention_capture import IMPLEMENTATION, ScoreCapture
from augment.distill.attention_loss import AttentionScoreLoss
from augment.distill.hidden_loss import HiddenStateLoss
from augment.distill.layer_map import LayerMap
from augment.qa.attention_mask import check_4d_mask, mask_4d, probe_lengths, remembered

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


# Attention implementations whose mask builder is SDPA's: they take a (B, 1, T, T) boolean mask as it is.
BOOL_MASK_ATTENTION = ("sdpa", IMPLEMENTATION)


def model_inputs(batch: dict, model=None) -> dict:
    """The model's inputs from a batch. With ``model`` and a host-side ``batch["padded"]`` (set by the
    training loop before the batch went to the device), the padding mask is given in its final form.

    From a 2D mask, transformers' SDPA mask builder asks ``mask.all()`` to drop a mask that hides nothing: a
    device-to-host sync in every forward pass, which stops the host from queueing the next kernels while
    the GPU works. The loop knows on the host whether anything is padded, so a model with an SDPA-style
    mask that takes the 4D mask (:func:`gets_4d_mask`) gets no mask (nothing padded: the fused kernels stay
    usable) or the (B, 1, T, T) boolean mask that transformers would have built (:mod:`augment.qa.attention_mask`),
    which it uses as given. Other models get the 2D mask."""
    names = MODEL_INPUTS if model is None else _input_names(model)
    inputs = {k: batch[k] for k in names if k in batch}
    padded = batch.get("padded")
    if model is None or padded is None or "attention_mask" not in inputs:
        return inputs
    if not gets_4d_mask(model, inputs):
        return inputs
    inputs["attention_mask"] = mask_4d(inputs["attention_mask"].bool()) if padded else None  # (B, 1, T, T)
    return inputs


def gets_4d_mask(model, inputs: dict) -> bool:
    """Whether ``model`` is given the 4D mask for ``inputs`` (a batch's (B, T) tensors, mask included, on the device):
    where its attention implementation is SDPA-style (``BOOL_MASK_ATTENTION``) and it gives the 2D mask's outputs
    with it. Not GPT-2 (its causal mask is built from the 2D one, and the 4D padding mask would replace it), nor
    ModernBERT (its local attention, likewise), nor DeBERTa (it multiplies its embeddings by the mask).

    Tried at the model's first batch (:func:`augment.qa.attention_mask.check_4d_mask`, as the evaluation tries it)
    and remembered on the model, per implementation, precision, device and autocast dtype: a device read at the
    model's first batch, not one per step. The check runs in eval mode (no dropout draws: the random numbers, so a
    run's losses and weights, and a resumed run's, are those without it) and puts the training flags back. It is
    tried at the batch's length and, for a model whose config declares a local window, past that window
    (:func:`augment.qa.attention_mask.probe_lengths`): the first batch may be shorter than the window and later
    ones longer. Under the intermediate stage's score capture, call this before the capture starts (the check's
    passes would be captured too)."""
    import torch

    from augment.qa.positions import usable_positions

    core = getattr(model, "module", model)  # DDP / accelerate wrappers keep the model in .module
    config = getattr(core, "config", None)
    implementation = getattr(config, "_attn_implementation", None)
    if implementation not in BOOL_MASK_ATTENTION:
        return False
    device = inputs["attention_mask"].device
    autocast = torch.get_autocast_dtype(device.type) if torch.is_autocast_enabled(device.type) else None
    # Shared with the evaluation's decisions (augment.qa.evaluate.padding_mask_form), whose keys end in a window
    # length; None: this one holds for every batch length.
    key = (implementation, str(getattr(core, "dtype", None)), str(device), str(autocast), None)

    def check() -> bool:
        row = {k: v[0] for k, v in inputs.items() if k != "attention_mask"}  # (T,) each: the first window
        lengths = probe_lengths(config, inputs["attention_mask"].shape[1], usable_positions(config))
        return check_4d_mask(core, row, lengths)

    return remembered(core, key, check)


def _input_names(model) -> tuple[str, ...]:
    """The batch columns ``model`` takes (:func:`augment.qa.evaluate.model_input_names`), asked once per model:
    a DistilBERT student takes no token type ids, which its BERT teacher reads from the same batch."""
    core = getattr(model, "module", model)  # DDP / accelerate wrappers keep the model in .module
    names = getattr(core, "_tinyaug_input_names", None)
    if names is None:
        from augment.qa.evaluate import model_input_names

        names = tuple(model_input_names(core))
        core._tinyaug_input_names = names
    return names


def cast_frozen_linears(model, dtype):
    """Give a frozen model's ``nn.Linear`` weights and biases the autocast dtype for as long as it trains another
    model under autocast; return a function that puts the original tensors back.

    Autocast casts a float32 weight that needs no gradient again at every call (its cast cache keeps only leaves
    that require grad): for a 12-layer teacher that is some 150 copy kernels per step. A weight already in the
    target dtype is used as it is, and ``.to(bfloat16)`` rounds as autocast's cast does, so every linear gives
    the same bits. LayerNorm and embedding weights stay float32 (autocast runs those ops in float32 anyway).
    ``dtype`` None (no autocast) changes nothing.
    """
    if dtype is None:
        return lambda: None
    saved = []
    for m in model.modules():
        if isinstance(m, nn.Linear):
            for p in (m.weight, m.bias):
                if p is not None and not p.requires_grad and p.is_floating_point() and p.dtype != dtype:
                    saved.append((p, p.data))
                    p.data = p.data.to(dtype)

    def restore():
        for p, original in saved:
            p.data = original
    return restore


@torch.no_grad()
def teacher_intermediates(teacher, batch: dict, layers=None) -> tuple[list[torch.Tensor], dict[int, tuple]]:
    """The teacher's hidden states (embeddings first) and the factors ``(Q / √d, K)`` of the pre-softmax
    attention scores of ``layers`` (default: all; pass ``IntermediateDistiller.teacher_layers`` so unmapped
    layers run pure SDPA)."""
    inputs = model_inputs(batch, teacher)  # before the capture: the first batch's may try the 4D mask
    with ScoreCapture(teacher, layers) as cap:
        out = teacher(**inputs, output_hidden_states=True)
    return list(out.hidden_states), cap.factors


class IntermediateDistiller(nn.Module):
    """``forward(batch, teacher_hidden, teacher_scores)`` -> {"loss", "hidden", "attention"}.

    The student must use the capturing attention implementation (``use_score_attention``). The two losses are
    added without weights, as in TinyBERT. ``teacher_scores`` is what :func:`teacher_intermediates` returns;
    ``attention_form`` is :class:`AttentionScoreLoss`'s ``form``.

        >>> distiller = IntermediateDistiller(student, LayerMap(2, 4), teacher.config.hidden_size)  # doctest: +SKIP
        >>> optimizer = torch.optim.AdamW(distiller.parameters())   # includes the projections  # doctest: +SKIP
    """

    def __init__(self, student, layer_map: LayerMap, teacher_width: int, projection: str = "shared",
                 attention_form: str = "factored"):
        super().__init__()
        self.student = student
        self.layer_map = layer_map
        self.hidden_loss = HiddenStateLoss(student.config.hidden_size, teacher_width,
                                           len(layer_map.hidden_pairs), projection)
        self.attention_loss = AttentionScoreLoss(attention_form)

    @property
    def teacher_layers(self) -> list[int]:
        """The teacher's attention layers the loss reads: capture only these (``teacher_intermediates``)."""
        return [t for _, t in self.layer_map.attention_pairs]

    def unreached_parameters(self) -> list[nn.Parameter]:
        """The student's parameters that no loss of this stage reaches: those outside ``student.base_model``
        (its task head, the QA outputs). Eager autograd leaves their ``.grad`` None, so AdamW skips them; a
        compiled graph (AOT autograd) hands them zeros instead, on which AdamW still applies weight decay (lr x
        --weight-decay of the weights per step: 5e-7 at the defaults) and keeps state. The training loop drops
        these gradients before each step. Every other parameter is reached through the hidden-state loss (every
        layer's output is compared), even a last layer's value weights, which the attention loss alone does not
        reach: eager, only the head's gradients are None (BERT, DistilBERT and RoBERTa students checked).

            >>> [n for n, p in distiller.named_parameters()                         # doctest: +SKIP
            ...  if any(p is q for q in distiller.unreached_parameters())]
            ['student.qa_outputs.weight', 'student.qa_outputs.bias']
        """
        base = {id(p) for p in self.student.base_model.parameters()}  # the student itself for a bare encoder
        return [p for p in self.student.parameters() if id(p) not in base]

    def forward(self, batch: dict, teacher_hidden, teacher_scores) -> dict[str, torch.Tensor]:
        inputs = model_inputs(batch, self.student)  # before the capture: the first batch's may try the 4D mask
        with ScoreCapture(self.student, [s for s, _ in self.layer_map.attention_pairs]) as cap:
            out = self.student(**inputs, output_hidden_states=True)
        mask = batch["attention_mask"]
        s_hidden = [out.hidden_states[s] for s, _ in self.layer_map.hidden_pairs]
        t_hidden = [teacher_hidden[t] for _, t in self.layer_map.hidden_pairs]
        captured = cap.factors
        s_scores = [captured[s] for s, _ in self.layer_map.attention_pairs]
        t_scores = [teacher_scores[t] for _, t in self.layer_map.attention_pairs]
        hidden = self.hidden_loss(s_hidden, t_hidden, mask)
        attention = self.attention_loss(s_scores, t_scores, mask)
        return {"loss": hidden + attention, "hidden": hidden, "attention": attention}
