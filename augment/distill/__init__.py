"""TinyBERT task distillation for extractive QA: losses, layer mapping, score capture, teacher cache, data.

Each concept lives in its own module; the recipe that wires them together is ``pipelines/distill_train.py``.
"""
from augment.distill.attention_capture import ScoreCapture, use_score_attention
from augment.distill.attention_loss import AttentionScoreLoss
from augment.distill.hidden_loss import HiddenStateLoss
from augment.distill.intermediate import IntermediateDistiller
from augment.distill.layer_map import LayerMap, check_pair
from augment.distill.prediction_loss import PredictionLoss

__all__ = ["AttentionScoreLoss", "HiddenStateLoss", "IntermediateDistiller", "LayerMap", "PredictionLoss",
           "ScoreCapture", "check_pair", "use_score_attention"]
