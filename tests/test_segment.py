from augment.clusters import extends_cluster, joins_cluster_head
from augment.segment import english_stopwords, is_eligible, match_case, split_words


def test_words_are_views_of_the_original_text():
    text = "Beyoncé\tKnowles-Carter's  12th\u00a0album (2003) — ‘Dangerously’ 😀 東京 e\u0301t\u200bé."
    words = split_words(text)
    assert all(text[w.start:w.end] == w.text for w in words)
    assert [w.text for w in words][:7] == ["Beyoncé", "Knowles", "-", "Carter", "'", "s", "12th"]
    # Whitespace of every kind separates words and is never part of one.
    assert not any(ch.isspace() for w in words for ch in w.text)
    # A decomposed accent stays inside its word instead of becoming a word of its own.
    assert "e\u0301t" in [w.text for w in words]


def test_words_with_vowel_signs_and_viramas_stay_whole():
    """Python's \\w has no combining marks; Devanagari, Arabic and Thai spell vowels and viramas with them, so a
    word must not end at each one (it did: the letters between were then replaced one by one)."""
    hindi, arabic, thai = "\u0939\u093f\u0928\u094d\u0926\u0940", "\u0627\u0644\u0639\u064e\u0631\u064e\u0628\u0650\u064a\u0651\u064e\u0629", "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22"
    text = f"The word {hindi} ({arabic}, {thai}) is here."
    assert [w.text for w in split_words(text)] == ["The", "word", hindi, "(", arabic, ",", thai, ")", "is", "here", "."]
    assert not is_eligible(hindi, english_stopwords())  # letters and marks, not purely alphabetic: left as it is


def test_marks_of_every_plane_stay_in_their_word_and_punctuation_between_marks_does_not():
    """The marks are scanned in planes 0, 1 and 14: Brahmi's vowel signs (plane 1) and the ideographic variation
    selectors (plane 14) belong to their word; the Hebrew maqaf, a hyphen whose neighbours are both marks, is no
    mark: a word of its own, as a hyphen is."""
    brahmi = "\U00011013\U00011038\U0001102B"  # KA, vowel sign AA, MA
    variant = "\u845b\U000E0100\u57ce"  # Katsuragi, its first ideograph in a registered variant form
    hebrew = "\u05d1\u05d9\u05ea\u05be\u05e1\u05e4\u05e8"  # "school", two words joined by the maqaf
    assert [w.text for w in split_words(f"{brahmi} {variant} {hebrew}")] == [
        brahmi, variant, "\u05d1\u05d9\u05ea", "\u05be", "\u05e1\u05e4\u05e8"]


def test_eligibility_is_alphabetic_non_stopword():
    sw = english_stopwords()
    assert len(sw) == 179 and "the" in sw and "wouldn't" in sw
    assert is_eligible("Singer", sw)
    assert not is_eligible("The", sw)  # stopword, case-insensitively
    assert not is_eligible("12th", sw)  # not purely alphabetic
    assert not is_eligible("-", sw)


def test_single_letters_are_never_eligible_whatever_the_stopwords():
    """Single letters outside the stopword lists ("a", "i", "s", ...) are pieces of names, abbreviations and
    markers, and were replaced: "R&B" became "Durbin&B", "U.S." "Pa.S.". A letter is never eligible now, under
    every list and in either Unicode form ("E\u0301" is the one letter "É"); two letters are words as before."""
    from augment.segment import load_stopwords

    text = "Best R&B act, U.S. tour, Jay Z, Plan B, x in f(x), É or E\u0301, 王 (king), footnote [n 1], Oz."
    letters = {"R", "B", "U", "S", "Z", "x", "f", "É", "E\u0301", "王", "n"}
    assert letters <= {w.text for w in split_words(text)}
    for sw in (load_stopwords("nltk"), load_stopwords("tinybert"), frozenset()):
        eligible = [w.text for w in split_words(text) if is_eligible(w.text, sw)]
        assert not letters & set(eligible), eligible
        assert {"Best", "act", "tour", "Jay", "Plan", "king", "footnote", "Oz"} <= set(eligible)
    assert is_eligible("in", frozenset()) and is_eligible("Oz", load_stopwords("nltk"))  # two letters: a word


