"""augment.blockjob: blocks of paragraphs into their shards and records, and writes that fail naming their file.
The whole runs are tests/pipelines/test_augment_squad.py's; here, a block with a stand-in augmenter (no model)."""
import errno
import json
from itertools import groupby
from types import SimpleNamespace

import pyarrow as pa
import pytest

from augment import manifest
from augment.blockjob import BlockJob, BlockQueue, Timers, WriteError, writing
from augment.rowpool import DrawSpec, RowPool
from augment.segment import split_words
from augment.shards import hf_schema
from augment.variants import TextCandidates


class Candidates:
    """An augmenter's part that a block uses: every third word of a context may become "thing"."""
    mlm = None
    stopwords = frozenset()

    def __init__(self):
        self.calls = []

    def clear_cache(self):
        pass

    def candidate_table(self, examples):
        self.calls.append([ex["id"] for ex in examples])
        return {ex["context"]: TextCandidates(tuple(split_words(ex["context"])),
                                              {i: (("thing",), "glove") for i in range(0, 40, 3)})
                for ex in examples}

    def protected_words(self, examples, table):
        return 0


def block(tmp_path, k: int):
    """A queue and an open block ``k`` of 2 rows per example (the original and one variant), no workers."""
    (tmp_path / manifest.PROGRESS).mkdir(exist_ok=True)
    pool = RowPool(DrawSpec(1, 1.0, 0, "keep", False, True, hf_schema()), workers=0)
    options = SimpleNamespace(multiplier=1, include_original=True, augment_question=False)
    queue = BlockQueue(pool)
    return queue, queue.open(BlockJob(tmp_path, k, Candidates(), options, Timers(), 0.0, pool))


def test_a_block_is_one_candidate_call_then_its_shard_then_its_record(tmp_path, sample_rows):
    """A chunk's texts get their candidates in one call; the rows stream into a temporary file, and the shard
    and its record (which marks the block complete on resume) appear when the block is closed."""
    paragraphs = [list(g) for _, g in groupby(sample_rows, key=lambda r: r["context"])][:2]
    queue, job = block(tmp_path, 3)
    try:
        for para in paragraphs:
            queue.submit(job, job.add(para, [], len(para)))
        assert job.aug.calls == [] and not manifest.is_complete(tmp_path, 3)  # queued until the chunk is full
        queue.close(job)
    finally:
        queue.pool.close()
    examples = [ex["id"] for para in paragraphs for ex in para]
    assert job.aug.calls == [examples] and job.committed
    record = json.loads(manifest.record_path(tmp_path, 3).read_text())
    assert (record["file"], record["rows"], record["read"], record["paragraphs"], record["dropped_duplicates"]) == (
        "shard-00003.arrow", 2 * len(examples), len(examples), 2, 0)
    table = pa.ipc.open_stream(tmp_path / "shard-00003.arrow").read_all()
    assert table.column("id").to_pylist() == [i for ex in examples for i in (ex, f"{ex}-aug1")]  # in input order
    assert sorted(p.name for p in tmp_path.iterdir()) == [manifest.PROGRESS, "shard-00003.arrow"]  # no temporary


def test_an_aborted_block_leaves_no_shard_and_no_temporary_file(tmp_path, sample_rows):
    """Ctrl-C or a bad line while a block is open: what a rerun finds is as if it had never begun."""
    queue, job = block(tmp_path, 0)
    queue.submit(job, job.add(sample_rows[:2], [], 2))
    queue.abort()
    queue.pool.close()
    assert not job.committed and sorted(p.name for p in tmp_path.iterdir()) == [manifest.PROGRESS]


@pytest.mark.parametrize("error, said", [
    # pyarrow's words name neither the file nor the plain reason
    (OSError(errno.ENOSPC, "Error writing bytes to file"),
     "could not write OUT/shard-00000.arrow: No space left on device"),
    # a rename names its source first: the temporary file, gone by now; where it went is the news
    (OSError(errno.EISDIR, "Is a directory", "OUT/.tmp", None, "OUT/x"), "could not write OUT/x: Is a directory"),
])
def test_a_failed_write_names_the_file_and_the_plain_reason(error, said):
    with pytest.raises(WriteError) as caught:
        with writing("OUT/shard-00000.arrow"):
            raise error
    assert str(caught.value) == said
