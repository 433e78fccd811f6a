"""augment.distill.teacher_step: the teacher-logit cache as a run's processes get it together."""
import copy
import threading

import pytest
from transformers import AutoModelForQuestionAnswering

from augment.distill import data, teacher_cache
from augment.distill.flops import StageCost
from augment.distill.teacher_step import Processes, cached_logits, tidy


@pytest.fixture(scope="module")
def features(tmp_path_factory, sample_path, tokenizer):
    examples = data.load_examples([sample_path], limit=6)
    key = data.features_key([sample_path], "train", 6, tokenizer, 96, 48)
    return data.tokenize(examples, tokenizer, tmp_path_factory.mktemp("feats"), key, max_length=96, doc_stride=48)


@pytest.fixture(scope="module")
def teacher(tiny_teacher_path):
    return AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).eval()


def test_one_process_builds_the_cache_once_then_reuses_it(tmp_path, features, teacher, monkeypatch):
    path = teacher_cache.cache_path(tmp_path, "k", teacher, 5, 1, None)
    lines, reports = [], []
    built = cached_logits(teacher, features, path, batch_size=5, log=lines.append,
                          report=lambda *measured: reports.append(measured))
    assert lines == [f"caching teacher logits for {len(features)} windows in {path} (1 process)"]
    ((windows, seconds, flops),) = reports
    assert windows == len(features) and seconds > 0 and flops > 0
    assert teacher_cache.checksum_problem(path) is None and not list(tmp_path.glob("*.part*"))
    monkeypatch.setattr(teacher_cache, "build", lambda *a, **k: pytest.fail("built the cache again"))
    again = cached_logits(teacher, features, path, batch_size=5, log=lines.append,
                          report=lambda *measured: reports.append(measured))
    assert len(lines) == 1 and len(reports) == 1  # nothing said, nothing measured
    assert again.table.equals(built.table)


def threads(world: int) -> list[Processes]:
    """``world`` Processes whose collectives meet across threads, as torch.distributed's meet across processes."""
    barrier, box = threading.Barrier(world, timeout=60), {}

    def meet(rank, value, combine):
        box[rank] = value
        barrier.wait()
        out = combine([box[r] for r in range(world)])
        barrier.wait()  # read by all before the next meeting writes the box
        return out

    return [Processes(rank, world, barrier.wait, agree=lambda v, rank=rank: meet(rank, v, lambda vs: vs[0]),
                      summed=lambda c, rank=rank: meet(rank, c, lambda cs: [sum(x) for x in zip(*cs)]))
            for rank in range(world)]


def test_two_processes_build_their_shares_and_the_main_one_alone_speaks_and_joins(tmp_path, features, teacher):
    """Each process computes its share of the windows; the main process alone logs, reports the whole job's
    windows and tokens, and joins the parts; every process then reads the one joined file."""
    path = teacher_cache.cache_path(tmp_path, "k", teacher, 4, 2, None)
    stale = teacher_cache.part_path(path.with_name(path.name.replace("-world2", "-world3")), 2, 3)
    stale.write_bytes(b"left by a killed three-process build")
    lines, reports, results = {0: [], 1: []}, {0: [], 1: []}, {}

    def run(processes):
        try:  # a teacher each: the build switches its attention implementation while it runs
            results[processes.rank] = cached_logits(
                copy.deepcopy(teacher), features, path, processes, batch_size=4, log=lines[processes.rank].append,
                report=lambda *measured: reports[processes.rank].append(measured))
        except BaseException as e:
            results[processes.rank] = e
            raise

    workers = [threading.Thread(target=run, args=(p,)) for p in threads(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert all(isinstance(r, teacher_cache.TeacherLogits) for r in results.values()) and len(results) == 2, results
    assert lines[1] == [] and reports[1] == []
    assert lines[0] == [f"removed 1 teacher-logit cache part that an interrupted build left: {stale.name}",
                        f"caching teacher logits for {len(features)} windows in {path} (2 processes)"]
    ((windows, _, flops),) = reports[0]
    tokens = [0, 0]  # what each share's build computes, summed: the whole job's FLOPs, not the main share's twice
    for rank in range(2):
        teacher_cache.build(teacher, features.select(teacher_cache.share(len(features), rank, 2)),
                            tmp_path / f"alone{rank}.arrow", batch_size=4, stats=(stats := {}))
        tokens = [tokens[0] + stats["tokens"], tokens[1] + stats["tokens_sq"]]
    assert windows == len(features) and flops == StageCost.of("teacher_cache", None, teacher.config).flops(*tokens)
    assert not stale.exists() and not list(tmp_path.glob("*.part*"))  # the stale part went, this run's were joined
    assert results[0].table.equals(results[1].table) and teacher_cache.checksum_problem(path) is None


def test_tidy_says_what_it_removed_one_line_each(tmp_path):
    path = tmp_path / "teacher-k-d-batch256-world1.arrow"
    old = tmp_path / f"teacher-{'a' * 16}-{'b' * 16}.arrow"  # named before the batch size and processes were
    part = tmp_path / "teacher-k-d-batch256-world2.arrow.part00001-of-00002"
    for f, text in ((old, "old"), (part, "part"), (path, "not the Arrow file a build writes")):
        f.write_text(text)
    assert tidy(path) == [
        f"removed 1 teacher-logit cache file named the old way, which no run reuses: {old.name}",
        f"removed 1 teacher-logit cache part that an interrupted build left: {part.name}",
        f"removed the teacher-logit cache file {path}, which cannot be read (Not an Arrow file); building it again"]
    assert list(tmp_path.iterdir()) == []
    assert tidy(path) == []
