"""augment.fingerprints: what a source's fingerprint covers, so that a resume on the same data goes on and one on
other data is refused."""
import hashlib
import json
import os

import pytest

from augment.fingerprints import fingerprint
from augment.saved_dataset import SAVED_DATASET_FILES, data_folders
from augment.squad_io import iter_rows


def test_fingerprint_changes_with_content(tmp_path, sample_path):
    f = tmp_path / "a.json"
    f.write_bytes(sample_path.read_bytes())
    fp = fingerprint(f)
    assert fp == fingerprint(f) and fp.startswith("sha256:")
    f.write_bytes(sample_path.read_bytes().replace(b"Beyonc", b"Beyonk"))
    assert fingerprint(f) != fp


def test_a_file_rewritten_within_its_timestamps_resolution_is_hashed_again(tmp_path, sample_path):
    """The process's cache of fingerprints was keyed by each file's size and modification time, which a rewrite of
    the same size can leave as they were (a kernel's coarse clock ticks every 1-10 ms, FAT stores 2 s; cp -p and
    tar set an old one): the first bytes' fingerprint was returned for the second."""
    f = tmp_path / "a.json"
    f.write_bytes(sample_path.read_bytes())
    fp, st = fingerprint(f), f.stat()
    f.write_bytes(sample_path.read_bytes().replace(b"Beyonc", b"Beyonk"))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # the times such a clock leaves
    assert f.stat().st_mtime_ns == st.st_mtime_ns and f.stat().st_size == st.st_size
    assert fingerprint(f) != fp


def test_the_files_of_a_settled_source_are_read_once(tmp_path, sample_path, monkeypatch):
    """distill-train asks twice per start; the second answer comes from the cache once the files are older than a
    timestamp's resolution."""
    import time
    from types import SimpleNamespace

    from augment import fingerprints

    f = tmp_path / "a.json"
    f.write_bytes(sample_path.read_bytes())
    monkeypatch.setattr(fingerprints, "time", SimpleNamespace(time_ns=lambda: later))
    later = time.time_ns() + 10**10  # ten seconds on
    fp = fingerprint(f)
    monkeypatch.setattr(fingerprints, "open", lambda *a: pytest.fail(f"read again: {a}"), raising=False)
    assert fingerprint(f) == fp



def test_a_directorys_fingerprint_covers_the_files_read_and_only_those(tmp_path, sample_path):
    """An --out inside the input folder, or a README beside the data, is not input."""
    (tmp_path / "train.json").write_bytes(sample_path.read_bytes())
    fp = fingerprint(tmp_path)
    (tmp_path / "README.md").write_text("notes")
    (tmp_path / "aug").mkdir()
    (tmp_path / "aug" / "shard-00000.arrow").write_bytes(b"rows")
    assert fingerprint(tmp_path) == fp
    (tmp_path / "more.jsonl").write_text(json.dumps(next(iter_rows(sample_path))) + "\n")
    assert fingerprint(tmp_path) != fp



@pytest.mark.parametrize("layout", ["Dataset", "DatasetDict"])
def test_a_saved_datasets_fingerprint_covers_its_data_files_and_only_those(tmp_path, sample_rows, layout):
    """A report.html, README or manifest written beside a save_to_disk directory (an augment-squad --out used as
    input has its manifest, rejects and .progress/ records too) changed the fingerprint, so a resume keyed on it
    was refused as another input. The files datasets reads still count."""
    import datasets

    from augment.fingerprints import earlier_fingerprint

    ds = datasets.Dataset.from_list(sample_rows[:3])
    saved = tmp_path / "saved"
    (ds if layout == "Dataset" else datasets.DatasetDict({"train": ds})).save_to_disk(str(saved))
    fp = fingerprint(saved)
    assert earlier_fingerprint(saved) is None  # all save_to_disk writes: an earlier tinyaug recorded the same
    for name in ("report.html", "README.md", "manifest.json", "rejects.jsonl", ".progress/shard-00000.json"):
        (saved / name).parent.mkdir(exist_ok=True)
        (saved / name).write_text("not rows")
    assert fingerprint(saved) == fp
    assert earlier_fingerprint(saved) not in (None, fp)  # what an earlier tinyaug recorded of this folder
    info = next(saved.rglob("dataset_info.json"))  # its features decide how the rows load
    info.write_text(info.read_text().replace('"description": ""', '"description": "x"'))
    assert fingerprint(saved) != fp



