"""Drawing variants: each replaceable word is swapped with probability p for a uniform candidate.

Randomness comes from a ``numpy.random.Generator`` seeded by (seed, example id, variant, attempt), so
a variant never depends on batch size, worker count or call order. Draws are vectorised over the
words of a variant; a rejected duplicate is redrawn with the next attempt number. When redraws keep
failing (few candidates, small p: most draws change nothing) the variant is drawn uniformly from the
changed variants not yet used, so variants are distinct whenever the candidates allow it.

That is ``draw="distinct"`` (the default). It pushes the realised replacement rate above ``replace_prob``
on texts with few replaceable words: with one word, every variant must change it. ``draw="independent"``
is TinyBERT's: each variant is one draw, and a draw equal to the original or to an earlier variant is
dropped, so an example may get fewer than ``n`` variants, but each word is replaced with probability
``replace_prob`` exactly (BENCHMARKS.md section 7 measures both).

``protect_shared_words`` removes the replaceable words that the question and the context share, so that
a variant never renames what the question asks about.
"""
from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from augment.segment import Word, fold, match_case, split_words, stopword_form
from augment.spans import Edit

MAX_ATTEMPTS = 8  # plain redraws of a duplicate variant before drawing from the unused ones
ENUMERATE_LIMIT = 4096  # largest space of variants listed in full to find an unused one
DRAWS = ("distinct", "independent")


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


class _Edits:
    """The :class:`Edit` of each (slot, candidate) of one example, made at its first draw and shared by the
    variants that draw it again (an Edit is immutable). On the SQuAD subset a variant draws ~37 of an example's
    ~1,400 pairs: at x20 a quarter were made by an earlier variant, from x100 on nearly all are."""

    def __init__(self, slots: list[Slot]):
        self.slots = slots
        self.made = [[None] * len(s.candidates) for s in slots]

    def of(self, chosen: list[int], picks: list[int]) -> list[Edit]:
        """The edits replacing slot ``chosen[j]`` by its candidate ``picks[j]``, in the order given."""
        out = []
        for i, c in zip(chosen, picks):
            e = self.made[i][c]
            if e is None:
                s = self.slots[i]
                w = s.word
                e = self.made[i][c] = Edit(s.field, w.start, w.end, w.text, _cased(s.candidates[c], w.text), s.source)
            out.append(e)
        return out


def draw_edits(slots: list[Slot], replace_prob: float, rng: np.random.Generator, n=None,
               edits: _Edits | None = None) -> list[Edit]:
    """One variant's edits: a Bernoulli(p) per slot, then a uniform candidate for the chosen ones.
    ``n``: the slots' candidate counts as an array (computed here when not given); ``edits``: the example's
    :class:`_Edits` of ``slots``, to reuse the edits its earlier variants made."""
    if not slots:
        return []
    if n is None:
        n = np.array([len(s.candidates) for s in slots])  # (S,)
    chosen = rng.random(len(slots)) < replace_prob  # (S,)
    pick = np.floor(rng.random(len(slots)) * n).astype(np.int64)  # (S,) drawn for all: stable streams
    where = np.flatnonzero(chosen)  # (C,) in slot order
    return (edits or _Edits(slots)).of(where.tolist(), pick[where].tolist())


def _key(edits: list[Edit]) -> tuple:
    return tuple((e.field, e.start, e.replacement) for e in edits)


def _edits_of(edits: _Edits, choice: tuple[int, ...]) -> list[Edit]:
    """The edits of one point of the variant space: ``choice[i]`` is 0 (keep) or 1 + candidate index."""
    chosen = [i for i, c in enumerate(choice) if c]
    return edits.of(chosen, [choice[i] - 1 for i in chosen])


class _ListedSpace:
    """Every point of a variant space small enough to list (:data:`ENUMERATE_LIMIT`), in product order, with
    the points whose variant is used struck out. Listed once per example, at its first fallback: listing it
    again at every fallback cost 16^3 edit lists per variant (3 words of 15 candidates at replace_prob 0.01:
    about 100 rows/s)."""

    def __init__(self, edits: _Edits):
        self.edits = edits
        self.choices = list(itertools.product(*(range(len(s.candidates) + 1) for s in edits.slots)))
        self.points: dict[tuple, list[int]] = {}  # variant key -> its points (two candidates may case alike)
        for i, choice in enumerate(self.choices):
            self.points.setdefault(_key(_edits_of(edits, choice)), []).append(i)
        self.unused = np.ones(len(self.choices), dtype=bool)  # (P,)
        self.struck: set = set()  # keys already struck out

    def draw(self, seen: set, rng: np.random.Generator) -> list[Edit] | None:
        """Uniform over the unused points, or None when none is left."""
        for key in seen - self.struck:
            for i in self.points.get(key, []):
                self.unused[i] = False
        self.struck |= seen
        left = np.flatnonzero(self.unused)  # (U,) in product order
        return _edits_of(self.edits, self.choices[left[rng.integers(len(left))]]) if len(left) else None


def _all_changed_used(edits: _Edits, seen: set) -> bool:
    """Whether ``seen`` holds every variant that replaces all of the slots (by key: candidates that case alike are
    one variant)."""
    used = sum(len(key) == len(edits.slots) for key in seen)
    total = 1
    for s in edits.slots:
        total *= len({_cased(c, s.word.text) for c in s.candidates})
        if total > used:
            return False
    return True


