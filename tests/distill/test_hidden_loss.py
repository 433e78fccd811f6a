import pytest
import torch

from augment.distill.hidden_loss import HiddenStateLoss


def test_mse_over_real_positions_only_equal_widths():
    s = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])  # (1, 3, 2), last token is padding
    t = torch.tensor([[[0.0, 2.0], [3.0, 2.0], [0.0, 0.0]]])
    mask = torch.tensor([[1, 1, 0]])
    loss = HiddenStateLoss(2, 2, num_pairs=1)
    assert loss.projections is None
    assert loss([s], [t], mask).item() == pytest.approx((1 + 0 + 0 + 4) / 4)


def test_shared_projection_is_w_e_for_embeddings_and_one_w_h_for_every_layer():
    """TinyBERT eq. 9-10 on hand-set 1 -> 2 maps: W_e = [1, 1], W_h = [2, 0], no bias. Pairs: embeddings
    s=1, t=(0, 0): error (1 + 1) / 2 = 1; layer 1 s=1, t=(2, 0): 0; layer 2 s=2, t=(0, 0): (16 + 0) / 2 = 8."""
    loss = HiddenStateLoss(1, 2, num_pairs=3)  # shared is the default
    assert loss.projections[1] is loss.projections[2] and loss.projections[0] is not loss.projections[1]
    assert sum(p.numel() for p in loss.parameters()) == 2 * (2 + 2)
    with torch.no_grad():
        for module, w in ((loss.projections[0], [[1.0], [1.0]]), (loss.projections[1], [[2.0], [0.0]])):
            module.weight.copy_(torch.tensor(w))
            module.bias.zero_()
    s = [torch.tensor([[[1.0]]]), torch.tensor([[[1.0]]]), torch.tensor([[[2.0]]])]
    t = [torch.tensor([[[0.0, 0.0]]]), torch.tensor([[[2.0, 0.0]]]), torch.tensor([[[0.0, 0.0]]])]
    value = loss(s, t, torch.tensor([[1]]))
    assert value.item() == pytest.approx(1.0 + 0.0 + 8.0)
    value.backward()  # W_h's gradient sums both layers: layer 1 adds 0, layer 2 d/dw (2w - 0)^2 / 2 at w=2: 8
    assert loss.projections[1].weight.grad[0, 0].item() == pytest.approx(8.0)
    with pytest.raises(ValueError, match="projection='both'"):
        HiddenStateLoss(1, 2, 3, projection="both")


def test_one_projection_per_pair_gets_gradients_and_trains():
    torch.manual_seed(0)
    loss = HiddenStateLoss(3, 5, num_pairs=2, projection="per-layer")
    assert len(loss.projections) == 2
    s = [torch.randn(2, 4, 3) for _ in range(2)]
    t = [torch.randn(2, 4, 5) for _ in range(2)]
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    before = [p.detach().clone() for p in loss.parameters()]
    opt = torch.optim.SGD(loss.parameters(), lr=0.1)
    first = None
    for _ in range(20):
        opt.zero_grad()
        value = loss(s, t, mask)
        value.backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in loss.parameters())
        opt.step()
        first = value.item() if first is None else first
    assert loss(s, t, mask).item() < first
    assert all(not torch.equal(b, p) for b, p in zip(before, loss.parameters()))
    # The projection of pair 0 never sees pair 1's states: the two are trained separately.
    assert not torch.equal(loss.projections[0].weight, loss.projections[1].weight)


def test_padding_changes_nothing_with_projection():
    torch.manual_seed(1)
    loss = HiddenStateLoss(3, 5, num_pairs=1)
    s, t = torch.randn(1, 4, 3), torch.randn(1, 4, 5)
    mask = torch.tensor([[1, 1, 0, 0]])
    s2, t2 = s.clone(), t.clone()
    s2[0, 2:] = 50.0
    t2[0, 3] = -7.0
    assert loss([s], [t], mask).item() == pytest.approx(loss([s2], [t2], mask).item())


def test_only_the_student_side_gets_gradients():
    """The teacher's states are targets: a teacher run with gradients on (not under no_grad) must not have its
    states, and so its weights, pulled towards the student's."""
    torch.manual_seed(2)
    s = torch.randn(1, 2, 3, requires_grad=True)
    t = torch.randn(1, 2, 3, requires_grad=True)
    HiddenStateLoss(3, 3, num_pairs=1)([s], [t], torch.tensor([[1, 1]])).backward()
    assert t.grad is None
    torch.testing.assert_close(s.grad, 2 * (s - t).detach() / 6)  # d/ds of the mean of 6 squared differences


def test_a_batch_without_real_tokens_costs_nothing_rather_than_nan():
    """The mean over no entries is taken as 0 (the count is at least 1): NaN would end the run as diverged."""
    s, t = torch.ones(1, 2, 3), torch.zeros(1, 2, 3)
    assert HiddenStateLoss(3, 3, num_pairs=1)([s], [t], torch.tensor([[0, 0]])).item() == 0.0
