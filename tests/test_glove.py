import itertools

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


def test_neighbours_never_hold_the_word_in_another_case_or_accent(glove_kv, tmp_path):
    """As for the masked LM: replacing Beyoncé by beyonce, or singer by Singer, changes nothing but spelling."""
    nb = GloveNeighbours(glove_kv, top_k=15)
    assert "beyonce" in [glove_kv.index_to_key[i] for i in np.argsort(
        -(glove_kv.vectors @ glove_kv["beyoncé"]))[:16]]  # the nearest words do hold it
    got = nb.neighbours(["Beyoncé"])["Beyoncé"]
    assert len(got) == 15 and "beyonce" not in got
    cased = tmp_path / "cased.txt"  # cased vectors (word2vec, GloVe 840B): the word's capitalised rows too
    rows = [("singer", "singer"), ("Singer", "singer"), ("SINGER", "singer"), ("vocalist", "vocalist"),
            ("drummer", "drummer"), ("guitarist", "guitarist")]
    cased.write_text("".join(w + " " + " ".join(f"{x:.5f}" for x in glove_kv[v]) + "\n" for w, v in rows))
    assert set(GloveNeighbours(load_glove(str(cased)), top_k=3).neighbours(["singer"])["singer"]) == {
        "vocalist", "guitarist", "drummer"}


def test_cased_vectors_give_each_neighbour_once_whatever_its_case(glove_kv, tmp_path):
    """As for the masked LM's cased vocabularies: "vocalist", "Vocalist" and "VOCALIST" are one replacement once
    the case is matched. All three were listed, so top_k=3 gave one word (drawn every time) where three exist."""
    cased = tmp_path / "cased.txt"
    rows = [("singer", "singer"), ("vocalist", "vocalist"), ("Vocalist", "vocalist"), ("VOCALIST", "vocalist"),
            ("drummer", "drummer"), ("guitarist", "guitarist")]
    cased.write_text("".join(w + " " + " ".join(f"{x:.5f}" for x in glove_kv[v]) + "\n" for w, v in rows))
    got = GloveNeighbours(load_glove(str(cased)), top_k=3).neighbours(["singer"])["singer"]
    assert sorted(w.lower() for w in got) == ["drummer", "guitarist", "vocalist"]


def test_a_decomposed_word_gets_the_neighbours_of_its_composed_form(glove_kv):
    """The vectors' words are NFC ("café"): a text's "Cafe\u0301" was looked up as it is, and found nothing."""
    nb = GloveNeighbours(glove_kv, top_k=15)
    composed = nb.neighbours(["Café"])["Café"]
    assert len(composed) == 15
    assert nb.neighbours(["Cafe\u0301"]) == {"Cafe\u0301": composed}


def test_neighbours_do_not_depend_on_the_other_words_of_the_call(glove_kv):
    """Which words share a call depends on what earlier calls cached. "tse" has two neighbours ("indices",
    "hang") whose float32 cosines differ in the last bits between a one-word call (BLAS's gemv) and a batch
    (gemm): their order, and so the rows of an example, depended on the examples augmented before it."""
    alone = GloveNeighbours(glove_kv, top_k=15).neighbours(["tse"])["tse"]
    assert len(alone) == 15 and {"indices", "hang"} <= set(alone)
    for others in (["index"], ["index", "shares", "rose"], glove_kv.index_to_key[1000:1300]):
        assert GloveNeighbours(glove_kv, top_k=15).neighbours(["tse", *others])["tse"] == alone


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


def _vec_lines(kv, words):
    return "".join(w + " " + " ".join(f"{x:.5f}" for x in kv[w]) + "\n" for w in words)


def test_word2vec_text_with_header_named_txt_loads_like_glove_text(tmp_path, glove_kv):
    """A '<count> <dim>' first line is a word2vec header, whatever the suffix: not a 1-dim vector."""
    words = ["music", "song", "band", "guitar"]
    w2v = tmp_path / "w2v-vectors.txt"
    w2v.write_text(f"{len(words)} 50\n" + _vec_lines(glove_kv, words))
    glove = tmp_path / "glove-vectors.txt"
    glove.write_text(_vec_lines(glove_kv, words))
    a, b = load_glove(str(w2v)), load_glove(str(glove))
    assert a.index_to_key == b.index_to_key == words and a.vector_size == 50
    assert np.array_equal(a.vectors, b.vectors)
    assert np.allclose(a["guitar"], glove_kv["guitar"], atol=1e-5)
    (tmp_path / "v.w2v").write_text(f"{len(words)} 50\n" + _vec_lines(glove_kv, words))
    assert load_glove(str(tmp_path / "v.w2v")).index_to_key == words
    assert load_glove(str(w2v), vocab_limit=2).index_to_key == words[:2]


