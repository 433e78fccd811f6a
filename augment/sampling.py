"""Drawing variants: each replaceable word is swapped with probability p for a uniform candidate.

Randomness comes from a ``numpy.random.Generator`` seeded by (seed, example id, variant, attempt), so
a variant never depends on batch size, worker count or call order. Draws are vectorised over the
words of a variant; a rejected duplicate is redrawn with the next attempt number. When redraws keep
failing (few candidates, small p: most draws change nothing) the variant is drawn uniformly from the
changed variants not yet used, so variants are distinct whenever the candidates allow it.
"""
from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass

import numpy as np

from functools import lru_cache

from augment.segment import Word, match_case
from augment.spans import Edit

MAX_ATTEMPTS = 8  # plain redraws of a duplicate variant before drawing from the unused ones
ENUMERATE_LIMIT = 4096  # largest space of variants listed in full to find an unused one


@dataclass(frozen=True)
class Slot:
    """A word that may be replaced, with its candidates (lower case) and where they came from."""

    field: str
    word: Word
    candidates: tuple[str, ...]
    source: str


# A paragraph's questions share its context words and candidates, so the same (candidate, word) pair
# is cased again and again (2.3M calls, ~7% of drawing on the SQuAD subset): cache the results.
_cased = lru_cache(maxsize=1 << 16)(match_case)


def id_seed(example_id: str) -> int:
    """A stable 64-bit integer for an example id (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(example_id.encode("utf-8")).digest()[:8], "little")


def draw_edits(slots: list[Slot], replace_prob: float, rng: np.random.Generator, n=None) -> list[Edit]:
    """One variant's edits: a Bernoulli(p) per slot, then a uniform candidate for the chosen ones.
    ``n``: the slots' candidate counts as an array (computed here when not given)."""
    if not slots:
        return []
    if n is None:
        n = np.array([len(s.candidates) for s in slots])  # (S,)
    chosen = rng.random(len(slots)) < replace_prob  # (S,)
    pick = np.floor(rng.random(len(slots)) * n).astype(np.int64)  # (S,) drawn for all: stable streams
    return _edits_of(slots, tuple(np.where(chosen, pick + 1, 0).tolist()))


def _key(edits: list[Edit]) -> tuple:
    return tuple((e.field, e.start, e.replacement) for e in edits)


def _edits_of(slots: list[Slot], choice: tuple[int, ...]) -> list[Edit]:
    """The edits of one point of the variant space: ``choice[i]`` is 0 (keep) or 1 + candidate index."""
    out = []
    for s, c in zip(slots, choice):
        if c:
            w = s.word
            out.append(Edit(s.field, w.start, w.end, w.text, _cased(s.candidates[c - 1], w.text), s.source))
    return out


def _unused_variant(slots: list[Slot], seen: set, replace_prob: float,
                    rng: np.random.Generator) -> list[Edit] | None:
    """A changed variant not in ``seen``, or None when none is left: uniform over the unused ones when
    the space is small enough to list, else a draw at ``replace_prob`` that changes one word at least."""
    sizes = [len(s.candidates) + 1 for s in slots]
    if math.prod(sizes) <= ENUMERATE_LIMIT:
        unused = [c for c in itertools.product(*map(range, sizes)) if _key(_edits_of(slots, c)) not in seen]
        return _edits_of(slots, unused[rng.integers(len(unused))]) if unused else None
    for _ in range(10_000):  # a space this large has unused variants nearly everywhere
        choice = [(1 + int(rng.integers(k - 1))) if rng.random() < replace_prob else 0 for k in sizes]
        i = int(rng.integers(len(slots)))
        choice[i] = choice[i] or 1 + int(rng.integers(sizes[i] - 1))
        edits = _edits_of(slots, tuple(choice))
        if _key(edits) not in seen:
            return edits
    return None


def draw_variants(slots: list[Slot], n: int, replace_prob: float, seed: int, example_id: str) -> list[list[Edit]]:
    """Edits of variants 1..n, distinct from each other and from the original where candidates allow."""
    base = id_seed(example_id)
    seen = {()}  # the original: no edits
    out = []
    counts = np.array([len(s.candidates) for s in slots]) if slots else None  # (S,), the same every draw
    for v in range(1, n + 1):
        for attempt in range(MAX_ATTEMPTS):
            rng = np.random.default_rng([seed, base, v, attempt])
            edits = draw_edits(slots, replace_prob, rng, counts)
            if _key(edits) not in seen:
                break
        else:
            if slots and replace_prob > 0:
                # Only earlier variants of this example decide what is used: still a function of (seed, id, v).
                rng = np.random.default_rng([seed, base, v, MAX_ATTEMPTS])
                unused = _unused_variant(slots, seen, replace_prob, rng)
                changed = [o for o in out if o]
                if unused is not None:
                    edits = unused
                elif not edits and changed:  # every variant used: repeat a changed one, not the original
                    edits = list(changed[rng.integers(len(changed))])
        seen.add(_key(edits))
        out.append(edits)
    return out
