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