def test_a_decomposed_word_is_eligible_exactly_when_its_composed_form_is():
    """A combining accent is not alphabetic: "Cafe\u0301" (NFD) failed isalpha() while "Café" (NFC) passed, so
    a text typed with decomposed accents had none of those words replaced. Eligibility asks of the NFC form."""
    import unicodedata

    sw = english_stopwords()
    hindi = "\u0939\u093f\u0928\u094d\u0926\u0940"  # vowel signs and a virama: marks even in NFC
    for word in ("Café", "naïve", "ZOË", "Ångström", "É", hindi, "x\u0301", "12\u0301"):
        nfd, nfc = unicodedata.normalize("NFD", word), unicodedata.normalize("NFC", word)
        assert is_eligible(nfd, sw) == is_eligible(nfc, sw), word
    assert is_eligible("Cafe\u0301", sw) and not is_eligible(hindi, sw) and not is_eligible("x\u0301", sw)
    assert not is_eligible("Cafe\u0301", frozenset({"café"}))  # a stopword in either form


def test_a_decomposed_word_takes_case_as_its_composed_form():
    """A one-letter "É" is Title case; its NFD form "E\u0301" is two characters and all upper, which read as
    UPPER: a candidate came out as "RIVER" in place of "E\u0301" but "River" in place of "É"."""
    assert match_case("river", "E\u0301") == match_case("river", "É") == "River"
    assert match_case("river", "CAFE\u0301") == "RIVER" and match_case("river", "Cafe\u0301") == "River"


def test_case_pattern_transfer():
    assert match_case("singer", "artist") == "singer"
    assert match_case("singer", "Artist") == "Singer"
    assert match_case("singer", "NASA") == "SINGER"
    assert match_case("Singer", "iPod") == "singer"  # mixed: no rule, lower case
    assert match_case("x", "A") == "X"  # a single capital is Title case


def test_case_transfer_never_changes_a_candidates_length_and_is_stable():
    """The ligature "ﬁ" became "FI" for a Title-case word, "ß" "SS", "ŉ" "ʼN" (which cases back to "ʼn"). Title
    case is the first letter's title case; a form of another length, or one that does not case back to
    itself, is refused (None)."""
    assert match_case("ǆungla", "Jungle") == "ǅungla"  # title case, not the upper case "Ǆ"
    assert match_case("straße", "Road") == "Straße" and match_case("straße", "road") == "straße"
    for candidate, original in (("ﬁ", "Decade"), ("ﬁ", "DECADE"), ("ß", "ROAD"), ("straße", "ROAD"), ("ŉ", "Word")):
        assert match_case(candidate, original) is None, candidate
    letters = [chr(c) for c in range(0x30000) if chr(c).isalpha()]
    for original in ("word", "Word", "WORD", "iPod"):
        for c in letters:
            cased = match_case(c + "a", original)
            assert cased is None or (len(cased) == 2 and match_case(cased, original) == cased), (c, original)


def test_tinybert_list_is_nltks_without_wh_words_plus_two_contractions():
    from augment.segment import load_stopwords

    nltk, tiny = load_stopwords("nltk"), load_stopwords("tinybert")
    wh = {"what", "which", "who", "whom", "when", "where", "why", "how"}
    assert len(nltk) == 179 and len(tiny) == 173
    assert tiny == (nltk - wh) | {"'s", "'re"}
    assert is_eligible("Which", tiny) and not is_eligible("Which", nltk)


def test_stopwords_from_a_file_or_a_set_and_errors_name_the_value(tmp_path):
    import pytest

    from augment.errors import ConfigError
    from augment.segment import load_stopwords

    f = tmp_path / "stop.txt"
    f.write_text("# my list\nThe\n\n  band \n", encoding="utf-8")
    assert load_stopwords(f) == load_stopwords(str(f)) == {"the", "band"}
    assert load_stopwords({"Band"}) == {"band"}
    with pytest.raises(ConfigError, match="stopwords='nope.txt'.*'nltk' or 'tinybert'"):
        load_stopwords("nope.txt")


def test_a_stopwords_file_saved_with_a_byte_order_mark_keeps_its_first_word(tmp_path):
    """Notepad's "UTF-8 with BOM" (and PowerShell's Set-Content -Encoding UTF8) start the file with U+FEFF: read as
    plain UTF-8 it stuck to the first word, which then matched no word of the text and was silently replaced."""
    from augment.segment import load_stopwords

    f = tmp_path / "stop.txt"
    f.write_bytes("\ufeffcapital\r\nfrance\r\n".encode("utf-8"))
    assert load_stopwords(f) == {"capital", "france"}
    assert not is_eligible("Capital", load_stopwords(f))


