"""Variant drawing (augment.sampling) and the row shape of the API: distinct variants, determinism,
input keys kept, the lazily built default augmenter."""
import pytest

import augment.api
from augment import Augmenter, augment_example
from augment.errors import ConfigError
from augment.sampling import ENUMERATE_LIMIT, Slot, draw_variants
from augment.segment import split_words


def slots_of(text: str, candidates: dict[str, tuple[str, ...]]) -> list[Slot]:
    return [Slot("context", w, candidates[w.text], "glove") for w in split_words(text) if w.text in candidates]


def keys(variants):
    return [tuple((e.start, e.replacement) for e in v) for v in variants]


@pytest.mark.parametrize("text,cands,n", [
    ("a bird", {"bird": tuple(f"w{i}" for i in range(15))}, 10),  # one word, 15 candidates
    ("red fox", {"red": ("blue",), "fox": ("cat",)}, 3),          # exactly 3 changed variants exist
])
def test_variants_are_distinct_and_changed_whenever_the_space_allows(text, cands, n):
    slots = slots_of(text, cands)
    for i in range(300):  # small p makes plain redraws fail often; every id must still be distinct
        ks = keys(draw_variants(slots, n, 0.4, seed=0, example_id=f"q{i}"))
        assert len(set(ks)) == n and () not in ks, (i, ks)


def test_an_exhausted_space_repeats_only_after_using_every_variant():
    slots = slots_of("red fox", {"red": ("blue",), "fox": ("cat",)})
    ks = keys(draw_variants(slots, 5, 0.4, seed=0, example_id="q"))
    assert len(set(ks[:3])) == 3 and () not in ks[:3]
    assert set(ks[3:]) <= set(ks[:3])


def test_large_spaces_with_tiny_p_still_give_distinct_changed_variants():
    text = " ".join(f"word{c}" for c in "abcdefghij")
    slots = slots_of(text, {w.text: ("x", "y", "z") for w in split_words(text)})
    assert 4 ** len(slots) > ENUMERATE_LIMIT  # the drawn, not the listed, fallback
    ks = keys(draw_variants(slots, 20, 0.001, seed=3, example_id="q"))
    assert len(set(ks)) == 20 and () not in ks


def test_every_word_replaced_still_gives_distinct_variants_once_the_full_changes_are_used():
    """replace_prob=1 with one candidate per word: every draw replaces every word, so only variant 1 could be drawn.
    A space too large to list then made 10,000 futile draws per variant (2 s a row on a SQuAD context) and repeated
    variant 1, where a small space's listed fallback gives variants that keep some words."""
    text = " ".join(f"word{c}" for c in "abcdefghijklm")
    slots = slots_of(text, {w.text: ("x",) for w in split_words(text)})
    assert 2 ** len(slots) > ENUMERATE_LIMIT  # the drawn, not the listed, fallback
    ks = keys(draw_variants(slots, 6, 1.0, seed=0, example_id="q"))
    assert len(ks[0]) == len(slots)  # the first draw: every word replaced, as replace_prob says
    assert len(set(ks)) == 6 and () not in ks



def test_a_tiny_replace_prob_still_gives_distinct_variants_once_its_one_word_changes_are_used():
    """replace_prob=1e-6: a draw changes only the word it forces, so 7 words of 3 candidates reach 21 variants. The
    drawn fallback then made 10,000 futile draws per variant and repeated rows (19 of 40 a text)."""
    text = " ".join(f"word{c}" for c in "abcdefg")
    slots = slots_of(text, {w.text: ("x", "y", "z") for w in split_words(text)})
    assert 4 ** len(slots) > ENUMERATE_LIMIT  # the drawn, not the listed, fallback
    ks = keys(draw_variants(slots, 24, 1e-6, seed=0, example_id="q"))
    assert all(len(k) == 1 for k in ks[:21])  # one word changed while such variants remain, as replace_prob says
    assert len(set(ks)) == 24 and () not in ks

class ListedAfresh:
    """The listed fallback as it was: the whole space listed again at every variant whose redraws repeat."""

    def __init__(self, edits):
        self.edits = edits

    def draw(self, seen, rng):
        import itertools

        from augment.sampling import _edits_of, _key

        unused = [c for c in itertools.product(*(range(len(s.candidates) + 1) for s in self.edits.slots))
                  if _key(_edits_of(self.edits, c)) not in seen]
        return _edits_of(self.edits, unused[rng.integers(len(unused))]) if unused else None


