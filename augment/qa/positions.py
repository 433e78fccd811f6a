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


def vocabulary_problem(config, tokenizer, name: str) -> str | None:
    """Why ``tokenizer`` would give the model of ``config`` (called ``name``) ids past its last embedding row,
    or None: a tokenizer saved from another model, or tokens added without ``resize_token_embeddings``. Such an id
    was an ``IndexError: index out of range in self`` from the forward pass, with no word of the tokenizer."""
    rows = getattr(config, "vocab_size", None)
    size = len(tokenizer)  # its vocabulary with the added tokens: ids 0..size-1
    if rows is None or size <= rows:
        return None
    return (f"the {name}'s tokenizer has {size} tokens but the {name} embeds only {rows} (ids 0..{rows - 1}): the "
            "tokenizer was saved from another model, or tokens were added to it without resize_token_embeddings")
