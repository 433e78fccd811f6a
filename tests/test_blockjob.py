"""augment.blockjob: one block of paragraphs into its shard and record, and writes that fail naming their file.
The whole runs are tests/pipelines/test_augment_squad.py's; here, a block with a stand-in augmenter (no model)."""
import errno
import json
from itertools import groupby
from types import SimpleNamespace

import pyarrow as pa
import pytest

from augment import manifest
from augment.blockjob import BlockJob, Timers, WriteError, writing
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


def test_a_block_is_one_candidate_call_one_shard_then_its_record(tmp_path, sample_rows):
    """A chunk's texts get their candidates in one call; the rows stream into a temporary file, and the shard
    and its record (which marks the block complete on resume) appear only at commit, in that order."""
    paragraphs = [list(g) for _, g in groupby(sample_rows, key=lambda r: r["context"])][:2]
    (tmp_path / manifest.PROGRESS).mkdir()
    aug, pool = Candidates(), RowPool(DrawSpec(2, 1.0, 0, "keep", False, True, hf_schema()), workers=0)
    options = SimpleNamespace(multiplier=2, include_original=True, augment_question=False)
    job = BlockJob(tmp_path, 3, aug, options, Timers(), 0.0, pool)
    try:
        tasks = [task for para in paragraphs for task in job.add(para, [], len(para))]
        assert tasks == [] and aug.calls == []  # queued until the chunk is full, or the block closes
        tasks = job.close()
        examples = [ex["id"] for para in paragraphs for ex in para]
        assert aug.calls == [examples]
        assert sum(job.write(task.result()) for task in tasks) == 3 * len(examples)
        assert not (tmp_path / "shard-00003.arrow").exists() and not manifest.is_complete(tmp_path, 3)
        job.commit()
    finally:
        pool.close()
    record = json.loads(manifest.record_path(tmp_path, 3).read_text())
    assert (record["file"], record["rows"], record["read"], record["paragraphs"], record["dropped_duplicates"]) == (
        "shard-00003.arrow", 3 * len(examples), len(examples), 2, 0)
    table = pa.ipc.open_stream(tmp_path / "shard-00003.arrow").read_all()
    # Each example's original, then its 2 variants, in input order.
    assert table.column("id").to_pylist() == [i for ex in examples for i in (ex, f"{ex}-aug1", f"{ex}-aug2")]
    assert sorted(p.name for p in tmp_path.iterdir()) == [manifest.PROGRESS, "shard-00003.arrow"]  # no temporary


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
