"""TinyBERT's masked-LM input: the masked text and the original text, as a sentence pair.

TinyBERT's augmentation (the authors' ``data_augmentation.py``) does not feed the masked text alone: it
feeds ``[CLS] masked [SEP] original [SEP]`` with token type ids 0 for the first part and 1 for the
second, so the model sees the word it is replacing, which pulls its predictions towards near-synonyms.

Which special tokens go where, and which token type each part gets, is asked of the tokenizer by
encoding a placeholder pair, never written here: BERT's template is ``[CLS] A [SEP] B [SEP]`` with types
0 and 1, RoBERTa's ``<s> A </s></s> B </s>``, and RoBERTa has no token type ids to give.

    >>> template = pair_template(tokenizer, token_types=True)                  # doctest: +SKIP
    >>> ids, types, first = template.build(masked_ids, original_ids)           # doctest: +SKIP
    >>> ids[first + 3] == masked_ids[3]                                        # doctest: +SKIP
    True
"""
from __future__ import annotations

from dataclasses import dataclass

from augment.errors import ConfigError

FIRST, SECOND = 0, 1  # the tokenizer's sequence ids of a pair's two texts


@dataclass(frozen=True)
class PairTemplate:
    """A tokenizer's pair layout: ``parts`` in order, each ``(token id or FIRST/SECOND slot, is_slot,
    token type)``; ``token_types`` is False when the model takes no token type ids."""

    parts: tuple[tuple[int, bool, int], ...]
    token_types: bool

    @property
    def n_special(self) -> int:
        """Special tokens that a pair adds to its two texts."""
        return sum(not is_slot for _, is_slot, _ in self.parts)

    def build(self, first: list[int], second: list[int]) -> tuple[list[int], list[int] | None, int]:
        """(input ids, token type ids or None, position of ``first[0]`` in the ids) of the pair."""
        ids, types, start = [], [], 0
        for value, is_slot, kind in self.parts:
            if is_slot:
                seq = first if value == FIRST else second
                if value == FIRST:
                    start = len(ids)
                ids += seq
                types += [kind] * len(seq)
            else:
                ids.append(value)
                types.append(kind)
        return ids, types if self.token_types else None, start


def pair_template(tokenizer, token_types: bool = True) -> PairTemplate:
    """The pair layout of a fast tokenizer, read from its encoding of a placeholder pair.

    ``token_types``: whether the model takes token type ids (BERT: yes; RoBERTa's single type: no);
    it is also off when the tokenizer does not produce them."""
    enc = tokenizer("a", "b")
    seq = enc.sequence_ids()
    types = enc.get("token_type_ids") or [0] * len(seq)
    parts = []
    for i, (tok, s, kind) in enumerate(zip(enc["input_ids"], seq, types)):
        if s is None:
            parts.append((tok, False, kind))
        elif i == 0 or seq[i - 1] != s:  # a run of one text's tokens becomes one slot
            parts.append((s, True, kind))
    if [p[0] for p in parts if p[1]] != [FIRST, SECOND]:
        raise ConfigError(f"tokenizer {tokenizer.name_or_path!r} has no sentence-pair template "
                          "(its encoding of a pair is not first text, then second); use mlm_context='masked'")
    return PairTemplate(tuple(parts), token_types and "token_type_ids" in enc)
