"""augment.saved_dataset: a datasets.save_to_disk folder, told from a folder of files, opened with one InputError
that names the damaged file and says what is wrong (the line augment-squad, squad-eval and distill-train print
after "error: "), and the files its fingerprint covers. The folders are real save_to_disk output, damaged."""
import contextlib
import json
import shutil
from pathlib import Path

import pytest

from augment.errors import InputError
from augment.saved_dataset import (is_saved_dataset, open_saved_dataset, saved_columns, saved_dataset_error,
                                   saved_dataset_files)


@pytest.fixture(scope="module")
def saved_folders(tmp_path_factory, sample_rows):
    """A Dataset in two shards (so that every Arrow file must be found, not the first) and a DatasetDict with a
    train split, of three rows, saved once for the module; tests damage copies of them."""
    import datasets

    ds = datasets.Dataset.from_list(sample_rows[:3])
    root = tmp_path_factory.mktemp("saved")
    ds.save_to_disk(str(root / "Dataset"), num_shards=2)
    datasets.DatasetDict({"train": ds}).save_to_disk(str(root / "DatasetDict"))
    return root


@pytest.fixture(params=["Dataset", "DatasetDict"])
def layout(request):
    return request.param


def _copy(saved_folders, layout, tmp_path):
    return shutil.copytree(saved_folders / layout, tmp_path / "saved")


def test_a_saved_dataset_is_told_from_a_folder_of_files(tmp_path, sample_path, saved_folders, layout):
    assert is_saved_dataset(saved_folders / layout)
    (tmp_path / "train.json").write_bytes(sample_path.read_bytes())
    assert not is_saved_dataset(tmp_path)
    for name in ("state.json", "dataset_info.json", "dataset_dict.json"):  # any one: its errors say what lacks
        one = tmp_path / name.split(".")[0]
        one.mkdir()
        (one / name).write_text("{}")
        assert is_saved_dataset(one)


def test_open_saved_dataset_reads_the_rows_of_either_layout(saved_folders, sample_rows, layout):
    ds = open_saved_dataset(saved_folders / layout)
    assert ds["id"] == [r["id"] for r in sample_rows[:3]]


def test_a_single_dataset_is_read_whatever_split_is_asked(saved_folders, sample_rows):
    """It has no splits; squad-eval's default --split validation reads it, and an explicit --split is refused
    by the commands before reading (augment.sources.split_problem)."""
    assert len(open_saved_dataset(saved_folders / "Dataset", "validation")) == 3


def test_a_split_the_dataset_dict_lacks_is_named_with_the_ones_it_has(saved_folders):
    path = saved_folders / "DatasetDict"
    with pytest.raises(InputError) as e:
        open_saved_dataset(path, "validation")
    assert str(e.value) == f"{path}: no split 'validation'; it has ['train']"


