import copy

import pytest
import torch
from transformers import AutoModelForQuestionAnswering

from augment.distill import data, teacher_cache
from tests.tiny_models import tiny_qa


@pytest.fixture(scope="module")
def features(tmp_path_factory, sample_path, tokenizer):
    examples = data.load_examples([sample_path], limit=6)
    key = data.features_key([sample_path], "train", 6, tokenizer, 96, 48)
    return data.tokenize(examples, tokenizer, tmp_path_factory.mktemp("feats"), key, max_length=96, doc_stride=48)


def test_cache_equals_live_teacher_within_float16(tmp_path, features, tiny_teacher_path):
    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).eval()
    path = teacher_cache.build(teacher, features, tmp_path / "t.arrow", batch_size=5)
    cache = teacher_cache.TeacherLogits(path, features)
    assert cache.table.schema.field("start_logits").type.value_type == "halffloat"
    idx = [3, 0, len(features) - 1]
    batch = data.collate([data.WindowDataset(features)[i] for i in idx])
    with torch.no_grad():
        live = teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       token_type_ids=batch["token_type_ids"])
    start, end = cache.lookup(idx, batch["attention_mask"])
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(start[real], live.start_logits[real], atol=2e-3, rtol=1e-3)
    torch.testing.assert_close(end[real], live.end_logits[real], atol=2e-3, rtol=1e-3)
    assert (start[~real] == 0).all()  # padding is not stored


def test_cache_build_asks_the_device_nothing_about_the_mask(tmp_path, features, tiny_teacher_path, monkeypatch):
    """Each batch's padding is known on the host: the teacher gets its mask in final form, so transformers never
    asks ``mask.all()`` (on a GPU a device-to-host wait per batch, which stopped the host queueing ahead); the
    logits are those of the 2D mask, bit for bit."""
    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).eval()
    # The reference: the 2D mask, from which transformers builds the rest
    monkeypatch.setattr(teacher_cache, "model_inputs", lambda batch, model=None: {k: v for k, v in batch.items()
                                                                                  if k != "padded"}, raising=False)
    with_2d = teacher_cache.build(teacher, features, tmp_path / "2d.arrow", batch_size=5)
    monkeypatch.undo()
    teacher_cache.build(teacher, features, tmp_path / "first.arrow", batch_size=5)  # tries the 4D mask, once
    calls, original = [], torch.Tensor.all
    monkeypatch.setattr(torch.Tensor, "all", lambda t, *a, **k: calls.append(1) or original(t, *a, **k))
    built = teacher_cache.build(teacher, features, tmp_path / "t.arrow", batch_size=5)
    monkeypatch.undo()
    assert calls == []
    assert teacher_cache.TeacherLogits(built).table.equals(teacher_cache.TeacherLogits(with_2d).table)


def test_cache_build_sends_a_batchs_inputs_in_one_copy_from_pinned_memory(tmp_path, features, tiny_teacher_path,
                                                                          monkeypatch):
    """Issue 10 (the teacher cache at GPU speed): each batch's input ids, mask and token types went to the GPU as
    separate copies from pageable memory, and such a copy returns only when the stream has reached it, so the host
    waited for the previous batch's pass before it could queue the next. Posing as CUDA (the tensors stay on the
    CPU): per pass, one pinned buffer and one copy that is not waited for; the cache is the CPU build's."""
    from tests.qa.test_evaluate import Timeline

    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).eval()
    want = teacher_cache.build(teacher, features, tmp_path / "cpu.arrow", batch_size=5)
    timeline = Timeline(teacher)
    monkeypatch.setattr(torch.cuda, "Event", timeline.Event)
    with timeline.mode:
        # The first build tries the 4D mask on the model, once.
        teacher_cache.build(teacher, features, tmp_path / "first.arrow", batch_size=5, device="cuda")
        timeline.events.clear()
        built = teacher_cache.build(teacher, features, tmp_path / "t.arrow", batch_size=5, device="cuda")
    timeline.remove()
    kinds = [e[0] for e in timeline.events]
    passes = kinds.count("forward")
    assert passes >= 3
    assert kinds.count("pin") == passes
    assert [e for e in timeline.events if e[0] == "to_device"] == [("to_device", True)] * passes
    assert teacher_cache.TeacherLogits(built).table.equals(teacher_cache.TeacherLogits(want).table)