def test_a_stopword_typed_with_decomposed_accents_matches_the_composed_word(tmp_path):
    """A --stopwords file's "cafe\u0301" (e + U+0301, as some editors and macOS text write it) was lower-cased only,
    while a text's words are asked of their NFC form: "Café" in a context matched nothing and was replaced."""
    from augment.sampling import fold_words
    from augment.segment import load_stopwords

    f = tmp_path / "stop.txt"
    f.write_text("cafe\u0301\nNai\u0308ve\n", encoding="utf-8")
    for sw in (load_stopwords(f), load_stopwords({"cafe\u0301", "Nai\u0308ve"})):
        assert sw == {"café", "naïve"}
        assert not any(is_eligible(w, sw) for w in ("Café", "cafe\u0301", "CAFÉ", "naïve", "Nai\u0308ve"))
    # A question's words (--keep-question-words) are compared alike: a decomposed stopword there is set aside too.
    assert fold_words("The cafe\u0301 opened", load_stopwords({"café", "the"})) == {"opened"}


def test_extends_cluster_pairs_flags_and_joins_only_emoji_after_a_zwj():
    """Regional indicators pair up from the first of a run (five are two flags and a lone one); a ZWJ joins what
    it follows, and after an emoji's ZWJ (past its skin tone or variation selector) the next emoji joins too, not
    a letter, a flag's indicator, or an emoji after a letter's ZWJ, a flag's indicator's or a second ZWJ (UAX #29's
    GB11); nothing extends the text's start."""
    flags = "\U0001F1EB\U0001F1F7\U0001F1E9\U0001F1EA\U0001F1EE"
    assert [i for i in range(len(flags)) if extends_cluster(flags, i)] == [1, 3]
    assert [extends_cluster("x\u200dy\u200d\U0001F469", i) for i in range(1, 5)] == [True, False, True, False]
    family = "\U0001F468\U0001F3FD\u200d\U0001F469\U0001F3FD\u200d\U0001F467"  # with skin tones
    assert all(extends_cluster(family, i) for i in range(1, len(family)))
    assert extends_cluster("\u2764\ufe0f\u200d\U0001F525", 3)  # heart on fire
    assert not extends_cluster("\U0001F469\u200da", 2) and not extends_cluster("\U0001F469\u200d\U0001F1EB", 2)
    assert not extends_cluster("\U0001F1EB\u200d\U0001F469", 2)  # an indicator is no pictograph, though So
    assert not extends_cluster("\U0001F469\u200d\u200d\U0001F469", 3)  # GB11 takes one ZWJ, not two
    assert not extends_cluster("\u200d\U0001F469", 1)  # nothing before the ZWJ (the text's end is not before it)
    assert not extends_cluster("\u0301a", 0) and extends_cluster("a\u0301", 1)


def test_extends_cluster_joins_a_prepended_sign_to_what_follows_and_words_keep_it():
    """UAX #29's GB9b: the Arabic number sign belongs to the digit after it, the Syriac abbreviation mark to the
    letter, Malayalam's dot reph (missing from lists that copy only the format characters) to the consonant, and to
    a second sign, or a joiner; not across whitespace or another control (a zero-width space). Nothing joins the
    text's start (its last character is not before it), nor past its end. A word holds its sign, so no edit
    replaces the letters under it: such a word is not alphabetic, so never replaced."""
    assert [extends_cluster("\u0600\u0661\u0662", i) for i in (1, 2)] == [True, False]
    assert extends_cluster("\u070f\u0710", 1) and extends_cluster("\u0d4e\u0d15", 1)
    assert not extends_cluster("\u0600 \u0661", 1) and not extends_cluster("\u0600\n\u0661", 1)
    assert not extends_cluster("\u0600\x00\u0661", 1) and not extends_cluster("\u0600\u200b\u0661", 1)
    assert extends_cluster("\u0600\u0600\u0661", 1) and joins_cluster_head("\u0600\u200d", 1)
    assert not joins_cluster_head("a\u0600", 0) and not joins_cluster_head("\u0600", 1)
    words = split_words("\u0600\u0661\u0662 \u070f\u0710\u0712\u0713 \u06dd")
    assert [(w.text, w.start) for w in words] == [("\u0600\u0661\u0662", 0), ("\u070f\u0710\u0712\u0713", 4),
                                                   ("\u06dd", 9)]
    assert not is_eligible(words[1].text, frozenset())


