import numpy as np
import pytest

from augment.distill import data
from augment.errors import InputError, SourceProblems


def test_mixes_augment_output_dirs_and_json_into_squad_columns(tmp_path, sample_path, sample_rows):
    import datasets

    aug = [{**r, "id": r["id"] + "-aug0", "orig_id": r["id"], "variant": 0, "edits": "[]",
            "is_impossible": r["is_impossible"]} for r in sample_rows[:3]]
    datasets.Dataset.from_list(aug).save_to_disk(str(tmp_path / "aug"))
    ds = data.load_examples([tmp_path / "aug", sample_path])
    assert ds.column_names == list(data.COLUMNS)
    assert len(ds) == 3 + len(sample_rows)
    assert ds[0]["id"] == sample_rows[0]["id"] + "-aug0" and ds[3]["id"] == sample_rows[0]["id"]
    assert data.load_examples([tmp_path / "aug", sample_path], limit=5).num_rows == 5


def test_every_bad_source_is_named_in_one_error(tmp_path, sample_path):
    """The first bad source stopped the loading: the second was named only once the first was fixed."""
    broken, cut = tmp_path / "broken.json", tmp_path / "cut.jsonl"
    broken.write_text('{"data": [}')
    cut.write_text('{"id": "q1", "context": "c", "question": "q"}\n{"id": \n')
    with pytest.raises(InputError) as e:
        data.load_examples([broken, sample_path, cut], option="--data")
    assert str(e.value) == (f"{broken}: invalid JSON at line 1 column 11: Expecting value; "
                            f"{cut}: invalid JSON on line 2 column 8: Expecting value")
    # Each once, a source given twice too, and each line apart for a caller that names a source once whatever
    # options gave it (augment.distill.paths.named_once).
    with pytest.raises(SourceProblems) as e:
        data.load_examples([broken, sample_path, cut, broken], option="--data")
    assert e.value.problems == [f"{broken}: invalid JSON at line 1 column 11: Expecting value",
                                f"{cut}: invalid JSON on line 2 column 8: Expecting value"]


def test_a_saved_dataset_is_read_without_writing_into_it(tmp_path, sample_rows):
    """Dataset.from_list stores answer_start as int64, so its columns are cast on load; the cast must not
    leave a cache file in the user's directory, which also changed the source's fingerprint and so refused
    the run's own --resume as 'changed data'."""
    import datasets

    from augment.manifest import data_fingerprint

    saved = tmp_path / "saved"
    datasets.Dataset.from_list([{k: r[k] for k in ("id", "title", "context", "question", "answers")}
                                for r in sample_rows[:5]]).save_to_disk(str(saved))
    files, before = sorted(saved.rglob("*")), data_fingerprint(saved)
    assert data.load_examples([saved]).num_rows == 5
    assert sorted(saved.rglob("*")) == files and data_fingerprint(saved) == before
    (saved / "cache-0123456789abcdef.arrow").write_bytes(b"a map's cache, from some other tool")
    assert data_fingerprint(saved) == before  # datasets' own caches are not the data


def test_missing_columns_are_an_input_error(tmp_path):
    import datasets

    datasets.Dataset.from_list([{"id": "a", "text": "x"}]).save_to_disk(str(tmp_path / "bad"))
    with pytest.raises(InputError, match="missing columns"):
        data.load_examples([tmp_path / "bad"])


def test_windows_are_cached_by_datasets_map(tmp_path, sample_path, tokenizer, monkeypatch):
    import augment.qa.features

    examples = data.load_examples([sample_path], limit=4)
    key = data.features_key([sample_path], "train", 4, tokenizer, 64, 32)
    first = data.tokenize(examples, tokenizer, tmp_path, key, max_length=64, doc_stride=32)

    def must_not_run(*args, **kwargs):
        raise AssertionError("the windows were tokenised again instead of read from the cache")

    monkeypatch.setattr(augment.qa.features, "prepare_train_features", must_not_run)
    again = data.tokenize(examples, tokenizer, tmp_path, key, max_length=64, doc_stride=32)
    assert first.cache_files == again.cache_files and str(tmp_path) in first.cache_files[0]["filename"]
    assert again["input_ids"] == first["input_ids"]
    assert {"context_mask", "start_positions", "example_id", "window_index"} <= set(first.column_names)
    assert data.features_key([sample_path], "train", 4, tokenizer, 64, 16) != key