@pytest.mark.parametrize("kind", ["gpt2", "modernbert"])
def test_cache_of_a_teacher_whose_own_code_reads_the_2d_mask_holds_its_logits(tmp_path, features, tokenizer,
                                                                               monkeypatch, kind):
    """A GPT-2 teacher builds its causal mask from the 2D mask, a ModernBERT one its local attention (16 tokens
    here): given the 4D padding mask, as every SDPA teacher was, the cache held the logits of a padded batch
    attending to later tokens, or across the whole window. Such a teacher keeps the 2D mask: its cache is the 2D
    mask's, bit for bit."""
    teacher = tiny_qa(kind, tokenizer.vocab_size)
    monkeypatch.setattr(teacher_cache, "model_inputs", lambda batch, model=None: {k: v for k, v in batch.items()
                                                                                  if k != "padded"}, raising=False)
    with_2d = teacher_cache.build(teacher, features, tmp_path / "2d.arrow", batch_size=5)
    monkeypatch.undo()
    built = teacher_cache.build(teacher, features, tmp_path / "t.arrow", batch_size=5)
    assert teacher_cache.TeacherLogits(built).table.equals(teacher_cache.TeacherLogits(with_2d).table)


def test_cache_of_a_left_padding_tokenizers_windows_matches_the_teacher(tmp_path, sample_path, tokenizer,
                                                                        tiny_teacher_path):
    # Its windows are padded on the right (augment.qa.features): left padding shifted BERT's positions.
    left = copy.deepcopy(tokenizer)
    left.padding_side = "left"
    examples = data.load_examples([sample_path], limit=3)
    feats = data.tokenize(examples, left, tmp_path / "feats", "left", max_length=96, doc_stride=48)
    batch = data.collate([data.WindowDataset(feats)[i] for i in range(len(feats))])
    assert batch["attention_mask"][:, 0].all() and not batch["attention_mask"][:, -1].all()
    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).eval()
    cache = teacher_cache.TeacherLogits(teacher_cache.build(teacher, feats, tmp_path / "t.arrow"), feats)
    with torch.no_grad():
        live = teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       token_type_ids=batch["token_type_ids"])
    start, end = cache.lookup(list(range(len(feats))), batch["attention_mask"])
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(start[real], live.start_logits[real], atol=2e-3, rtol=1e-3)
    torch.testing.assert_close(end[real], live.end_logits[real], atol=2e-3, rtol=1e-3)
    assert (start[~real] == 0).all() and (end[~real] == 0).all()


def test_cache_refuses_other_windows(tmp_path, features, tiny_teacher_path):
    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).eval()
    path = teacher_cache.build(teacher, features.select(range(4)), tmp_path / "t.arrow")
    with pytest.raises(ValueError, match="do not match"):
        teacher_cache.TeacherLogits(path, features)


def test_teacher_digest_changes_with_weights(tiny_teacher_path):
    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path)
    before = teacher_cache.teacher_digest(teacher)
    with torch.no_grad():
        teacher.qa_outputs.bias[0] += 1e-3
    assert teacher_cache.teacher_digest(teacher) != before


def test_teacher_digest_from_its_files_reads_no_weight(tiny_teacher_path, monkeypatch):
    """Given the fingerprint of the files the teacher was loaded from, the digest reads none of its weights:
    hashing them copied every tensor to the host at each prediction stage (440 MB off a GPU for bert-base).
    Other files give another digest, and neither is ever the weights' own."""
    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path)
    by_weights = teacher_cache.teacher_digest(teacher)
    monkeypatch.setattr(teacher, "state_dict", lambda *a, **k: pytest.fail("read the weights"))
    by_files = teacher_cache.teacher_digest(teacher, "sha256:aa")
    assert by_files == teacher_cache.teacher_digest(teacher, "sha256:aa")
    assert len({by_weights, by_files, teacher_cache.teacher_digest(teacher, "sha256:bb")}) == 3
    assert f"-{by_files}-" in teacher_cache.cache_path("c", "k", teacher, 256, 1, None, "sha256:aa").name


def test_parts_built_per_process_merge_into_the_single_process_cache(tmp_path, features, tiny_teacher_path):
    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).eval()
    whole = teacher_cache.TeacherLogits(teacher_cache.build(teacher, features, tmp_path / "whole.arrow"), features)
    world = 3
    shares = [teacher_cache.share(len(features), r, world) for r in range(world)]
    assert [i for s in shares for i in s] == list(range(len(features)))  # contiguous, in order, no overlap
    parts = [teacher_cache.build(teacher, features.select(s), teacher_cache.part_path(tmp_path / "m.arrow", r, world),
                                 batch_size=4) for r, s in enumerate(shares)]
    merged = teacher_cache.TeacherLogits(teacher_cache.merge(parts, tmp_path / "m.arrow"), features)
    assert not any(p.exists() for p in parts)
    idx = list(range(len(features)))
    mask = data.collate([data.WindowDataset(features)[i] for i in idx])["attention_mask"]
    for a, b in zip(whole.lookup(idx, mask), merged.lookup(idx, mask)):
        torch.testing.assert_close(a, b, atol=2e-3, rtol=1e-3)


