"""Splitting text into words with exact character spans.

Words follow BERT's basic tokenizer: runs of letters and digits, each punctuation or symbol character
on its own, whitespace dropped. Unlike it, nothing is lower-cased, accent-stripped or re-joined: a
:class:`Word` is only a view ``text[start:end]`` of the original string, which stays untouched.

    >>> [w.text for w in split_words("Knowles-Carter's 12th\\talbum")]
    ['Knowles', '-', 'Carter', "'", 's', '12th', 'album']
"""
from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from augment.clusters import PREPEND, combining_marks
from augment.errors import ConfigError


# Letters/digits plus combining marks, or any single character that is neither a word character nor
# whitespace (punctuation, symbols, emoji, zero-width spaces). Python's \w has no marks: without them a
# decomposed "e\u0301" would end its word, and Devanagari, Arabic or Thai words, whose vowel signs and
# viramas are marks, would fall apart letter by letter. Python's \s covers tabs, newlines and non-breaking
# spaces. A word takes the prepended signs before it, one character with its first letter (see
# extends_cluster): else the Syriac abbreviation mark would be a word of its own, and an edit would replace the
# letters under it.
_WORD = re.compile(rf"[{''.join(map(re.escape, sorted(PREPEND)))}]*[\w{combining_marks()}]+|[^\w\s]")


@dataclass(frozen=True)
class Word:
    """One word of a text: ``text == original[start:end]``."""

    text: str
    start: int
    end: int