@pytest.mark.parametrize("workers", [1, 2])
def test_a_windows_cache_cut_short_is_tokenised_again(tmp_path, sample_path, tokenizer, capsys, workers):
    """datasets reuses any file of the name it is given: a cache cut short (an interrupted copy, a full disk) stopped
    every later run with pyarrow's traceback ("Expected to be able to read ... bytes for message body")."""
    examples = data.load_examples([sample_path], limit=6)
    first = data.tokenize(examples, tokenizer, tmp_path, "k", max_length=64, doc_stride=32,
                          num_proc=workers).to_dict()  # read now: the file it maps is cut below
    cut = sorted(tmp_path.glob(f"{data.features_stem('k')}*.arrow"))[-1]
    cut.write_bytes(cut.read_bytes()[:-16])
    again = data.tokenize(examples, tokenizer, tmp_path, "k", max_length=64, doc_stride=32, num_proc=workers)
    assert again.to_dict() == first
    assert f"removed the windows cache file {cut}, which cannot be read" in capsys.readouterr().err


def test_only_a_left_padding_tokenizers_windows_key_says_they_are_padded_on_the_right_now(tokenizer, monkeypatch):
    """Its windows (and the teacher's logits on them) were cached left-padded: they get a key of their own. A right-
    padding tokenizer's windows did not change, and its key must not: that would tokenise the data and compute the
    teacher's logits again. Read from the spec that the key digests (a digest tells neither apart from a change)."""
    import copy
    import json

    specs, dumps = [], json.dumps
    monkeypatch.setattr(json, "dumps", lambda obj, **kw: specs.append(obj) or dumps(obj, **kw))
    left = copy.deepcopy(tokenizer)
    left.padding_side = "left"
    for tok in (tokenizer, left):
        data.features_key(["rows.json"], "train", 8, tok, 96, 32)
    assert [spec.get("padded_right") for spec in specs if isinstance(spec, dict)] == [None, True]


def test_tokenizers_of_one_vocabulary_that_read_accents_otherwise_get_windows_of_their_own(tokenizer, vocab_dir):
    """Same class, vocabulary, padding side and lower-casing, but accents kept: 'Beyoncé' is [UNK], not 'beyonce'.
    Keyed alike, a run of one served the other's windows (and teacher logits) from a shared cache folder."""
    from transformers import AutoTokenizer

    kept = AutoTokenizer.from_pretrained(vocab_dir, strip_accents=False)
    assert kept.tokenize("Beyoncé") != tokenizer.tokenize("Beyoncé")
    assert data.features_key(["rows.json"], "train", 8, kept, 96, 32) != \
        data.features_key(["rows.json"], "train", 8, tokenizer, 96, 32)


def test_parallel_tokenisation_gives_the_same_windows_in_order(tmp_path, sample_path, tokenizer):
    examples = data.load_examples([sample_path], limit=10)
    one = data.tokenize(examples, tokenizer, tmp_path / "one", "k", max_length=64, doc_stride=32)
    two = data.tokenize(examples, tokenizer, tmp_path / "two", "k", max_length=64, doc_stride=32, num_proc=2)
    assert len(two.cache_files) == 2  # really tokenised by two processes
    assert two.to_dict() == one.to_dict()


def test_epoch_order_depends_only_on_seed_and_epoch_and_ranks_split_evenly():
    a = data.epoch_batches(11, 3, seed=7, epoch=2)
    assert a == data.epoch_batches(11, 3, seed=7, epoch=2)
    assert a != data.epoch_batches(11, 3, seed=7, epoch=3)
    assert sorted(sum(a, [])) == list(range(11))
    r0, r1 = (data.epoch_batches(11, 2, seed=7, epoch=0, rank=r, world=2) for r in (0, 1))
    assert len(r0) == len(r1)  # equal batch counts, or DDP would wait forever
    assert not set(sum(r0, [])) & set(sum(r1, [])) and len(sum(r0 + r1, [])) == 10


