"""Model weights load as float32, whatever dtype the checkpoint was saved in.

transformers 5 loads a checkpoint in the dtype its config names, and many checkpoints are saved in
float16 (``"dtype": "float16"`` in config.json). Trained as float16, AdamW's small updates round away and
the loss scale has nothing to protect; on the CPU, float16 matrix products are slow or missing. Mixed
precision in this project comes from autocast (``distill-train --bf16/--fp16``, ``augment-squad
--dtype``) over float32 weights, so every model is upcast when it loads, the teacher and the masked LM
too (they then run under the same autocast as the student).

    >>> model = load_float32(AutoModelForQuestionAnswering, "runs/fp16-teacher")  # doctest: +SKIP
    >>> next(model.parameters()).dtype                                            # doctest: +SKIP
    torch.float32
"""
from __future__ import annotations


def load_float32(auto_class, name_or_path: str, **kwargs):
    """``auto_class.from_pretrained(name_or_path, **kwargs)`` with float32 weights."""
    import torch

    return auto_class.from_pretrained(name_or_path, dtype=torch.float32, **kwargs)
