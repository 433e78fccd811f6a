"""Variant drawing (augment.sampling) and the row shape of the API: distinct variants, determinism,
input keys kept, the lazily built default augmenter."""
import numpy as np
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


def test_negative_seed_is_a_config_error():
    with pytest.raises(ConfigError, match="seed=-1"):
        Augmenter(mlm=None, glove=None, seed=-1)