def test_random_batches_are_unchanged_by_the_grouping_option():
    import numpy as np

    perm = np.random.default_rng([7, 2]).permutation(11)  # the order before --group-by-length existed
    assert data.epoch_batches(11, 3, seed=7, epoch=2) == [perm[i:i + 3].tolist() for i in range(0, 11, 3)]


def test_grouped_batches_hold_similar_lengths_and_every_window_once():
    import numpy as np

    lengths = np.random.default_rng(0).integers(20, 385, size=1000)
    grouped = data.epoch_batches(1000, 16, seed=3, epoch=1, lengths=lengths, group=8)
    plain = data.epoch_batches(1000, 16, seed=3, epoch=1)
    assert sorted(sum(grouped, [])) == list(range(1000)) and len(grouped) == len(plain)
    assert grouped == data.epoch_batches(1000, 16, seed=3, epoch=1, lengths=lengths, group=8)
    assert grouped != data.epoch_batches(1000, 16, seed=3, epoch=2, lengths=lengths, group=8)

    def padded(batches):  # tokens computed when each batch is cut to its longest window
        return sum(len(b) * lengths[b].max() for b in batches)

    assert padded(grouped) < 0.75 * padded(plain)
    # Within a run of group * batch windows the batches are slices of one length-sorted order, so no two
    # batches of a run overlap in length range; across the epoch long and short batches are mixed.
    spans = [(lengths[b].min(), lengths[b].max()) for b in grouped]
    assert np.mean([hi - lo for lo, hi in spans]) < 0.25 * np.mean([np.ptp(lengths[b]) for b in plain])
    firsts = [hi for _, hi in spans[:10]]
    assert firsts != sorted(firsts, reverse=True)  # batch order shuffled, not longest-first


def test_grouped_batches_split_evenly_across_ranks():
    import numpy as np

    lengths = np.arange(101) % 37
    r0, r1 = (data.epoch_batches(101, 4, seed=5, epoch=0, rank=r, world=2, lengths=lengths, group=3) for r in (0, 1))
    assert len(r0) == len(r1) and [len(b) for b in r0] == [len(b) for b in r1]
    assert not set(sum(r0, [])) & set(sum(r1, [])) and len(sum(r0 + r1, [])) == 100
    # The two halves of one global batch hold similar lengths on both ranks (DDP waits for the slower).
    p0, p1 = (data.epoch_batches(101, 4, seed=5, epoch=0, rank=r, world=2) for r in (0, 1))
    spread = lambda x, y: np.mean([np.ptp(lengths[b0 + b1]) for b0, b1 in zip(x, y)])  # noqa: E731
    assert spread(r0, r1) < 0.5 * spread(p0, p1)
    with pytest.raises(ValueError, match="3 lengths for 101 windows"):
        data.epoch_batches(101, 4, seed=5, epoch=0, lengths=[1, 2, 3])


def test_window_lengths_count_the_attention_mask(sample_rows, tokenizer, tmp_path):
    import datasets

    feats = data.tokenize(datasets.Dataset.from_list(sample_rows[:6]), tokenizer, tmp_path, "wl", max_length=64,
                          doc_stride=32)
    got = data.window_lengths(feats, chunk=4)
    assert got.tolist() == [sum(m) for m in feats["attention_mask"]] and len(got) == len(feats)
    assert 0 < got.min() and got.max() <= 64 and got.min() < 64


def test_collate_trims_unused_padding():
    rows = [{"input_ids": [1, 2, 0, 0], "attention_mask": [1, 1, 0, 0], "start_positions": 1, "index": 0},
            {"input_ids": [1, 2, 3, 0], "attention_mask": [1, 1, 1, 0], "start_positions": 0, "index": 5}]
    batch = data.collate(rows)
    assert batch["input_ids"].tolist() == [[1, 2, 0], [1, 2, 3]]
    assert batch["index"].tolist() == [0, 5] and batch["start_positions"].tolist() == [1, 0]


