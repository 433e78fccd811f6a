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
from itertools import chain
from pathlib import Path

from augment.errors import ConfigError


def _combining_marks() -> str:
    """A regex character-class body of every combining mark (Unicode categories Mn, Mc, Me) that this Python's
    Unicode tables know. Marks live in the first two planes and among plane 14's variation selectors, so only
    those are scanned (about 0.03 s, once per process)."""
    ranges: list[list[int]] = []
    for c in chain(range(0x20000), range(0xE0000, 0xE1000)):
        if unicodedata.category(chr(c))[0] == "M":
            if ranges and ranges[-1][1] == c - 1:
                ranges[-1][1] = c
            else:
                ranges.append([c, c])
    return "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in ranges)


def _code_points(ranges: str) -> frozenset[str]:
    """The characters of ``"0915-0939 0958"``: hex code points and inclusive ranges."""
    out: set[str] = set()
    for r in ranges.split():
        a, _, b = r.partition("-")
        out.update(map(chr, range(int(a, 16), int(b or a, 16) + 1)))
    return frozenset(out)


# Grapheme_Cluster_Break=Prepend, all 27, from the Unicode Character Database 15.1 (GraphemeBreakProperty.txt;
# this Python's unicodedata has no such property): signs written before, or over, what follows them: the Arabic
# number signs and end of ayah before digits, the Syriac abbreviation mark over its word, the reph and
# cluster-initial letters of Malayalam, Sharada, Dives Akuru, Zanabazar Square, Soyombo, Masaram Gondi and Kawi.
_PREPEND = _code_points("0600-0605 06DD 070F 0890-0891 08E2 0D4E 110BD 110CD 111C2-111C3 1193F 11941 11A3A "
                        "11A84-11A89 11D46 11F02")


# Letters/digits plus combining marks, or any single character that is neither a word character nor
# whitespace (punctuation, symbols, emoji, zero-width spaces). Python's \w has no marks: without them a
# decomposed "e\u0301" would end its word, and Devanagari, Arabic or Thai words, whose vowel signs and
# viramas are marks, would fall apart letter by letter. Python's \s covers tabs, newlines and non-breaking
# spaces. A word takes the prepended signs before it, one character with its first letter (see
# extends_cluster): else the Syriac abbreviation mark would be a word of its own, and an edit would replace the
# letters under it.
_WORD = re.compile(rf"[{''.join(map(re.escape, sorted(_PREPEND)))}]*[\w{_combining_marks()}]+|[^\w\s]")


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


# Extenders that are not marks (category M): zero-width (non-)joiners, the halfwidth katakana sound marks (letters,
# Lm), the Thai and Lao vowel sign AM (letters, Lo, but SpacingMark: the "\u0e33" of Thai "\u0e17\u0e33"), the
# emoji skin-tone modifiers (symbols, Sk) and the tag characters of subdivision flags (format, Cf).
_EXTENDERS = frozenset("\u200c\u200d\uff9e\uff9f\u0e33\u0eb3") | frozenset(map(chr, range(0x1F3FB, 0x1F400))) \
    | frozenset(map(chr, range(0xE0020, 0xE0080)))
_ZWJ = "\u200d"


# Indic_Conjunct_Break for GB9c, from the Unicode Character Database 15.1 (DerivedCoreProperties.txt), in the six
# scripts it covers: Linker, the viramas of Devanagari, Bengali, Gujarati, Oriya, Telugu and Malayalam; Consonant,
# their letters of Indic_Syllabic_Category=Consonant (IndicSyllabicCategory.txt), all 240: not the independent
# vowels, dead consonants (chillus, khanda ta) or avagrahas, which a category or "LETTER" name test lets in.
_LINKERS = frozenset("\u094d\u09cd\u0acd\u0b4d\u0c4d\u0d4d")
_CONSONANTS = _code_points("0915-0939 0958-095F 0978-097F 0995-09A8 09AA-09B0 09B2 09B6-09B9 09DC-09DD 09DF "
                           "09F0-09F1 0A95-0AA8 0AAA-0AB0 0AB2-0AB3 0AB5-0AB9 0AF9 0B15-0B28 0B2A-0B30 0B32-0B33 "
                           "0B35-0B39 0B5C-0B5D 0B5F 0B71 0C15-0C28 0C2A-0C39 0C58-0C5A 0D15-0D3A")


def _regional(c: str) -> bool:
    return "\U0001F1E6" <= c <= "\U0001F1FF"


