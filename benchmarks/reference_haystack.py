"""The known slow method, kept as the benchmark's baseline: Haystack 1.x ``augment_squad`` as the
project's brief describes it (not part of this repository; written from that description, not from
Haystack's code).

Per paragraph:
- words from BERT's basic tokenizer (lower-cased, accents stripped, punctuation split off);
- every word that is one WordPiece gets a masked copy of the whole paragraph (stopwords and
  punctuation included, no eligibility filter), truncated to 512 tokens; the copies run in batches of
  16 through the full model, the LM head over every position, and the top-k at the mask is kept with
  ``##`` pieces dropped. Words whose piece falls after the 510th token get no masked-LM candidates;
- every word of several pieces gets GloVe neighbours by a full matrix product against the whole
  vocabulary, once per occurrence (no cache);
- N times: each word is replaced with probability p by a random candidate; the variant is the words
  joined by single spaces (case, spacing and answer offsets are lost), and every question of the
  paragraph gets that context with its answers discarded.

    >>> ref = HaystackReference(model, tokenizer, glove_kv)                 # doctest: +SKIP
    >>> rows = ref.augment_paragraph(examples_of_one_paragraph, n=20)      # doctest: +SKIP
"""
from __future__ import annotations

import time
from collections import Counter

import numpy as np
import torch


class HaystackReference:
    def __init__(self, model, tokenizer, glove_kv, top_k: int = 15, replace_prob: float = 0.4,
                 batch_size: int = 16, seed: int = 0):
        self.model, self.tok = model.eval(), tokenizer
        self.device = next(model.parameters()).device  # the model's device (a GPU in gpu_augment.py)
        self.top_k, self.p, self.batch_size = top_k, replace_prob, batch_size
        self.rng = np.random.default_rng(seed)
        self.glove_words = list(glove_kv.index_to_key)
        self.glove_index = dict(glove_kv.key_to_index)
        vecs = torch.from_numpy(np.asarray(glove_kv.vectors, dtype=np.float32))
        self.glove = vecs / vecs.norm(dim=1, keepdim=True).clamp_min(1e-8)  # (V, D)
        vocab = tokenizer.convert_ids_to_tokens(list(range(tokenizer.vocab_size)))
        self.vocab = vocab
        self.timers = Counter()

    def basic_words(self, text: str) -> list[str]:
        """BERT's basic tokenizer: the fast tokenizer's normaliser and pre-tokeniser."""
        backend = self.tok.backend_tokenizer
        return [w for w, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text))]

    def candidates(self, words: list[str]) -> list[list[str]]:
        t = time.perf_counter()
        pieces = [self.tok.convert_tokens_to_ids(self.tok.tokenize(w)) for w in words]
        flat, first = [], []
        for p in pieces:
            first.append(len(flat))
            flat += p
        flat = flat[:510]  # the rest of the paragraph is cut off, as in the original
        cands: list[list[str]] = [[] for _ in words]
        masked = [i for i, p in enumerate(pieces) if len(p) == 1 and first[i] < 510]
        seqs = []
        for i in masked:
            ids = list(flat)
            ids[first[i]] = self.tok.mask_token_id
            seqs.append([self.tok.cls_token_id, *ids, self.tok.sep_token_id])
        for b in range(0, len(seqs), self.batch_size):
            batch = torch.tensor(seqs[b:b + self.batch_size], device=self.device)  # (16, T): one paragraph
            with torch.no_grad():
                logits = self.model(input_ids=batch).logits  # (16, T, V): the head at every position
            for r, i in enumerate(masked[b:b + self.batch_size]):
                top = torch.topk(logits[r, first[i] + 1], self.top_k).indices.tolist()
                cands[i] = [self.vocab[j] for j in top if not self.vocab[j].startswith("##")]
        self.timers["lm"] += time.perf_counter() - t
        t = time.perf_counter()
        for i, p in enumerate(pieces):
            if len(p) > 1 and words[i] in self.glove_index:  # one full product per occurrence
                sims = self.glove @ self.glove[self.glove_index[words[i]]]  # (V,)
                top = torch.topk(sims, self.top_k + 1).indices.tolist()
                cands[i] = [self.glove_words[j] for j in top if self.glove_words[j] != words[i]][:self.top_k]
        self.timers["glove"] += time.perf_counter() - t
        return cands

    def augment_paragraph(self, examples: list[dict], n: int) -> list[dict]:
        """``n`` x len(examples) rows; every answer discarded, as the original does."""
        words = self.basic_words(examples[0]["context"])
        cands = self.candidates(words)
        t = time.perf_counter()
        rows = []
        for v in range(1, n + 1):
            out = []
            for w, c in zip(words, cands):  # a Python loop per word per variant
                out.append(c[self.rng.integers(len(c))] if c and self.rng.random() < self.p else w)
            context = " ".join(out)
            for ex in examples:
                rows.append({"id": f"{ex['id']}-{v}", "title": ex.get("title", ""), "context": context,
                             "question": ex["question"], "answers": {"text": [], "answer_start": []},
                             "is_impossible": False})
        self.timers["sample"] += time.perf_counter() - t
        return rows