def split_words(text: str) -> list[Word]:
    """All words of ``text`` in order, with character spans into ``text``."""
    return [Word(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` without the whitespace at the ends of ``text[start:end]`` (empty, at ``end``'s side,
    when all of it is). Byte-level BPE tokens may carry a word's leading space in their offsets (DeBERTa, or
    ``trim_offsets=False``) or be whitespace alone (a tab, a second space).

        >>> strip_span("a  bc  d", 1, 7)
        (3, 5)
    """
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# Named stopword lists shipped as package data (one word per line, '#' starts a comment line).
STOPWORD_LISTS = {"nltk": "resources/stopwords_en.txt", "tinybert": "resources/stopwords_tinybert.txt"}


@lru_cache(maxsize=1)
def english_stopwords() -> frozenset[str]:
    """NLTK's English stopword list, shipped as package data (NLTK's downloader is offline here)."""
    return load_stopwords("nltk")


def stopword_form(word: str) -> str:
    """``word`` as stopwords are compared: NFC, lower-cased. Applied to a text's words and to a list's alike, so
    that a word typed with decomposed accents on either side ("cafe\u0301" in a --stopwords file, "café" in a
    context) still matches its composed form.

        >>> stopword_form("Cafe\u0301") == stopword_form("CAFÉ") == "café"
        True
    """
    return unicodedata.normalize("NFC", word).lower()


def _word_list(raw: str) -> frozenset[str]:
    return frozenset(stopword_form(w.strip()) for w in raw.splitlines()
                     if w.strip() and not w.lstrip().startswith("#"))


def load_stopwords(spec="nltk") -> frozenset[str]:
    """A stopword set: ``"nltk"`` (NLTK's 179 English words, the default), ``"tinybert"`` (the list
    TinyBERT's augmentation used: NLTK's without the eight wh-words, plus ``'s`` and ``'re``), the path of
    a file with one word per line (``#`` lines are comments), or an iterable of words. In NFC and lower-cased
    (:func:`stopword_form`).

        >>> "which" in load_stopwords("nltk"), "which" in load_stopwords("tinybert")
        (True, False)
    """
    if isinstance(spec, str) and spec in STOPWORD_LISTS:
        return _word_list(resources.files("augment").joinpath(STOPWORD_LISTS[spec]).read_text(encoding="utf-8"))
    if isinstance(spec, (str, os.PathLike)):
        try:
            # utf-8-sig: a file saved as "UTF-8 with BOM" (Notepad) had U+FEFF stuck to its first word, which then
            # matched nothing and was replaced; as squad_io reads a JSON file's first line.
            words = _word_list(Path(spec).read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"stopwords={str(spec)!r}: cannot read it ({type(e).__name__}); use "
                              f"{' or '.join(map(repr, STOPWORD_LISTS))} or a UTF-8 file of one word per line"
                              ) from None
    elif isinstance(spec, (set, frozenset, list, tuple)) and all(isinstance(w, str) for w in spec):
        words = frozenset(map(stopword_form, spec))
    else:
        raise ConfigError(f"stopwords={spec!r}: use {' or '.join(map(repr, STOPWORD_LISTS))}, a file path "
                          "or a set of words")
    return words


def is_eligible(word: str, stopwords: frozenset[str]) -> bool:
    """Purely alphabetic words of two letters or more that are not stopwords may be replaced (TinyBERT's rule
    with ``stopwords="tinybert"``, but for single letters; its ``[a-z]`` test is ASCII-only, this one takes
    any letters).

    A single letter is never replaced: the stopword lists hold "a", "i" and a few more, and the SQuAD subset's
    other 346 are pieces of names, abbreviations, keys and markers ("R&B", "U.S.", "Jay Z", "F minor",
    footnote "[n 1]", "(r. 1368)"), which became "Durbin&B", "Pa.S." or "Jay G" (483 of the 69,294
    edits of a GloVe-only run over its 694 paragraphs, 4 variants each).

    Asked of the word's NFC form: a combining mark is not alphabetic, so "Cafe\u0301" (decomposed accent)
    failed where "Café" passed. A mark that does not compose (Devanagari's vowel signs) still fails.

        >>> is_eligible("Cafe\u0301", frozenset()), is_eligible("x\u0301", frozenset()), is_eligible("B", frozenset())
        (True, False, False)
    """
    word = unicodedata.normalize("NFC", word)
    return len(word) > 1 and word.isalpha() and stopword_form(word) not in stopwords


def _case_as(replacement: str, original: str) -> str:
    low = replacement.lower()
    if original.islower():
        return low
    if len(original) > 1 and original.isupper():
        return low.upper()
    if original[:1].isupper() and (len(original) == 1 or original[1:].islower()):
        return low[:1].title() + low[1:]  # title case, not upper: "ǆ" -> "ǅ", the ligature "ﬁ" -> "Fi"
    return low


def match_case(replacement: str, original: str) -> str | None:
    """Give ``replacement`` the case pattern of ``original``: lower, Title or UPPER; None when the candidate
    cannot take it.

    Mixed patterns (``iPod``, ``McDonald``) have no rule to transfer, so the replacement stays lower case.
    A few letters change length when cased ("ß" -> "SS", the ligature "ﬁ" -> "Fi", "ŉ" -> "ʼN"), and some
    results do not case back to themselves ("ʼN" lowers to "ʼn", whose title case is "ʼn"): such a form is
    another string than the candidate, so it is refused (None) and the candidate is left out for that word.

        >>> match_case("singer", "Artist"), match_case("singer", "NASA"), match_case("Singer", "artist")
        ('Singer', 'SINGER', 'singer')
        >>> match_case("straße", "Road"), match_case("straße", "ROAD"), match_case("ﬁ", "Decade")
        ('Straße', None, None)
    """
    # The pattern of what the reader sees: "E\u0301" (NFD) is the one-letter Title-case "É", not two
    # upper-case characters.
    original = unicodedata.normalize("NFC", original)
    cased = _case_as(replacement, original)
    if len(cased) != len(replacement) or _case_as(cased, original) != cased:
        return None
    return cased


def fold(word: str) -> str:
    """``word`` without accents and case: NFD, combining marks dropped, casefolded.

        >>> fold("Café") == fold("CAFE") == "cafe"
        True
    """
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c)).casefold()
