"""Splitting text into words with exact character spans.

Words follow BERT's basic tokenizer: runs of letters and digits, each punctuation or symbol character
on its own, whitespace dropped. Unlike it, nothing is lower-cased, accent-stripped or re-joined: a
:class:`Word` is only a view ``text[start:end]`` of the original string, which stays untouched.

    >>> [w.text for w in split_words("Knowles-Carter's 12th\\talbum")]
    ['Knowles', '-', 'Carter', "'", 's', '12th', 'album']
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

# Letters/digits plus combining marks (so a decomposed "e\u0301" stays inside its word), or any single
# character that is neither a word character nor whitespace (punctuation, symbols, emoji, zero-width
# spaces). Python's \s covers tabs, newlines and non-breaking spaces.
_WORD = re.compile(r"[\w\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+|[^\w\s]")


@dataclass(frozen=True)
class Word:
    """One word of a text: ``text == original[start:end]``."""

    text: str
    start: int
    end: int


def split_words(text: str) -> list[Word]:
    """All words of ``text`` in order, with character spans into ``text``."""
    return [Word(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


@lru_cache(maxsize=1)
def english_stopwords() -> frozenset[str]:
    """NLTK's English stopword list, shipped as package data (NLTK's downloader is offline here)."""
    raw = resources.files("augment").joinpath("resources/stopwords_en.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in raw.splitlines() if line.strip())


def is_eligible(word: str, stopwords: frozenset[str]) -> bool:
    """TinyBERT's rule: purely alphabetic words that are not stopwords may be replaced."""
    return word.isalpha() and word.lower() not in stopwords


def match_case(replacement: str, original: str) -> str:
    """Give ``replacement`` the case pattern of ``original``: lower, Title or UPPER.

    Mixed patterns (``iPod``, ``McDonald``) have no rule to transfer, so the replacement stays lower case.

        >>> match_case("singer", "Artist"), match_case("singer", "NASA"), match_case("Singer", "artist")
        ('Singer', 'SINGER', 'singer')
    """
    low = replacement.lower()
    if original.islower():
        return low
    if len(original) > 1 and original.isupper():
        return low.upper()
    if original[:1].isupper() and (len(original) == 1 or original[1:].islower()):
        return low[:1].upper() + low[1:]
    return low
