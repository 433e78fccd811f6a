"""How many tokens a model's position embeddings hold: the longest window (``--max-length``) it can read.

Asked of the config alone, before weights load, by ``distill-train`` (for teacher and student) and
``squad-eval``: a window past the last position embedding is an index error deep in the forward pass.
"""
from __future__ import annotations

# Families whose position ids start after the padding index (transformers numbers real tokens from
# pad_token_id + 1): they hold max_position_embeddings - (pad_token_id + 1) tokens, e.g. roberta-base 514 - 2.
# The config does not say so, hence the list: every masked-LM or QA model type whose transformers code
# numbers positions that way (tests/distill/test_layer_map.py reads transformers' code to keep it complete).
POSITIONS_AFTER_PADDING = frozenset({
    "roberta", "roberta-prelayernorm", "xlm-roberta", "xlm-roberta-xl", "camembert", "data2vec-text", "xmod",
    "longformer", "ibert", "mpnet", "luke", "lilt", "markuplm", "layoutlmv3", "esm"})


def usable_positions(config) -> int | None:
    """The most tokens one sequence may have in a model of ``config`` (None: the config does not say)."""
    limit = getattr(config, "max_position_embeddings", None)
    if limit is not None and getattr(config, "model_type", None) in POSITIONS_AFTER_PADDING:
        limit -= (getattr(config, "pad_token_id", None) or 0) + 1
    return limit


def length_problem(config, name: str, max_length: int) -> str | None:
    """Why ``--max-length`` does not fit the model of ``config`` (called ``name``), or None."""
    limit = usable_positions(config)
    if limit is not None and max_length > limit:
        return f"--max-length {max_length} exceeds the {name}'s {limit} positions"
    return None
