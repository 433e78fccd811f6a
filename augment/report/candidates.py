"""Candidates per eligible word, counted while augmenting.

An output row records the replacements that were drawn, not the candidate lists they were drawn from,
so the report cannot recover how many candidates a word had (recomputing them would mean loading the
masked LM again). ``augment-squad`` therefore counts them per shard, from the candidate table it has
just computed for drawing, and ``manifest.json`` holds the sum: ``{"mlm:15": 1200, "glove:7": 30, "none:0": 12, ...}``, the number
of eligible words (alphabetic, not stopwords) of each distinct text by source and candidate count.
"none" is an eligible word that neither source could serve.

    >>> counts = count_candidates(aug.candidate_table(examples).values(), aug.stopwords)   # doctest: +SKIP
    >>> merge_counts([{"mlm:15": 2}, {"mlm:15": 1, "none:0": 1}])
    {'mlm:15': 3, 'none:0': 1}
"""
from __future__ import annotations

from collections import Counter

from augment.segment import is_eligible


def count_candidates(text_candidates, stopwords) -> Counter:
    """``"source:count"`` -> eligible words, over ``TextCandidates`` of distinct texts (a paragraph
    counts once: pass the values of a ``{text: candidates}`` table)."""
    out = Counter()
    for tc in text_candidates:
        for i, word in enumerate(tc.words):
            if is_eligible(word.text, stopwords):
                cands, source = tc.candidates.get(i, ((), "none"))
                out[f"{source}:{len(cands)}" if cands else "none:0"] += 1
    return out


def merge_counts(records) -> dict:
    """The sum of several count dicts (shard records written before counting began have none)."""
    total = Counter()
    for r in records:
        total.update(r or {})
    return dict(sorted(total.items(), key=lambda kv: (kv[0].split(":")[0], int(kv[0].split(":")[1]))))
