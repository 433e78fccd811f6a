"""One block of augment-squad's input augmented into its shard (:class:`BlockJob`), the queue that writes the
rows of every open block in order (:class:`BlockQueue`), and writes into --out that fail as one
:class:`WriteError` naming the file (:func:`writing`).

A block's paragraphs get their candidates in chunks of :data:`CHUNK_PARAGRAPHS` (one call, so the masked LM's
padded passes span them); each chunk's rows are drawn in tasks (:func:`augment.blocks.draw_tasks`, here or in
:class:`augment.rowpool.RowPool`'s workers) and stream into the shard in order. The shard is committed, then its
record written (:func:`augment.manifest.write_record`), once its last rows are in.

    >>> timers = Timers()
    >>> double = timers.wrap(lambda x: 2 * x, "double")
    >>> double(21), list(timers)
    (42, ['double'])
"""
from __future__ import annotations

import os
import time
from collections import Counter, deque
from contextlib import contextmanager
from pathlib import Path

from augment import manifest
from augment.blocks import draw_tasks
from augment.report.candidates import count_candidates
from augment.shards import ShardWriter

# Paragraphs whose candidates are computed in one call: the masked LM's padded batches span them, so
# a chunk must hold many batches' worth of sequences for passes to be full and evenly long. multi mode
# makes about 3 sequences per paragraph; on the SQuAD subset at batch 64, chunks of 128 paragraphs gave
# fill 0.90 and 20% padding, 512 give 0.97 and 11% (a default block of 50,000 rows is about 370
# paragraphs, so one chunk). Part of the block's plan, like everything that decides what a pass holds,
# so it never depends on processes or resume points.
CHUNK_PARAGRAPHS = 512


class WriteError(Exception):
    """Writing to --out failed (a full disk, a quota, a lost mount): one line saying what a rerun keeps, exit
    code 1. Not an input or option error: it stops only the rank that met it, never every rank in block 0
    (see pipelines.augment_squad.run_held)."""

    def __init__(self, path, error: OSError):
        # pyarrow's errors name neither the file nor the plain reason: "Error writing bytes to file. Detail: ..."
        reason = os.strerror(error.errno) if error.errno else (error.strerror or str(error) or type(error).__name__)
        # A failed rename names its source first: the temporary file, gone by now; where it went is the news.
        where = getattr(error, "filename2", None) or getattr(error, "filename", None) or path
        super().__init__(f"could not write {where}: {reason}")


@contextmanager
def writing(path):
    """An OSError while writing ``path`` as a :class:`WriteError` that names it."""
    try:
        yield
    except OSError as e:
        raise WriteError(path, e) from None