def test_json_sources_get_a_fingerprint_from_the_file_without_pickling_a_table(tmp_path, sample_path,
                                                                               monkeypatch):
    # datasets fingerprints a new in-memory table by pickling it with dill, which fails where datasets is
    # installed outside site-packages (PicklingError on pyarrow's MonthDayNano): nothing may be hashed here.
    import datasets
    from datasets.fingerprint import Hasher

    def no_hashing(*args, **kwargs):
        raise AssertionError("a table was pickled to fingerprint it")
    monkeypatch.setattr(Hasher, "update", no_hashing)
    with pytest.raises(AssertionError, match="pickled"):  # the guard works: from_list would hash
        datasets.Dataset.from_list([{"id": "a"}])
    ds = data.load_examples([sample_path])
    assert ds._fingerprint == data.source_fingerprint(sample_path, "train")
    copy = tmp_path / "copy.json"
    copy.write_bytes(sample_path.read_bytes().replace(b"Beyonc", b"Beyanc", 1))
    assert data.source_fingerprint(copy, "train") != ds._fingerprint  # other bytes, other fingerprint
    assert data.load_examples([copy]).num_rows == ds.num_rows


def test_batched_reads_equal_row_reads_and_carry_cached_teacher_logits(tmp_path, sample_path, tokenizer,
                                                                       tiny_teacher_path):
    import torch
    from transformers import AutoModelForQuestionAnswering

    from augment.distill import teacher_cache

    examples = data.load_examples([sample_path], limit=6)
    feats = data.tokenize(examples, tokenizer, tmp_path, "k", max_length=96, doc_stride=48)
    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path)
    cache = teacher_cache.TeacherLogits(teacher_cache.build(teacher, feats, tmp_path / "t.arrow", batch_size=3), feats)
    idx = [5, 0, 2]
    rows = data.collate([data.WindowDataset(feats)[i] for i in idx])
    batched = data.trim_padding(data.WindowDataset(feats, cache).__getitems__(idx))
    assert batched.keys() == rows.keys() | {"teacher_start", "teacher_end"}
    assert all(torch.equal(batched[k], rows[k]) for k in rows)
    start, end = cache.lookup(idx, rows["attention_mask"])
    assert torch.equal(batched["teacher_start"], start) and torch.equal(batched["teacher_end"], end)
    assert data.trim_padding(rows, pad_to=16)["input_ids"].shape[1] % 16 == 0
    # Cut batches are dense tensors of their own (a strided view would reach the GPU through pageable memory)
    shortest = np.argsort(data.window_lengths(feats))[:2].tolist()
    cut = data.trim_padding(data.WindowDataset(feats, cache).__getitems__(shortest))
    assert cut["input_ids"].shape[1] < 96
    assert all(v.is_contiguous() and v.untyped_storage().nbytes() == v.nbytes for v in cut.values())


def _trim_in(batch: dict) -> dict:
    """trim_padding, and which process ran it (a worker's pid)."""
    import os

    import torch

    return {**data.trim_padding(batch), "pid": torch.tensor(os.getpid())}


def test_one_loader_with_persistent_workers_gives_each_epoch_what_a_new_loader_gave(tmp_path, sample_path,
                                                                                    tokenizer, tiny_teacher_path):
    """distill-train keeps one loader per stage, its workers alive across epochs, where it built a loader (and
    started its workers) every epoch, seeded (seed + epoch). Safe because the workers draw no random numbers: the
    epoch's batches decide the data. Shown by every batch of two epochs, the first resumed mid-way, equal to the
    per-epoch loaders', teacher logits included, and by one worker process serving both epochs."""
    import functools

    import torch
    from transformers import AutoModelForQuestionAnswering

    from augment.distill import teacher_cache

    feats = data.tokenize(data.load_examples([sample_path], limit=4), tokenizer, tmp_path, "k", max_length=96,
                          doc_stride=48)
    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path)
    windows = data.WindowDataset(feats, teacher_cache.TeacherLogits(
        teacher_cache.build(teacher, feats, tmp_path / "t.arrow", batch_size=4), feats))
    epochs = [(0, 1), (1, 0)]  # (epoch, first batch): a resumed run starts past the batches it did
    batches = {e: data.epoch_batches(len(feats), 3, seed=7, epoch=e)[start:] for e, start in epochs}
    sampler, generator = data.EpochBatches(), torch.Generator()
    loader = torch.utils.data.DataLoader(windows, batch_sampler=sampler, collate_fn=_trim_in, num_workers=1,
                                         persistent_workers=True, generator=generator)
    pids = set()
    for e, _ in epochs:
        sampler.batches = batches[e]
        generator.manual_seed(7 + e)
        got = list(loader)
        before = list(torch.utils.data.DataLoader(windows, batch_sampler=batches[e], num_workers=1,
                                                  collate_fn=functools.partial(data.trim_padding),
                                                  generator=torch.Generator().manual_seed(7 + e)))
        assert len(got) == len(before) == len(batches[e]) > 0
        for g, b in zip(got, before):
            pids.add(int(g.pop("pid")))
            assert g.keys() == b.keys() and all(torch.equal(g[k], b[k]) for k in b)
    assert len(pids) == 1  # the same worker both epochs