def test_extends_cluster_keeps_indic_conjuncts_whole():
    """UAX #29's GB9c (Unicode 15.1): a consonant after another's virama, with a ZWJ or nukta between, is one
    character with it: "क्षत्रिय" is three ("क्ष", "त्रि", "य"); in Bengali too. Not in Tamil, whose virama is
    a visible pulli and not a Linker, and not before an independent vowel, after a vowel sign or after a virama
    with no consonant before it (nor at the text's start), or after a nukta or ZWJ with no virama."""
    kshatriya = "\u0915\u094d\u0937\u0924\u094d\u0930\u093f\u092f"
    assert [i for i in range(1, len(kshatriya)) if extends_cluster(kshatriya, i)] == [1, 2, 4, 5, 6]
    assert extends_cluster("\u0915\u094d\u200d\u0937", 3) and extends_cluster("\u0915\u093c\u094d\u0937", 3)
    assert extends_cluster("\u0995\u09cd\u09b7", 2)
    for text in ("\u0b95\u0bcd\u0bb7", "\u0915\u094d\u0905", "\u0915\u093f\u094d\u0937", "a\u094d\u0915",
                 "\u0915\u093c\u0937", "\u0915\u200d\u0937", "\u094d\u0915"):
        assert not extends_cluster(text, len(text) - 1), ascii(text)


def test_the_prepend_and_conjunct_tables_hold_every_code_point_of_unicode_15_1():
    """Every one of the 27 prepended signs and of the 240 consonants of GB9c, and each of its six scripts' viramas:
    a code point left out, or a range cut short, splits its characters again, and no other test would notice."""
    prepended = [c for c in map(chr, range(0x20000)) if joins_cluster_head(c + "a", 1)]
    assert (len(prepended), prepended[0], prepended[-1]) == (27, "\u0600", "\U00011F02")
    assert len([c for c in map(chr, range(0x900, 0xD80)) if joins_cluster_head("\u0915\u094d" + c, 2)]) == 240
    # KA, virama, SSA in Devanagari, Bengali, Gujarati, Oriya, Telugu and Malayalam: one character each
    for block in (0x900, 0x980, 0xA80, 0xB00, 0xC00, 0xD00):
        conjunct = "".join(chr(block + o) for o in (0x15, 0x4D, 0x37))
        assert extends_cluster(conjunct, 2), ascii(conjunct)


def test_extends_cluster_holds_the_first_and_last_of_each_extender_range():
    """The ends of each range, in text a reader meets: the flags of Australia (first indicator, A) and South
    Africa (last, Z); the lightest and darkest skin tones; England's flag, whose tags end on CANCEL TAG; a
    Persian zero-width non-joiner; both halfwidth katakana sound marks; Thai and Lao sign AM (letters, but
    spacing marks). Just outside, a symbol starts its own."""
    joined = ["\U0001F1E6\U0001F1FA", "\U0001F1FF\U0001F1E6", "\U0001F44D\U0001F3FB", "\U0001F44D\U0001F3FF",
              "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F",
              "\uff76\uff9e", "\uff8a\uff9f", "\u0e17\u0e33", "\u0e9a\u0eb3"]
    for text in joined:
        assert extends_cluster(text, len(text) - 1), ascii(text)
    assert [extends_cluster("\u0645\u06cc\u200c\u062e", i) for i in (2, 3)] == [True, False]  # not past it
    for text in ("a\U0001F3FA", "a\U0001F400", "a\U000E0080"):
        assert not extends_cluster(text, 1), ascii(text)


def test_extends_cluster_joins_hangul_jamo_into_syllable_blocks():
    """Decomposed (NFD) "한국" is two blocks of conjoining jamo, as its NFC form is two syllables; an LV syllable
    takes a vowel or trailing jamo, an LVT syllable only a trailing one; a trailing jamo never follows a leading
    one. The extended blocks' ends join too."""
    nfd = "\u1112\u1161\u11ab\u1100\u116e\u11a8"  # 한국
    assert [i for i in range(1, len(nfd)) if extends_cluster(nfd, i)] == [1, 2, 4, 5]
    assert extends_cluster("\uac00\u1161", 1) and extends_cluster("\uac00\u11a8", 1)  # LV + V, LV + T
    assert extends_cluster("\uac01\u11a8", 1) and not extends_cluster("\uac01\u1161", 1)  # LVT + T, not V
    assert not extends_cluster("\u1100\u11a8", 1) and not extends_cluster("\uac00\uac00", 1)
    for text in ("\ua960\u1161\u11a8", "\u1100\ud7b0\ud7fb", "\u1100\ud7c6\ud7cb"):
        assert extends_cluster(text, 1) and extends_cluster(text, 2), ascii(text)
