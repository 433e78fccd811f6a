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
    """``auto_class.from_pretrained(name_or_path, **kwargs)`` with float32 weights. A weights file that cannot be
    read (a truncated copy or download) is an OSError naming the model, which every command reports in one line."""
    import pickle

    import torch
    from safetensors import SafetensorError

    try:
        return auto_class.from_pretrained(name_or_path, dtype=torch.float32, **kwargs)
    # safetensors' error of a cut file, and torch.load's of a cut pytorch_model.bin (RuntimeError from its zip
    # reader, or EOFError/UnpicklingError), were tracebacks from deep inside transformers, naming no model.
    except (SafetensorError, RuntimeError, EOFError, pickle.UnpicklingError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise OSError(f"{name_or_path}: its weights could not be read ({type(e).__name__}: {first[:200]}); the file "
                      "may be truncated or corrupt: save or download the model again") from e


def untrained(model, info: dict, head: str) -> str | None:
    """What a checkpoint lacked that transformers initialised at random instead (it only logs a load report), in
    a message's words, or None: ``no {head} head weights (qa_outputs.bias and 1 more)`` when the task head is
    missing (a bare encoder or a checkpoint of another task loaded for this one), else ``missing weights (...)``.
    ``info``: ``from_pretrained(..., output_loading_info=True)``'s. Tied weights (a masked LM's decoder sharing
    the input embeddings, often absent from the file) are not reported missing.

        >>> model, info = load_float32(AutoModelForQuestionAnswering, "bert-base-uncased",
        ...                            output_loading_info=True)                 # doctest: +SKIP
        >>> untrained(model, info, "question-answering")                        # doctest: +SKIP
        'no question-answering head weights (qa_outputs.bias and 1 more)'
    """
    missing = sorted(info["missing_keys"])
    if not missing:
        return None
    own = [k for k in missing if not k.startswith(f"{model.base_model_prefix}.")]
    keys = own or missing
    return (f"{f'no {head} head weights' if own else 'missing weights'} "
            f"({keys[0]}{f' and {len(keys) - 1} more' if len(keys) > 1 else ''})")
