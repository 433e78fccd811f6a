"""One training step of each stage, apart from the loop that runs it: the losses of one micro-batch
(:func:`micro_batch_losses`), their weighting within a step of several micro-batches or processes
(:func:`accumulated`), the optimizer with its learning-rate schedule (:func:`adamw_with_warmup`), and the step they
take once a step's gradients are in (:func:`optimizer_step`).

    optimizer, scheduler = adamw_with_warmup(module, lr=5e-5, weight_decay=0.01, warmup=0.1, total=1000)
    losses = micro_batch_losses("prediction", student, batch, teacher, None, PredictionLoss(1.0, 1.0), autocast)
    losses["loss"].backward()
    lr = optimizer_step(module, optimizer, scheduler, torch.nn.utils.clip_grad_norm_)
"""
from __future__ import annotations


def micro_batch_losses(stage: str, model, batch: dict, teacher, teacher_layers, prediction_loss, autocast) -> dict:
    """The losses of ``stage`` on one ``batch``: "loss" and its terms, 0-d tensors. ``model``: the intermediate
    stage's :class:`augment.distill.intermediate.IntermediateDistiller`, or the student (prediction stage), as the
    loop prepared it. The intermediate stage runs the frozen ``teacher`` for the hidden states and the scores of
    ``teacher_layers``; the prediction stage reads the teacher's logits from the batch (the cache, looked up by the
    loader), or runs the teacher live where ``prediction_loss`` weighs them. ``autocast``: the context of the run's
    mixed precision (accelerate's ``Accelerator.autocast``)."""
    import torch

    from augment.distill.intermediate import model_inputs, teacher_intermediates

    if stage == "intermediate":
        with autocast():
            t_hidden, t_scores = teacher_intermediates(teacher, batch, teacher_layers)
        return model(batch, t_hidden, t_scores)
    out = model(**model_inputs(batch, model))
    t_start, t_end = batch.get("teacher_start"), batch.get("teacher_end")  # cached, looked up by the loader
    if t_start is None and teacher is not None and prediction_loss.distill_weight > 0:
        with torch.no_grad(), autocast():
            t = teacher(**model_inputs(batch, teacher))
        t_start, t_end = t.start_logits.float(), t.end_logits.float()
    return prediction_loss(out.start_logits, out.end_logits, t_start, t_end, batch["context_mask"],
                           batch["start_positions"], batch["end_positions"])


def accumulated(stage: str, losses: dict, share: dict) -> dict:
    """A micro-batch's losses as its part of the step's (``augment.distill.data.accumulation_shares``): each term
    weighted by its share of what the term averages over, so the step's sum over the micro-batches, averaged over
    the processes (as DDP averages their gradients and the logged values are reduced), is the loss of one batch of
    all its windows; one process's sum alone is no loss (``world`` times its share). The intermediate losses
    average over real tokens (hidden states) and real (query, key) pairs (attention scores), which differ
    between micro-batches, and between processes, of equal size; the prediction losses over windows."""
    if stage == "intermediate":
        hidden, attention = losses["hidden"] * share["tokens"], losses["attention"] * share["pairs"]
        return {**losses, "loss": hidden + attention, "hidden": hidden, "attention": attention}
    return {k: v * share["windows"] for k, v in losses.items()}


def adamw_with_warmup(module, lr: float, weight_decay: float, warmup: float, total: int, fused: bool = False):
    """(optimizer, scheduler) of a stage of ``total`` steps: AdamW at peak ``lr``, its ``weight_decay`` on weight
    matrices only (not on biases and LayerNorm), ``fused`` into one kernel where asked
    (augment.distill.device_defaults.fused_adamw); a linear warm-up over a ``warmup`` share of the steps, then a
    linear decay to 0."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    decay = [p for n, p in module.named_parameters() if p.ndim >= 2 and "LayerNorm" not in n]
    no_decay = [p for n, p in module.named_parameters() if not (p.ndim >= 2 and "LayerNorm" not in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=lr, fused=fused)
    # Rounded down, as Haystack's FARM (the seed card's toolchain) rounds it, so the recorded runs repeat.
    # Not transformers Trainer's ceil: in this schedule a lone warm-up step runs at learning rate 0, so a
    # 1-step run (--max-steps 1) would not train at all.
    return optimizer, get_linear_schedule_with_warmup(optimizer, int(warmup * total), total)


def optimizer_step(model, optimizer, scheduler, clip, unreached=()) -> float:
    """Clip, step the optimizer and the schedule, clear the gradients; return the learning rate the step ran at.
    ``clip(parameters, max_norm)``: the run's clipping (accelerate's ``Accelerator.clip_grad_norm_``, which unscales
    fp16 gradients first). ``unreached`` (``IntermediateDistiller.unreached_parameters``) lose their gradients
    first: compiled, they hold zeros where eager autograd leaves None, and AdamW would decay them and give them
    state, so a --compile run's intermediate stage moved the QA head that an eager run leaves alone. Under DDP the
    gradients were all-reduced in the backward pass; dropping them is local and alike on every process. A
    checkpoint's optimizer state keeps its layout: only whether a step touches these parameters changes."""
    for p in unreached:
        p.grad = None
    # The norm of all gradients together, to 1.0, as Hugging Face's Trainer does. TinyBERT's BertAdam
    # (max_grad_norm 1.0) clipped each parameter's gradient on its own, a looser bound on the whole.
    clip(model.parameters(), 1.0)
    lr = scheduler.get_last_lr()[0]  # the rate this step runs at; scheduler.step() sets the next one's
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return lr