def test_a_vectors_file_starting_with_a_byte_order_mark_keeps_its_first_word_and_header(tmp_path, glove_kv):
    """A file written as "UTF-8 with BOM": U+FEFF stuck to the first word, so a GloVe file lost that word's vectors
    silently, and a word2vec header ('\\ufeff4 50') read as a one-value vector failed on the next line."""
    words = ["music", "song", "band", "guitar"]
    for name, head in (("glove.txt", ""), ("w2v.txt", f"{len(words)} 50\n")):
        (tmp_path / name).write_bytes(("\ufeff" + head + _vec_lines(glove_kv, words)).encode("utf-8"))
        assert load_glove(str(tmp_path / name)).index_to_key == words


@pytest.mark.parametrize("name, content, problem", [
    ("ragged.txt", "music 0.1 0.2\nsong 0.3\n", "line 2: 1 values for 'song'"),
    ("long.txt", "music 0.1 0.2\nsong 0.3 0.4 0.5\n", "line 2: 3 values for 'song'"),
    ("header-mismatch.txt", "2 3\nmusic 0.1 0.2\nsong 0.3 0.4\n", "line 2: 2 values for 'music'.*header gives 3"),
    ("nonnumeric.txt", "music 0.1 abc\n", "line 1: a value of 'music' is not a number"),
    ("nan.txt", "music 0.1 0.2\nsong nan 0.4\n", "line 2: the vector of 'song' is not finite"),
    ("empty.txt", "", "holds no vectors"),
    ("novector.txt", "music\n", "line 1: the word 'music' has no vector"),
    ("truncated.w2v", "5 2\nmusic 0.1 0.2\n", "announces 5 vectors but the file holds 1"),
    ("latin1.txt", b"caf\xe9 0.1 0.2\n", "line 1: not UTF-8"),
    ("garbage.kv", b"not a pickle", "cannot read vectors.*UnpicklingError"),
    ("garbage.bin", b"2 3\n\xff\xfe", "cannot read vectors.*EOFError"),
])
def test_malformed_vector_files_raise_config_error_naming_the_file(tmp_path, name, content, problem):
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    with pytest.raises(ConfigError, match=f"{name}'.*{problem}"):
        load_glove(str(path))


def test_a_kv_file_holding_something_else_and_a_directory_raise_config_error(tmp_path):
    import pickle

    (tmp_path / "dict.kv").write_bytes(pickle.dumps({"music": [0.1, 0.2]}))
    with pytest.raises(ConfigError, match="dict.kv"):
        load_glove(str(tmp_path / "dict.kv"))
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(ConfigError, match="folder.txt.*IsADirectoryError"):
        load_glove(str(tmp_path / "folder.txt"))


def test_exact_reranking_memory_does_not_grow_with_batch_times_top_k():
    """The float64 re-ranking took a (batch, top_k + 20, 50) block at once: 10 GB for --top-k 100000 on a batch
    of 256 words. Taken RERANK_PAIRS pairs at a time, its temporaries stay under a fixed budget."""
    import tracemalloc

    from gensim.models import KeyedVectors

    from augment import glove

    n_vocab, dim, n_words, top_k = 5_000, 50, 128, 2_000
    kv = KeyedVectors(vector_size=dim)
    kv.add_vectors([f"w{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676)}" for i in range(n_vocab)],
                   np.random.default_rng(0).standard_normal((n_vocab, dim)).astype(np.float32))
    nb = GloveNeighbours(kv, top_k=top_k, batch_size=n_words)
    tracemalloc.start()
    got = nb.neighbours(kv.index_to_key[:n_words])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert all(len(c) == top_k for c in got.values())
    # The (P, D) float32 gather, its float64 copy and the query rows; sims (B, V) and what the top-k and the
    # ranking make of it. The whole block at once was 128 x 2020 x 50 x (4 + 8 + 8) bytes, about 250 MB.
    budget = 3 * glove.RERANK_PAIRS * dim * 8 + 4 * n_words * n_vocab * 8
    assert peak < budget, (peak, budget)


