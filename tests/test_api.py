"""The augment_example API: spans stay char-exact, edits replay, output is deterministic."""
import hashlib
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from augment import Augmenter, ConfigError, InvalidExample, augment_example
from augment.clusters import extends_cluster
from augment.segment import split_words
from augment.spans import Edit, apply_edits


def stable_hash(text: str) -> int:
    """The same number in every process (Python's ``hash`` of a str is salted), so a failing generated
    case has the same id, and so the same draws, when it is run again."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)


def assert_row_exact(row, original=None):
    """Every answer slices its text from the new context; with ``original`` given, it is also the SAME
    occurrence: each end is the original end moved by the length changes of the context edits that end
    at or before it (a repeated answer text found elsewhere does not pass)."""
    for field in ("answers", "plausible_answers"):
        for t, s in zip(row[field]["text"], row[field]["answer_start"]):
            assert row["context"][s:s + len(t)] == t, (row["id"], field, t, s)
    if original is not None:
        assert_same_occurrence(original, row)


def _shifted(offset: int, context_edits) -> int:
    return offset + sum(len(e["replacement"]) - (e["end"] - e["start"]) for e in context_edits
                        if e["end"] <= offset)


def assert_same_occurrence(original, row):
    edits = [e for e in row["edits"] if e["field"] == "context"]
    empty = {"text": [], "answer_start": []}
    for field in ("answers", "plausible_answers"):
        old, new = original.get(field) or empty, row.get(field) or empty
        assert len(new["answer_start"]) == len(old["answer_start"]) == len(new["text"]), (row["id"], field)
        for t0, s0, t, s in zip(old["text"], old["answer_start"], new["text"], new["answer_start"]):
            assert s == _shifted(s0, edits), (row["id"], field, t0, s0, s, edits)
            assert s + len(t) == _shifted(s0 + len(t0), edits), (row["id"], field, t0, t, edits)


def replay(original: dict, row: dict) -> None:
    """Applying the recorded edits to the original reproduces the variant exactly."""
    edits = [Edit(**e) for e in row["edits"]]
    assert apply_edits(original["context"], [e for e in edits if e.field == "context"]) == row["context"]
    assert apply_edits(original["question"], [e for e in edits if e.field == "question"]) == row["question"]


def test_same_occurrence_check_rejects_an_answer_found_again_elsewhere():
    """A variant whose repeated answer text was re-found at its first occurrence slices the right text
    (the plain slice check passes) but is the wrong occurrence: the helper must reject it."""
    context = "He finished 12th in the 2012 race, and 12th again later."
    s = context.index("12th again")
    original = ex(context, answers=[(s, s + 2)])
    edit = {"field": "context", "start": 3, "end": 11, "original": "finished", "replacement": "ended",
            "source": "glove"}
    new = context[:3] + "ended" + context[11:]
    good = dict(original, context=new, edits=[edit], answers={"text": ["12"], "answer_start": [s - 3]})
    moved = dict(good, answers={"text": ["12"], "answer_start": [new.index("12")]})
    assert_row_exact(good, original)
    assert_row_exact(moved)  # the slice alone cannot tell
    with pytest.raises(AssertionError):
        assert_row_exact(moved, original)


def ex(context, answers=(), plausible=(), question="What is it?", id="x1"):
    return {"id": id, "title": "T", "context": context, "question": question,
            "answers": {"text": [context[s:e] for s, e in answers], "answer_start": [s for s, _ in answers]},
            "plausible_answers": {"text": [context[s:e] for s, e in plausible],
                                  "answer_start": [s for s, _ in plausible]}}


def test_real_rows_keep_spans_replay_edits_and_preserve_answers(augmenter, sample_rows):
    changed = 0
    for r in sample_rows:
        out = augmenter.augment_example(r, n=4)
        assert [o["variant"] for o in out] == [1, 2, 3, 4]
        for o in out:
            assert o["orig_id"] == r["id"] and o["is_impossible"] == r["is_impossible"]
            assert_row_exact(o, r)
            replay(r, o)
            # keep policy: the answers' texts never change, only their offsets.
            assert o["answers"]["text"] == r["answers"]["text"]
            assert o["plausible_answers"]["text"] == r["plausible_answers"]["text"]
            changed += o["context"] != r["context"]
            assert o["question"] == r["question"]  # augment_question is off by default
    assert changed > 0.9 * 4 * len(sample_rows)
    sources = {e["source"] for o in augmenter.augment_example(sample_rows[0], n=20) for e in o["edits"]}
    assert sources == {"mlm", "glove"}


def test_text_outside_replaced_words_is_byte_identical(augmenter):
    context = ("The  Guitarist\tplayed\u00a0beautiful MUSIC in Houston,\nTexas — at the “Festival”; "
               "her sister's band (U.S.A.) didn't play. 😀 東京 https://example.com/path?q=1")
    original = ex(context)
    rows = augmenter.augment_example(original, n=10)
    for o in rows:
        replay(original, o)  # the variant is the original with exactly these word swaps
        pos = 0
        for e in o["edits"]:
            assert e["original"] == context[e["start"]:e["end"]] and e["start"] >= pos
            pos = e["end"]
        # Removing the swapped words from both leaves identical text: tabs, NBSP, quotes, emoji, URL.
        kept_orig = "".join(context[a:b] for a, b in _gaps(o["edits"], len(context)))
        shift, kept_new = 0, []
        for a, b in _gaps(o["edits"], len(context)):
            kept_new.append(o["context"][a + shift:b + shift])
            nxt = next((e for e in o["edits"] if e["start"] == b), None)
            if nxt:
                shift += len(nxt["replacement"]) - (nxt["end"] - nxt["start"])
        assert "".join(kept_new) == kept_orig
    swapped = [e for o in rows for e in o["edits"]]
    for e in swapped:
        r = e["replacement"]
        if e["original"] == "MUSIC":
            assert r == r.upper()
        if e["original"] in ("Guitarist", "Houston", "Texas", "Festival"):
            assert r == r[:1].upper() + r[1:].lower()
        if e["original"].islower():
            assert r == r.lower()
    assert len(swapped) > 10


def _gaps(edits, n):
    pos = 0
    for e in edits:
        yield pos, e["start"]
        pos = e["end"]
    yield pos, n


ADVERSARIAL = [
    # (context, answer spans as (start, end), the text each span is meant to be) — partial words,
    # repeats, overlaps, Unicode, long text. Offsets computed with str.index; the test guards them.
    ("He finished 12th in the 2012 race, and 12th again later.", [(39, 41), (12, 14)], ["12", "12"]),
    ("Beyoncé Giselle Knowles-Carter sang. Knowles-Carter danced.", [(16, 23), (37, 51)],
     ["Knowles", "Knowles-Carter"]),
    ("The singer's sister's band didn't tour; they're resting.", [(4, 12), (13, 21)], ["singer's", "sister's"]),
    ("Tabs\tand  double  spaces\u00a0and\u200bzero-width\u3000ideographic spaces remain.", [(5, 8)], ["and"]),
    ("Emoji 😀 and CJK 東京タワー mixed with café and cafe\u0301 and naïve Zoë.", [(16, 21), (33, 37)],
     ["東京タワー", "café"]),
    ("Visit https://example.com/a-b?x=1 or e-mail info@example.org, e.g. Dr. Smith of U.S. fame.", [(6, 33)],
     ["https://example.com/a-b?x=1"]),
    ("Overlapping answers: the famous Eiffel Tower in Paris stands tall.", [(32, 44), (25, 38), (39, 53)],
     ["Eiffel Tower", "famous Eiffel", "Tower in Paris"]),
]


@pytest.mark.parametrize("context, spans, intended", ADVERSARIAL)
@pytest.mark.parametrize("policy", ["keep", "replace"])
def test_adversarial_shapes(augmenter, glove_kv, mlm_gen, context, spans, intended, policy):
    # Guard: each span slices exactly the text it is meant to be (the second "12th" is at 39, not 37).
    assert [context[a:b] for a, b in spans] == intended
    aug = augmenter if policy == "keep" else Augmenter(mlm=mlm_gen, glove=glove_kv, replace_prob=0.9,
                                                       answer_policy="replace")
    original = ex(context, answers=spans, plausible=spans[:1])
    for o in aug.augment_example(original, n=8):
        assert_row_exact(o, original)
        replay(original, o)
        if policy == "keep":
            assert o["answers"]["text"] == original["answers"]["text"]


def test_decomposed_accents_are_replaced_as_composed_ones_and_kept_where_not(augmenter):
    """A text typed with decomposed accents ("Cafe\u0301", NFD) had none of its accented words replaced, while
    the same text in NFC had them replaced. Now both draw the same replacements; the NFD rows keep the NFD
    characters everywhere else, and their answers (NFD too) stay at exact offsets."""
    composed = ("The Café Zoë in Orléans served crème brûlée to a naïve señor and Beyoncé, the famous "
                "singer, whose Café opened later.")
    decomposed = unicodedata.normalize("NFD", composed)
    answer = (65, 91)  # "Beyoncé, the famous singer": 8 marks before it in the NFD text, 1 inside
    nfc, nfd = ex(composed, answers=[answer]), ex(decomposed, answers=[(answer[0] + 8, answer[1] + 9)])
    assert nfc["answers"]["text"] == ["Beyoncé, the famous singer"]
    assert nfd["answers"]["text"] == [unicodedata.normalize("NFD", "Beyoncé, the famous singer")]
    rows_nfc, rows_nfd = augmenter.augment_example(nfc, n=10), augmenter.augment_example(nfd, n=10)

    def drawn(rows):
        return [[(unicodedata.normalize("NFC", e["original"]), e["replacement"], e["source"]) for e in r["edits"]]
                for r in rows]

    assert drawn(rows_nfd) == drawn(rows_nfc)
    # Accented words replaced from both sources: masked LM (one piece: "cafe"), GloVe ("señor": sen ##or).
    assert {(o, source) for r in drawn(rows_nfd) for o, _, source in r} >= {("Café", "mlm"), ("señor", "glove")}
    for r in rows_nfd:
        assert_row_exact(r, nfd)
        replay(nfd, r)  # every character outside the replaced words is the original's, marks included
        assert r["answers"]["text"] == nfd["answers"]["text"]


@pytest.mark.parametrize("policy", ["keep", "replace"])
def test_decomposed_accents_under_byte_level_bpe_keep_marks_with_their_letters(tiny_roberta_mlm_path, glove_kv,
                                                                               policy):
    """Byte-level BPE gives a combining mark tokens of its own; still, a replaced word takes its marks with it
    (no edit starts on a mark or stops before one), answers holding marks stay at exact offsets, and the NFD
    "Beyonce\u0301" is replaced from the masked LM as "Beyoncé" is (one "ĠBeyoncé" token)."""
    from augment.mlm import MaskedLMCandidates

    mlm = MaskedLMCandidates.from_pretrained(tiny_roberta_mlm_path, top_k=6)
    aug = Augmenter(mlm=mlm, glove=glove_kv, top_k=6, replace_prob=0.9, answer_policy=policy)
    context = unicodedata.normalize("NFD", "Beyoncé opened a café in Zürich; Beyoncé's résumé lists crème brûlée.")
    answer = context.index(unicodedata.normalize("NFD", "café in Zürich"))
    original = ex(context, answers=[(answer, answer + len(unicodedata.normalize("NFD", "café in Zürich")))])
    rows = aug.augment_example(original, n=10)
    sources = set()
    for r in rows:
        assert_row_exact(r, original)
        replay(original, r)
        for e in r["edits"]:
            assert not unicodedata.combining(context[e["start"]]), e
            assert e["end"] == len(context) or not unicodedata.combining(context[e["end"]]), e
            sources.add((unicodedata.normalize("NFC", e["original"]), e["source"]))
        if policy == "keep":
            assert r["answers"]["text"] == original["answers"]["text"]
    assert ("Beyoncé", "mlm") in sources and ("Beyoncé", "glove") not in sources


def test_long_context_answer_at_the_end(augmenter, sample_rows):
    """> 512 WordPieces: the answer at the very end keeps its text and exact offset shift."""
    long_ctx = " ".join(r["context"] for r in sample_rows[::13])
    tail = "The final answer is Montgomery Burns."
    context = long_ctx + " " + tail
    assert len(augmenter.mlm.tokenizer(context)["input_ids"]) > 512
    s = context.index("Montgomery Burns")
    original = ex(context, answers=[(s, s + 16)])
    rows = augmenter.augment_example(original, n=5)
    for o in rows:
        assert_row_exact(o, original)
        replay(original, o)
        assert o["answers"]["text"] == ["Montgomery Burns"]
    # Words past the 510th token were masked too (mlm edits there), not just GloVe.
    late = [e for o in rows for e in o["edits"] if e["source"] == "mlm" and e["start"] > len(long_ctx) * 0.8]
    assert late


def test_replace_policy_rewrites_answers_from_the_new_context(glove_kv):
    aug = Augmenter(mlm=None, glove=glove_kv, replace_prob=1.0, answer_policy="replace")
    context = "The famous guitarist performed with the orchestra yesterday."
    s = context.index("famous guitarist")
    original = ex(context, answers=[(s, s + len("famous guitarist"))])
    o = aug.augment_example(original, n=1)[0]
    assert o["answers"]["text"][0] != "famous guitarist"  # every eligible word replaced (p = 1)
    assert_row_exact(o, original)
    keep = Augmenter(mlm=None, glove=glove_kv, replace_prob=1.0, answer_policy="keep")
    k = keep.augment_example(original, n=1)[0]
    assert_row_exact(k, original)
    assert k["answers"]["text"] == ["famous guitarist"]
    assert all(not (e["start"] < s + 16 and s < e["end"]) for e in k["edits"])


def test_word_straddling_an_answer_boundary_is_never_replaced(glove_kv):
    """Answer 'owles' inside 'Knowles': even with answer_policy='replace' the word stays."""
    aug = Augmenter(mlm=None, glove=glove_kv, replace_prob=1.0, answer_policy="replace")
    context = "Beyonce Knowles performed."
    original = ex(context, answers=[(10, 15)])
    for o in aug.augment_example(original, n=3):
        assert o["context"][8:15] == "Knowles" or o["context"].find("owles") == o["answers"]["answer_start"][0]
        assert o["answers"]["text"] == ["owles"]
        assert_row_exact(o, original)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_spans_exact_for_generated_texts_and_answers(glove_augmenter, data):
    words = data.draw(st.lists(st.sampled_from(
        ["music", "Guitar", "SINGER", "the", "of", "12th", "Knowles-Carter", "naïve", "😀", "東京", ",", ".",
         "don't", "U.S.", "\t", "\u00a0", "  ", "\n", "famous", "Houston", "performed", "album", "x"]),
        min_size=1, max_size=40))
    seps = data.draw(st.lists(st.sampled_from([" ", "", "  ", "\t"]), min_size=len(words), max_size=len(words)))
    context = "".join(w + s for w, s in zip(words, seps))
    if not context.strip():
        context = "music"
    n_ans = data.draw(st.integers(0, 3))
    spans = []
    for _ in range(n_ans):
        a = data.draw(st.integers(0, len(context) - 1))
        b = data.draw(st.integers(a + 1, len(context)))
        spans.append((a, b))
    policy = data.draw(st.sampled_from(["keep", "replace"]))
    glove_augmenter.answer_policy = policy
    try:
        original = ex(context, answers=spans, plausible=spans[:1], id=f"h{stable_hash(context) % 1000}")
        for o in glove_augmenter.augment_example(original, n=3):
            assert_row_exact(o, original)
            replay(original, o)
            if policy == "keep":
                assert o["answers"]["text"] == original["answers"]["text"]
    finally:
        glove_augmenter.answer_policy = "keep"


# Pieces of generated contexts: what tokenizers treat unlike Python's str (decomposed accents, zero-width and
# no-break spaces, ideographic space, \r\n, emoji with ZWJ and skin tones, CJK without spaces, RTL, ligatures,
# text that spells a special token) beside words that both masked LMs and GloVe take.
FUZZ_WORDS = ["music", "Guitar", "SINGER", "singer", "released", "debut", "career", "Houston", "album", "the",
              "Cafe\u0301", "nai\u0308ve", "Beyoncé", "Knowles-Carter", "don't", "12th", "3.14", "東京大学は世界で",
              "مرحبا", "שלום", "👨\u200d👩\u200d👧", "👍🏽", "?!...", "(U.S.)", "<mask>", "[MASK]", "straße", "ﬁne",
              "ΟΔΟΣ"]
FUZZ_SEPS = [" ", "", "  ", "\t", "\u00a0", "\u3000", "\r\n", "\u200b", "\u200d"]


@pytest.fixture(scope="module")
def fuzz_augmenters(mlm_gen, tiny_roberta_mlm_path, glove_kv):
    """A WordPiece masked LM with GloVe, and a byte-level BPE one alone (its own candidates for every word)."""
    from augment.mlm import MaskedLMCandidates

    bpe = MaskedLMCandidates.from_pretrained(tiny_roberta_mlm_path, top_k=6)
    return {"wordpiece": Augmenter(mlm=mlm_gen, glove=glove_kv, replace_prob=0.6, seed=0),
            "bpe": Augmenter(mlm=bpe, glove=None, top_k=6, replace_prob=0.9, seed=0)}


@pytest.mark.parametrize("pieces", ["wordpiece", "bpe"])
@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_masked_lm_variants_keep_spans_for_generated_questions(fuzz_augmenters, pieces, data):
    """Several questions on one generated context (some unanswerable, with plausible answers), answers that
    start or end anywhere (mid-word, on whitespace, at either end, repeated, overlapping), augmented in one
    batch through a masked LM: every span slices its own text at its moved offset, the text between the
    replaced words is the original's byte for byte, an unanswerable question stays unanswerable, and no replaced
    word starts inside a grapheme cluster or stops before a mark. (One may stop before a ZWJ or a skin tone,
    which Python's \\w and the word pattern's marks leave out: it stays after the replacement, as after the word.)"""
    words = data.draw(st.lists(st.sampled_from(FUZZ_WORDS), min_size=1, max_size=25))
    seps = data.draw(st.lists(st.sampled_from(FUZZ_SEPS), min_size=len(words), max_size=len(words)))
    context = "".join(w + s for w, s in zip(words, seps))

    # Ends often on a word's edge (where a replaced word's length change must move them, or must not) or the
    # context's own; otherwise anywhere, mid-word and on whitespace included.
    edges = sorted({0, len(context)} | {i for w in split_words(context) for i in (w.start, w.end)})

    def span():
        a = data.draw(st.one_of(st.sampled_from(edges[:-1]), st.integers(0, len(context) - 1)))
        later = [e for e in edges if e > a]
        return a, data.draw(st.one_of(st.sampled_from(later), st.integers(a + 1, len(context))))

    originals = []
    for k in range(data.draw(st.integers(1, 3))):
        answers = [span() for _ in range(data.draw(st.integers(0, 3)))]
        plausible = [] if answers else [span() for _ in range(data.draw(st.integers(0, 2)))]
        question = data.draw(st.sampled_from(["Who performed the famous album?", "Whát\u00a0is\tit?\r\n",
                                              context]))
        row = ex(context, answers=answers + answers[:1], plausible=plausible, question=question,
                 id=f"f{stable_hash(context) % 1000}-{k}")
        row["is_impossible"] = not answers
        originals.append(row)
    aug = fuzz_augmenters[pieces]
    policy, augment_question = data.draw(st.sampled_from(["keep", "replace"])), data.draw(st.booleans())
    aug.answer_policy, aug.augment_question = policy, augment_question
    try:
        batches = aug.augment_batch(originals, n=3)
    finally:
        aug.answer_policy, aug.augment_question = "keep", False
    for original, rows in zip(originals, batches):
        assert len(rows) == 3
        for o in rows:
            assert_row_exact(o, original)
            replay(original, o)
            edits = [e for e in o["edits"] if e["field"] == "context"]  # in text order
            kept = "".join(context[a:b] for a, b in _gaps(edits, len(context)))
            shift, between = 0, []
            for (a, b), e in zip(_gaps(edits, len(context)), edits + [None]):
                between.append(o["context"][a + shift:b + shift])
                shift += len(e["replacement"]) - (e["end"] - e["start"]) if e else 0
            assert "".join(between) == kept
            assert o["is_impossible"] == original["is_impossible"] == (not o["answers"]["text"])
            assert augment_question or o["question"] == original["question"]
            if policy == "keep":
                assert o["answers"]["text"] == original["answers"]["text"]
                assert o["plausible_answers"]["text"] == original["plausible_answers"]["text"]
            spans = [(s, s + len(t)) for f in ("answers", "plausible_answers")
                     for t, s in zip(original[f]["text"], original[f]["answer_start"])]
            for e in edits:  # no edit starts inside a character a reader sees, or stops before its mark
                assert not extends_cluster(context, e["start"]), e
                assert e["end"] == len(context) or unicodedata.category(context[e["end"]])[0] != "M", e
            for e in edits:  # keep: no answer touched; replace: only words wholly inside
                for a, b in spans:
                    if e["start"] < b and a < e["end"]:
                        assert policy == "replace" and a <= e["start"] and e["end"] <= b, (e, a, b)


def test_output_depends_only_on_seed_id_and_variant(mlm_gen, glove_kv, sample_rows):
    rows = sample_rows[:12]
    a = Augmenter(mlm=mlm_gen, glove=glove_kv, seed=7)
    b = Augmenter(mlm=mlm_gen, glove=glove_kv, seed=7, cache_size=2)
    batched = a.augment_batch(rows, n=5)
    one_by_one = [b.augment_example(r, n=5) for r in reversed(rows)][::-1]
    assert batched == one_by_one
    other_seed = Augmenter(mlm=mlm_gen, glove=glove_kv, seed=8).augment_batch(rows, n=5)
    assert other_seed != batched


def test_rows_do_not_depend_on_the_examples_augmented_before(glove_kv):
    """An example whose only new GloVe word is "TSE" (the others cached by an earlier call) gets that word's
    neighbours from a one-word batch; they must be the neighbours a fresh augmenter finds (4 of 100 rows
    differed: "INDICES" where a fresh run wrote "HANG")."""
    tse = {"id": "a", "context": "Shares on the TSE index rose sharply.", "question": "Which index?",
           "answers": {"text": ["index"], "answer_start": [18]}}
    other = {"id": "b", "context": "Shares on the index rose sharply.", "question": "Which index?",
             "answers": {"text": ["index"], "answer_start": [14]}}
    fresh = Augmenter(mlm=None, glove=glove_kv, seed=0).augment_example(tse, n=100)
    warm = Augmenter(mlm=None, glove=glove_kv, seed=0)
    warm.augment_example(other, n=100)
    assert warm.augment_example(tse, n=100) == fresh


def test_variants_are_distinct_where_candidates_allow(augmenter, sample_rows):
    for r in sample_rows[:10]:
        out = augmenter.augment_example(r, n=20)
        texts = {(o["context"], o["question"]) for o in out}
        assert len(texts) == 20
        assert (r["context"], r["question"]) not in texts


def test_augment_question(mlm_gen, glove_kv, sample_rows):
    aug = Augmenter(mlm=mlm_gen, glove=glove_kv, augment_question=True, replace_prob=0.5)
    r = sample_rows[0]
    out = aug.augment_example(r, n=10)
    assert any(o["question"] != r["question"] for o in out)
    for o in out:
        replay(r, o)
        assert_row_exact(o, r)


def test_invalid_examples_raise_naming_the_id(augmenter):
    bad = ex("Paris is in France.", answers=[(0, 5)], id="bad-1")
    bad["answers"]["answer_start"] = [3]
    with pytest.raises(InvalidExample, match="bad-1"):
        augmenter.augment_example(bad)
    with pytest.raises(InvalidExample, match="question is empty"):
        augmenter.augment_example(ex("Some text.", question="  ", id="q2"))


def test_api_function_and_option_errors(glove_kv):
    with pytest.raises(ConfigError, match="replace_prob=1.5"):
        Augmenter(mlm=None, glove=None, replace_prob=1.5)
    # 0 would make every variant the original (or, with independent draws, no variant at all), silently.
    for zero in (0, 0.0):
        with pytest.raises(ConfigError, match=r"replace_prob=0(\.0)?: use a probability in \(0, 1\]"):
            Augmenter(mlm=None, glove=None, replace_prob=zero)
    with pytest.raises(ConfigError, match="answer_policy='drop'"):
        Augmenter(mlm=None, glove=None, answer_policy="drop")
    with pytest.raises(ConfigError, match="variant_draw='both'"):
        Augmenter(mlm=None, glove=None, variant_draw="both")


def test_augment_example_gives_the_hand_computed_rows():
    """Hand-set 2-d vectors: the neighbours of 'guitarist' by cosine are 'singer' (0.99) then 'drummer'
    (0.8); 'performed' and 'The' have none (not in the vectors / a stopword). With p = 1 the two variants
    are the two replacements, in the order the draw gives, and the answer moves with the edit."""
    import numpy as np
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["guitarist", "singer", "drummer"],
                   np.array([[1.0, 0.0], [0.99, 0.141], [0.8, 0.6]], dtype="float32"))
    aug = Augmenter(mlm=None, glove=kv, replace_prob=1.0, top_k=2)
    e = ex("The guitarist performed.", answers=[(14, 23)])
    rows = augment_example(e, n=2, augmenter=aug)
    assert {r["context"] for r in rows} == {"The singer performed.", "The drummer performed."}
    for r in rows:
        word = r["context"].split()[1]
        assert r["answers"] == {"text": ["performed"], "answer_start": [4 + len(word) + 1]}
        assert r["edits"] == [{"field": "context", "start": 4, "end": 13, "original": "guitarist",
                               "replacement": word, "source": "glove"}]


def test_candidates_that_cannot_take_the_words_case_are_left_out():
    """GloVe's neighbours of "decade" include the ligature "ﬁ", which became "FI" in place of "Decade". A
    candidate whose cased form is another string is left out for that word only."""
    import numpy as np
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["decade", "\ufb01", "years", "straße"],
                   np.array([[1.0, 0.0], [0.99, 0.141], [0.8, 0.6], [0.7, 0.7]], dtype="float32"))
    aug = Augmenter(mlm=None, glove=kv, top_k=3)
    lower, title, upper = aug.text_candidates(["a decade.", "A Decade.", "A DECADE."])
    assert lower.candidates == {1: (("\ufb01", "years", "straße"), "glove")}
    assert title.candidates == {1: (("years", "straße"), "glove")}
    assert upper.candidates == {1: (("years",), "glove")}


def test_option_values_of_the_wrong_type_are_config_errors_naming_them():
    with pytest.raises(ConfigError, match=r"replace_prob='0\.5': use a probability"):
        Augmenter(mlm=None, glove=None, replace_prob="0.5")  # not a TypeError from the comparison
    with pytest.raises(ConfigError, match="top_k=True: use a positive int"):
        Augmenter(mlm=None, glove=None, top_k=True)


def test_cuda_device_without_cuda_is_a_config_error(tiny_mlm_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on a CPU-only torch
    with pytest.raises(ConfigError, match="device='cuda': CUDA is not available here; use 'cpu' or 'auto'"):
        Augmenter(mlm=tiny_mlm_path, glove=None, device="cuda")


def test_mlm_may_be_a_path_like_as_glove_may(tiny_mlm_path, glove_kv):
    from pathlib import Path

    from augment.mlm import MaskedLMCandidates

    aug = Augmenter(mlm=Path(tiny_mlm_path), glove=None, device="cpu")
    assert isinstance(aug.mlm, MaskedLMCandidates)
    assert Augmenter(mlm=Path("none"), glove=glove_kv).mlm is None  # as mlm="none"


def test_numpy_integers_are_ints(glove_kv):
    import numpy as np

    e = ex("The famous guitarist performed with the orchestra yesterday.", id="np1")
    plain = Augmenter(mlm=None, glove=glove_kv, top_k=3, seed=7).augment_example(e, n=3)
    numpy = Augmenter(mlm=None, glove=glove_kv, top_k=np.int64(3), seed=np.int64(7))
    assert numpy.augment_example(e, n=np.int64(3)) == plain
    assert augment_example(e, n=np.int32(3), augmenter=numpy) == plain
    with pytest.raises(ConfigError, match="seed=np.True_|seed=True"):
        Augmenter(mlm=None, glove=None, seed=np.bool_(True))  # numpy's bool is no Integral either


@pytest.mark.parametrize("option, value, problem", [
    ("batch_size", "8", "batch_size='8': use an int >= 1"),
    ("batch_size", 0, "batch_size=0: use an int >= 1"),
    ("mask_rate", "0.1", r"mask_rate='0.1': use a number in \(0, 0.5\]"),
    ("mask_rate", 0.6, r"mask_rate=0.6: use a number in \(0, 0.5\]"),  # MaskedLMCandidates' range
    ("mask_rate", 0, r"mask_rate=0: use a number in \(0, 0.5\]"),
    ("cache_size", -1, "cache_size=-1: use an int >= 0"),  # a KeyError from the eviction loop before
    ("cache_size", None, "cache_size=None: use an int >= 0"),
    ("max_batch_tokens", 0, r"max_batch_tokens=0: use an int >= 1, or None"),
    ("max_batch_tokens", "512", r"max_batch_tokens='512': use an int >= 1, or None"),
    ("glove_vocab", 0, "glove_vocab=0: use an int >= 1"),  # silently no GloVe vectors before
    ("glove_vocab", 1.5e5, r"glove_vocab=150000.0: use an int >= 1"),
])
def test_loader_options_are_checked_up_front(option, value, problem):
    # mlm=None: nothing uses these options, and they are refused all the same, before any model loads.
    with pytest.raises(ConfigError, match=f"^{problem}$"):
        Augmenter(mlm=None, glove=None, **{option: value})


def test_every_bad_option_is_named_at_once():
    with pytest.raises(ConfigError) as e:
        Augmenter(mlm=None, glove=None, batch_size="8", mask_rate="0.1", top_k=0)
    assert str(e.value) == ("top_k=0: use a positive int; batch_size='8': use an int >= 1; "
                            "mask_rate='0.1': use a number in (0, 0.5]")


def test_bad_loader_options_with_a_model_are_config_errors(tiny_mlm_path):
    # Before, a TypeError from deep inside the masked LM's batching (or its constructor).
    with pytest.raises(ConfigError, match="batch_size='8'"):
        Augmenter(mlm=tiny_mlm_path, glove=None, device="cpu", batch_size="8")
    with pytest.raises(ConfigError, match="mask_rate='0.1'"):
        Augmenter(mlm=tiny_mlm_path, glove=None, device="cpu", mask_rate="0.1")


def test_cache_size_zero_keeps_no_text_between_calls(glove_kv):
    aug = Augmenter(mlm=None, glove=glove_kv, cache_size=0)
    e = ex("The famous guitarist performed.", id="c0")
    assert aug.augment_example(e, n=2) == Augmenter(mlm=None, glove=glove_kv).augment_example(e, n=2)
    assert len(aug._cache) == 0


def test_extra_keys_are_copied_into_each_row_not_shared(glove_augmenter):
    e = dict(ex("The famous guitarist performed with the orchestra.", id="m1"),
             meta={"source": "crawl", "tags": ["music"]})
    rows = glove_augmenter.augment_example(e, n=3)
    rows[0]["meta"]["tags"].append("changed")
    rows[0]["meta"]["source"] = "edited"
    assert e["meta"] == {"source": "crawl", "tags": ["music"]}  # the input example is untouched
    assert [r["meta"] for r in rows[1:]] == [{"source": "crawl", "tags": ["music"]}] * 2
    assert rows[1]["meta"] is not rows[2]["meta"]


def test_extra_answer_keys_are_kept_and_answer_end_moves_with_its_span(glove_kv):
    """Per-answer metadata (SubjQA's answers carry answer_subj_level and more) and an answer_end were dropped:
    a row came back with text and answer_start only. Now every key comes back; answer_end keeps its distance
    from the moved span's end (exclusive here, inclusive in plausible_answers), under either answer policy."""
    context = "The famous old guitarist performed with the big orchestra in Paris last night."
    e = ex(context, answers=[(61, 66)], plausible=[(44, 57)], id="subj1")
    e["answers"].update(answer_end=[66], answer_subj_level=[2], is_ans_subjective=[True])
    e["plausible_answers"]["answer_end"] = [56]  # inclusive: the last character's offset
    e["user_field"] = {"annotator": 3}
    for policy in ("keep", "replace"):
        rows = Augmenter(mlm=None, glove=glove_kv, replace_prob=1.0, answer_policy=policy).augment_example(e, n=4)
        assert any(r["answers"]["answer_start"] != [61] for r in rows)  # the spans did move
        for r in rows:
            a, p = r["answers"], r["plausible_answers"]
            assert list(a) == ["text", "answer_start", "answer_end", "answer_subj_level", "is_ans_subjective"]
            assert a["answer_end"] == [a["answer_start"][0] + len(a["text"][0])]
            assert r["context"][a["answer_start"][0]:a["answer_end"][0]] == a["text"][0]
            assert p["answer_end"] == [p["answer_start"][0] + len(p["text"][0]) - 1]
            assert (a["answer_subj_level"], a["is_ans_subjective"]) == ([2], [True])
            assert r["title"] == "T" and r["user_field"] == {"annotator": 3}
        rows[0]["answers"]["answer_subj_level"].append(9)  # a copy: the input and the other rows keep theirs
        assert e["answers"]["answer_subj_level"] == rows[1]["answers"]["answer_subj_level"] == [2]


def test_augment_batch_takes_any_iterable_of_examples(glove_kv):
    """A generator was walked twice (validated, then augmented): the second walk was empty, and augment_batch
    returned [] without a word; protected_words counted 0. One example (a dict) was iterated as its keys."""
    aug = Augmenter(mlm=None, glove=glove_kv, replace_prob=0.6, keep_question_words=True)
    examples = [ex("The famous guitarist performed.", id="g1", question="Which guitarist performed?"),
                ex("The old orchestra played.", id="g2")]
    want = aug.augment_batch(examples, n=2)
    assert [len(rows) for rows in want] == [2, 2]
    assert aug.augment_batch((e for e in examples), n=2) == want
    assert aug.protected_words(e for e in examples) == aug.protected_words(examples) > 0
    with pytest.raises(ConfigError, match=r"examples must be an iterable of squad_v2 rows, got dict \(one "
                                          r"example: use augment_example\)"):
        aug.augment_batch(examples[0], n=2)


@pytest.mark.parametrize("option, value, problem", [
    ("glove", 5, "glove=5: use 'default', None, a vectors file or gensim KeyedVectors"),  # an AttributeError before
    ("augment_question", "no", "augment_question='no': use True or False"),  # silently true before
    ("keep_question_words", "false", "keep_question_words='false': use True or False"),
    ("trust_remote_code", "no", "trust_remote_code='no': use True or False"),
])
def test_options_of_the_wrong_kind_are_config_errors_naming_them(option, value, problem):
    with pytest.raises(ConfigError, match=f"^{problem}$"):
        Augmenter(**{"mlm": None, "glove": None, option: value})


def test_augmenter_that_is_not_one_is_a_config_error():
    # Before, "'str' object has no attribute 'augment_example'".
    with pytest.raises(ConfigError, match="augmenter='default': use an Augmenter, or None"):
        augment_example(ex("The guitarist played."), n=1, augmenter="default")


@pytest.mark.parametrize("mlm,glove", [(None, None), ("none", "None"), ("NONE", None)])
def test_no_masked_lm_and_no_glove_is_refused(mlm, glove):
    """Without either source no word can be replaced: the rows were n copies of the original, labelled variants."""
    with pytest.raises(ConfigError, match="no source of replacements"):
        Augmenter(mlm=mlm, glove=glove)