def test_cache_name_covers_every_setting_that_changes_its_bits(tmp_path, features, tiny_teacher_path):
    """The batch size and the number of processes decide which windows share a padded batch, which changes a
    few logits in the last bits: a run must not reuse a cache that another batch size or number of processes
    made. With the same settings, a cache is made again bit for bit."""
    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).eval()

    def name(batch=256, world=1, dtype=None, key="k"):
        return teacher_cache.cache_path(tmp_path, key, teacher, batch, world, dtype)
    assert name() == name() and name().name.startswith(f"teacher-k-{teacher_cache.teacher_digest(teacher)}-")
    others = [name(64), name(world=2), name(dtype=torch.bfloat16), name(dtype=torch.float16), name(key="j")]
    assert len({name(), *others}) == 6
    first, again = (teacher_cache.build(teacher, features, tmp_path / f"{n}.arrow", batch_size=4) for n in "ab")
    assert first.read_bytes() == again.read_bytes()


def test_an_interrupted_build_leaves_no_temporary_file_and_stale_ones_are_removed(tmp_path, features,
                                                                                  tiny_teacher_path):
    """Ctrl-C (or an error) mid-build removes this process's teacher-*.tmp<pid>; one that a killed process left
    (its pid gone, untouched for an hour) is removed by the next build, a live or recent one is not."""
    import os
    import subprocess
    import sys
    import time

    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).eval()

    def interrupt(n):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        teacher_cache.build(teacher, features, tmp_path / "teacher-k.arrow", batch_size=2, chunk_batches=1,
                            progress=interrupt)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()  # a pid that has just ended
    old = time.time() - 2 * teacher_cache.STALE_SECONDS
    left = {name: tmp_path / name for name in (f"teacher-a.arrow.tmp{dead}", f"teacher-b.arrow.tmp{os.getpid()}",
                                               f"teacher-c.arrow.tmp{dead}")}
    for name, f in left.items():
        f.write_bytes(b"half")
        if name != f"teacher-c.arrow.tmp{dead}":  # c: written just now, perhaps by another machine's process
            os.utime(f, (old, old))
    teacher_cache.build(teacher, features, tmp_path / "teacher-k.arrow")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["teacher-k.arrow", "teacher-k.arrow.crc32", f"teacher-b.arrow.tmp{os.getpid()}",
         f"teacher-c.arrow.tmp{dead}"])


def test_parts_an_interrupted_build_left_are_removed_whatever_its_process_count(tmp_path):
    """A killed two-process build leaves a finished part that no later run (of another process count) reused or
    removed. Parts of a build that may still run (a temporary file of a live process, or a recent one) and of
    other caches stay."""
    import os
    import subprocess
    import sys
    import time

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()  # a pid that has just ended
    key = "teacher-0123456789abcdef-fedcba9876543210-batch4-world"
    stale = [f"{key}2.arrow.part00000-of-00002", f"{key}1.arrow.part00000-of-00001",
             f"{key}5.arrow.part00000-of-00005"]
    kept = [f"{key}5.arrow.part00001-of-00005.tmp{dead}",  # a killed process's, an hour old: remove_stale_files'
            f"{key}3.arrow.part00000-of-00003", f"{key}3.arrow.part00001-of-00003.tmp{os.getpid()}",  # running
            f"{key}6.arrow.part00000-of-00006", f"{key}6.arrow.tmp{dead}",  # merging on another machine, perhaps
            f"{key}2.arrow", key.replace("batch4", "batch8") + "2.arrow.part00000-of-00002",  # another cache
            key.replace("batch4", "batch44") + "2.arrow.part00000-of-00002", f"{key}4-bf16.arrow.part00003-of-00004"]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"x")
    hour_old = time.time() - teacher_cache.STALE_SECONDS - 1
    os.utime(tmp_path / kept[0], (hour_old, hour_old))
    gone = teacher_cache.remove_stale_parts(tmp_path / f"{key}1.arrow")
    assert sorted(f.name for f in gone) == sorted(stale)
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(kept)


def _nan_in_first_logit(path) -> None:
    """Make the first stored start logit NaN, in place: two bytes, the file still reads as Arrow."""
    import numpy as np

    first = teacher_cache.TeacherLogits(path).table.column("start_logits").chunk(0).values.to_numpy()[:8]
    data = bytearray(path.read_bytes())
    at = data.find(first.astype(np.float16).tobytes())
    assert at > 0
    data[at:at + 2] = np.array([np.nan], np.float16).tobytes()
    path.write_bytes(bytes(data))


