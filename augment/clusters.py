"""Grapheme clusters: where a character that a reader sees begins and ends.

A span of text (an answer, an edit) must not start or end inside one: "e\u0301" is one character to a
reader, two code points to Python. :func:`extends_cluster` and :func:`joins_cluster_head` follow UAX #29's
extended grapheme cluster rules (Unicode 15.1) as far as answer spans need them; this Python's
``unicodedata`` has neither Grapheme_Cluster_Break nor Indic_Conjunct_Break, so the few code points those
rules name are tabled here with their source. Words (:mod:`augment.segment`) take the prepended signs before
them (``PREPEND``) and the combining marks after them (``combining_marks``).
"""
from __future__ import annotations

import re
import unicodedata
from itertools import chain


def combining_marks() -> str:
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


def code_points(ranges: str) -> frozenset[str]:
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
PREPEND = code_points("0600-0605 06DD 070F 0890-0891 08E2 0D4E 110BD 110CD 111C2-111C3 1193F 11941 11A3A "
                        "11A84-11A89 11D46 11F02")


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
_CONSONANTS = code_points("0915-0939 0958-095F 0978-097F 0995-09A8 09AA-09B0 09B2 09B6-09B9 09DC-09DD 09DF "
                           "09F0-09F1 0A95-0AA8 0AAA-0AB0 0AB2-0AB3 0AB5-0AB9 0AF9 0B15-0B28 0B2A-0B30 0B32-0B33 "
                           "0B35-0B39 0B5C-0B5D 0B5F 0B71 0C15-0C28 0C2A-0C39 0C58-0C5A 0D15-0D3A")


def _regional(c: str) -> bool:
    return "\U0001F1E6" <= c <= "\U0001F1FF"


def _control(c: str) -> bool:
    """Whitespace, or a control that ends a cluster (UAX #29's GB4/GB5: Cc, Zl, Zp, and format characters other
    than the joiners, tags and prepended signs, such as the zero-width space)."""
    cat = unicodedata.category(c)
    return c.isspace() or cat in ("Cc", "Zl", "Zp") or (cat == "Cf" and c not in _EXTENDERS and c not in PREPEND)


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
    if text[i - 1] in PREPEND:
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
