"""Drawing variants and encoding them as Arrow record batches beside the masked LM.

The masked LM needs one process (or one per GPU); drawing 20 variants per question, moving the spans
and encoding the rows took as long as the LM itself on a GPU, on one core, while the GPU waited. Here
each chunk of examples (with its texts' candidates) goes to a pool of worker processes that return the
chunk's rows as one serialised record batch; the shard writer appends the batches in chunk order.
``workers=0`` runs the same function in this process, so the shard bytes are the same either way.

    >>> pool = RowPool(DrawSpec(n=20, replace_prob=0.4, seed=0, answer_policy="keep",
    ...                         augment_question=False, include_original=False, schema=schema), workers=4)  # doctest: +SKIP
    >>> handle = pool.submit(examples, table)          # returns at once; the LM goes on             # doctest: +SKIP
    >>> buffer, rows, seconds = handle.result()        # in submission order, to the writer          # doctest: +SKIP
"""
from __future__ import annotations

import os
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import pyarrow as pa

from augment.errors import ConfigError
from augment.shards import original_row, shard_row
from augment.variants import TextCandidates, variants_of


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


def draw_chunk(spec: DrawSpec, examples: list[dict], table: dict[str, TextCandidates]) -> tuple[bytes, int, float]:
    """The rows of ``examples`` as one serialised record batch: (bytes, rows, seconds spent)."""
    t = time.perf_counter()
    rows = []
    for ex in examples:
        if spec.include_original:
            rows.append(original_row(ex))
        q = table[ex["question"]] if spec.augment_question else None
        rows += map(shard_row, variants_of(ex, table[ex["context"]], q, spec.n, spec.replace_prob, spec.seed,
                                           spec.answer_policy, spec.draw, spec.keep_question_words,
                                           spec.stopwords))
    buffer = pa.RecordBatch.from_pylist(rows, schema=spec.schema).serialize()
    return buffer.to_pybytes(), len(rows), time.perf_counter() - t


def _end_with_parent(parent: int) -> None:
    """A worker's first act: end when the model's process ends. A killed parent (SIGKILL, a preempted job)
    leaves its workers waiting on the task queue for good: their siblings hold its other end open, so no
    end-of-file ever comes. Linux signals the worker when its parent dies (PR_SET_PDEATHSIG); elsewhere the
    pool's own shutdown is all there is.

    Ctrl-C reaches the whole process group: a worker ignores it, or each would print a traceback; the
    parent handles it and shuts the pool down."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform != "linux":
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


class RowPool:
    """``submit`` chunks, read their results in order. ``workers=0``: computed at submission, here."""

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

    def submit(self, examples: list[dict], table: dict[str, TextCandidates]) -> Future:
        if self._pool is not None:
            return self._pool.submit(draw_chunk, self.spec, examples, table)
        done: Future = Future()
        done.set_result(draw_chunk(self.spec, examples, table))
        return done

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