@pytest.mark.parametrize("layout", ["Dataset", "DatasetDict"])
def test_a_folder_inside_a_saved_dataset_leaves_its_fingerprint(tmp_path, sample_rows, layout):
    """augment-squad --input saved --out saved/aug: the run's shards and state.json (a saved dataset of their own,
    written after the run recorded its input's fingerprint) counted as the input's, so every rerun was refused as
    another input. Only the folder itself and the splits its dataset_dict.json names are read."""
    import datasets

    ds = datasets.Dataset.from_list(sample_rows[:3])
    saved = tmp_path / "saved"
    (ds if layout == "Dataset" else datasets.DatasetDict({"train": ds})).save_to_disk(str(saved))
    fp = fingerprint(saved)
    for folder in ("aug", "train/aug"):
        for name in ("shard-00000.arrow", "state.json", "dataset_info.json"):
            (saved / folder).mkdir(parents=True, exist_ok=True)
            (saved / folder / name).write_text("another run's")
    assert fingerprint(saved) == fp
    if layout == "DatasetDict":  # unreadable, it names no split: every folder counts, and the reader says why
        (saved / "dataset_dict.json").write_text("{")
        assert fingerprint(saved) not in (fp, None)



def _fingerprint_before(path):
    """fingerprint() of a saved dataset as tinyaug computed it until Arrow files that state.json does not list were
    left out (kept here alone): its data folders' Arrow files but datasets' caches, and SAVED_DATASET_FILES."""
    h = hashlib.sha256()
    for f in sorted(f for folder in data_folders(path) for f in folder.iterdir() if f.is_file()
                    and not f.name.startswith(".") and (f.name in SAVED_DATASET_FILES
                                                        or f.suffix == ".arrow" and not f.name.startswith("cache-"))):
        h.update(str(f.relative_to(path)).encode() + f.read_bytes())
    return "sha256:" + h.hexdigest()


def _save(ds, to, layout, shards):
    import datasets

    if layout == "Dataset":
        ds.save_to_disk(str(to), num_shards=shards)
    else:
        datasets.DatasetDict({"train": ds}).save_to_disk(str(to), num_shards={"train": shards})


@pytest.mark.parametrize("layout", ["Dataset", "DatasetDict"])
def test_a_saved_dataset_without_stale_shards_keeps_the_fingerprint_runs_recorded(tmp_path, sample_rows, layout):
    """Runs record the fingerprint of their input, and resume only on the same: a folder whose every Arrow file is
    listed in its state.json (all that save_to_disk writes, with files beside it) keeps the value computed before."""
    import datasets

    saved = tmp_path / "saved"
    _save(datasets.Dataset.from_list(sample_rows[:3]), saved, layout, 2)
    for name in ("report.html", "manifest.json", "cache-0123456789abcdef.arrow", "aug/shard-00000.arrow"):
        (saved / name).parent.mkdir(exist_ok=True)
        (saved / name).write_text("not rows")
    assert len(list(saved.rglob("data-*.arrow"))) == 2
    assert fingerprint(saved) == _fingerprint_before(saved)


@pytest.mark.parametrize("layout", ["Dataset", "DatasetDict"])
def test_a_stale_shard_of_an_earlier_save_leaves_the_fingerprint(tmp_path, sample_rows, layout):
    """save_to_disk of fewer shards into the folder of an earlier save leaves that save's data-0000N-of-0000M.arrow
    there; no part of the dataset (its state.json lists its files), it counted all the same, and a change to it
    refused a resume as another input. The fingerprint a run recorded of the folder until now is still taken."""
    import datasets

    from augment.fingerprints import earlier_fingerprint

    ds = datasets.Dataset.from_list(sample_rows[:3])
    once, again = tmp_path / "once", tmp_path / "again"
    _save(ds, once, layout, 1)
    _save(ds, again, layout, 2)
    _save(ds, again, layout, 1)
    stale = sorted(again.rglob("data-*-of-00002.arrow"))
    assert len(stale) == 2
    recorded = _fingerprint_before(again)
    assert fingerprint(again) == fingerprint(once) != recorded
    assert earlier_fingerprint(again) == recorded  # a run begun on it resumes
    stale[1].write_bytes(b"not rows")
    assert fingerprint(again) == fingerprint(once)
