"""Masked-LM replacement candidates for words that are a single piece of the model's vocabulary.

Which words are single pieces is asked of the tokenizer, never guessed from ``##`` markers: the
context is tokenised once with offsets, and a word is a single piece when exactly one token covers it
and that token's character span equals the word's. That holds for WordPiece (BERT) and byte-level
BPE (RoBERTa, where a word after a space is one ``Ġword`` token) alike.

Modes (all see the whole context; contexts longer than the model take a window centred on the mask,
so the words after token 510 get candidates too, unlike the known tools):
- ``exact``: one sequence per masked word, TinyBERT's method. Masked copies of one context have the
  same length, so they are batched without padding and give the same top-k as one pass per word.
- ``multi``: several eligible words, spread evenly, masked in one sequence (about ``mask_rate`` of its
  tokens), so a paragraph needs a handful of passes instead of one per word. Candidates differ from
  ``exact`` (the neighbours of a mask are masks sometimes); bookkeeping does not.

The LM head runs only at masked positions: (M, H) hidden states instead of (B, T, H).
"""
from __future__ import annotations

import math
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from augment.errors import ConfigError
from augment.segment import Word

MODES = ("exact", "multi")


@dataclass(frozen=True)
class MaskSite:
    """A word to mask: its index in the word list, its token position, and the space before it."""

    word_index: int
    token_index: int  # position among the content (non-special) tokens of the whole text
    spaced: bool  # preceded by whitespace: byte-level BPE predicts a "Ġword" token there


def resolve_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ConfigError(f"device={device!r}: use 'auto', 'cpu' or 'cuda'")
    return device


