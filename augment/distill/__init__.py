"""TinyBERT task distillation for extractive QA: losses, layer mapping, score capture, teacher cache, data.

Each concept lives in its own module; the recipe that wires them together is ``pipelines/distill_train.py``.
The names below are imported when first asked for (PEP 562), so that importing a module here that needs no torch
(``device_defaults``, ``flops``, ...) does not import torch: distill-train's --help and its option checks
answer without it (tests/test_cli_help.py).
"""
import importlib

# name -> the module that defines it
_EXPORTS = {"ScoreCapture": "attention_capture", "use_score_attention": "attention_capture",
            "AttentionScoreLoss": "attention_loss", "HiddenStateLoss": "hidden_loss",
            "IntermediateDistiller": "intermediate", "LayerMap": "layer_map", "check_pair": "layer_map",
            "PredictionLoss": "prediction_loss"}

__all__ = ["AttentionScoreLoss", "HiddenStateLoss", "IntermediateDistiller", "LayerMap", "PredictionLoss",
           "ScoreCapture", "check_pair", "use_score_attention"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__():
    return sorted(list(globals()) + __all__)
