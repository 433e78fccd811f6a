import pytest
from transformers import BertConfig

from augment.distill.flops import StageCost, peak_share, peak_tflops

BASE = BertConfig()  # 12 layers, 768 wide, feed-forward 3072
STUDENT = BertConfig(num_hidden_layers=6)


def test_bert_base_forward_by_hand():
    # Per layer and window of 384 tokens: 8*T*d^2 + 4*T*d*f + 4*T^2*d.
    per_layer = 8 * 384 * 768 ** 2 + 4 * 384 * 768 * 3072 + 4 * 384 ** 2 * 768
    assert StageCost.forward(BASE).flops(tokens=384, tokens_sq=384 ** 2) == pytest.approx(12 * per_layer)
    assert per_layer == pytest.approx(5.889e9, rel=1e-3)


def test_stage_costs_add_up():
    window = {"tokens": 384, "tokens_sq": 384 ** 2}
    f_s = StageCost.forward(STUDENT).flops(**window)
    f_t = StageCost.forward(BASE).flops(**window)
    assert StageCost.of("prediction", STUDENT).flops(**window) == pytest.approx(3 * f_s)
    assert StageCost.of("prediction", STUDENT, BASE, teacher_live=True).flops(**window) == pytest.approx(3 * f_s + f_t)
    assert StageCost.of("intermediate", STUDENT, BASE).flops(**window) == pytest.approx(3 * f_s + f_t)  # same width
    narrow = BertConfig(num_hidden_layers=6, hidden_size=384, intermediate_size=1536)
    projections = 3 * 2 * 384 * 768 * 7 * 384  # 7 mapped hidden states, trained
    assert StageCost.of("intermediate", narrow, BASE).flops(**window) == pytest.approx(
        3 * StageCost.forward(narrow).flops(**window) + f_t + projections)
    assert StageCost.of("teacher_cache", STUDENT, BASE).flops(**window) == pytest.approx(f_t)


def test_distilbert_counts_as_the_bert_of_its_shape():
    from transformers import DistilBertConfig

    distil = DistilBertConfig(n_layers=6, dim=768, hidden_dim=3072)
    window = {"tokens": 384, "tokens_sq": 384 ** 2}
    assert StageCost.forward(distil).flops(**window) == pytest.approx(StageCost.forward(STUDENT).flops(**window))


def test_peaks_by_card_name():
    assert peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert peak_tflops("NVIDIA H100 NVL") == 835.0  # 1,671 with sparsity on its data sheet: not the SXM card's
    assert peak_tflops("NVIDIA H200") == 989.0
    # Names that hold a shorter card's name: the H200 NVL (835 dense, 1,671 with sparsity) is not the SXM H200,
    # the L40 (181) not the L4 (121).
    assert peak_tflops("NVIDIA H200 NVL") == 835.0 and peak_tflops("NVIDIA L40") == 181.0
    assert peak_tflops("NVIDIA L4") == 121.0 and peak_tflops("NVIDIA L40S") == 362.0
    assert peak_tflops("cpu") is None and peak_tflops(None) is None


def test_a_longer_card_name_comes_before_any_name_it_contains():
    """First match wins, so a name listed after one it contains (GH200 after H200) is never reached: it would
    take the shorter name's peak, whatever the table says for it."""
    from augment.distill.flops import DENSE_BF16_PEAK_TFLOPS

    names = [name for name, _ in DENSE_BF16_PEAK_TFLOPS]
    shadowed = [(short, long) for i, short in enumerate(names) for long in names[i + 1:] if short in long]
    assert shadowed == []
    assert all(peak_tflops(f"NVIDIA {name}") == peak for name, peak in DENSE_BF16_PEAK_TFLOPS)


def test_peak_share_is_per_card():
    assert peak_share(989.0, "NVIDIA H200", cards=2) == 0.5 and peak_share(494.5, "NVIDIA H200") == 0.5
    assert peak_share(1.0, "cpu", cards=2) is None
