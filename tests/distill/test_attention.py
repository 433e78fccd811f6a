import math

import pytest
import torch
from transformers import BertConfig, BertModel

from augment.distill.attention_capture import ScoreCapture, use_score_attention
from augment.distill.attention_loss import AttentionScoreLoss
from augment.errors import ConfigError


def one_layer(seed):
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=16, max_position_embeddings=16)
    return BertModel(cfg).eval()


def scores_by_hand(model, ids):
    """Q Kᵀ / √d from the model's own weights, head by head.  -> (B, H, T, T)"""
    h = model.embeddings(input_ids=ids)  # (B, T, 8)
    att = model.encoder.layer[0].attention.self
    heads, d = 2, 4
    def split(x):
        return x.view(x.shape[0], x.shape[1], heads, d).transpose(1, 2)  # (B, H, T, d)
    q, k = split(att.query(h)), split(att.key(h))
    return q @ k.transpose(-1, -2) / math.sqrt(d)


IDS = torch.tensor([[2, 7, 9, 4, 0]])
MASK = torch.tensor([[1, 1, 1, 1, 0]])


def capture(model):
    use_score_attention(model)
    with ScoreCapture(model) as cap, torch.no_grad():
        out = model(input_ids=IDS, attention_mask=MASK, output_attentions=True)
    return cap.scores, out.attentions


def test_captured_scores_are_q_k_over_sqrt_d_before_softmax():
    model = one_layer(0)
    with torch.no_grad():
        reference = model(input_ids=IDS, attention_mask=MASK).last_hidden_state
        hand = scores_by_hand(model, IDS)
    scores, probs = capture(model)
    torch.testing.assert_close(scores[0], hand)
    # The capturing implementation computes the same outputs as the stock one.
    with torch.no_grad():
        torch.testing.assert_close(model(input_ids=IDS, attention_mask=MASK).last_hidden_state, reference)
    # And the probabilities are what a softmax over the real keys gives, i.e. something else.
    torch.testing.assert_close(probs[0][..., :4], torch.softmax(hand[..., :4], -1))


def test_loss_uses_scores_not_probabilities():
    s_scores, s_probs = capture(one_layer(1))
    t_scores, t_probs = capture(one_layer(2))
    loss = AttentionScoreLoss()([s_scores[0]], [t_scores[0]], MASK).item()
    real = slice(0, 4)
    by_hand = ((s_scores[0] - t_scores[0])[..., real, real] ** 2).mean().item()
    on_probs = ((s_probs[0] - t_probs[0])[..., real, real] ** 2).mean().item()
    assert loss == pytest.approx(by_hand, rel=1e-5)
    assert abs(loss - on_probs) > 10 * on_probs  # scores spread far wider than probabilities


def test_attention_loss_hand_computed_with_padding():
    # B=1, H=1, T=2 with the second token padding: only the (0, 0) entry counts.
    s = torch.tensor([[[[3.0, -5.0], [8.0, 1.0]]]])
    t = torch.tensor([[[[1.0, 100.0], [0.0, 0.0]]]])
    mask = torch.tensor([[1, 0]])
    assert AttentionScoreLoss()([s], [t], mask).item() == pytest.approx(4.0)


def test_capture_needs_the_capturing_implementation():
    model = one_layer(0)
    with pytest.raises(ConfigError, match="use_score_attention"):
        with ScoreCapture(model):
            pass


def random_factors(seed, b=2, heads=3, t=7, d_s=4, d_t=5, dtype=torch.float64):
    """Student and teacher (Q/√d, K) factors of different head widths, the student's needing gradients."""
    g = torch.Generator().manual_seed(seed)
    q_s, k_s = (torch.randn(b, heads, t, d_s, generator=g, dtype=dtype).requires_grad_() for _ in range(2))
    q_t, k_t = (torch.randn(b, heads, t, d_t, generator=g, dtype=dtype) for _ in range(2))
    return (q_s, k_s), (q_t, k_t)