def _with_bad_rows(sample_rows) -> list[dict]:
    """Four sample rows with three that augment-squad rejects between them."""
    good = sample_rows[:4]
    return [good[0], dict(good[1], id="no-question", question=None), good[1],
            dict(good[2], id="no-context", context=None),
            dict(good[2], id="far-offset", answers={"text": ["xyz"], "answer_start": [99999]}), good[2], good[3]]


def test_rows_augment_squad_rejects_are_skipped_with_one_line_naming_them(tmp_path, sample_rows, capsys,
                                                                           monkeypatch):
    import json

    monkeypatch.delenv("RANK", raising=False)
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in _with_bad_rows(sample_rows)))
    kept = list(data.load_examples([src])["id"])
    assert kept == [r["id"] for r in sample_rows[:4]]  # the rest, in order
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "skipped 3 of 7 rows" in line and "offset_out_of_range" in line
    assert f"{src}: line 2: example 'no-question'" in line and f"{src}: line 4: example 'no-context'" in line
    assert f"{src}: line 5: example 'far-offset'" in line
    assert list(data.load_examples([src], limit=3)["id"]) == kept[:3]  # --limit counts the rows kept
    capsys.readouterr()
    monkeypatch.setenv("RANK", "1")  # the other processes of a torchrun job load the same rows silently
    assert list(data.load_examples([src])["id"]) == kept and not capsys.readouterr().err


def test_skipped_rows_are_named_by_file_and_position_as_squad_io_locates_them(tmp_path, sample_rows, capsys,
                                                                           monkeypatch):
    """The line named a skipped row by its source and id only: in a folder of files it did not say which file,
    and in a long file or a saved dataset the row had to be searched for. Now each is located as augment-squad's
    rejects.jsonl and squad-eval's errors locate it (augment.squad_io.iter_located)."""
    import json

    from augment.squad_io import iter_located

    monkeypatch.delenv("RANK", raising=False)
    bad = _with_bad_rows(sample_rows)
    saved = _saved(tmp_path / "saved", [r for r in bad if r["context"] is not None])  # Arrow needs one type
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sample_rows[4:6]))
    (folder / "b.json").write_text(json.dumps(bad))  # a JSON array of rows
    kept = data.load_examples([saved, folder], option="--prediction-data")
    assert list(kept["id"]) == [r["id"] for r in sample_rows[:4] + sample_rows[4:6] + sample_rows[:4]]
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("distill-train:")]  # no progress bars
    assert "skipped 5 of 15 rows of --prediction-data whose training columns" in line
    assert (f"{saved}: row 1: example 'no-question'" in line and f"{saved}: row 3: example 'far-offset'" in line
            and f"{folder / 'b.json'}: item [1]: example 'no-question'" in line and line.endswith("; and 2 more"))
    # The readers' own positions: the same row is found at the same place by every command.
    assert [str(w) for w, r in iter_located(saved) if r["id"] == "far-offset"] == [f"{saved}: row 3"]
    data.load_examples([folder / "a.jsonl"])
    assert capsys.readouterr().err == ""  # nothing skipped, nothing said