def test_a_small_space_is_listed_once_per_example_with_the_same_variants(monkeypatch):
    """3 words of 15 candidates at a small p: the 16^3 variants were listed at every fallback (about 100 rows/s).
    Listed once, the draws are the same, exhausted spaces and candidates that case alike included."""
    import augment.sampling as sampling

    slots = slots_of("alpha beta gamma", {w: tuple(f"{w}{i}" for i in range(15)) for w in ("alpha", "beta", "gamma")})
    alike = slots_of("Red fox", {"Red": ("blue", "Blue", "green"), "fox": ("cat",)})  # blue and Blue: one variant
    cases = [(slots, 40, 0.01), (slots, 40, 0.4), (alike, 9, 0.2), (alike, 9, 0.6)]
    ours = [keys(draw_variants(sl, n, p, 0, f"q{i}")) for sl, n, p in cases for i in range(3)]
    calls = []
    real = sampling._edits_of
    monkeypatch.setattr(sampling, "_edits_of", lambda sl, c: calls.append(1) or real(sl, c))
    assert len(draw_variants(slots, 300, 0.01, 0, "q")) == 300
    assert len(calls) < 4096 + 10 * 300  # one listing, then a few draws per variant
    monkeypatch.setattr(sampling, "_ListedSpace", ListedAfresh)
    assert [keys(draw_variants(sl, n, p, 0, f"q{i}")) for sl, n, p in cases for i in range(3)] == ours


def test_variant_v_does_not_depend_on_n_and_p_zero_changes_nothing():
    slots = slots_of("a bird sang", {"bird": ("crow", "owl"), "sang": ("sat",)})
    assert keys(draw_variants(slots, 4, 0.3, 1, "x")) == keys(draw_variants(slots, 9, 0.3, 1, "x"))[:4]
    assert keys(draw_variants(slots, 4, 0.3, 1, "x")) != keys(draw_variants(slots, 4, 0.3, 2, "x"))
    assert keys(draw_variants(slots, 3, 0.0, 1, "x")) == [(), (), ()]


def ex(context, answers, **extra):
    return {"id": "e1", "title": "T", "context": context, "question": "Who performed?",
            "answers": {"text": [context[s:e] for s, e in answers], "answer_start": [s for s, _ in answers]},
            **extra}


def test_api_variants_distinct_from_each_other_and_the_original(glove_kv):
    aug = Augmenter(mlm=None, glove=glove_kv, seed=0)
    e = ex("The guitarist performed.", [(4, 13)])
    out = aug.augment_example(e, n=10)
    contexts = [o["context"] for o in out]
    assert len(set(contexts)) == 10 and e["context"] not in contexts
    assert all(o["context"].startswith("The guitarist ") for o in out)  # the answer is never touched


def test_rows_keep_the_input_keys_and_add_four(glove_kv):
    aug = Augmenter(mlm=None, glove=glove_kv, seed=0)
    e = ex("The famous guitarist performed.", [(11, 20)], lang="en", source={"split": "train"})
    for v, o in enumerate(aug.augment_example(e, n=3), 1):
        assert set(o) == set(e) | {"orig_id", "variant", "edits"}
        assert o["lang"] == "en" and o["source"] == {"split": "train"} and o["title"] == "T"
        assert (o["id"], o["orig_id"], o["variant"]) == (f"e1-aug{v}", "e1", v)
    bare = {k: v for k, v in e.items() if k not in ("title", "lang", "source")}
    assert set(aug.augment_example(bare, n=1)[0]) == set(bare) | {"orig_id", "variant", "edits"}


def test_augment_example_builds_its_augmenter_once(glove_kv, monkeypatch):
    built = []

    class Counting(Augmenter):
        def __init__(self, **kw):
            built.append(kw)
            super().__init__(**kw)

    monkeypatch.setattr(augment.api, "Augmenter", Counting)
    monkeypatch.setattr(augment.api, "_DEFAULTS", {})
    e = ex("The famous guitarist performed.", [(11, 20)])
    first = augment_example(e, n=2, mlm=None, glove=glove_kv)
    assert augment_example(e, n=2, mlm=None, glove=glove_kv) == first
    augment_example(e, n=2, mlm=None, glove=glove_kv, seed=1)
    assert len(built) == 2  # one per distinct set of options