class Timers(Counter):
    """Seconds per stage; ``wrap`` times every call of a bound method."""

    def wrap(self, fn, key: str):
        def timed(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self[key] += time.perf_counter() - t
        return timed


class BlockJob:
    """One block: its paragraphs get candidates in chunks, their rows are drawn (here or in workers)
    and stream into its shard in chunk order; the shard is committed when its last rows are in.
    ``aug``: the :class:`augment.Augmenter`; ``args``: the options (``multiplier``, ``include_original`` and
    ``augment_question`` are read); ``pool``: the :class:`augment.rowpool.RowPool` that draws the rows;
    ``timers``: the run's, shared by its blocks (each block records its own share)."""

    def __init__(self, out: Path, k: int, aug, args, timers: Timers, run_started: float, pool):
        self.out, self.k, self.aug, self.args, self.pool = out, k, aug, args, pool
        with writing(out / manifest.shard_name(k)):
            self.writer = ShardWriter(out / manifest.shard_name(k))
        self.paragraphs: list[list[dict]] = []  # queued for the next chunk
        self.timers, self.timers_at_start = timers, dict(timers)  # this block's share: the difference
        # A text of an earlier block (a question asked again, a paragraph repeated further on) would hit the
        # candidate cache here, with the candidates of that block's padded passes; a resumed run, or a rank
        # that never did that block, computes them in this block's passes, whose last bits may break a tie
        # otherwise (bf16 on a GPU). Forgotten, so a block's candidates and LM counters depend on it alone.
        aug.clear_cache()
        self.lm_at_start = aug.mlm.stats.counters() if aug.mlm is not None else None
        self.own = Counter()  # seconds spent on this block's rows: draw, wait, write
        self.tasks, self.closed, self.committed = 0, False, False
        self.meta = {"block": k, "paragraphs": 0, "read": 0, "rejected": Counter(), "rejects": [],
                     "candidates": Counter(), "protected_words": 0,
                     "run_started": run_started, "started": time.time()}

    def add(self, examples: list[dict], rejects: list[dict], n_read: int) -> list:
        """Queue a paragraph; returns the drawing tasks of the chunk it completed (none if none)."""
        self.meta["paragraphs"] += 1
        self.meta["read"] += n_read
        self.meta["rejects"] += rejects
        self.meta["rejected"].update(r["reason"] for r in rejects)
        self.paragraphs.append(examples)
        return self.flush() if len(self.paragraphs) >= CHUNK_PARAGRAPHS else []

    def flush(self) -> list:
        """Candidates for the queued paragraphs in one call, then one drawing task per few paragraphs."""
        paragraphs, self.paragraphs = self.paragraphs, []
        examples = [ex for para in paragraphs for ex in para]
        if not examples:
            return []
        t = time.perf_counter()
        table = self.aug.candidate_table(examples)
        self.timers["candidates"] += time.perf_counter() - t
        # For the report: rows keep the replacements drawn, not the lists they were drawn from.
        self.meta["candidates"] += count_candidates(table.values(), self.aug.stopwords)
        # --keep-question-words. From this table, not the cache: a chunk may hold more texts than the augmenter
        # keeps (augment-squad's CACHE_TEXTS; --augment-question: every question is one), and the masked LM
        # would run again on those evicted.
        self.meta["protected_words"] += self.aug.protected_words(examples, table)
        tasks = []
        for part in draw_tasks(paragraphs, self.args.multiplier + int(self.args.include_original)):
            texts = {ex["context"] for ex in part} | ({ex["question"] for ex in part}
                                                      if self.args.augment_question else set())
            tasks.append(self.pool.submit(part, {text: table[text] for text in texts}))
        self.tasks += len(tasks)
        return tasks

    def write(self, result) -> int:
        """Append a drawing task's result, ``(batches, rows, seconds)``, to the shard; returns its rows."""
        batches, n, seconds = result
        self.own["draw"] += seconds
        t = time.perf_counter()
        with writing(self.writer.path):
            for buffer in batches:
                self.writer.write_serialized(buffer)
        self.own["write"] += time.perf_counter() - t
        self.tasks -= 1
        return n

    def close(self) -> list:
        """No more paragraphs: the last chunk's tasks. The block's LM work is all done after this."""
        tasks = self.flush()
        self.closed = True
        self.spent = {k: v - self.timers_at_start.get(k, 0.0) for k, v in self.timers.items()}
        if self.lm_at_start is not None:
            self.meta["lm_counters"] = {k: v - self.lm_at_start[k] for k, v in self.aug.mlm.stats.counters().items()}
        return tasks

    def commit(self) -> None:
        """Rename the shard into place, then write its record: the block is complete."""
        t = time.perf_counter()
        with writing(self.writer.path):
            info = self.writer.commit()
        self.own["write"] += time.perf_counter() - t
        self.meta.update(info, seconds=time.time() - self.meta["started"], timers={**self.spent, **self.own})
        # Rows an example did not get: --variant-draw independent drops draws that repeat (0 otherwise).
        per_example = self.args.multiplier + int(self.args.include_original)
        self.meta["dropped_duplicates"] = (self.meta["read"] - len(self.meta["rejects"])) * per_example - info["rows"]
        with writing(manifest.record_path(self.out, self.k)):
            manifest.write_record(self.out, self.k, self.meta)
        self.committed = True


class BlockQueue:
    """The drawing tasks of every block opened, written in submission order from one queue that spans blocks, so
    the model goes on with the next block while workers finish the rows of the last one. A block is committed
    once closed and its last task written. ``pool``: the :class:`augment.rowpool.RowPool` that draws the rows."""

    def __init__(self, pool):
        self.pool = pool
        self.jobs: list[BlockJob] = []  # every block opened, in order
        self._tasks: deque = deque()  # (job, task) in submission order

    def open(self, job: BlockJob) -> BlockJob:
        self.jobs.append(job)
        return job

    def submit(self, job: BlockJob, tasks) -> None:
        """Queue ``job``'s drawing tasks, then write the oldest ones' rows until the pool holds only as many as it
        draws at once."""
        self._tasks.extend((job, task) for task in tasks)
        self.drain(self.pool.depth)

    def close(self, job: BlockJob | None) -> None:
        """No more paragraphs for ``job`` (None: no block open): its last chunk's tasks are queued, and it is
        committed now if it has none left to write."""
        if job is not None:
            self.submit(job, job.close())
            if job.tasks == 0 and not job.committed:
                job.commit()

    def drain(self, keep: int = 0) -> None:
        """Write queued tasks' rows, oldest first, until ``keep`` are left."""
        while len(self._tasks) > keep:
            job, task = self._tasks.popleft()
            t = time.perf_counter()
            result = task.result()
            waited = time.perf_counter() - t
            if not self.pool.workers:  # drawn just now, in this process, by result(): drawing, not waiting
                waited = max(0.0, waited - result[2])
            job.own["wait"] += waited
            job.write(result)
            if job.closed and job.tasks == 0:
                job.commit()

    def abort(self) -> None:
        """Discard the shard of every block not committed (an error, Ctrl-C): no half shard is left behind."""
        for job in self.jobs:
            if not job.committed:
                job.writer.abort()
