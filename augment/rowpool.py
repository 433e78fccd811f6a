"""Drawing variants and encoding them as Arrow record batches beside the masked LM.

The masked LM needs one process (or one per GPU); drawing 20 variants per question, moving the spans
and encoding the rows took as long as the LM itself on a GPU, on one core, while the GPU waited. Here
each task (a few paragraphs' examples, with their texts' candidates) goes to a pool of worker processes that
return its rows as serialised record batches; the shard writer appends the batches in submission order.
``workers=0`` runs the same function in this process, so the shard bytes are the same either way.

    >>> pool = RowPool(DrawSpec(n=20, replace_prob=0.4, seed=0, answer_policy="keep",
    ...                         augment_question=False, include_original=False, schema=schema), workers=4)  # doctest: +SKIP
    >>> handle = pool.submit(examples, table)          # returns at once; the LM goes on             # doctest: +SKIP
    >>> batches, rows, seconds = handle.result()       # in submission order, to the writer          # doctest: +SKIP
"""
from __future__ import annotations

import gc
import os
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from multiprocessing import get_context

import pyarrow as pa

from augment.errors import ConfigError
from augment.shards import original_row, shard_row
from augment.variants import TextCandidates, iter_variants


@dataclass(frozen=True)
class DrawSpec:
    """Everything a worker needs besides the examples: the options that shape the rows, and the schema."""

    n: int
    replace_prob: float
    seed: int
    answer_policy: str
    augment_question: bool
    include_original: bool
    schema: pa.Schema
    draw: str = "distinct"
    keep_question_words: bool = False
    stopwords: frozenset = frozenset()


# A record batch ends at BATCH_ROWS rows or once its contexts and questions reach BATCH_CHARS characters. A
# row is held as Python objects (about 10 KB with a 750-character SQuAD context, 5 times its Arrow bytes; its
# edits grow with its context) only until its batch is encoded, so these bound a task's memory, not its rows.
# Both are above what 16 SQuAD paragraphs have at x20 (at most 4,360 rows, 3.5M characters on the subset),
# so the default's tasks are still one batch each, the bytes they always were.
BATCH_ROWS = 8192
BATCH_CHARS = 8 << 20


def draw_chunk(spec: DrawSpec, examples: list[dict],
               table: dict[str, TextCandidates]) -> tuple[list[bytes], int, float]:
    """The rows of ``examples`` as serialised record batches (see :data:`BATCH_ROWS`; one, maybe empty,
    when they are few): (batches, rows, seconds spent)."""
    t = time.perf_counter()
    batches, rows, n, chars = [], [], 0, 0
    for ex in examples:
        q = table[ex["question"]] if spec.augment_question else None
        variants = map(shard_row, iter_variants(ex, table[ex["context"]], q, spec.n, spec.replace_prob, spec.seed,
                                                spec.answer_policy, spec.draw, spec.keep_question_words,
                                                spec.stopwords, edit_dicts=False))
        for row in chain([original_row(ex)] if spec.include_original else (), variants):
            rows.append(row)
            chars += len(row["context"]) + len(row["question"])
            if len(rows) == BATCH_ROWS or chars >= BATCH_CHARS:
                batches.append(_encode(rows, spec.schema))
                n, rows, chars = n + len(rows), [], 0
    if rows or not batches:
        batches.append(_encode(rows, spec.schema))
        n += len(rows)
    return batches, n, time.perf_counter() - t


def _encode(rows: list[dict], schema: pa.Schema) -> bytes:
    return pa.RecordBatch.from_pylist(rows, schema=schema).serialize().to_pybytes()


@contextmanager
def frozen_heap():
    """Keep the objects alive now out of the garbage collector's full passes until the block ends.

    Drawing makes millions of short-lived objects (rows, edits), and every so often that triggers a pass over
    all tracked objects, most of them the start-up's, which live to the end anyway: the modules of torch,
    datasets and gensim, the vectors' index (276,000 objects in augment-squad --mlm none before its first row,
    454,000 with a masked LM). Frozen (:func:`gc.freeze`) they are skipped: drawing the SQuAD subset took a fifth
    less time (BENCHMARKS.md 2c). What is garbage already is collected first, and :func:`gc.unfreeze` at the
    end gives a caller that goes on in the same process (the tests, the demo) the collector as it was.
    Reference counting, which frees nearly everything drawing makes, is unaffected; the rows are the same."""
    earlier = gc.get_freeze_count()  # a caller that froze objects itself keeps them frozen: unfreeze is global
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        if not earlier:
            gc.unfreeze()


def _end_with_parent(parent: int) -> None:
    """A worker's first act: end when the model's process ends. A killed parent (SIGKILL, a preempted job)
    leaves its workers waiting on the task queue for good: their siblings hold its other end open, so no
    end-of-file ever comes. Linux signals the worker when its parent dies (PR_SET_PDEATHSIG); elsewhere the
    pool's own shutdown is all there is.

    Ctrl-C reaches the whole process group: a worker ignores it, or each would print a traceback; the
    parent handles it and shuts the pool down."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The worker's imports (numpy, pyarrow, the drawing code) live as long as it does: see frozen_heap.
    gc.collect()
    gc.freeze()
    if sys.platform != "linux":
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


class Deferred:
    """A task of ``workers=0``: computed when its result is asked for, not when submitted. The writer asks
    for each result just before it writes it, so one task's rows are in memory at a time; computed at
    submission, every task of a chunk (512 paragraphs: the whole block when --multiplier is large) was."""

    def __init__(self, fn, *args):
        self._call = (fn, args)

    def result(self):
        if self._call is not None:
            fn, args = self._call
            self._value, self._call = fn(*args), None
        return self._value


class RowPool:
    """``submit`` tasks, read their results in order. ``workers=0``: each computed here, when its result is read."""

    def __init__(self, spec: DrawSpec, workers: int = 0):
        if not isinstance(workers, int) or workers < 0:
            raise ConfigError(f"workers={workers!r}: use an integer >= 0 (0 draws in the model's process)")
        self.spec, self.workers = spec, workers
        # spawn, not fork: the parent holds a CUDA context and torch's threads, which fork does not copy
        # safely. The workers import only numpy, pyarrow and the drawing code.
        self._pool = (ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                          initializer=_end_with_parent, initargs=(os.getpid(),))
                      if workers else None)

    @property
    def depth(self) -> int:
        """Chunks to keep in flight: enough that no worker idles while the LM runs the next chunk."""
        return 2 * self.workers

    def submit(self, examples: list[dict], table: dict[str, TextCandidates]) -> Future | Deferred:
        if self._pool is not None:
            return self._pool.submit(draw_chunk, self.spec, examples, table)
        return Deferred(draw_chunk, self.spec, examples, table)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