def _control(c: str) -> bool:
    """Whitespace, or a control that ends a cluster (UAX #29's GB4/GB5: Cc, Zl, Zp, and format characters other
    than the joiners, tags and prepended signs, such as the zero-width space)."""
    cat = unicodedata.category(c)
    return c.isspace() or cat in ("Cc", "Zl", "Zp") or (cat == "Cf" and c not in _EXTENDERS and c not in _PREPEND)


def _conjunct(text: str, i: int) -> bool:
    """UAX #29's GB9c: consonant, then viramas (Linker) and marks of nonzero combining class or ZWJ (Extend), at
    least one virama, then the consonant ``text[i]``: "\u0915\u094d\u0937" (क्ष) is one character. Extend as
    15.1 derives it (GCB=Extend with a nonzero combining class, and ZWJ): a nukta may come between, a vowel sign
    (class 0) ends the conjunct. Unicode 16.0 derives Extend more widely: a vowel sign between joins there."""
    if text[i] not in _CONSONANTS:
        return False
    j, linked = i - 1, False
    while j >= 0 and (text[j] in _LINKERS or text[j] == _ZWJ or unicodedata.combining(text[j])):
        linked = linked or text[j] in _LINKERS
        j -= 1
    return linked and j >= 0 and text[j] in _CONSONANTS


def _pictographic_before_zwj(text: str, zwj: int) -> bool:
    """UAX #29's GB11: an emoji (category So standing in for Extended_Pictographic, regional indicators aside),
    then marks or extenders (a variation selector, a skin tone), then the ZWJ at ``zwj``."""
    j = zwj - 1
    while j >= 0 and text[j] != _ZWJ and (text[j] in _EXTENDERS or unicodedata.category(text[j])[0] == "M"):
        j -= 1
    return j >= 0 and unicodedata.category(text[j]) == "So" and not _regional(text[j])


def _hangul(c: str) -> str | None:
    """The Hangul syllable type of ``c`` (UAX #29's L, V, T, LV, LVT), or None: conjoining jamo, with their
    extended-A and -B blocks, and precomposed syllables, LV being those with no trailing consonant."""
    o = ord(c)
    if 0x1100 <= o <= 0x115F or 0xA960 <= o <= 0xA97C:
        return "L"
    if 0x1160 <= o <= 0x11A7 or 0xD7B0 <= o <= 0xD7C6:
        return "V"
    if 0x11A8 <= o <= 0x11FF or 0xD7CB <= o <= 0xD7FB:
        return "T"
    if 0xAC00 <= o <= 0xD7A3:
        return "LV" if (o - 0xAC00) % 28 == 0 else "LVT"
    return None


# UAX #29's GB6-GB8: which Hangul types may follow which inside one syllable block.
_HANGUL_NEXT = {"L": {"L", "V", "LV", "LVT"}, "V": {"V", "T"}, "LV": {"V", "T"}, "T": {"T"}, "LVT": {"T"}}


def joins_cluster_head(text: str, i: int) -> bool:
    """Whether ``text[i]`` joins the grapheme cluster of ``text[i - 1]`` because what comes before leans on it,
    not because ``text[i]`` is a tail (a mark, a joiner): after a prepended sign (UAX #29's GB9b: the Arabic
    number sign "\u0600" before its digits) or after a consonant and virama (GB9c: the "\u0937" of Devanagari
    "\u0915\u094d\u0937", क्ष). A span starting on such a character starts inside the character a reader sees,
    and its cluster's head belongs to the span (:func:`augment.qa.postprocess._whole_clusters` takes it back).

    Whitespace and controls end a cluster even after a prepended sign: UAX #29 joins a space to it, but spans and
    words stop at whitespace, and stripping it would cut that cluster again.

        >>> joins_cluster_head("\u0600\u0661\u0662", 1), joins_cluster_head("\u0600 \u0661", 1)
        (True, False)
        >>> [i for i in range(1, 4) if joins_cluster_head("\u0915\u094d\u0937\u093e", i)]
        [2]
    """
    if i <= 0 or i >= len(text):
        return False
    if text[i - 1] in _PREPEND:
        return not _control(text[i])
    return _conjunct(text, i)


