"""Drawing variants: each replaceable word is swapped with probability p for a uniform candidate.

Randomness comes from a ``numpy.random.Generator`` seeded by (seed, example id, variant, attempt), so
a variant never depends on batch size, worker count or call order. Draws are vectorised over the
words of a variant; a rejected duplicate is redrawn with the next attempt number.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from augment.segment import Word, match_case
from augment.spans import Edit

MAX_ATTEMPTS = 8  # redraws for a duplicate variant before accepting it (few candidates, tiny p)


@dataclass(frozen=True)
class Slot:
    """A word that may be replaced, with its candidates (lower case) and where they came from."""

    field: str
    word: Word
    candidates: tuple[str, ...]
    source: str


def id_seed(example_id: str) -> int:
    """A stable 64-bit integer for an example id (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(example_id.encode("utf-8")).digest()[:8], "little")


def draw_edits(slots: list[Slot], replace_prob: float, rng: np.random.Generator) -> list[Edit]:
    """One variant's edits: a Bernoulli(p) per slot, then a uniform candidate for the chosen ones."""
    if not slots:
        return []
    n = np.array([len(s.candidates) for s in slots])  # (S,)
    chosen = rng.random(len(slots)) < replace_prob  # (S,)
    pick = np.floor(rng.random(len(slots)) * n).astype(np.int64)  # (S,) drawn for all: stable streams
    edits = []
    for i in np.flatnonzero(chosen):
        s = slots[i]
        rep = match_case(s.candidates[pick[i]], s.word.text)
        edits.append(Edit(s.field, s.word.start, s.word.end, s.word.text, rep, s.source))
    return edits


def draw_variants(slots: list[Slot], n: int, replace_prob: float, seed: int, example_id: str) -> list[list[Edit]]:
    """Edits of variants 1..n, distinct from each other and from the original where candidates allow."""
    base = id_seed(example_id)
    seen = {()}  # the original: no edits
    out = []
    for v in range(1, n + 1):
        for attempt in range(MAX_ATTEMPTS):
            rng = np.random.default_rng([seed, base, v, attempt])
            edits = draw_edits(slots, replace_prob, rng)
            key = tuple((e.field, e.start, e.replacement) for e in edits)
            if key not in seen:
                break
        seen.add(key)
        out.append(edits)
    return out
