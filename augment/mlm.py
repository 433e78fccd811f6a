"""Masked-LM replacement candidates for words that are a single piece of the model's vocabulary.

Which words are single pieces is asked of the tokenizer, never guessed from ``##`` markers: the
context is tokenised once with offsets, and a word is a single piece when exactly one token covers it
and that token's character span, whitespace at its ends aside, equals the word's. That holds for WordPiece
(BERT) and byte-level BPE (RoBERTa, where a word after a space is one ``Ġword`` token; DeBERTa, whose
``Ġword`` offsets include the space) alike. Byte-level BPE spells a word without a space before it (a
text's first word, one after ``(`` or a newline) with other, bare tokens, which may split where ``Ġword``
does not, or the other way round; so a word is judged by its ``Ġword`` form (in NFC) wherever it stands,
and where it is bare or typed with decomposed accents its pieces are masked as one.

Modes (all see the whole context; contexts longer than the model take a window centred on the mask,
so the words after token 510 get candidates too, unlike the known tools):
- ``exact``: one sequence per masked word (with ``context="masked"`` Haystack's input, with ``"paired"``
  TinyBERT's, see below); in float32 the same top-k as one pass per word (up to float ties: padding
  changes the last bits of some scores, see BENCHMARKS.md; bfloat16 autocast changes more of them).
- ``multi``: several eligible words, spread evenly, masked in one sequence (about ``mask_rate`` of its
  tokens), so a paragraph needs a handful of passes instead of one per word. Candidates differ from
  ``exact`` (the neighbours of a mask are masks sometimes); bookkeeping does not.

Contexts (``context=``, ``--mlm-context``):
- ``masked`` (default): the masked text alone. With ``exact`` that is the input of Haystack 1.x's
  ``augment_squad.py``, the seed model's toolchain (which masks every single-piece word; here only the
  eligible ones).
- ``paired``: TinyBERT's input, the masked text followed by the original text as a sentence pair (token
  type ids 0 then 1 where the model has them), so the model sees the word it replaces. The pair layout
  is the tokenizer's own (:mod:`augment.pairing`). A pair longer than the model takes the same window
  around the mask in both halves, each half at most (model length - special tokens) / 2 tokens, so a
  pass costs about twice as much (BENCHMARKS.md section 8).

The LM head runs only at masked positions: (M, H) hidden states instead of (B, T, H). Sequences of
many texts share padded, length-sorted batches (``augment.batching``), and the candidates are chosen
on the device: per pass one copy of its inputs to the device (one staged buffer), one masked fill with
the resident vocabulary filter, one top-k and one copy of the (M, k) indices to the host, where the word
itself is dropped. No per-site device work and no
scalar syncs (a ``torch.isfinite`` per candidate used to cost half of the candidate time on a GPU).
"""
from __future__ import annotations

import math
import time
import unicodedata
from bisect import bisect_right
from itertools import chain
from dataclasses import dataclass

import numpy as np

from augment.batching import Batch, LMStats, plan_batches
from augment.errors import ConfigError
from augment.pairing import pair_template
from augment.qa.attention import set_fast_attention
from augment.qa.attention_mask import mask_4d
from augment.qa.positions import usable_positions, vocabulary_problem
from augment.segment import Word, fold, strip_span  # noqa: F401  (fold: also this module's, as before)
from augment.transfers import to_device, to_host, wait

MODES = ("exact", "multi")
CONTEXTS = ("masked", "paired")


@dataclass(frozen=True)
class MaskSite:
    """A word to mask: its index in the word list, its token position, the space before it, and how many
    tokens one mask replaces."""

    word_index: int
    token_index: int  # position among the content (non-special) tokens of the whole text
    spaced: bool  # its token starts with a space ("Ġword" in byte-level BPE): so must its replacement
    pieces: int = 1  # >1: a word that is one token after a space in NFC: bare "D an iel", "ĠBeyonce" + U+0301


def resolve_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ConfigError(f"device={device!r}: use 'auto', 'cpu' or 'cuda'")
    if device != "cpu" and not torch.cuda.is_available():  # else torch's AssertionError at model.to(device)
        raise ConfigError(f"device={device!r}: CUDA is not available here; use 'cpu' or 'auto'")
    return device


