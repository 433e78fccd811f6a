"""augment.distill.divergence: a run whose losses turn NaN or infinite (end to end: tests/distill/test_options.py)."""
import torch

from augment.distill.divergence import logged_values


def test_a_log_steps_losses_come_to_the_host_in_one_copy_bit_for_bit(monkeypatch):
    """A log step read its losses with an .item() each (2 or 3 device-to-host copies and waits on a GPU); one
    .tolist() of their stack gives the same floats, in the same order, whatever mix of dtypes autocast left."""
    parts = {"loss": torch.tensor(1.2345678), "kd": torch.tensor(0.1, dtype=torch.bfloat16),
             "ce": torch.tensor(0.3, dtype=torch.float16)}
    one_by_one = {k: v.item() for k, v in parts.items()}
    copies, item, tolist = [], torch.Tensor.item, torch.Tensor.tolist
    monkeypatch.setattr(torch.Tensor, "item", lambda t: copies.append("item") or item(t))
    monkeypatch.setattr(torch.Tensor, "tolist", lambda t: copies.append("tolist") or tolist(t))
    got = logged_values(parts, lambda v: v * 1)  # as acc.reduce(v, "mean") of one process: a new tensor
    monkeypatch.undo()
    assert copies == ["tolist"]
    assert got == one_by_one and list(got) == list(parts)