def test_the_chunked_reranking_gives_the_same_candidates(glove_kv, monkeypatch):
    """Each exact cosine is the same sum in the same order however the pairs are chunked: no candidate moves."""
    from augment import glove

    words = glove_kv.index_to_key[3000:3040] + ["tse", "guitarist", "Beyoncé"]
    whole = {k: GloveNeighbours(glove_kv, top_k=k).neighbours(words) for k in (15, 50)}
    monkeypatch.setattr(glove, "RERANK_PAIRS", 7)  # chunks that cut rows in the middle
    assert {k: GloveNeighbours(glove_kv, top_k=k).neighbours(words) for k in (15, 50)} == whole


def test_a_top_k_above_the_glove_vocabulary_is_refused_before_the_vectors_load(monkeypatch):
    from augment import Augmenter, api

    monkeypatch.setattr(api, "load_glove", None)  # loading the vectors would be a TypeError
    with pytest.raises(ConfigError, match=r"^top_k=100001: more than glove_vocab=100000, the GloVe words kept, "
                                          r"so no word has that many neighbours; use an int from 1 to 100000$"):
        Augmenter(mlm=None, glove="default", top_k=100_001)
    with pytest.raises(ConfigError, match=r"^top_k=501: more than glove_vocab=500"):
        Augmenter(mlm=None, glove="default", top_k=501, glove_vocab=500)


def _ranked_by_brute_force(nb, word, top_k):
    """The top_k neighbours of ``word`` from every vocabulary word's float64 cosine (no top-k preselection):
    alphabetic, finite, not the word in any spelling; equal scores by vocabulary index."""
    from augment.segment import fold

    unit, row = nb._unit.astype(np.float64), nb.kv.key_to_index[word]
    scores = (unit * unit[row]).sum(-1)  # (V,): the same D-term sum per word as the re-ranking's
    words = nb.kv.index_to_key
    order = np.lexsort((np.arange(len(words)), -np.nan_to_num(scores, nan=-np.inf)))
    kept = (j for j in order.tolist() if j != row and words[j].isalpha() and np.isfinite(scores[j])
            and fold(words[j]) != fold(word))
    return [words[j] for j in itertools.islice(kept, top_k)]


def test_neighbours_are_the_words_of_highest_cosine_over_the_whole_vocabulary(glove_kv):
    """The preselection of top_k + 20 words per batch (a top-k over each row of the float32 product) keeps every
    word the exact ranking puts first: lists equal those of a float64 pass over all 100k words, batch or not."""
    words = glove_kv.index_to_key[200:100_000:5000] + ["tse", "guitarist", "beyoncé", "guitarists"]
    nb = GloveNeighbours(glove_kv, top_k=15, batch_size=8)  # several batches, one of a single word
    got = nb.neighbours(words)
    assert {w: _ranked_by_brute_force(nb, w, 15) for w in words} == got


def test_words_with_nan_vectors_are_never_neighbours_and_take_no_room(glove_kv):
    """A .kv or .bin file may hold NaN vectors (text files are refused). Their cosines are NaN: never a
    neighbour, and not counted among the top_k + 20 words preselected, which a top-k that ranks NaN first
    would fill with them, leaving the real words out."""
    from gensim.models import KeyedVectors

    real = glove_kv.index_to_key[1000:1060]
    bad = [f"nan{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(40)]
    kv = KeyedVectors(vector_size=50)
    kv.add_vectors(real + bad, np.vstack([glove_kv[real], np.full((len(bad), 50), np.nan, np.float32)]))
    nb = GloveNeighbours(kv, top_k=10)
    got = nb.neighbours(real[:5] + bad[:2])
    assert got[bad[0]] == got[bad[1]] == []
    assert all(len(got[w]) == 10 and not set(got[w]) & set(bad) for w in real[:5])
    assert got == {w: _ranked_by_brute_force(nb, w, 10) for w in real[:5] + bad[:2]}