def _truncate(f):
    f.write_bytes(f.read_bytes()[:f.stat().st_size // 2])


def _write(name, text):
    return lambda p: (p / name).write_text(text)


def _state_with_a_null_filename(p):
    state = json.loads((p / "state.json").read_text())
    state["_data_files"][0]["filename"] = None
    (p / "state.json").write_text(json.dumps(state))


INCOMPLETE = "not a complete datasets.save_to_disk directory: missing"
# (layout, damage, the start of the message: the file or folder named, what is wrong). A message that quotes
# what json or pyarrow said is checked up to that quote.
DAMAGED = {
    "no state.json": ("Dataset", lambda p: (p / "state.json").unlink(), "{p}: " + INCOMPLETE + " state.json"),
    "no dataset_info.json": ("Dataset", lambda p: (p / "dataset_info.json").unlink(),
                             "{p}: " + INCOMPLETE + " dataset_info.json"),
    "state.json not JSON": ("Dataset", _write("state.json", "{"), "{p}/state.json: unreadable (JSONDecodeError: "),
    "state.json without _data_files": ("Dataset", _write("state.json", "{}"),
                                       "{p}/state.json: unreadable (KeyError: '_data_files'); expected "
                                       "'_data_files' as datasets.save_to_disk writes it"),
    "state.json with a null filename": ("Dataset", _state_with_a_null_filename,
                                        "{p}/state.json: unreadable (TypeError: "),
    "dataset_info.json not JSON": ("Dataset", _write("dataset_info.json", "{"),
                                   "{p}/dataset_info.json: unreadable (JSONDecodeError: "),
    "a shard missing": ("Dataset", lambda p: (p / "data-00001-of-00002.arrow").unlink(),
                        "{p}: missing data-00001-of-00002.arrow (listed in state.json)"),
    "a shard truncated": ("Dataset", lambda p: _truncate(p / "data-00001-of-00002.arrow"),
                          "{p}/data-00001-of-00002.arrow: truncated or corrupt Arrow file ("),
    "dataset_dict.json not JSON": ("DatasetDict", _write("dataset_dict.json", "{"),
                                   "{p}/dataset_dict.json: unreadable (JSONDecodeError: "),
    "splits null": ("DatasetDict", _write("dataset_dict.json", '{"splits": null}'),
                    "{p}/dataset_dict.json: unreadable (TypeError: 'splits' is None, not a list of split names)"),
    "splits a string": ("DatasetDict", _write("dataset_dict.json", '{"splits": "train"}'),
                        "{p}/dataset_dict.json: unreadable (TypeError: 'splits' is 'train', not a list of split "
                        "names)"),
    "a split folder missing": ("DatasetDict", lambda p: shutil.rmtree(p / "train"),
                               "{p}: missing the split folder train (listed in dataset_dict.json)"),
    "a split's state.json missing": ("DatasetDict", lambda p: (p / "train" / "state.json").unlink(),
                                     "{p}/train: " + INCOMPLETE + " state.json"),
    "a split's shard truncated": ("DatasetDict", lambda p: _truncate(p / "train" / "data-00000-of-00001.arrow"),
                                  "{p}/train/data-00000-of-00001.arrow: truncated or corrupt Arrow file ("),
}


@pytest.mark.parametrize("read", [open_saved_dataset, saved_columns])
@pytest.mark.parametrize("case", list(DAMAGED))
def test_a_damaged_saved_dataset_is_one_input_error_naming_the_file(tmp_path, saved_folders, case, read):
    """A null or string 'splits' was a TypeError traceback or a missing folder 't' (datasets iterated the
    string); a missing split folder was said to lack its state.json; an unreadable dataset_info.json named only
    the directory; a null filename in state.json was a TypeError traceback. saved_columns, what a refused command
    checks of a saved dataset beside its other sources without datasets' import (augment.squad_io.source_problems),
    says what opening it says."""
    layout, damage, expected = DAMAGED[case]
    path = _copy(saved_folders, layout, tmp_path)
    damage(path)
    with pytest.raises(InputError) as e:
        read(path)
    assert str(e.value).startswith(expected.format(p=path)), str(e.value)
    assert "\n" not in str(e.value)  # one error line


def test_saved_columns_are_the_rows_columns_of_the_split_asked(saved_folders, layout):
    assert saved_columns(saved_folders / layout) == open_saved_dataset(saved_folders / layout).column_names
    with pytest.raises(InputError) if layout == "DatasetDict" else contextlib.nullcontext() as e:
        saved_columns(saved_folders / layout, "validation")  # a Dataset has no splits: any one reads it
    if e is not None:
        assert str(e.value) == f"{saved_folders / layout}: no split 'validation'; it has ['train']"


def test_a_source_beside_a_bad_one_is_checked_without_datasets(tmp_path, saved_folders, sample_path):
    """A refused command names every bad source (augment.squad_io.source_problems): a saved dataset among them was
    opened with datasets, whose import (over a second) held the one error line up. Its files and columns are
    checked without it, with the words reading its rows gives."""
    import subprocess
    import sys

    import datasets

    from augment.squad_io import iter_rows

    no_question = tmp_path / "no-question"
    datasets.Dataset.from_list([{"id": "q1", "title": "t", "context": "c",
                                 "answers": {"text": [], "answer_start": []}}]).save_to_disk(str(no_question))
    with pytest.raises(InputError) as e:
        list(iter_rows(no_question))
    truncated = _copy(saved_folders, "Dataset", tmp_path)
    _truncate(truncated / "data-00001-of-00002.arrow")
    sources = [str(saved_folders / "DatasetDict"), str(no_question), str(truncated), str(sample_path)]
    probe = ("import json, sys; from augment.squad_io import source_problems; "
             f"print(json.dumps([source_problems({sources!r}), 'datasets' in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    problems, imported = json.loads(done.stdout)
    assert problems[0] == str(e.value) and len(problems) == 2, problems
    assert problems[1].startswith(f"{truncated / 'data-00001-of-00002.arrow'}: truncated or corrupt Arrow file (")
    assert not imported


def test_an_error_no_arrow_file_explains_names_the_directory_and_the_first_line(saved_folders):
    path = saved_folders / "Dataset"
    assert str(saved_dataset_error(path, ValueError("bad cast\nat row 7"))) == (
        f"{path}: cannot read the saved dataset (ValueError: bad cast)")


AROUND = ("report.html", "README.md", "manifest.json", "rejects.jsonl", ".progress/shard-00000.json",
          "cache-0123456789abcdef.arrow", "aug/shard-00000.arrow", "aug/state.json", "aug/dataset_info.json")


def _files(path):
    return sorted(f for f in path.rglob("*") if f.is_file())


def test_saved_dataset_files_are_those_save_to_disk_wrote(tmp_path, saved_folders, layout):
    """Every shard, the JSON files load_from_disk reads, a split's own; not what is kept beside them (a report,
    an augment-squad run's records, datasets' cache files, an --out folder inside, a stale shard of an earlier save,
    in a split too)."""
    path = _copy(saved_folders, layout, tmp_path)
    written = _files(path)
    assert len([f for f in written if f.suffix == ".arrow"]) == (2 if layout == "Dataset" else 1)
    for name in AROUND + tuple(f"train/{name}" for name in AROUND if layout == "DatasetDict"):
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text("not its rows")
    (path / ("" if layout == "Dataset" else "train") / "data-00002-of-00003.arrow").write_text("an earlier save's")
    assert saved_dataset_files(path) == written


def test_an_unreadable_dataset_dict_json_counts_every_visible_folder(tmp_path, saved_folders):
    """It names no split, so any folder may be one; reading the rows fails and says why."""
    path = _copy(saved_folders, "DatasetDict", tmp_path)
    (path / "dataset_dict.json").write_text("{")
    for name in ("aug/shard-00000.arrow", ".progress/state.json"):
        (path / name).parent.mkdir()
        (path / name).write_text("not its rows")
    assert saved_dataset_files(path) == [f for f in _files(path) if ".progress" not in f.parts]


@pytest.mark.parametrize("state", ["{", '{"_data_files": [{"filename": "../data-00000-of-00002.arrow"}]}',
                                   '{"_data_files": [{"filename": "./"}]}'])
def test_a_state_json_that_names_no_file_inside_counts_every_arrow_file(tmp_path, saved_folders, state):
    """Unreadable, or naming a file outside the folder or none (reading the rows refuses either and says why): going
    by it would leave the real shards out, so every Arrow file counts, as before state.json was read."""
    path = _copy(saved_folders, "Dataset", tmp_path)
    (path / "data-00002-of-00003.arrow").write_text("an earlier save's")
    (path / "state.json").write_text(state)
    assert saved_dataset_files(path) == _files(path)


def test_listed_files_inside_the_folder_count_by_the_path_datasets_reads(tmp_path, saved_folders, sample_rows):
    """state.json's "./x.arrow" and "sub/x.arrow" name files datasets reads (it joins them to the folder); they made
    every Arrow file of the folder count instead, an unlisted stale shard included, and sub/x.arrow none at all:
    new bytes there left the fingerprint as it was."""
    from augment.fingerprints import fingerprint

    path = _copy(saved_folders, "Dataset", tmp_path)
    (path / "sub").mkdir()
    (path / "data-00001-of-00002.arrow").rename(path / "sub" / "data-00001-of-00002.arrow")
    state = json.loads((path / "state.json").read_text())
    state["_data_files"] = [{"filename": "./data-00000-of-00002.arrow"}, {"filename": "sub//data-00001-of-00002.arrow"}]
    (path / "state.json").write_text(json.dumps(state))
    assert open_saved_dataset(path)["id"] == [r["id"] for r in sample_rows[:3]]  # datasets reads them both
    listed = _files(path)
    for stale in ("data-00002-of-00003.arrow", "sub/data-00002-of-00003.arrow"):
        (path / stale).write_text("an earlier save's")
    assert saved_dataset_files(path) == listed
    fp = fingerprint(path)
    (path / "sub" / "data-00001-of-00002.arrow").write_bytes(b"other rows")
    assert fingerprint(path) != fp


@pytest.mark.parametrize("split", ["../outside", "/abs", "a/../../outside", "", "."])
def test_a_split_that_is_no_plain_folder_name_is_refused_naming_it(tmp_path, saved_folders, split):
    """dataset_dict.json's splits were joined to the folder as they came: '../x', '/abs' and 'a/../../x' read rows
    (and the fingerprint's files) from a saved dataset outside it, '' and '.' this folder again, a RecursionError."""
    path = _copy(saved_folders, "DatasetDict", tmp_path)
    shutil.copytree(saved_folders / "Dataset", tmp_path / "outside")  # rows for the bad split to reach
    (path / "a").mkdir()  # so that a/../../outside resolves
    split = str(tmp_path / "outside") if split == "/abs" else split
    (path / "dataset_dict.json").write_text(json.dumps({"splits": ["train", split]}))
    with pytest.raises(InputError) as e:
        open_saved_dataset(path, split)
    assert str(e.value) == (f"{path}/dataset_dict.json: split {split!r} is not a plain folder name (a split is read "
                            f"from the folder of its name inside {path}); expected names such as 'train', as "
                            "datasets.save_to_disk writes them")
    assert all(f.resolve().is_relative_to(path.resolve()) for f in saved_dataset_files(path))


def test_a_split_of_any_plain_name_is_read(tmp_path, saved_folders, sample_rows):
    path = _copy(saved_folders, "DatasetDict", tmp_path)
    (path / "train").rename(path / "dev-aug.v2 x")
    (path / "dataset_dict.json").write_text(json.dumps({"splits": ["dev-aug.v2 x"]}))
    assert open_saved_dataset(path, "dev-aug.v2 x")["id"] == [r["id"] for r in sample_rows[:3]]


@pytest.mark.parametrize("name", ["../outside.arrow", "/abs", "sub/../../outside.arrow"])
def test_a_data_file_outside_the_folder_is_refused_naming_it(tmp_path, saved_folders, name):
    """state.json's '_data_files' were joined to the folder as they came, by _check_saved_files and by datasets:
    '../x.arrow' or '/abs.arrow' read another dataset's rows, which the folder's fingerprint never covered."""
    path = _copy(saved_folders, "Dataset", tmp_path)
    shutil.copy(path / "data-00000-of-00002.arrow", tmp_path / "outside.arrow")  # rows for the bad name to reach
    (path / "sub").mkdir()  # so that sub/../../outside.arrow resolves
    name = str(tmp_path / "outside.arrow") if name == "/abs" else name
    state = json.loads((path / "state.json").read_text())
    state["_data_files"][1]["filename"] = name
    (path / "state.json").write_text(json.dumps(state))
    with pytest.raises(InputError) as e:
        open_saved_dataset(path)
    assert str(e.value) == (f"{path}/state.json: data file {name!r} is outside {path} (a data file is read from the "
                            "folder of its state.json); expected names such as 'data-00000-of-00001.arrow', as "
                            "datasets.save_to_disk writes them")