def test_augment_example_refuses_a_bad_option_after_building_an_augmenter_for_an_equal_good_one(glove_kv, monkeypatch):
    """seed=True, augment_question=1 and top_k=15.0 are refused by Augmenter; they compare (and hash) equal to
    seed=1, augment_question=True and top_k=15, so the default augmenter built for the good value was reused for
    the bad one: refused in a fresh process, accepted after an earlier call."""
    monkeypatch.setattr(augment.api, "_DEFAULTS", {})
    e = ex("The famous guitarist performed.", [(11, 20)])
    for good, bad in (({"seed": 1}, {"seed": True}), ({"augment_question": True}, {"augment_question": 1}),
                      ({"top_k": 15}, {"top_k": 15.0})):
        augment_example(e, n=1, mlm=None, glove=glove_kv, **good)
        (name, value), = bad.items()
        with pytest.raises(ConfigError, match=f"{name}={value!r}"):
            augment_example(e, n=1, mlm=None, glove=glove_kv, **bad)


def test_negative_seed_is_a_config_error():
    with pytest.raises(ConfigError, match="seed=-1"):
        Augmenter(mlm=None, glove=None, seed=-1)


def test_independent_draws_drop_repeats_and_keep_the_distinct_first_attempts():
    """One word with one candidate: only one changed variant exists, so of 20 independent draws every
    one that changes the word after the first is dropped, and so is every draw that changes nothing."""
    slots = slots_of("a bird", {"bird": ("crow",)})
    out = draw_variants(slots, 20, 0.4, seed=0, example_id="q", draw="independent")
    kept = [v for v in out if v is not None]
    assert len(out) == 20 and keys(kept) == [((2, "crow"),)]
    # Where a draw is new, it is the distinct mode's first attempt at that variant.
    many = slots_of("a bird sang", {"bird": tuple(f"w{i}" for i in range(15)), "sang": ("sat", "ran")})
    ind = draw_variants(many, 20, 0.4, seed=1, example_id="x", draw="independent")
    dis = draw_variants(many, 20, 0.4, seed=1, example_id="x")
    first_attempt = [v for v, e in enumerate(ind) if e is not None]
    assert first_attempt and all(keys([ind[v]]) == keys([dis[v]]) for v in first_attempt[:1])
    assert len(set(keys([e for e in ind if e is not None]))) == len(first_attempt)


def test_independent_draws_replace_at_replace_prob_and_distinct_draws_do_not():
    """Per draw, independent replaces a word with probability p; distinct must change the only word."""
    slots = slots_of("a bird", {"bird": tuple(f"w{i}" for i in range(15))})
    ind = [draw_variants(slots, 20, 0.4, 0, f"q{i}", draw="independent") for i in range(100)]
    kept = sum(e is not None for v in ind for e in v)
    assert kept / 100 == pytest.approx(15 * (1 - (1 - 0.4 / 15) ** 20), abs=0.6)  # 6.26 expected of 20
    dis = [draw_variants(slots, 20, 0.4, 0, f"q{i}") for i in range(20)]
    assert all(len(e) == 1 for v in dis for e in v)  # rate 1.0, not 0.4
    with pytest.raises(ValueError, match="draw='both'"):
        draw_variants(slots, 1, 0.4, 0, "q", draw="both")


def test_keep_question_words_protects_shared_words_and_counts_them(glove_kv):
    context = "Destiny's Child sang at the famous Houston arena."
    e = ex(context, [(context.index("Houston"), context.index("Houston") + 7)])
    e["question"] = "Where did destiny's CHILD sing?"
    free = Augmenter(mlm=None, glove=glove_kv, replace_prob=1.0)
    kept = Augmenter(mlm=None, glove=glove_kv, replace_prob=1.0, keep_question_words=True)
    replaced = lambda rows: {x["original"] for r in rows for x in r["edits"]}  # noqa: E731
    assert {"Destiny", "Child"} <= replaced(free.augment_example(e, n=3))
    assert replaced(kept.augment_example(e, n=3)) == {"sang", "famous", "arena"}  # Houston is the answer
    assert kept.protected_words([e, e]) == 4 and free.protected_words([e]) == 0


def test_keep_question_words_ignores_accents_as_well_as_case():
    """The question writes "Beyonce", the context "Beyoncé" (the README's example): the same name, so it is
    kept, in the context and, with question augmentation, in the question."""
    from augment.variants import TextCandidates, replaceable

    context, question = "Beyoncé RELEASED her album.", "When did BEYONCE release it?"
    e = {**ex(context, [(context.index("album"), len(context) - 1)]), "question": question}
    cands = lambda text: TextCandidates(tuple(split_words(text)), {  # noqa: E731
        i: (("x",), "glove") for i, w in enumerate(split_words(text)) if w.text in ("Beyoncé", "RELEASED",
                                                                                    "BEYONCE", "release")})
    slots, protected = replaceable(e, cands(context), cands(question), "keep", keep_question_words=True,
                                   stopwords=frozenset({"when", "did", "it", "her"}))
    assert [(s.field, s.word.text) for s in slots] == [("context", "RELEASED"), ("question", "release")]
    assert protected == 2  # Beyoncé in the context, BEYONCE in the question