def test_a_saved_dataset_is_checked_too_and_skipping_is_deterministic(tmp_path, sample_rows, tokenizer):
    import datasets

    rows = [r for r in _with_bad_rows(sample_rows) if r["context"] is not None]  # Arrow needs one type
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
    first, again = data.load_examples([tmp_path / "saved"]), data.load_examples([tmp_path / "saved"])
    assert list(first["id"]) == list(again["id"]) == [r["id"] for r in sample_rows[:4]]
    assert first._fingerprint == again._fingerprint
    windows = data.tokenize(first, tokenizer, tmp_path / "cache", "k", max_length=64, doc_stride=32)
    assert set(windows["example_id"]) == {r["id"] for r in sample_rows[:4]}


def test_accumulation_shares_weigh_micro_batches_by_what_each_loss_averages_over():
    from augment.distill.data import accumulation_shares

    group, lengths = [[0, 1], [2]], [4, 4, 2]  # windows 2 + 1, tokens 8 + 2, (query, key) pairs 32 + 4
    shares = [accumulation_shares(group, i, lengths) for i in range(2)]
    assert shares[0] == pytest.approx({"windows": 2 / 3, "tokens": 0.8, "pairs": 32 / 36})
    assert shares[1] == pytest.approx({"windows": 1 / 3, "tokens": 0.2, "pairs": 4 / 36})


def test_a_broken_saved_dataset_is_one_input_error_naming_the_missing_file(tmp_path, sample_rows):
    """distill-train opened a save_to_disk directory itself, and a missing shard was datasets' FileNotFoundError
    (a traceback, exit code 1) where augment-squad and squad-eval name the file in one line."""
    import datasets

    saved = tmp_path / "saved"
    datasets.Dataset.from_list(sample_rows[:3]).save_to_disk(str(saved))
    next(saved.glob("data-*.arrow")).unlink()
    with pytest.raises(InputError, match=r"saved: missing data-00000-of-00001\.arrow \(listed in state\.json\)"):
        data.load_examples([saved])


def _saved(path, rows):
    import datasets

    datasets.Dataset.from_list(rows).save_to_disk(str(path))
    return path


def test_a_saved_dataset_with_answers_as_a_list_of_objects_is_read_as_the_other_commands_read_it(tmp_path,
                                                                                                  sample_rows):
    """Answers as the official files' [{"text", "answer_start"}] were a cast TypeError (a traceback) in
    distill-train, while augment-squad and squad-eval read that directory through squad_io, which makes columns."""
    from augment.squad_io import iter_rows

    rows = [{k: r[k] for k in ("id", "title", "context", "question")} | {"answers": [
        {"text": t, "answer_start": s} for t, s in zip(r["answers"]["text"], r["answers"]["answer_start"])]}
        for r in sample_rows[:4]]
    saved = _saved(tmp_path / "saved", rows)
    ds = data.load_examples([saved])
    assert list(ds["answers"]) == [r["answers"] for r in iter_rows(saved)] == [r["answers"] for r in sample_rows[:4]]


def test_a_saved_dataset_is_checked_before_its_columns_are_cast(tmp_path, sample_rows, capsys, monkeypatch):
    """The cast to the training columns made an id of 5 the string '5' and an answer_start of '12' the int 12
    before the check, so distill-train trained on rows augment-squad rejects in that very directory (and the same
    rows in a JSON file were skipped)."""
    monkeypatch.delenv("RANK", raising=False)
    columns = ("id", "title", "context", "question", "answers")
    answered = next({k: r[k] for k in columns} for r in sample_rows if r["answers"]["text"])
    unanswered = next({k: r[k] for k in columns} for r in sample_rows if not r["answers"]["text"])
    ids = _saved(tmp_path / "ids", [dict(answered, id=1), dict(unanswered, id=2)])
    with pytest.raises(InputError, match="no examples"):
        data.load_examples([ids])
    assert "id must be a non-empty string [missing_id]" in capsys.readouterr().err
    text_starts = [dict(r, answers={"text": r["answers"]["text"],  # one Arrow type for the column: list<string>
                                    "answer_start": list(map(str, r["answers"]["answer_start"]))})
                   for r in (answered, unanswered)]
    starts = _saved(tmp_path / "starts", text_starts)
    assert list(data.load_examples([starts])["id"]) == [unanswered["id"]]
    assert f"{answered['id']!r}: answers[0] answer_start must be an int" in capsys.readouterr().err


