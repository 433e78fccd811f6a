import math

import pytest
import torch

from augment.distill.prediction_loss import PredictionLoss


def softmax(xs):
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    return [v / sum(e) for v in e]


def kl(p, q):
    return sum(a * math.log(a / b) for a, b in zip(p, q))


# One window of 5 tokens: CLS, two context tokens, a question token, padding.
S = [1.0, 2.0, 0.0, 5.0, -1.0]
T_ = [2.0, 0.0, 1.0, 9.0, 3.0]
MASK = [1, 1, 1, 0, 0]


def tensors(s=S, t=T_, mask=MASK):
    return (torch.tensor([s]), torch.tensor([t]), torch.tensor([mask]))


def test_kd_is_t_squared_times_kl_over_context_and_cls():
    s, t, m = tensors()
    T = 2.0
    out = PredictionLoss(temperature=T, distill_weight=1.0)(s, s, t, t, m)
    p = softmax([x / T for x in T_[:3]])
    q = softmax([x / T for x in S[:3]])
    assert out["kd"].item() == pytest.approx(T * T * kl(p, q), rel=1e-5)
    assert out["loss"].item() == pytest.approx(out["kd"].item(), rel=1e-6)
    assert set(out) == {"loss", "kd"}  # no hard-label term at w = 1: not reported as a perfect 0




def test_weight_mixes_kd_and_ce_linearly():
    s, t, m = tensors()
    start, end = torch.tensor([1]), torch.tensor([2])
    w, T = 0.3, 1.0
    out = PredictionLoss(temperature=T, distill_weight=w)(s, s, t, t, m, start, end)
    q = softmax(S[:3])
    ce = (-math.log(q[1]) - math.log(q[2])) / 2
    kd = kl(softmax(T_[:3]), q)
    assert out["ce"].item() == pytest.approx(ce, rel=1e-5)
    assert out["loss"].item() == pytest.approx(w * kd + (1 - w) * ce, rel=1e-5)
    # w = 0 is plain fine-tuning and needs no teacher at all.
    hard = PredictionLoss(distill_weight=0.0)(s, s, None, None, m, start, end)
    assert hard["loss"].item() == pytest.approx(ce, rel=1e-5)
    assert set(out) == {"loss", "kd", "ce"} and set(hard) == {"loss", "ce"}


def test_question_and_padding_positions_do_not_matter():
    s, t, m = tensors()
    s2, t2, _ = tensors(s=S[:3] + [-40.0, 70.0], t=T_[:3] + [100.0, -3.0])
    loss = PredictionLoss(temperature=3.0, distill_weight=0.5)
    a = loss(s, s, t, t, m, torch.tensor([0]), torch.tensor([0]))
    b = loss(s2, s2, t2, t2, m, torch.tensor([0]), torch.tensor([0]))
    assert a["loss"].item() == pytest.approx(b["loss"].item(), rel=1e-6)


def test_equal_logits_give_zero_kd_and_start_end_are_averaged():
    s, t, m = tensors()
    out = PredictionLoss()(s, s, s, s, m)
    assert out["kd"].item() == pytest.approx(0.0, abs=1e-7)
    only_start = PredictionLoss()(s, s, t, s, m)["kd"].item()
    assert only_start == pytest.approx(kl(softmax(T_[:3]), softmax(S[:3])) / 2, rel=1e-5)


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="temperature"):
        PredictionLoss(temperature=0)
    with pytest.raises(ValueError, match="distill_weight"):
        PredictionLoss(distill_weight=1.5)


def test_at_t1_w1_the_gradient_is_tinyberts_soft_cross_entropy():
    """TinyBERT's prediction loss is -sum p log q at T = 1, no hard labels: --temperature 1
    --distill-weight 1. Its gradient on the student's logits is (q - p) over context + CLS, halved
    because start and end are averaged (only the start distribution differs from the teacher's here)."""
    s, t, m = tensors()
    s = s.clone().requires_grad_(True)
    PredictionLoss(temperature=1.0, distill_weight=1.0)(s, t, t, t, m)["loss"].backward()
    p, q = softmax(T_[:3]), softmax(S[:3])
    want = [(b - a) / 2 for a, b in zip(p, q)] + [0.0, 0.0]
    assert s.grad[0].tolist() == pytest.approx(want, abs=1e-6)


def test_low_temperature_divides_float16_student_logits_in_float32():
    """Under --fp16 the student's logits arrive in float16 (autocast's QA head). Divided by T before the
    float32 cast, logits of 8 at T = 1e-4 became 8e4, past float16's 65504: inf, and the loss NaN (a run
    stopped as 'diverged, lower the learning rate'). At T = 0.3 the float16 quotient was rounded once more."""
    s, t, m = tensors(s=[1.0, 8.0, 0.0, 5.0, -1.0])
    for T in (1e-4, 0.3):
        half = PredictionLoss(temperature=T)(s.half(), s.half(), t, t, m)["kd"]
        exact = PredictionLoss(temperature=T)(s.half().float(), s.half().float(), t, t, m)["kd"]
        assert torch.isfinite(half) and half.item() == exact.item()


def test_a_batch_loss_is_the_mean_over_its_windows():
    """Two windows of different context lengths: each term is the mean of the two windows' values (summed, the
    loss would grow with the batch size and the learning rate would have to shrink with it)."""
    s2, t2, m2 = [0.5, -1.0, 3.0, 2.0, 7.0], [1.0, 1.0, -2.0, 0.0, 4.0], [1, 1, 1, 1, 0]
    s, t, m = torch.tensor([S, s2]), torch.tensor([T_, t2]), torch.tensor([MASK, m2])
    starts, ends = torch.tensor([1, 3]), torch.tensor([2, 0])
    T = 2.0
    out = PredictionLoss(temperature=T, distill_weight=0.5)(s, s, t, t, m, starts, ends)
    kd = [T * T * kl(softmax([x / T for x in tt[:n]]), softmax([x / T for x in ss[:n]]))
          for ss, tt, n in ((S, T_, 3), (s2, t2, 4))]
    ce = [(-math.log(softmax(ss[:n])[a]) - math.log(softmax(ss[:n])[b])) / 2
          for ss, n, a, b in ((S, 3, 1, 2), (s2, 4, 3, 0))]
    assert out["kd"].item() == pytest.approx(sum(kd) / 2, rel=1e-5)
    assert out["ce"].item() == pytest.approx(sum(ce) / 2, rel=1e-5)