class MaskedLMCandidates:
    """Top-k replacement words from a masked LM, per text, for its single-piece eligible words.

        >>> gen = MaskedLMCandidates.from_pretrained("bert-base-uncased", top_k=15)   # doctest: +SKIP
        >>> words = split_words("The band toured Europe.")                             # doctest: +SKIP
        >>> gen.candidates("The band toured Europe.", words, [1, 2, 3])                # doctest: +SKIP
        {1: ['group', ...], 2: [...], 3: [...]}
    """

    def __init__(self, model, tokenizer, top_k: int = 15, mode: str = "exact", batch_size: int = 64,
                 mask_rate: float = 0.15, device: str = "cpu", dtype: str = "auto", context: str = "masked",
                 max_batch_tokens: int | None = None, pad_multiple: int = 8):
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
        if context not in CONTEXTS:
            raise ConfigError(f"mlm_context={context!r}: use one of {CONTEXTS}")
        self.context = context
        # Token type ids only for a model with a type vocabulary (BERT: 2; RoBERTa: 1, none to give).
        self._pair = (pair_template(tokenizer, token_types=getattr(model.config, "type_vocab_size", 0) >= 2)
                      if context == "paired" else None)
        self._pair_types: dict[tuple[int, int], list[int] | None] = {}  # (length, merged) -> token type ids
        self._after_space: dict[str, bool] = {}  # word -> whether " word" is one token (space-sensitive only)
        self.tokenizer, self.top_k, self.mode = tokenizer, top_k, mode
        if max_batch_tokens is not None and max_batch_tokens < 1:
            raise ConfigError(f"max_batch_tokens={max_batch_tokens!r}: use an integer >= 1, or None")
        self.batch_size, self.mask_rate, self.max_batch_tokens = batch_size, mask_rate, max_batch_tokens
        if not isinstance(pad_multiple, int) or pad_multiple < 1:
            raise ConfigError(f"pad_multiple={pad_multiple!r}: use an integer >= 1")
        # Each pass's length is rounded up to this (tensor cores like multiples of 8); 1 runs a sequence alone
        # unpadded, the reference the padded batches are compared with (tests, benchmarks/padding_effect.py).
        self.pad_multiple = pad_multiple
        self.device = resolve_device(device)
        self.stats = LMStats()
        # Seconds of set-up by part, for the manifest; from_pretrained adds its loading time.
        self.timings: dict[str, float] = {}
        # SDPA where the model has it: an eager-loaded BERT or RoBERTa (attn_implementation="eager", or a config
        # that says so) would materialise every (B, H, T, T) probability matrix for outputs that SDPA gives
        # alike (tests/test_mlm.py compares the candidates). Before _check_4d_mask, which tries the mask of the
        # implementation the model runs. The model stays switched: this object uses it for its whole life.
        self.attention_was = set_fast_attention(model)  # the implementation it arrived with, None if unchanged
        t = time.perf_counter()
        self.model = model.to(self.device).eval()
        if self.device.startswith("cuda"):
            torch.cuda.synchronize(self.device)
        self.timings["to_device"] = time.perf_counter() - t
        # Padding: the tokenizer's pad token, else its unknown token; the attention mask hides it.
        self.pad_id = next(i for i in (tokenizer.pad_token_id, tokenizer.unk_token_id, 0) if i is not None)
        self.autocast_dtype = _autocast_dtype(dtype, self.device)
        # The model's positions (RoBERTa's family reserves 0..padding_idx: augment.qa.positions) and the
        # tokenizer's limit, whichever is smaller; 512 where neither says.
        self.max_len = min(int(usable_positions(model.config) or 512),
                           int(tokenizer.model_max_length if tokenizer.model_max_length < 1e6 else 512))
        self._head = _lm_head(model)
        t = time.perf_counter()
        self._build_vocab_filter(model)
        self.timings["vocab_filter"] = time.perf_counter() - t
        self._torch = torch
        self._takes_4d_mask = self._check_4d_mask()

    @classmethod
    def from_pretrained(cls, name_or_path: str, revision: str | None = None, trust_remote_code: bool = False,
                        **kwargs):
        """Load tokenizer and model; ``trust_remote_code`` is passed to both loaders (off by default)."""
        t = time.perf_counter()
        from transformers import AutoModelForMaskedLM, AutoTokenizer
        from .versions import require_transformers
        from .weights import load_float32, untrained

        require_transformers()  # an older one fails mid-run, in the masked LM's forward pass

        t_import = time.perf_counter() - t
        resolve_device(kwargs.get("device", "cpu"))  # a device this torch lacks: refused before the load
        t = time.perf_counter()
        tok = AutoTokenizer.from_pretrained(name_or_path, revision=revision, trust_remote_code=trust_remote_code)
        model, info = load_float32(AutoModelForMaskedLM, name_or_path, revision=revision,
                                   trust_remote_code=trust_remote_code, output_loading_info=True)
        # A checkpoint of another task (BertForQuestionAnswering, a bare encoder) loads as a masked LM all
        # the same, with a randomly initialised head: every candidate would be noise. Tied weights (the
        # decoder sharing the input embeddings, often absent from the file) are not reported missing.
        if lacks := untrained(model, info, "masked-LM"):
            raise ConfigError(f"{name_or_path!r} has {lacks}, so its candidates would be random; use a masked-LM "
                              "checkpoint such as bert-base-uncased, not a question-answering or other task model")
        if problem := vocabulary_problem(model.config, tok, "masked LM"):  # else an IndexError in its forward pass
            raise ConfigError(f"{name_or_path!r}: {problem}")
        t_load = time.perf_counter() - t
        gen = cls(model, tok, **kwargs)
        gen.timings.update(import_transformers=t_import, model_load=t_load)
        return gen

    def _build_vocab_filter(self, model) -> None:
        """Which vocabulary ids may replace a word: alphabetic whole words, never special or unused.

        Kept twice: on the host (numpy, to read the top-k indices) and on the model's device, so the
        filter is applied to all masked positions of a pass at once and never copied per site."""
        import torch

        tok = self.tokenizer
        n_out = model.get_output_embeddings().weight.shape[0]
        n = min(len(tok), n_out)
        # Byte-level BPE marks a word start with its leading space; WordPiece has no such distinction.
        self.space_sensitive = (tok(" hello", add_special_tokens=False)["input_ids"]
                                != tok("hello", add_special_tokens=False)["input_ids"])
        pieces = vocabulary_after_a_token(tok, n)
        special = np.zeros(n_out, dtype=bool)
        special[[i for i in tok.all_special_ids if i < n_out]] = True
        alpha_tail = np.array([p[1:].isalpha() for p in pieces] + [False] * (n_out - n))
        self._starts_spaced = np.array([p[:1] == " " for p in pieces] + [False] * (n_out - n))  # (V,)
        spaced = self._starts_spaced & alpha_tail & ~special
        if self.space_sensitive:  # "the" (no space before it) and " the" are different tokens
            # A bare token replaces a word with no space before it (a text's first word, one after "("), but
            # most bare tokens are pieces of words ("ing", "uished"). It counts as a word only if the word
            # also has a token after a space: "the" and " the" do, pieces do not.
            words_after_space = {p[1:] for p, ok in zip(pieces, spaced) if ok}
            bare = np.array([p.isalpha() and p in words_after_space for p in pieces]
                            + [False] * (n_out - n)) & ~special
        else:  # a whole word is a token that starts a new word after another token
            bare = spaced
        self.words = [p.strip() for p in pieces] + [""] * (n_out - n)
        # Folded once here, not per candidate per site: on a GPU the host's per-pass work is the limit.
        self._folded = [fold(w) if ok else "" for w, ok in zip(self.words, bare | spaced)]
        self._lowered = [w.lower() for w in self.words]  # "The" and "the": one candidate (_top_words)
        self._valid_host = np.stack([bare, spaced])  # (2, V): row 1 where a space precedes the word
        self._valid = torch.from_numpy(self._valid_host).to(self.device)  # (2, V), resident
        # Per row, the most ids that fold to one word (all dropped when it is the masked word) and the most that
        # lower-case to one word (one candidate): what the top-k width must leave room for (width).
        self._crowding = [(_largest_class(self._folded, row), _largest_class(self._lowered, row))
                          for row in self._valid_host]
        self._n_vocab = n_out

    @property
    def width(self) -> int:
        """How many ids the top-k takes per masked word: enough that ``top_k`` candidates remain whenever the
        vocabulary filter's row holds that many distinct words.

        The word itself drops at most F ids (its spellings in any case or accent) and each candidate takes at
        most G ids ("ĠThe", "Ġthe", "ĠTHE": one word once the case is matched), so F + (top_k - 1) G + 1 valid
        ids hold top_k distinct other words; fewer valid ids than that are all in the top-k. The former
        top_k + 4 left short lists in a cased vocabulary (BENCHMARKS.md section 10); it stays the least width,
        so an uncased vocabulary (G = 1, F = 2 for bert-base-uncased) runs the same top-k as before, and its
        candidates are unchanged even where float ties would order differently in another width."""
        need = max(f + (self.top_k - 1) * g + 1 for f, g in self._crowding)
        return min(max(self.top_k + 4, need), self._n_vocab)

    # -- which words to mask -------------------------------------------------------------------------
    def encode(self, text: str, words: list[Word], eligible) -> tuple[list[int], list[int], list[int], list[MaskSite]]:
        """Tokenise ``text`` once; return prefix ids, content ids, suffix ids and the single-piece sites."""
        # split_special_tokens: a text that spells a special token ("<s>" of HTML strikethrough, "<mask>",
        # "[MASK]") is text to the model, not a second mask, a sequence start or (RoBERTa) a padding id
        # that shifts the positions after it.
        enc = self.tokenizer(text, return_offsets_mapping=True, return_special_tokens_mask=True,
                             split_special_tokens=True, verbose=False)
        ids, offsets, special = enc["input_ids"], enc["offset_mapping"], enc["special_tokens_mask"]
        content = [i for i, s in enumerate(special) if not s]
        first, last = (content[0], content[-1]) if content else (len(ids), len(ids) - 1)
        prefix, suffix = ids[:first], ids[last + 1:]
        content_ids = ids[first:last + 1]
        # Per word: the tokens that overlap it (first index and count), a token that spans it exactly, and
        # whether every overlapping token lies within the word.
        starts = [w.start for w in words]
        n_tokens = [0] * len(words)
        first_tok = [-1] * len(words)
        exact_tok = [-1] * len(words)
        inside = [True] * len(words)
        for t, (s, e) in enumerate(offsets[first:last + 1]):
            # A byte-level BPE whose post-processor does not trim offsets (DeBERTa's template, RoBERTa's with
            # trim_offsets=False) gives "Ġword" the span of its space too: it still covers the word alone.
            # WordPiece offsets never cover whitespace, so they are unchanged.
            s, e = strip_span(text, s, e)
            if e <= s:
                continue
            wi = bisect_right(starts, s) - 1
            while wi < len(words) and words[wi].start < e:
                if words[wi].end > s:
                    n_tokens[wi] += 1
                    first_tok[wi] = t if first_tok[wi] < 0 else first_tok[wi]
                    inside[wi] = inside[wi] and words[wi].start <= s and e <= words[wi].end
                    if s == words[wi].start and (e == words[wi].end or _marks_only(text, e, words[wi].end)):
                        exact_tok[wi] = t
                wi += 1
        # A word the tokenizer maps to its unknown token is not an in-vocabulary piece: GloVe takes it.
        unk = self.tokenizer.unk_token_id
        sites = []
        # In text order, each once: a multi-mode sequence is built by walking its sites from left to right
        # (plan), so indices given out of order or twice put the masks at other words' places.
        for wi in sorted(set(eligible)):
            w = words[wi]
            if n_tokens[wi] == 1 and exact_tok[wi] >= 0:
                t, pieces = exact_tok[wi], 1
            elif (self.space_sensitive and n_tokens[wi] > 1 and inside[wi]
                  and strip_span(text, *offsets[first + first_tok[wi]])[0] == w.start):
                t, pieces = first_tok[wi], n_tokens[wi]  # several pieces within the word: judged below
            else:
                continue
            if unk is not None and unk in content_ids[t:t + pieces]:
                continue
            # Whether the word's token carries a space before it is the tokenizer's answer, not the text's:
            # byte-level BPE folds a plain space into "Ġword", but a word after a tab, a newline or a
            # no-break space is a bare token, and must be replaced by one.
            tid = content_ids[t]
            spaced = bool(self._starts_spaced[tid]) if tid < len(self._starts_spaced) else False
            # Byte-level BPE spells a word two ways: "Ġword" after a space, bare "word" elsewhere (a text's
            # first word, one after "(" or a newline), and the two may split differently: "Daniel" at a
            # text's start was "D an iel" while "ĠDaniel" mid-text is one token. A word is judged by its form
            # after a space wherever it stands, the form the candidates are words of (_build_vocab_filter):
            # one "Ġword" token makes it the masked LM's, its bare pieces then masked as one; otherwise it
            # goes to GloVe even where its bare form is one token. That form is asked in NFC, as eligibility
            # is: the byte-level pre-tokenizer splits every combining mark from its letter, so "Beyonce\u0301"
            # is "ĠBeyonce" and the mark's bytes even where "ĠBeyoncé" is one token.
            if self.space_sensitive and (pieces > 1 or not spaced):
                nfc = unicodedata.normalize("NFC", w.text)
                if (spaced and nfc == w.text) or not self._one_token_after_space(nfc):  # "Ġwo" "rd": not one
                    continue
            sites.append(MaskSite(wi, t, spaced, pieces))
        return prefix, content_ids, suffix, sites

    def _one_token_after_space(self, word: str) -> bool:
        """Whether " word" is one known token: asked of the tokenizer, once per word (only words without a
        space token before them, and decomposed ones, are asked)."""
        if len(self._after_space) >= 1 << 16:  # a bound on the memory of a long run; asking again is cheap
            self._after_space.clear()
        if word not in self._after_space:
            ids = self.tokenizer(" " + word, add_special_tokens=False)["input_ids"]
            self._after_space[word] = len(ids) == 1 and ids[0] != self.tokenizer.unk_token_id
        return self._after_space[word]

    def _window(self, n_content: int, room: int, centre: int) -> int:
        """Start of the content window of ``room`` tokens centred on ``centre``."""
        if n_content <= room:
            return 0
        return int(min(max(centre - room // 2, 0), n_content - room))

    def plan(self, text: str, words: list[Word], eligible) -> list[tuple[list[int], list[int], list[MaskSite]]]:
        """Sequences to run: (input ids, mask positions in them, the sites those masks are)."""
        prefix, content, suffix, sites = self.encode(text, words, eligible)
        if not sites:
            return []
        if self._pair is None:
            room = self.max_len - len(prefix) - len(suffix)
        else:  # both halves of the pair hold the same window
            room = (self.max_len - self._pair.n_special) // 2
        mask_id = self.tokenizer.mask_token_id
        if self.mode == "exact":
            groups = [[s] for s in sites]
        else:
            groups = self._multi_groups(sites, len(content), room)
        out = []
        for group in groups:
            centre = (group[0].token_index + group[-1].token_index + group[-1].pieces - 1) // 2
            a = self._window(len(content), room, centre)
            original = content[a:a + room]
            # Each site's tokens become one mask (several: a word's bare BPE pieces, see encode), so the
            # positions after a merged site move back.
            window, positions, at = [], [], 0
            for s in group:
                window += original[at:s.token_index - a]
                positions.append(len(window))
                window.append(mask_id)
                at = s.token_index - a + s.pieces
            window += original[at:]
            if self._pair is None:
                ids, first = prefix + window + suffix, len(prefix)
            else:  # TinyBERT: the masked window, then the same window unmasked
                ids, _, first = self._pair.build(window, original)
            out.append((ids, [first + p for p in positions], group))
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

        The sequences of all texts are sorted by length and cut into padded batches of ``batch_size``
        (:func:`augment.batching.plan_batches`); the plan depends only on ``items`` and the options.
        Per pass, the candidates of every masked position are chosen on the device (vocabulary filter,
        one top-k) and their indices come to the host in one copy. The copy of pass i is read after
        pass i+1 has been queued, so on a GPU the host never waits for a pass it could overlap.
        """
        results: list[dict[int, list[str]]] = [dict() for _ in items]
        jobs, plan = self.batch_plan(items)
        pending = None
        for batch in plan:
            launched = (batch, self._launch([jobs[i] for i in batch.jobs], batch.length))
            if pending is not None:
                self._collect(*pending, jobs, results)
            pending = launched
        if pending is not None:
            self._collect(*pending, jobs, results)
        return results

    def candidates(self, text: str, words: list[Word], eligible) -> dict[int, list[str]]:
        """``{word index: [candidate, ...]}`` for the single-piece eligible words of one text."""
        return self.candidates_many([(text, words, eligible)])[0]

    def batch_plan(self, items) -> tuple[list[tuple], list[Batch]]:
        """The sequences of ``items`` (item index, ids, mask positions, sites, words) and their batches.
        Needs the tokenizer only: what a call would run is known without the model."""
        jobs = []
        for k, (text, words, eligible) in enumerate(items):
            for ids, pos, group in self.plan(text, words, eligible):
                jobs.append((k, ids, pos, group, words))
        return jobs, plan_batches([len(j[1]) for j in jobs], self.batch_size, self.max_batch_tokens,
                                  pad_multiple=self.pad_multiple, max_length=self.max_len)

    def dry_run(self, items) -> LMStats:
        """The counters :meth:`candidates_many` would add for ``items``, without running the model."""
        stats = LMStats()
        jobs, plan = self.batch_plan(items)
        for batch in plan:
            _count(stats, [jobs[i] for i in batch.jobs], batch.length, self.batch_size)
        # One copy each way per pass, by construction (_launch); tests/test_mlm.py checks it against the torch calls.
        stats.host_transfers = stats.device_transfers = stats.forward_passes
        return stats

    def _launch(self, batch_jobs, length: int):
        """Queue one pass; returns the (M, k) top-k indices on their way to the host."""
        torch = self._torch
        b, m = len(batch_jobs), sum(len(j[2]) for j in batch_jobs)
        rows = [r for r, j in enumerate(batch_jobs) for _ in j[2]]
        cols = [p for j in batch_jobs for p in j[2]]
        spaced = [int(s.spaced and self.space_sensitive) for j in batch_jobs for s in j[3]]
        lengths = np.fromiter((len(j[1]) for j in batch_jobs), dtype=np.int64, count=b)  # (B,)
        # No mask when the batch has no padding: the plain path, as one sequence alone would run.
        # A pad id may also be a real token (some models pad with [UNK]): mark by length, not by value.
        padded = bool((lengths < length).any())
        typed = self.token_types(len(batch_jobs[0][1])) is not None  # paired input on a model with token types
        # Everything the pass sends to the device, staged in one int64 host buffer and copied once: each copy
        # is a pinned host allocation and a launch, and there were up to 6 per pass (issue 9). The device
        # takes views of it; int64 suits every part (ids, token types and indices; the mask is compared there).
        sizes = [b * length, b * length if typed else 0, b if padded else 0, m, m, m]
        staged = np.empty(sum(sizes), dtype=np.int64)
        ids_np, types_np, lengths_np, rows_np, cols_np, spaced_np = np.split(staged, np.cumsum(sizes)[:-1])
        # One C loop over all the batch's ids, scattered into the padded (B, T) array through the
        # row-major mask of real tokens: a tensor per row (exact mode: 64 per pass, 645 passes on the
        # SQuAD subset) cost more host time per pass than the GPU spent on it.
        keep_np = np.arange(length)[None, :] < lengths[:, None]  # (B, T): True at real tokens
        n_real = int(lengths.sum())
        ids_np = ids_np.reshape(b, length)  # (B, T)
        ids_np.fill(self.pad_id)
        ids_np[keep_np] = np.fromiter(chain.from_iterable(j[1] for j in batch_jobs), dtype=np.int64, count=n_real)
        if typed:
            types_np = types_np.reshape(b, length)  # (B, T)
            types_np.fill(0)
            types_np[keep_np] = np.fromiter(
                chain.from_iterable(self.token_types(len(j[1]), sum(s.pieces - 1 for s in j[3])) for j in batch_jobs),
                dtype=np.int64, count=n_real)
        if padded:
            lengths_np[:] = lengths  # the padding mask is built from them on the device
        rows_np[:], cols_np[:], spaced_np[:] = rows, cols, spaced
        with torch.inference_mode():
            ids, types, lengths_d, rows_d, cols_d, spaced_d = self._to_device(torch.from_numpy(staged)).split(sizes)
            ids = ids.view(b, length)  # (B, T)
            types = types.view(b, length) if typed else None  # (B, T)
            mask = None
            if padded:
                keep = torch.arange(length, device=ids.device)[None, :] < lengths_d[:, None]  # (B, T): real tokens
                mask = self._attention_mask(keep)
            logits = self._masked_logits(ids, mask, rows_d, cols_d, types)  # (M, V)
            # The filter row of each site (bare or after a space), resident on the device: (M, V) bool.
            valid = self._valid[spaced_d]
            # Room for the word itself in other spellings and for case duplicates: one width per vocabulary,
            # not a second top-k where a list came out short, which would be a second copy to the host.
            k = min(self.width, logits.shape[1])
            top = torch.topk(logits.masked_fill_(~valid, float("-inf")), k, dim=1).indices  # (M, k)
            host, done = self._to_host(top)  # the pass's one device-to-host copy, read after `done` (_collect)
        _count(self.stats, batch_jobs, length, self.batch_size)
        return host, done, spaced

    # Every copy between the host and the model's device in a pass goes through these two, which count it: the
    # counters are the copies, not a tally kept beside them (the tests check them against the torch calls). On a
    # CPU device nothing moves; the copies are counted all the same, so the counters do not depend on the device.
    def _to_device(self, tensor):
        self.stats.device_transfers += 1
        return to_device(tensor, self.device)  # on CUDA from pinned memory: queued behind the running pass

    def _to_host(self, tensor):
        """The copy on its way to the host, and the event to wait for before reading it (None off CUDA)."""
        self.stats.host_transfers += 1
        (host,), done = to_host(tensor, device=self.device)
        return host, done

    def _collect(self, batch, launched, jobs, results) -> None:
        host, done, spaced = launched
        wait(done)
        top = host.numpy()  # (M, k)
        m = 0
        for i in batch.jobs:
            k, _, _, group, words = jobs[i]
            for site in group:
                results[k][site.word_index] = self._top_words(top[m], spaced[m], words[site.word_index].text)
                m += 1

    def _attention_mask(self, keep):
        """The model's attention mask for a padded batch, from ``keep`` (B, T) on the device.

        transformers checks a 2D mask for padding with ``mask.all()``: a device-to-host sync per pass
        that makes the host wait for the previous pass, and that the ``host_transfers`` counter cannot
        see. A 4D mask is used as given, so we pass the one it would build: boolean for scaled-dot-product
        attention, additive (0 or the dtype's minimum, in the model's dtype) for eager attention, which
        masked LMs without SDPA use (MPNet, RoFormer, ConvBERT). Other kernels (flash attention) take the
        2D mask, and unpad with syncs of their own; so do models that set-up found do not take the 4D one."""
        return self._mask_4d(keep) if self._takes_4d_mask else keep.long()

    def _mask_4d(self, keep):
        """The 4D mask transformers would build from ``keep`` for the model's SDPA or eager attention."""
        sdpa = self.model.config._attn_implementation == "sdpa"
        return mask_4d(keep, None if sdpa else self.model.dtype)  # (B, 1, T, T)

    def _check_4d_mask(self) -> bool:
        """Whether the model gives the same hidden states for the 4D mask of :meth:`_mask_4d` as for the 2D one,
        tried once on two sequences (one padded; :func:`augment.qa.attention_mask.check_4d_mask`). Not every model
        hands the mask to transformers' mask builder alone: DeBERTa also multiplies its embeddings by it, and a 4D
        mask there is a shape error; ModernBERT builds its local attention from it. Such a model keeps the 2D mask,
        and with it, where transformers' mask builder reads that mask (``mask.all()``), one sync per padded pass;
        DeBERTa's own mask code reads nothing from it.

        Tried on 8 tokens, and past the longest local window the config declares (within :attr:`max_len`, the
        longest pass; :func:`augment.qa.attention_mask.probe_lengths`): within its window ModernBERT's local
        attention is global attention, so 8 tokens alone gave it the 4D mask, and its padded passes other
        candidates. Not at :attr:`max_len` itself (ModernBERT's is 8192 tokens: two passes that long at every
        set-up), as what else tells the masks apart (a shape error, a product with the embeddings, a causal mask)
        shows at any length."""
        from augment.qa.attention_mask import check_4d_mask, probe_lengths

        torch = self._torch
        implementation = getattr(self.model.config, "_attn_implementation", None)
        if implementation not in ("sdpa", "eager"):
            return False
        lengths = probe_lengths(self.model.config, min(8, self.max_len), self.max_len)
        vocab = self._valid_host.shape[1]
        ids = (torch.arange(max(lengths)) * 7919 + 101) % vocab  # (T,): spread over the vocabulary
        model = self.model.base_model if self._head is not None else self.model  # hidden states, or logits
        return check_4d_mask(model, {"input_ids": ids.to(self.device)}, lengths,
                             None if implementation == "sdpa" else self.model.dtype)

    def attention_record(self) -> dict:
        """What set-up decided about attention, for the manifest's ``lm`` section (it changes GPU speed, not the
        candidates): the implementation the model runs, the one it was loaded with where set-up switched it to
        SDPA (else None), and the mask of a padded pass: ``"4d"``, built here, or ``"2d"``, which transformers may
        check for padding with a device-to-host sync per padded pass that ``host_transfers`` does not count
        (BERT's SDPA path does; DeBERTa's own mask code does not).

            >>> gen.attention_record()                                                   # doctest: +SKIP
            {'attention': 'sdpa', 'attention_loaded_with': 'eager', 'attention_mask': '4d'}
        """
        return {"attention": getattr(self.model.config, "_attn_implementation", None),
                "attention_loaded_with": self.attention_was,
                "attention_mask": "4d" if self._takes_4d_mask else "2d"}

    def token_types(self, length: int, merged: int = 0) -> list[int] | None:
        """The token type ids of a paired sequence of ``length`` tokens, or None: masked sequences and
        models without token types take the model's default. The halves are equally long but for the
        ``merged`` tokens that masking took out of the first (several pieces under one mask)."""
        if self._pair is None:
            return None
        if (length, merged) not in self._pair_types:
            half = (length - self._pair.n_special + merged) // 2
            self._pair_types[length, merged] = self._pair.build([0] * (half - merged), [0] * half)[1]
        return self._pair_types[length, merged]

    def _masked_logits(self, ids, mask, rows, cols, types=None):
        torch = self._torch
        pair = {} if types is None else {"token_type_ids": types}  # (B, T): paired, with token types
        with torch.inference_mode(), torch.autocast(self.device.split(":")[0], dtype=self.autocast_dtype,
                                                    enabled=self.autocast_dtype is not None):
            if self._head is None:  # no separable head: full forward, then gather
                return self.model(input_ids=ids, **pair, attention_mask=mask).logits[rows, cols].float()
            hidden = self.model.base_model(input_ids=ids, **pair, attention_mask=mask).last_hidden_state  # (B, T, H)
            return self._head(hidden[rows, cols]).float()  # (M, V): the head only where masked

    def _top_words(self, top, spaced: int, word: str) -> list[str]:
        """The candidates among one site's top-k ids (best first): valid ones (an id past the valid
        ones scored -inf), without the word itself in any case or accent, and each word once whatever
        its case: a cased vocabulary's "The" and "the" become the same word once the case is matched."""
        valid = self._valid_host[spaced]
        own = fold(word)  # uncased vocabularies hold "cafe" for "café": that is the word itself
        out, seen = [], set()
        for i in top.tolist():
            if valid[i] and self._folded[i] != own:
                low = self._lowered[i]
                if low not in seen:
                    seen.add(low)
                    out.append(self.words[i])
                    if len(out) >= self.top_k:  # the width may be several times top_k (cased vocabularies)
                        break
        return out[:self.top_k]


def _largest_class(keys: list[str], row: np.ndarray) -> int:
    """The most ids of ``row`` (a (V,) bool filter row) that share one key of ``keys``; 0 for an empty row."""
    _, counts = np.unique(np.array(keys, dtype=object)[row].astype(str), return_counts=True)
    return int(counts.max(initial=0))


def _marks_only(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is combining marks only. A tokenizer that strips accents (bert-base-uncased)
    leaves a decomposed word's last mark outside its token's offsets: "Cafe\u0301" at (0, 5) is the one token
    "cafe" at (0, 4), as the composed "Café" at (0, 4) is; the word is still that one piece."""
    return start < end and all(unicodedata.category(c)[0] == "M" for c in text[start:end])


def _count(stats: LMStats, batch_jobs, length: int, batch_size: int) -> None:
    """One pass's counters, except copies: those are counted where they are made (_to_device, _to_host)."""
    stats.forward_passes += 1
    stats.sequences += len(batch_jobs)
    stats.masked_sites += sum(len(j[2]) for j in batch_jobs)
    stats.tokens += sum(len(j[1]) for j in batch_jobs)
    stats.padded_tokens += len(batch_jobs) * length
    stats.capacity += batch_size
    stats.padded_passes += any(len(j[1]) < length for j in batch_jobs)  # as _launch decides to pass a mask


def vocabulary_after_a_token(tokenizer, n: int) -> list[str]:
    """How each of the first ``n`` ids reads when it follows another token: " the" for a word start,
    "ing" for a WordPiece continuation, " the"/"the" for byte-level BPE's "Ġthe"/"the".

    One decode call over ``[S, 0, S, 1, ..., S]`` (``S`` a special token), split at ``S``, instead of
    30k decodes of one id (0.3 s against 0.7 s for bert-base-uncased, BENCHMARKS.md 1c). The decoder says
    what each token looks like, so no marker (``##``, ``Ġ``) is assumed. Falls back to one decode per
    id when a token's text contains ``S``'s, which would make the split ambiguous.
    """
    sep_id = next(i for i in (tokenizer.mask_token_id, tokenizer.sep_token_id, tokenizer.eos_token_id,
                              tokenizer.unk_token_id) if i is not None)

    def decode(ids):
        return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    sep = decode([sep_id])
    joiner = decode([sep_id, sep_id])  # "S S" for WordPiece, "SS" for byte-level BPE
    if sep and joiner.startswith(sep) and joiner.endswith(sep) and len(joiner) >= 2 * len(sep):
        glue = joiner[len(sep):len(joiner) - len(sep)]  # what the decoder puts before the next S
        special = set(tokenizer.all_special_ids)  # their text is S's sometimes; never candidates anyway
        plain = [i for i in range(n) if i not in special]
        ids = [sep_id]
        for i in plain:
            ids += [i, sep_id]
        parts = decode(ids).split(sep)[1:-1]
        if len(parts) == len(plain) and all(p.endswith(glue) for p in parts):
            out = [tokenizer.convert_ids_to_tokens(i) if i in special else "" for i in range(n)]
            for i, p in zip(plain, parts):
                out[i] = p[:len(p) - len(glue)] if glue else p
            return out
    return [decode([sep_id, i])[len(sep):] for i in range(n)]  # the slow way, one id at a time


def _lm_head(model):
    """The module that maps hidden states to vocabulary logits, when it is separable."""
    for name in ("cls", "lm_head"):
        head = getattr(model, name, None)
        if head is not None:
            return head
    return None


def resolve_dtype(dtype: str, device: str) -> str:
    """The precision ``dtype`` means on ``device``: ``"auto"`` is bfloat16 on CUDA (float16 on a GPU without
    bf16) and float32 elsewhere; other names are themselves. The candidates depend on it, so augment-squad
    records this, not ``"auto"``, and a resume in another precision is refused.

        >>> resolve_dtype("auto", "cpu"), resolve_dtype("bfloat16", "cpu")
        ('float32', 'bfloat16')
    """
    if dtype != "auto":
        return dtype
    if device.startswith("cuda"):
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float32"


def _autocast_dtype(dtype: str, device: str):
    import torch

    table = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}  # float32: no autocast
    if dtype != "auto" and dtype not in table:
        raise ConfigError(f"dtype={dtype!r}: use one of {sorted([*table, 'auto'])}")
    dtype = resolve_dtype(dtype, device)
    if dtype == "float16" and not device.startswith("cuda"):
        raise ConfigError("dtype='float16' needs a CUDA device; use 'bfloat16' or 'float32' on CPU")
    return table[dtype]