def test_the_windows_key_stamps_only_the_files_rows_are_read_from(tmp_path, sample_path, sample_rows, tokenizer):
    """Every file of a --data directory was stamped, so augment-report's report.html written into an augment-squad
    directory (or a README beside a folder's JSON files) changed the key: a new tokenisation and teacher-logit
    cache for the same rows. A changed data file still changes it."""
    import shutil

    saved = _saved(tmp_path / "aug", [{k: r[k] for k in data.COLUMNS} for r in sample_rows[:3]])
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copy(sample_path, folder / sample_path.name)

    def key(source):
        return data.features_key([source], "train", None, tokenizer, 64, 32)

    before = key(saved), key(folder)
    (saved / "report.html").write_text("<html></html>")
    (saved / "manifest.json").write_text("{}")
    (folder / "README.md").write_text("where the sample comes from")
    assert (key(saved), key(folder)) == before
    (folder / "more.jsonl").write_text("")
    next(saved.glob("*.arrow")).write_bytes(b"")
    assert key(saved) != before[0] and key(folder) != before[1]


def test_a_tilde_source_is_the_path_it_names_for_the_windows_key_and_the_cache(tmp_path, sample_rows, tokenizer,
                                                                                 monkeypatch):
    """--data=~/rows.jsonl reaches the program unexpanded (no shell expands a tilde after '='). The readers
    expand it (augment.sources.local_path), but the windows' key stamped the name alone, so windows of the file's old
    rows were served after it changed, and the cache went to OUT/cache instead of beside the data."""
    import json

    from augment.distill.paths import default_cache_dir

    monkeypatch.setenv("HOME", str(tmp_path))
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in sample_rows[:3]))
    before = data.features_key(["~/rows.jsonl"], "train", None, tokenizer, 64, 32)
    rows.write_text("".join(json.dumps(r) + "\n" for r in sample_rows[3:5]))
    assert data.features_key(["~/rows.jsonl"], "train", None, tokenizer, 64, 32) != before
    assert default_cache_dir(["~/rows.jsonl"], tmp_path / "out") == tmp_path / ".distill-cache"


