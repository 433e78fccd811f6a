import numpy as np
import pytest

from augment import ConfigError
from augment.glove import GloveNeighbours, load_glove


def test_default_vectors_are_the_100k_most_frequent(glove_kv):
    assert len(glove_kv.index_to_key) == 100_000 and glove_kv.vector_size == 50
    assert glove_kv.index_to_key[0] == "the"


def test_neighbours_by_cosine_alphabetic_without_the_word(glove_kv):
    nb = GloveNeighbours(glove_kv, top_k=10)
    got = nb.neighbours(["Guitarist", "zzqqxx"])
    assert got["zzqqxx"] == []
    cands = got["Guitarist"]
    assert len(cands) == 10 and "guitarist" not in cands and all(c.isalpha() for c in cands)
    # The first neighbour is the alphabetic word of highest cosine similarity, computed directly.
    v = glove_kv["guitarist"]
    sims = glove_kv.vectors @ v / (np.linalg.norm(glove_kv.vectors, axis=1) * np.linalg.norm(v))
    order = [glove_kv.index_to_key[i] for i in np.argsort(-sims)]
    assert cands[:3] == [w for w in order if w.isalpha() and w != "guitarist"][:3]


def test_neighbours_are_cached_per_word_type(glove_kv):
    nb = GloveNeighbours(glove_kv, top_k=5)
    first = nb.neighbours(["singer"])["singer"]
    nb._unit[:] = 0  # a cached answer never touches the vectors again
    assert nb.neighbours(["Singer", "SINGER"]) == {"Singer": first, "SINGER": first}


def test_user_glove_text_and_kv_files(tmp_path, glove_kv):
    txt = tmp_path / "vectors.txt"
    words = ["music", "song", "band", "guitar", "1999"]
    txt.write_text("".join(w + " " + " ".join(f"{x:.5f}" for x in glove_kv[w]) + "\n" for w in words))
    kv = load_glove(str(txt))
    assert kv.index_to_key == words
    assert GloveNeighbours(kv, top_k=3).neighbours(["music"])["music"] == \
        GloveNeighbours(glove_kv.__class__.load(_save_kv(kv, tmp_path)), top_k=3).neighbours(["music"])["music"]
    assert load_glove(None) is None and load_glove("none") is None
    with pytest.raises(ConfigError, match="missing.txt"):
        load_glove(str(tmp_path / "missing.txt"))


def _save_kv(kv, tmp_path):
    path = tmp_path / "v.kv"
    kv.save(str(path))
    return str(path)