class MaskedLMCandidates:
    """Top-k replacement words from a masked LM, per text, for its single-piece eligible words.

        >>> gen = MaskedLMCandidates.from_pretrained("bert-base-uncased", top_k=15)   # doctest: +SKIP
        >>> words = split_words("The band toured Europe.")                             # doctest: +SKIP
        >>> gen.candidates("The band toured Europe.", words, [1, 2, 3])                # doctest: +SKIP
        {1: ['group', ...], 2: [...], 3: [...]}
    """

    def __init__(self, model, tokenizer, top_k: int = 15, mode: str = "exact", batch_size: int = 64,
                 mask_rate: float = 0.15, device: str = "cpu", dtype: str = "auto"):
        import torch

        if mode not in MODES:
            raise ConfigError(f"mlm_mode={mode!r}: use one of {MODES}")
        if not getattr(tokenizer, "is_fast", False):
            raise ConfigError(f"the masked LM's tokenizer {type(tokenizer).__name__} is not a fast "
                              "tokenizer; character offsets are needed")
        if tokenizer.mask_token_id is None:
            raise ConfigError(f"tokenizer {tokenizer.name_or_path!r} has no mask token")
        if not 0 < mask_rate <= 0.5:
            raise ConfigError(f"mask_rate={mask_rate}: use a value in (0, 0.5]")
        self.tokenizer, self.top_k, self.mode = tokenizer, top_k, mode
        self.batch_size, self.mask_rate = batch_size, mask_rate
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.autocast_dtype = _autocast_dtype(dtype, self.device)
        self.max_len = min(int(getattr(model.config, "max_position_embeddings", 512)),
                           int(tokenizer.model_max_length if tokenizer.model_max_length < 1e6 else 512))
        # RoBERTa reserves positions 0..padding_idx, so its usable length is smaller than the table.
        if getattr(model.config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
            self.max_len = min(self.max_len, model.config.max_position_embeddings - model.config.pad_token_id - 1)
        self._head = _lm_head(model)
        self._build_vocab_filter(model)
        self._torch = torch

    @classmethod
    def from_pretrained(cls, name_or_path: str, revision: str | None = None, trust_remote_code: bool = False,
                        **kwargs):
        """Load tokenizer and model; ``trust_remote_code`` is passed to both loaders (off by default)."""
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(name_or_path, revision=revision, trust_remote_code=trust_remote_code)
        model = AutoModelForMaskedLM.from_pretrained(name_or_path, revision=revision,
                                                     trust_remote_code=trust_remote_code)
        return cls(model, tok, **kwargs)

    def _build_vocab_filter(self, model) -> None:
        """Which vocabulary ids may replace a word: alphabetic whole words, never special or unused."""
        tok = self.tokenizer
        n_out = model.get_output_embeddings().weight.shape[0]
        decoded = tok.batch_decode([[i] for i in range(min(len(tok), n_out))])
        special = set(tok.all_special_ids)
        # Byte-level BPE marks a word start with its leading space; WordPiece has no such distinction.
        self.space_sensitive = (tok(" hello", add_special_tokens=False)["input_ids"]
                                != tok("hello", add_special_tokens=False)["input_ids"])
        bare = np.zeros(n_out, dtype=bool)
        spaced = np.zeros(n_out, dtype=bool)
        for i, s in enumerate(decoded):
            if i in special:
                continue
            if s.isalpha():
                bare[i] = True
            elif s[:1] == " " and s[1:].isalpha():
                spaced[i] = True
        if not self.space_sensitive:
            spaced = bare
        self.words = [s.strip() for s in decoded] + [""] * (n_out - len(decoded))
        import torch

        self._valid = {False: torch.from_numpy(bare), True: torch.from_numpy(spaced)}

    # -- which words to mask -------------------------------------------------------------------------
    def encode(self, text: str, words: list[Word], eligible) -> tuple[list[int], list[int], list[int], list[MaskSite]]:
        """Tokenise ``text`` once; return prefix ids, content ids, suffix ids and the single-piece sites."""
        enc = self.tokenizer(text, return_offsets_mapping=True, return_special_tokens_mask=True,
                             verbose=False)
        ids, offsets, special = enc["input_ids"], enc["offset_mapping"], enc["special_tokens_mask"]
        content = [i for i, s in enumerate(special) if not s]
        first, last = (content[0], content[-1]) if content else (len(ids), len(ids) - 1)
        prefix, suffix = ids[:first], ids[last + 1:]
        content_ids = ids[first:last + 1]
        # Count the tokens that overlap each word, and remember a token that spans it exactly.
        starts = [w.start for w in words]
        n_tokens = [0] * len(words)
        exact_tok = [-1] * len(words)
        for t, (s, e) in enumerate(offsets[first:last + 1]):
            if e <= s:
                continue
            wi = bisect_right(starts, s) - 1
            while wi < len(words) and words[wi].start < e:
                if words[wi].end > s:
                    n_tokens[wi] += 1
                    if (s, e) == (words[wi].start, words[wi].end):
                        exact_tok[wi] = t
                wi += 1
        # A word the tokenizer maps to its unknown token is not an in-vocabulary piece: GloVe takes it.
        unk = self.tokenizer.unk_token_id
        sites = [MaskSite(wi, exact_tok[wi], words[wi].start > 0 and text[words[wi].start - 1].isspace())
                 for wi in eligible if n_tokens[wi] == 1 and exact_tok[wi] >= 0
                 and (unk is None or content_ids[exact_tok[wi]] != unk)]
        return prefix, content_ids, suffix, sites

    def _window(self, n_content: int, n_special: int, centre: int) -> int:
        """Start of the content window of the model's length centred on ``centre``."""
        room = self.max_len - n_special
        if n_content <= room:
            return 0
        return int(min(max(centre - room // 2, 0), n_content - room))

    def plan(self, text: str, words: list[Word], eligible) -> list[tuple[list[int], list[int], list[MaskSite]]]:
        """Sequences to run: (input ids, mask positions in them, the sites those masks are)."""
        prefix, content, suffix, sites = self.encode(text, words, eligible)
        if not sites:
            return []
        n_special = len(prefix) + len(suffix)
        room = self.max_len - n_special
        mask_id = self.tokenizer.mask_token_id
        if self.mode == "exact":
            groups = [[s] for s in sites]
        else:
            groups = self._multi_groups(sites, len(content), room)
        out = []
        for group in groups:
            centre = (group[0].token_index + group[-1].token_index) // 2
            a = self._window(len(content), n_special, centre)
            window = list(content[a:a + room])
            for s in group:
                window[s.token_index - a] = mask_id
            out.append((prefix + window + suffix, [len(prefix) + s.token_index - a for s in group], group))
        return out

    def _multi_groups(self, sites: list[MaskSite], n_content: int, room: int) -> list[list[MaskSite]]:
        """Spread the sites over few sequences: neighbours in a group are several sites apart."""
        # Long texts first split into windows of the model's length (half-overlapping blocks).
        block = max(room // 2, 1)
        by_window: dict[int, list[MaskSite]] = {}
        for s in sites:
            by_window.setdefault(s.token_index // block if n_content > room else 0, []).append(s)
        groups = []
        for _, ws in sorted(by_window.items()):
            seq_len = min(n_content, room)
            per_seq = max(1, int(round(self.mask_rate * seq_len)))
            n_groups = math.ceil(len(ws) / per_seq)
            groups.extend([ws[g::n_groups] for g in range(n_groups)])
        return groups

    # -- running the model ---------------------------------------------------------------------------
    def candidates_many(self, items) -> list[dict[int, list[str]]]:
        """Candidates for many texts at once: ``items`` is a list of (text, words, eligible indices).

        Sequences of all texts are sorted by length and batched; only equal lengths share a batch, so
        no padding enters any sequence and the result does not depend on which texts share a call.
        """
        torch = self._torch
        results: list[dict[int, list[str]]] = [dict() for _ in items]
        jobs = []  # (length, item index, ids, positions, sites)
        for k, (text, words, eligible) in enumerate(items):
            for ids, pos, group in self.plan(text, words, eligible):
                jobs.append((len(ids), k, ids, pos, group, words))
        jobs.sort(key=lambda j: j[0])
        b = 0
        while b < len(jobs):
            e = b
            while e < len(jobs) and e - b < self.batch_size and jobs[e][0] == jobs[b][0]:
                e += 1
            batch = jobs[b:e]
            ids = torch.tensor([j[2] for j in batch], device=self.device)  # (B, T)
            rows = torch.tensor([r for r, j in enumerate(batch) for _ in j[3]], device=self.device)
            cols = torch.tensor([p for j in batch for p in j[3]], device=self.device)
            logits = self._masked_logits(ids, rows, cols)  # (M, V)
            sites = [(j[1], s, j[5], ids[r, 0]) for r, j in enumerate(batch) for s in j[4]]
            for m, (k, site, words, _) in enumerate(sites):
                results[k][site.word_index] = self._top_words(logits[m], site, words[site.word_index].text)
            b = e
        return results

    def candidates(self, text: str, words: list[Word], eligible) -> dict[int, list[str]]:
        """``{word index: [candidate, ...]}`` for the single-piece eligible words of one text."""
        return self.candidates_many([(text, words, eligible)])[0]

    def _masked_logits(self, ids, rows, cols):
        torch = self._torch
        with torch.inference_mode(), torch.autocast(self.device.split(":")[0], dtype=self.autocast_dtype,
                                                    enabled=self.autocast_dtype is not None):
            if self._head is None:  # no separable head: full forward, then gather
                return self.model(input_ids=ids).logits[rows, cols].float()
            hidden = self.model.base_model(input_ids=ids).last_hidden_state  # (B, T, H)
            return self._head(hidden[rows, cols]).float()  # (M, V): the head only where masked

    def _top_words(self, logits, site: MaskSite, word: str) -> list[str]:
        torch = self._torch
        scores = logits.masked_fill(~self._valid[site.spaced and self.space_sensitive].to(logits.device),
                                    float("-inf"))
        k = min(self.top_k + 4, scores.shape[0])
        top = torch.topk(scores, k).indices.tolist()
        own = fold(word)  # uncased vocabularies hold "cafe" for "café": that is the word itself
        out = [self.words[i] for i in top if torch.isfinite(scores[i]) and fold(self.words[i]) != own]
        return out[:self.top_k]


def fold(word: str) -> str:
    """``word`` without accents and case: NFD, combining marks dropped, casefolded.

        >>> fold("Café") == fold("CAFE") == "cafe"
        True
    """
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c)).casefold()


def _lm_head(model):
    """The module that maps hidden states to vocabulary logits, when it is separable."""
    for name in ("cls", "lm_head"):
        head = getattr(model, name, None)
        if head is not None:
            return head
    return None


def _autocast_dtype(dtype: str, device: str):
    import torch

    table = {"auto": None, "float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype not in table:
        raise ConfigError(f"dtype={dtype!r}: use one of {sorted(table)}")
    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return None
    if table[dtype] is torch.float16 and not device.startswith("cuda"):
        raise ConfigError("dtype='float16' needs a CUDA device; use 'bfloat16' or 'float32' on CPU")
    return table[dtype]