def test_factored_loss_equals_the_direct_one_with_padding_and_different_head_widths():
    student, teacher = random_factors(0)
    mask = torch.tensor([[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1]])
    losses, grads = {}, {}
    for form in ("direct", "factored"):
        loss = AttentionScoreLoss(form)([student], [teacher], mask)
        q_grad, k_grad = torch.autograd.grad(loss, student)
        losses[form], grads[form] = loss, (q_grad, k_grad)
    torch.testing.assert_close(losses["factored"], losses["direct"], rtol=1e-12, atol=0)
    for a, b in zip(grads["factored"], grads["direct"]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert grads["factored"][0][0, :, 5:].abs().max() == 0  # padded queries get no gradient
    # By hand: the mean over real (query, key) pairs and heads of the squared score difference.
    s, t = (q @ k.transpose(-1, -2) for q, k in (student, teacher))
    real = mask.bool()
    pairs = (real[:, :, None] & real[:, None, :])[:, None].expand_as(s)
    assert losses["factored"].item() == pytest.approx(((s - t)[pairs] ** 2).mean().item(), rel=1e-12)


def test_bfloat16_factors_both_forms_keep_the_digits_that_subtracting_rounded_scores_loses():
    """Under bf16 autocast the factors arrive in bfloat16. Rounding each score matrix to bfloat16 and then
    subtracting (what the direct form did before score_difference) loses the digits the loss is made of, for a
    student near its teacher. The factored form multiplies in float32; the direct form now accumulates the
    difference in one product before rounding it. Both land far nearer the exact value (float64)."""
    student, teacher = random_factors(1, b=2, heads=4, t=96, d_s=32, d_t=32, dtype=torch.float32)
    student = tuple((x.detach() * 1.5).bfloat16() for x in student)  # scores of a few units, as in BERT
    teacher = tuple((x * 1.5).bfloat16() for x in teacher)
    student = (student[0], teacher[1] + 0.1 * student[1])  # a student near its teacher: the hard case
    student = (teacher[0] + 0.1 * student[0], student[1])
    mask = torch.ones(2, 96, dtype=torch.long)
    mask[0, 80:] = 0
    exact = AttentionScoreLoss("direct")([tuple(x.double() for x in student)], [tuple(x.double() for x in teacher)],
                                         mask).item()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        factored = AttentionScoreLoss("factored")([student], [teacher], mask)
        direct = AttentionScoreLoss("direct")([student], [teacher], mask)
        s, t = (q @ k.transpose(-1, -2) for q, k in (student, teacher))  # each rounded to bfloat16
    assert s.dtype == torch.bfloat16 and factored.dtype == direct.dtype == torch.float32
    real = mask.bool()
    pairs = (real[:, :, None] & real[:, None, :])[:, None].expand_as(s)
    rounded_first = ((s.float() - t.float())[pairs] ** 2).mean().item()
    for got in (factored.item(), direct.item()):
        assert abs(got - exact) < 1e-4 * exact
        assert abs(got - exact) < abs(rounded_first - exact) / 5


def test_hand_computed_padding_case_in_factored_form():
    # The scores of test_attention_loss_hand_computed_with_padding as factors: S = S @ Iᵀ.
    s = torch.tensor([[[[3.0, -5.0], [8.0, 1.0]]]])
    t = torch.tensor([[[[1.0, 100.0], [0.0, 0.0]]]])
    eye = torch.eye(2)[None, None]
    assert AttentionScoreLoss()([(s, eye)], [(t, eye)], torch.tensor([[1, 0]])).item() == pytest.approx(4.0)
    with pytest.raises(ValueError, match="form='gram'"):
        AttentionScoreLoss("gram")


def test_capture_hands_over_the_scores_factors():
    model = one_layer(0)
    use_score_attention(model)
    with ScoreCapture(model) as cap, torch.no_grad():
        model(input_ids=IDS, attention_mask=MASK)
    q, k = cap.factors[0]
    assert q.shape == k.shape == (1, 2, 5, 4)  # (B, H, T, d): no (T, T) tensor is made during the pass
    torch.testing.assert_close(q @ k.transpose(-1, -2), scores_by_hand(model, IDS).detach())


@pytest.mark.parametrize("form", ["factored", "direct"])
def test_layer_pairs_add_up_and_the_teacher_gets_no_gradient(form):
    """The loss of two mapped layer pairs is the sum of each pair's masked mean (TinyBERT eq. 7 sums over layers),
    and the teacher's factors, given with gradients on, get none."""
    mask = torch.tensor([[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1]])
    pairs = [random_factors(seed) for seed in (3, 4)]
    for _, teacher in pairs:
        for x in teacher:
            x.requires_grad_()
    loss = AttentionScoreLoss(form)([s for s, _ in pairs], [t for _, t in pairs], mask)
    real = mask.bool()
    by_hand = 0.0
    for student, teacher in pairs:
        s, t = (q @ k.transpose(-1, -2) for q, k in (student, teacher))
        keep = (real[:, :, None] & real[:, None, :])[:, None].expand_as(s)
        by_hand += ((s - t)[keep] ** 2).mean().item()
    assert loss.item() == pytest.approx(by_hand, rel=1e-12)
    loss.backward()
    assert all(x.grad is None for _, teacher in pairs for x in teacher)
    assert all(x.grad is not None for student, _ in pairs for x in student)


def test_a_model_whose_layers_share_one_attention_module_is_refused_up_front():
    """ALBERT runs every layer through one shared module: the capture, one place per module, found fewer modules
    than layers, and distill-train's intermediate stage died on its first batch with "layers [1] out of range"."""
    from transformers import AlbertConfig

    from augment.distill.attention_capture import capture_problem

    small = dict(vocab_size=50, embedding_size=8, hidden_size=16, num_attention_heads=2, intermediate_size=32)
    shared = capture_problem(AlbertConfig(num_hidden_layers=2, num_hidden_groups=1, **small), "teacher")
    assert shared == ("the teacher (AlbertForQuestionAnswering) shares 1 attention module(s) among its 2 layers "
                      "(cross-layer weight sharing, as ALBERT's), so its pre-softmax attention scores cannot be "
                      "captured for the intermediate stage; use a BERT-style teacher or --stage prediction")
    # One group per layer: nothing shared, a module each.
    assert capture_problem(AlbertConfig(num_hidden_layers=2, num_hidden_groups=2, **small), "teacher") is None
    assert capture_problem(BertConfig(num_hidden_layers=3, hidden_size=16, num_attention_heads=2,
                                      intermediate_size=32, vocab_size=50), "student") is None
