"""augment.distill.steps: the optimizer and schedule of a stage (its losses: test_pipeline.py, test_options.py)."""
import pytest
import torch

from augment.distill.steps import adamw_with_warmup


def test_weight_decay_spares_biases_and_layer_norms_and_the_warmup_rounds_down():
    """Decay on weight matrices alone, as Hugging Face and Haystack train BERT; a warm-up of 0.25 x 7 steps is 1
    step (rounded down, as Haystack's FARM), run at learning rate 0, then the peak."""
    module = torch.nn.Sequential()
    module.add_module("dense", torch.nn.Linear(3, 3))
    module.add_module("LayerNorm", torch.nn.LayerNorm(3))
    optimizer, scheduler = adamw_with_warmup(module, lr=1e-3, weight_decay=0.01, warmup=0.25, total=7)
    decayed, spared = optimizer.param_groups
    assert decayed["weight_decay"] == 0.01 and [p.shape for p in decayed["params"]] == [(3, 3)]
    assert spared["weight_decay"] == 0.0 and len(spared["params"]) == 3  # the bias, LayerNorm's weight and bias
    rates = []
    for _ in range(3):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    assert rates == pytest.approx([0.0, 1e-3, 1e-3 * 5 / 6])