def test_a_damaged_byte_in_a_finished_cache_is_found_and_the_file_removed(tmp_path, features, tiny_teacher_path):
    """A reused cache with one damaged float16 gave NaN losses (and the advice to lower the learning rate): the file
    still reads as Arrow, so only the checksum written with it tells. The merged cache of several processes has one
    too; an undamaged cache stays, and so does its checksum."""
    import pyarrow as pa

    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).eval()
    single = teacher_cache.build(teacher, features, tmp_path / "teacher-a.arrow")
    parts = [teacher_cache.build(teacher, features.select(teacher_cache.share(len(features), r, 2)),
                                 teacher_cache.part_path(tmp_path / "teacher-b.arrow", r, 2)) for r in range(2)]
    merged = teacher_cache.merge(parts, tmp_path / "teacher-b.arrow")
    for path in (single, merged):
        assert teacher_cache.remove_damaged(path) is None and path.exists()
        before = sorted(tmp_path.iterdir())
        _nan_in_first_logit(path)
        start = teacher_cache.TeacherLogits(path).table.column("start_logits").chunk(0).values.to_numpy()
        assert pa.compute.is_nan(pa.array(start[:1])).to_pylist() == [True]  # what training read
        reason = teacher_cache.remove_damaged(path)
        assert reason is not None and "checksum" in reason, reason
        assert sorted(tmp_path.iterdir()) == [f for f in before if not f.name.startswith(path.name)]


def test_a_cache_the_current_release_wrote_without_a_checksum_is_built_again_once(tmp_path, features,
                                                                                   tiny_teacher_path):
    """A cache written before the checksum was: nothing can say whether a byte of it is damaged, so it is removed
    (and built again by the run, once); the rebuilt one has a checksum and is reused."""
    import pyarrow as pa

    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).eval()
    built = teacher_cache.build(teacher, features, tmp_path / "built.arrow")
    legacy = tmp_path / "teacher-k.arrow"
    with pa.OSFile(str(legacy), "wb") as sink, pa.ipc.new_file(sink, teacher_cache.SCHEMA) as writer:
        writer.write_table(teacher_cache.TeacherLogits(built, features).table)  # as the current release writes it
    reason = teacher_cache.remove_damaged(legacy)
    assert reason is not None and "no checksum" in reason and not legacy.exists()
    teacher_cache.build(teacher, features, legacy)
    assert teacher_cache.remove_damaged(legacy) is None and legacy.exists()


def test_temporary_files_name_their_machine_so_a_dead_writers_here_go_at_once(tmp_path, features, tiny_teacher_path):
    """A rank killed while writing left ``<name>.tmp<pid>`` for an hour: with no machine in the name, its pid could be
    another machine's (a cache folder on a shared disk). The name holds the machine now, as the tokenising folders'
    do (scratch.make): one whose process is gone from this machine goes at the next build, another machine's after an
    hour unwritten, and its parts with it; the current release's names (no machine) keep the hour's rule."""
    import os
    import subprocess
    import sys
    import time

    from augment.distill import scratch

    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).eval()
    seen = []
    teacher_cache.build(teacher, features, tmp_path / "teacher-k.arrow", batch_size=2, chunk_batches=1,
                        progress=lambda n: seen.extend(p.name for p in tmp_path.iterdir()))
    here, elsewhere = scratch.machine(), "0" * 12
    assert f"teacher-k.arrow.tmp{os.getpid()}-{here}" in seen
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()  # a pid that has just ended
    key = "teacher-0123456789abcdef-fedcba9876543210-batch4-world"
    old = time.time() - 2 * teacher_cache.STALE_SECONDS
    gone = {f"teacher-a.arrow.tmp{dead}-{here}": False, f"teacher-k.arrow.crc32.tmp{dead}-{here}": False,
            f"teacher-d.arrow.tmp{os.getpid()}-{elsewhere}": True, f"teacher-e.arrow.tmp{dead}": True,
            f"{key}2.arrow.part00000-of-00002": False, f"{key}2.arrow.part00001-of-00002.tmp{dead}-{here}": False}
    kept = {f"teacher-b.arrow.tmp{os.getpid()}-{here}": True, f"teacher-c.arrow.tmp{dead}-{elsewhere}": False,
            f"teacher-f.arrow.tmp{dead}": False, f"{key}3.arrow.part00000-of-00003": False,
            f"{key}3.arrow.part00001-of-00003.tmp{dead}-{elsewhere}": False}  # perhaps writing elsewhere
    for name, hour_old in {**gone, **kept}.items():
        (tmp_path / name).write_bytes(b"half")
        if hour_old:
            os.utime(tmp_path / name, (old, old))
    removed = teacher_cache.remove_stale_parts(tmp_path / f"{key}1.arrow") + teacher_cache.remove_stale_files(tmp_path)
    assert sorted(f.name for f in removed) == sorted(gone)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["teacher-k.arrow", "teacher-k.arrow.crc32", *kept])
