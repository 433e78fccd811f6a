"""Model FLOPs of a distillation step, counted from the model configs, and the card's dense peak.

Forward FLOPs of one window of T tokens through a BERT-style encoder with n layers, width d and
feed-forward width f (a multiply-add is 2 FLOPs; embeddings, softmax, layer norms and the QA head's
2d outputs per token are left out, under 1% at bert-base size):

    F(T) = n * (8*T*d^2 + 4*T*d*f + 4*T^2*d)
           Q, K, V and output projections (8Td²), the two feed-forward matrices (4Tdf),
           Q Kᵀ and the weighted sum of V (4T²d).

A training step costs 3 F for the student (forward, and a backward of twice the forward), 1 F for a
teacher that only runs forward. Per stage and window: intermediate 3 F_s + F_t (+ 2*T*d_s*d_t per width
projection, times 3); prediction 3 F_s (+ F_t with the teacher live instead of cached); teacher cache F_t.
T is the batch's length after its padding columns are cut, which is what the hardware computes.

    >>> from types import SimpleNamespace                           # a config's dims: TinyBERT-4's student
    >>> student_config = SimpleNamespace(num_hidden_layers=4, hidden_size=312, intermediate_size=1200)
    >>> cost = StageCost.of("prediction", student_config)
    >>> cost.flops(tokens=26 * 384, tokens_sq=26 * 384 ** 2)        # FLOPs of one batch of 26 full windows
    330141007872.0
"""
from __future__ import annotations

from dataclasses import dataclass

# Dense (no sparsity) bf16/fp16 tensor-core peaks in TFLOP/s, from the vendors' data sheets; matched as
# substrings of torch.cuda.get_device_name(), first match wins.
# A longer name comes before any name it contains ("H200 NVL" and "GH200" before "H200", "L40" before "L4").
DENSE_BF16_PEAK_TFLOPS = (("H200 NVL", 835.0), ("GH200", 989.0), ("H200", 989.0), ("H100 PCIe", 756.0),
                          ("H100 NVL", 835.0), ("H100", 989.0), ("B200", 2250.0), ("A100", 312.0), ("L40S", 362.0),
                          ("L40", 181.0), ("L4", 121.0), ("A10G", 70.0), ("V100", 125.0))


def peak_tflops(device_name: str | None) -> float | None:
    """The card's dense bf16 peak, or None for a card not in the table (and for the CPU)."""
    for key, peak in DENSE_BF16_PEAK_TFLOPS:
        if device_name and key in device_name:
            return peak
    return None


def peak_share(tflops: float, device_name: str | None, cards: int = 1) -> float | None:
    """The share of the dense bf16 peak that ``tflops``, achieved by ``cards`` cards named ``device_name``
    together, is of theirs: each card's share on average (None for a card not in the table).

    >>> peak_share(989.0, "NVIDIA H200", cards=2)    # two H200s at half their peak each
    0.5
    """
    peak = peak_tflops(device_name)
    return None if peak is None else tflops / (peak * cards)


def _dims(config) -> tuple[int, int, int] | None:
    try:
        ffn = getattr(config, "intermediate_size", None) or config.hidden_dim  # DistilBERT: hidden_dim
        return int(config.num_hidden_layers), int(config.hidden_size), int(ffn)
    except (AttributeError, TypeError):
        return None  # not a BERT-style config: no count rather than a wrong one


@dataclass(frozen=True)
class StageCost:
    """FLOPs = ``linear * tokens + quadratic * tokens_sq`` for a batch, where ``tokens`` is the sum of the
    windows' (padded) lengths and ``tokens_sq`` the sum of their squares."""

    linear: float
    quadratic: float

    def flops(self, tokens: int, tokens_sq: int) -> float:
        return self.linear * tokens + self.quadratic * tokens_sq

    @staticmethod
    def forward(config, passes: float = 1.0) -> "StageCost | None":
        dims = _dims(config)
        if dims is None:
            return None
        n, d, f = dims
        return StageCost(passes * n * (8 * d * d + 4 * d * f), passes * n * 4 * d)

    @staticmethod
    def of(stage: str, student_config, teacher_config=None, teacher_live: bool = False) -> "StageCost | None":
        """The cost per token of ``stage`` ("intermediate", "prediction" or "teacher_cache")."""
        parts = []
        if stage in ("intermediate", "prediction"):
            parts.append(StageCost.forward(student_config, 3.0))
        if stage in ("intermediate", "teacher_cache") or (stage == "prediction" and teacher_live):
            parts.append(StageCost.forward(teacher_config, 1.0))
        if any(p is None for p in parts):
            return None
        linear, quadratic = sum(p.linear for p in parts), sum(p.quadratic for p in parts)
        if stage == "intermediate":
            d_s, d_t = student_config.hidden_size, teacher_config.hidden_size
            if d_s != d_t:  # one projection per mapped hidden state, trained (x3)
                linear += 3 * 2 * d_s * d_t * (student_config.num_hidden_layers + 1)
        return StageCost(linear, quadratic)