def extends_cluster(text: str, i: int) -> bool:
    """Whether ``text[i]`` belongs to the grapheme cluster (the character a reader sees) of ``text[i - 1]``, so
    that a span must not start or end at ``i``. A short form of UAX #29's rules (Unicode 15.1), enough for
    answer spans:

    - a mark (categories Mn, Mc, Me): combining accents ("e\u0301"), Indic vowel signs and viramas,
      variation selectors ("\u2764\ufe0f"), the enclosing keycap;
    - a zero-width joiner or non-joiner, an emoji skin-tone modifier (U+1F3FB..U+1F3FF), a tag character
      (U+E0020..U+E007F), a halfwidth katakana sound mark, the Thai or Lao vowel sign AM;
    - what follows a prepended sign or ends an Indic conjunct (:func:`joins_cluster_head`): the digits' Arabic
      number sign, the Hindi "\u0915\u094d\u0937" (क्ष) across its virama;
    - a symbol (category So, standing in for Extended_Pictographic) after a zero-width joiner that follows
      another such symbol, its marks and skin tone aside: the next person of an emoji ZWJ sequence
      ("\U0001F468\u200d\U0001F469"), not an emoji after a letter's ZWJ ("x\u200d\U0001F469");
    - the second regional indicator of a flag: indicators pair up from the first of a run;
    - a Hangul jamo or syllable that continues a syllable block: a leading consonant takes another, a vowel or
      a precomposed syllable; a vowel jamo or an LV syllable ("\uac00") takes a vowel or a trailing consonant;
      a trailing jamo or an LVT syllable ("\uac01") takes a trailing consonant. So decomposed (NFD) Korean,
      "\u1100\u1161\u11a8", is one character, as its NFC form "\uac01" is.

    Left out, as rare in QA text: CR LF and the breaks around controls (whitespace, stripped from spans anyway);
    the few spacing marks (Mc) of Myanmar and Tai Tham that UAX #29 does not count as SpacingMark join anyway.

        >>> [i for i in range(1, 7) if extends_cluster("e\u0301\U0001F44D\U0001F3FD\U0001F1EB\U0001F1F7", i)]
        [1, 3, 5]
        >>> [i for i in range(1, 5) if extends_cluster("\u1100\u1161\u11a8\uac00\u11a8", i)]
        [1, 2, 4]
    """
    if i <= 0 or i >= len(text):
        return False
    c = text[i]
    if c in _EXTENDERS or unicodedata.category(c)[0] == "M":
        return True
    if joins_cluster_head(text, i):
        return True
    if text[i - 1] == _ZWJ:
        return unicodedata.category(c) == "So" and not _regional(c) and _pictographic_before_zwj(text, i - 1)
    if _regional(c):
        run = 0
        while i - run - 1 >= 0 and _regional(text[i - run - 1]):
            run += 1
        return run % 2 == 1
    return _hangul(c) in _HANGUL_NEXT.get(_hangul(text[i - 1]), ())


# Named stopword lists shipped as package data (one word per line, '#' starts a comment line).
STOPWORD_LISTS = {"nltk": "resources/stopwords_en.txt", "tinybert": "resources/stopwords_tinybert.txt"}


@lru_cache(maxsize=1)
def english_stopwords() -> frozenset[str]:
    """NLTK's English stopword list, shipped as package data (NLTK's downloader is offline here)."""
    return load_stopwords("nltk")


def _word_list(raw: str) -> frozenset[str]:
    return frozenset(w.strip().lower() for w in raw.splitlines() if w.strip() and not w.lstrip().startswith("#"))


def load_stopwords(spec="nltk") -> frozenset[str]:
    """A stopword set: ``"nltk"`` (NLTK's 179 English words, the default), ``"tinybert"`` (the list
    TinyBERT's augmentation used: NLTK's without the eight wh-words, plus ``'s`` and ``'re``), the path of
    a file with one word per line (``#`` lines are comments), or an iterable of words. Lower-cased.

        >>> "which" in load_stopwords("nltk"), "which" in load_stopwords("tinybert")
        (True, False)
    """
    if isinstance(spec, str) and spec in STOPWORD_LISTS:
        return _word_list(resources.files("augment").joinpath(STOPWORD_LISTS[spec]).read_text(encoding="utf-8"))
    if isinstance(spec, (str, os.PathLike)):
        try:
            words = _word_list(Path(spec).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"stopwords={str(spec)!r}: cannot read it ({type(e).__name__}); use "
                              f"{' or '.join(map(repr, STOPWORD_LISTS))} or a UTF-8 file of one word per line"
                              ) from None
    elif isinstance(spec, (set, frozenset, list, tuple)) and all(isinstance(w, str) for w in spec):
        words = frozenset(w.lower() for w in spec)
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
    return len(word) > 1 and word.isalpha() and word.lower() not in stopwords


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