def _unused_variant(edits: _Edits, seen: set, replace_prob: float,
                    rng: np.random.Generator) -> list[Edit] | None:
    """A changed variant not in ``seen`` of a space too large to list (see :class:`_ListedSpace`): a draw at
    ``replace_prob`` that changes one word at least, else a uniform one (below); None when both find none."""
    # Draws at replace_prob can reach too few variants. At replace_prob 1 every draw replaces every word: once all
    # such variants are used (with one candidate per word, the first variant uses it), 10,000 draws found none (2 s
    # a row on a SQuAD context) and the rows repeated. At a tiny replace_prob (1e-6) a draw changes only the word it
    # forces, so 7 words of 3 candidates reach 21 variants and x40 repeated 19 rows a text. The listed fallback
    # draws variants that keep some words, so then each word keeps or takes a candidate uniformly, much as a point
    # of the listed space is drawn. It follows a failed search only, so every variant found at replace_prob stays.
    if not (replace_prob >= 1 and _all_changed_used(edits, seen)):  # at 1, a search known to fail is skipped
        variant = _search(edits, seen, replace_prob, rng)
        if variant is not None:
            return variant
    return _search(edits, seen, None, rng)


def _search(edits: _Edits, seen: set, replace_prob: float | None, rng: np.random.Generator) -> list[Edit] | None:
    """Up to 10,000 draws for a variant not in ``seen``, each forcing one uniform word to change: the others change
    with probability ``replace_prob``, or keep or take a candidate uniformly when it is None."""
    sizes = [len(s.candidates) + 1 for s in edits.slots]
    for _ in range(10_000):  # a space this large has unused variants nearly everywhere
        if replace_prob is None:
            choice = [int(rng.integers(k)) for k in sizes]
        else:
            choice = [(1 + int(rng.integers(k - 1))) if rng.random() < replace_prob else 0 for k in sizes]
        i = int(rng.integers(len(sizes)))
        choice[i] = choice[i] or 1 + int(rng.integers(sizes[i] - 1))
        variant = _edits_of(edits, tuple(choice))
        if _key(variant) not in seen:
            return variant
    return None


def draw_variants(slots: list[Slot], n: int, replace_prob: float, seed: int, example_id: str,
                  draw: str = "distinct") -> list[list[Edit] | None]:
    """Edits of variants 1..n. ``distinct``: distinct from each other and from the original where the
    candidates allow. ``independent``: one draw per variant, and None in place of a draw that repeats the
    original or an earlier variant (dropped, as TinyBERT drops duplicate sentences).

        >>> slot = Slot("context", Word("bird", 2, 6), ("crow", "owl"), "glove")
        >>> [len(e) for e in draw_variants([slot], 3, 0.5, seed=0, example_id="q", draw="distinct")]
        [1, 1, 1]
    """
    if draw not in DRAWS:
        raise ValueError(f"draw={draw!r}: use one of {DRAWS}")
    base = id_seed(example_id)
    seen = {()}  # the original: no edits
    out: list[list[Edit] | None] = []
    counts = np.array([len(s.candidates) for s in slots]) if slots else None  # (S,), the same every draw
    made = _Edits(slots)
    listable = math.prod(len(s.candidates) + 1 for s in slots) <= ENUMERATE_LIMIT
    space = None  # a _ListedSpace, made at the first variant whose redraws all repeat
    for v in range(1, n + 1):
        if draw == "independent":  # the same stream as a distinct draw's first attempt
            edits = draw_edits(slots, replace_prob, np.random.default_rng([seed, base, v, 0]), counts, made)
            key = _key(edits)
            out.append(None if key in seen else edits)
            seen.add(key)
            continue
        for attempt in range(MAX_ATTEMPTS):
            rng = np.random.default_rng([seed, base, v, attempt])
            edits = draw_edits(slots, replace_prob, rng, counts, made)
            key = _key(edits)
            if key not in seen:
                break
        else:
            if slots and replace_prob > 0:
                # Only earlier variants of this example decide what is used: still a function of (seed, id, v).
                rng = np.random.default_rng([seed, base, v, MAX_ATTEMPTS])
                if listable:
                    space = space or _ListedSpace(made)
                    unused = space.draw(seen, rng)
                else:
                    unused = _unused_variant(made, seen, replace_prob, rng)
                changed = [o for o in out if o]
                if unused is not None:
                    edits = unused
                elif not edits and changed:  # every variant used: repeat a changed one, not the original
                    edits = list(changed[rng.integers(len(changed))])
                key = _key(edits)
        seen.add(key)
        out.append(edits)
    return out


# A paragraph's questions fold the same context words again and again.
folded = lru_cache(maxsize=1 << 16)(fold)


def fold_words(text: str, stopwords: frozenset[str]) -> frozenset[str]:
    """The words of ``text`` without case or accents (:func:`augment.segment.fold`), stopwords aside."""
    return frozenset(folded(w.text) for w in split_words(text) if stopword_form(w.text) not in stopwords)


def protect_shared_words(slots: list[Slot], question_words: frozenset[str],
                         context_words: frozenset[str]) -> tuple[list[Slot], int]:
    """The slots without those whose word (folded: case and accents aside) occurs in both texts, and how many
    were removed. Folded as the candidates are (:func:`augment.segment.fold`): a question that writes
    "Beyonce" asks about the context's "Beyoncé".

    A context word the question also uses is what the question asks about ("Destiny's Child" in both):
    renaming it in the context alone turns an answerable question into a confusing one. With question
    augmentation the same holds the other way, so a question word the context uses is kept too.

        >>> slots = [Slot("context", Word(w, 0, len(w)), ("x",), "glove") for w in ("Destiny", "sang")]
        >>> kept, n = protect_shared_words(slots, frozenset({"destiny", "child"}), frozenset({"destiny", "sang"}))
        >>> [s.word.text for s in kept], n
        (['sang'], 1)
    """
    shared = question_words & context_words
    kept = [s for s in slots if folded(s.word.text) not in shared]
    return kept, len(slots) - len(kept)