def test_the_windows_key_changes_with_new_bytes_of_the_old_size_and_mtime(tmp_path, sample_path, tokenizer):
    """A fixed answer offset keeps a file's size, and cp -p, tar and rsync -t give the copy its source's mtime,
    which can be the old file's: the key (size and mtime) stayed, and the old data's windows were served."""
    import os
    import shutil

    rows = tmp_path / "rows.json"
    shutil.copy(sample_path, rows)
    before, st = data.features_key([rows], "train", None, tokenizer, 64, 32), rows.stat()
    fixed = tmp_path / "fixed.json"
    fixed.write_bytes(sample_path.read_bytes().replace(b"Beyonc", b"Beyonk"))
    os.utime(fixed, ns=(st.st_atime_ns, st.st_mtime_ns))
    shutil.copy2(fixed, rows)  # cp -p
    assert (rows.stat().st_size, rows.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert data.features_key([rows], "train", None, tokenizer, 64, 32) != before


def test_a_cache_of_windows_labelled_before_the_labels_changed_is_not_read(tmp_path, sample_path, tokenizer):
    # A cache file of the old name (features-<key>.arrow) holds windows labelled by the old rules ("no answer"
    # for an answer with edge whitespace at a window's edge); the key stays (teacher caches are named by it),
    # so only the labels' version in the file's name keeps that file from being read.
    import datasets

    examples = data.load_examples([sample_path], limit=4)
    fresh = data.tokenize(examples, tokenizer, tmp_path / "fresh", "k", max_length=64, doc_stride=32)
    assert any(fresh["start_positions"])
    stale = tmp_path / "stale"
    stale.mkdir()
    fresh.map(lambda b: {"start_positions": [0] * len(b["start_positions"])}, batched=True,
              cache_file_name=str(stale / "features-k.arrow"))
    assert not any(datasets.Dataset.from_file(str(stale / "features-k.arrow"))["start_positions"])
    again = data.tokenize(examples, tokenizer, stale, "k", max_length=64, doc_stride=32)
    assert again["start_positions"] == fresh["start_positions"]


def test_windows_labelled_by_an_earlier_version_are_removed_and_no_other_file(tmp_path):
    """Since the labels' version is in the cache file's name, the old file of the same key (gigabytes for SQuAD
    train x20) was never read again and never removed."""
    from augment.distill.data import features_stem, remove_old_labels

    stem = features_stem("k")
    old = ["features-k.arrow", "features-k_00000_of_00002.arrow", "features-k-labels1.arrow",
           "features-k-labels1_00001_of_00002.arrow"]
    kept = [f"{stem}.arrow", f"{stem}_00000_of_00002.arrow", "features-kx.arrow", "features-j.arrow",
            "teacher-k-d-batch256-world1.arrow", "features-k.arrow.lock"]
    for name in old + kept:
        (tmp_path / name).write_bytes(b"x")
    assert sorted(f.name for f in remove_old_labels(tmp_path, "k")) == sorted(old)
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(kept)
    assert remove_old_labels(tmp_path, "k") == []


def test_accumulation_shares_of_several_processes_average_to_the_joint_batch():
    """Each process's share of the step, as DDP averages the processes' gradients: the shares of two processes,
    summed over their micro-batches, average to 1, and a process of longer windows weighs more in the token and
    pair terms (its own mean, averaged by DDP, weighed as much as the other's: the windows' mean only)."""
    from augment.distill.data import accumulation_shares

    group, lengths = [[0, 1, 2, 3], [4, 5]], [8, 2, 8, 2, 6, 4]  # process 0: windows 0, 2, 4; process 1: 1, 3, 5
    shares = [[accumulation_shares(group, i, lengths, rank, 2) for i in range(2)] for rank in range(2)]
    assert shares[0][0] == pytest.approx({"windows": 2 * 2 / 6, "tokens": 2 * 16 / 30, "pairs": 2 * 128 / 188})
    assert shares[1][1] == pytest.approx({"windows": 2 * 1 / 6, "tokens": 2 * 4 / 30, "pairs": 2 * 16 / 188})
    for k in ("windows", "tokens", "pairs"):
        assert sum(s[k] for process in shares for s in process) / 2 == pytest.approx(1)
    # One process: the step's micro-batches as they are.
    assert accumulation_shares(group, 1, lengths) == pytest.approx({"windows": 2 / 6, "tokens": 10 / 30,
                                                                    "pairs": 52 / 188})



def _tokenise_until_killed(examples, tokenizer, cache, started) -> None:
    """A forked process: tokenise ``examples``, and at the second batch (datasets' temporary file is written by then)
    say so and wait to be killed."""
    import time

    import augment.qa.features

    real, calls = augment.qa.features.prepare_train_features, []

    def slow(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            started.set()
            time.sleep(300)
        return real(*args, **kwargs)

    augment.qa.features.prepare_train_features = slow
    data.tokenize(examples, tokenizer, cache, "killed", max_length=64, doc_stride=32)


def test_a_tokenising_run_killed_outright_leaves_nothing_the_next_run_keeps(tmp_path, tokenizer, capsys):
    """datasets.map writes the windows as tmpXXXXXXXX beside the cache file and renames it at the end: a run killed
    (SIGKILL, the OOM killer) while it tokenised left that file, gigabytes for augmented SQuAD 2.0, for good."""
    import multiprocessing

    import datasets

    # Two of map's batches of 1000 rows, short and unanswerable: quick to tokenise.
    examples = datasets.Dataset.from_list([{"id": f"q{i}", "title": "", "context": "A short context.",
                                            "question": "Which?", "answers": {"text": [], "answer_start": []}}
                                           for i in range(1001)], features=data._features())
    started = multiprocessing.get_context("fork").Event()
    run = multiprocessing.get_context("fork").Process(target=_tokenise_until_killed,
                                                      args=(examples, tokenizer, tmp_path, started))
    run.start()
    try:
        assert started.wait(120), "the forked run did not reach its second batch"
    finally:
        run.kill()
        run.join()
    assert [f for f in tmp_path.rglob("tmp*") if f.is_file()]  # its half-written windows
    data.tokenize(examples.select(range(2)), tokenizer, tmp_path, "next", max_length=64, doc_stride=32)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{data.features_stem('next')}.arrow"]
    assert "removed 1 tokenising folder that a killed run left" in capsys.readouterr().err