def test_bool_n_is_refused_before_an_augmenter_is_built(glove_kv, monkeypatch):
    """True is an int subclass: it used to mean n=1."""
    aug = Augmenter(mlm=None, glove=glove_kv)
    e = ex("The famous guitarist performed.", [(11, 20)])
    with pytest.raises(ConfigError, match="n=True: use a positive int"):
        aug.augment_example(e, n=True)
    monkeypatch.setattr(augment.api, "Augmenter", None)  # building one would fail with a TypeError
    monkeypatch.setattr(augment.api, "_DEFAULTS", {})
    with pytest.raises(ConfigError, match="n=True"):
        augment_example(e, n=True, mlm=None, glove=glove_kv)


def _table(text, words):
    """TextCandidates of ``text`` with one candidate for each word in ``words``."""
    from augment.variants import TextCandidates

    ws = tuple(split_words(text))
    return TextCandidates(ws, {i: (("x",), "glove") for i, w in enumerate(ws) if w.text in words})


def test_a_word_that_only_touches_an_answer_stays_replaceable():
    """Spans are half-open: "Knowles" ends at 15 where the answer "-Carter-" starts and "Jones" starts at 23 where
    it ends, so neither overlaps it and both may change under answer_policy="keep"; "Carter" inside may not."""
    from augment.variants import slots_of

    context = "Beyoncé Knowles-Carter-Jones sang."
    e = ex(context, [(15, 23)])
    assert e["answers"]["text"] == ["-Carter-"]
    slots = slots_of(e, _table(context, {"Beyoncé", "Knowles", "Carter", "Jones", "sang"}), None, "keep")
    assert [s.word.text for s in slots] == ["Beyoncé", "Knowles", "Jones", "sang"]


def test_replace_policy_keeps_a_word_inside_one_answer_that_straddles_another():
    """answer_policy="replace" may change a word wholly inside an answer ("Knowles" in "Beyonce Knowles"), but not
    one that another answer ("owles") cuts in two: replaced, that answer's text could not be carried."""
    from augment.variants import slots_of

    context = "Beyonce Knowles performed."
    table = _table(context, {"Beyonce", "Knowles", "performed"})
    whole = ex(context, [(0, 15)])
    assert [s.word.text for s in slots_of(whole, table, None, "replace")] == ["Beyonce", "Knowles", "performed"]
    both = ex(context, [(0, 15), (10, 15)])
    assert both["answers"]["text"] == ["Beyonce Knowles", "owles"]
    assert [s.word.text for s in slots_of(both, table, None, "replace")] == ["Beyonce", "performed"]


def test_an_examples_variants_share_their_edits_and_draw_what_a_lone_draw_draws():
    """draw_variants makes each (slot, candidate) edit once per example and hands the same object to every
    variant that draws it; each variant is still the edits draw_edits makes alone from its stream."""
    import numpy as np

    from augment.sampling import draw_edits, id_seed

    text = " ".join(f"word{c}" for c in "abcdefghijklmnopqrst")
    slots = slots_of(text, {w.text: tuple(f"{w.text}x{i}" for i in range(3)) for w in split_words(text)})
    got = draw_variants(slots, 40, 0.4, seed=5, example_id="q")
    alone = [draw_edits(slots, 0.4, np.random.default_rng([5, id_seed("q"), v, 0])) for v in range(1, 41)]
    assert len(set(map(tuple, alone))) == 40 and [] not in alone  # every first draw is new: none redrawn
    assert got == alone
    made = {}
    for e in (e for v in got for e in v):
        assert made.setdefault((e.start, e.replacement), e) is e
    assert len(made) < sum(map(len, got))  # some were drawn again, and shared


def test_splice_is_apply_edits_for_edits_in_order_and_refuses_others():
    from augment.spans import Edit, apply_edits, splice

    edits = [Edit("context", 0, 3, "The", "A", "glove"), Edit("context", 4, 9, "quick", "fast", "mlm")]
    assert splice("The quick fox", edits) == apply_edits("The quick fox", edits[::-1]) == "A fast fox"
    with pytest.raises(ValueError, match="overlapping edits at 0"):
        splice("The quick fox", edits[::-1])
