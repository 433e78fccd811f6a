"""augment.sources: what a source is before it is read (a hub id or a path, its sniffed format, the files of a
folder) and the one-line refusals of a source that is no data, in the library and in the commands."""
import json

import pytest

from augment import InputError
from augment.fingerprints import fingerprint
from augment.squad_io import iter_located, iter_rows


def test_json_lines_in_a_json_file_are_read_as_json_lines(tmp_path, sample_path):
    """datasets' Dataset.to_json writes JSON lines, named .json."""
    rows = list(iter_rows(sample_path))
    (tmp_path / "rows.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert list(iter_rows(tmp_path / "rows.json")) == rows



def test_a_first_line_over_the_sniffed_head_is_still_sniffed_right(tmp_path, sample_path):
    """A JSON-lines .json whose first row is over 1 MiB was cut at the sniffed head, taken for one JSON
    document and refused with "extra data"; an official file on one long line must stay official."""
    from augment.sources import sniff_format

    rows = list(iter_rows(sample_path))[:3]
    big = {**rows[0], "context": rows[0]["context"] + " filler" * 200_000}  # about 1.4 MB
    lines = tmp_path / "rows.json"
    lines.write_text("\n" + "".join(json.dumps(r) + "\n" for r in [big, *rows[1:]]))
    assert sniff_format(lines, rows_only=True) == "jsonl"
    assert list(iter_rows(lines)) == [big, *rows[1:]]
    official = json.loads(sample_path.read_text())
    official["data"][0]["paragraphs"][0]["context"] += " filler" * 200_000
    one_line = tmp_path / "official.json"
    one_line.write_text(json.dumps({"version": "v2.0", "data": official["data"]}))
    assert sniff_format(one_line, rows_only=True) == "json"
    assert len(list(iter_rows(one_line))) == 65
    (tmp_path / "other.json").write_text(json.dumps({"kind": "x" * (2 << 20)}) + "\n")  # not a row: no 'data'
    with pytest.raises(InputError, match="missing key 'data'"):
        list(iter_rows(tmp_path / "other.json"))



def test_a_byte_order_mark_before_a_blank_line_is_not_an_empty_file(tmp_path, sample_path, sample_rows):
    """Windows editors write a UTF-8 BOM; after it a blank line made the sniffed first line the BOM alone, and
    a valid .json was refused as "neither JSON nor JSON lines (it is empty)"."""
    bom = b"\xef\xbb\xbf"
    (tmp_path / "official.json").write_bytes(bom + b"\r\n" + sample_path.read_bytes())
    (tmp_path / "rows.json").write_bytes(bom + b"\n" + "".join(json.dumps(r) + "\n" for r in sample_rows).encode())
    assert list(iter_rows(tmp_path / "official.json")) == sample_rows
    assert list(iter_rows(tmp_path / "rows.json")) == sample_rows



def test_a_folders_data_files_are_found_whatever_the_case_of_their_suffix(tmp_path, sample_path, sample_rows):
    """TRAIN.JSON (as Windows tools name files) was left out of its folder without a word: its rows were never
    read, nor counted in the fingerprint, and a folder of such files alone "held no .json/.jsonl files"."""
    from augment.sources import data_folder_kind

    (tmp_path / "A.JSON").write_bytes(sample_path.read_bytes())
    (tmp_path / "b.Jsonl").write_text("".join(json.dumps({**r, "id": r["id"] + "b"}) + "\n" for r in sample_rows))
    (tmp_path / "notes.txt").write_text("not data")
    rows = list(iter_rows(tmp_path))
    assert rows[:len(sample_rows)] == sample_rows and len(rows) == 2 * len(sample_rows)
    assert data_folder_kind(tmp_path) == "a folder of SQuAD data files (A.JSON)"
    before = fingerprint(tmp_path)
    (tmp_path / "A.JSON").write_text("[]")
    assert fingerprint(tmp_path) != before
    with pytest.raises(InputError, match="MISSING.JSON: no such file"):  # a path, not a hub id
        list(iter_rows("MISSING.JSON"))



def test_a_utf16_file_is_named_as_not_utf8(tmp_path, sample_path):
    """Windows PowerShell's redirection and Notepad's "Unicode" write UTF-16: the file was refused as "neither JSON
    nor JSON lines", showing its BOM as replacement characters and NUL bytes, for what is JSON in another
    encoding."""
    for encoding in ("utf-16", "utf-16-be"):  # with its BOM, in either byte order
        (tmp_path / "dev.json").write_bytes(sample_path.read_text(encoding="utf-8").encode(encoding))
        if encoding == "utf-16-be":
            (tmp_path / "dev.json").write_bytes(b"\xfe\xff" + (tmp_path / "dev.json").read_bytes())
        with pytest.raises(InputError, match=r"dev.json: UTF-16 text \(by its byte order mark\), not UTF-8; "
                                             r"save it as UTF-8"):
            list(iter_rows(tmp_path / "dev.json"))



def test_other_suffixes_are_sniffed(tmp_path, sample_path):
    rows = list(iter_rows(sample_path))
    (tmp_path / "official.txt").write_bytes(sample_path.read_bytes())
    (tmp_path / "rows.data").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert list(iter_rows(tmp_path / "official.txt")) == rows
    assert list(iter_rows(tmp_path / "rows.data")) == rows
    (tmp_path / "junk.txt").write_text("hello")
    with pytest.raises(InputError, match="junk.txt: neither JSON nor JSON lines"):
        list(iter_rows(tmp_path / "junk.txt"))



def test_a_file_of_neither_json_nor_json_lines_is_told_every_form_a_source_may_take(tmp_path):
    """The list left out a JSON array of rows and a folder of .json/.jsonl files, which are read as well."""
    (tmp_path / "junk.txt").write_text("hello")
    with pytest.raises(InputError) as e:
        list(iter_rows(tmp_path / "junk.txt", option="--data"))
    assert str(e.value) == (f"{tmp_path / 'junk.txt'}: neither JSON nor JSON lines (it starts with 'hello'); --data "
                            "takes an official SQuAD .json, a JSON array of squad_v2 rows, a .jsonl of squad_v2 rows, "
                            "a datasets.save_to_disk directory, a directory of .json/.jsonl files or a hub dataset id")



def test_data_named_as_a_commands_outputs_is_still_data(tmp_path, sample_path, sample_rows):
    """An output folder is told by what distill-train and squad-eval write in it (a run's options, a report), not
    by the files' names: SQuAD data named config.json or eval.json (beside an eval.html) is read as ever, in its
    folder or given alone."""
    import shutil

    for name in ("config.json", "eval.json"):
        shutil.copy(sample_path, tmp_path / name)
    (tmp_path / "eval.html").write_text("<html></html>")
    assert list(iter_rows(tmp_path)) == sample_rows * 2
    assert list(iter_rows(tmp_path / "config.json")) == list(iter_rows(tmp_path / "eval.json")) == sample_rows



def test_an_arrow_shard_is_named_as_such_with_its_folder(tmp_path, sample_rows):
    """The shard of a saved dataset (augment-squad's shard-00000.arrow) given as the source said "neither JSON nor
    JSON lines (it starts with '\\ufffd\\ufffd\\ufffd\\ufffdP\\t...')"."""
    from datasets import Dataset

    Dataset.from_list(sample_rows[:2]).save_to_disk(tmp_path / "saved")
    shard = next((tmp_path / "saved").glob("*.arrow"))
    with pytest.raises(InputError) as e:
        list(iter_rows(shard, option="--data"))
    assert str(e.value) == (f"{shard}: an Arrow file, not JSON; pass --data its folder, {tmp_path / 'saved'} (a "
                            "datasets.save_to_disk directory)")
    (tmp_path / "saved" / "state.json").unlink()
    with pytest.raises(InputError, match="an Arrow file, not JSON; --data takes the datasets.save_to_disk directory"):
        list(iter_rows(shard, option="--data"))



def test_hub_ids_and_paths():
    from augment.sources import local_path

    assert local_path("squad_v2") is None and local_path("rajpurkar/squad_v2") is None
    for p in ("./x", "../x", "/x", "~/x", "x.json", "d/x.jsonl", "data/sample"):
        assert local_path(p) is not None, p



def test_an_unfinished_augment_squad_output_is_named_as_such(tmp_path, sample_path, tiny_mlm_path):
    """A stopped augment-squad run has its shards and .progress/ but no state.json yet: reading it was "holds
    neither a saved dataset nor .json/.jsonl files", which says nothing of what it is or how to finish it."""
    from augment.distill.data import load_examples
    from pipelines import augment_squad

    out = tmp_path / "aug"
    assert augment_squad.main(["--input", str(sample_path), "--limit", "5", "--multiplier", "1", "--mlm",
                               tiny_mlm_path, "--glove", "none", "--quiet", "--out", str(out)]) == 0
    for name in ("state.json", "dataset_info.json"):  # written last, when every shard is in place
        (out / name).unlink()
    want = (f"{out}: an augment-squad output that has not finished (no state.json yet); rerun the augment-squad "
            "command that writes it, which resumes and completes it")
    with pytest.raises(InputError) as e:
        next(iter_rows(out))
    assert str(e.value) == want
    with pytest.raises(InputError) as e:
        load_examples([str(out)], option="--data")
    assert str(e.value).endswith(want)



def test_an_empty_source_is_refused_not_read_as_the_working_directory(tmp_path, monkeypatch, sample_path):
    """Path("") is ".": iter_rows("") read the working directory's .json files (or said it held none)."""
    import shutil

    from augment.sources import source_problem

    monkeypatch.chdir(tmp_path)
    shutil.copy(sample_path, tmp_path / "here.json")  # what "" used to read
    expected = "--data '': an empty path (an unset variable?); name a data file, a directory or a hub dataset id"
    assert source_problem("--data", "") == expected
    assert source_problem("--data", " ").startswith("--data ' ': an empty path")
    assert source_problem("--data", "squad_v2") is None
    with pytest.raises(InputError, match=r"^--data '': an empty path \(an unset variable\?\)"):
        next(iter_located("", option="--data"))
    for read in (lambda: list(iter_rows("")), lambda: fingerprint("")):
        with pytest.raises(InputError, match=r"^the data source '': an empty path"):
            read()



@pytest.mark.parametrize("command,argv", [
    ("augment_squad", ["--input", "", "--mlm", "none", "--out", "OUT"]),
    ("squad_eval", ["--model", "MODEL", "--data", ""]),
    ("distill_train", ["--data", "", "--teacher", "none", "--student", "MODEL", "--out", "OUT"]),
    ("distill_train", ["--data", "DATA", "--prediction-data", "", "--student", "MODEL", "--out", "OUT"]),
    ("distill_train", ["--data", "DATA", "--eval", "", "--teacher", "none", "--student", "MODEL", "--out", "OUT"]),
])
def test_the_clis_refuse_an_empty_data_source(command, argv, tmp_path, monkeypatch, capsys, sample_path):
    """An unset variable ("--data $DATA") is one line naming the option, exit 2, before anything loads; --eval ''
    was also taken for no --eval at all (the evaluation asked for skipped without a word)."""
    import importlib
    import shutil

    monkeypatch.chdir(tmp_path)
    shutil.copy(sample_path, tmp_path / "here.json")  # the working directory's data, which '' read
    main = importlib.import_module(f"pipelines.{command}").main
    fill = {"OUT": str(tmp_path / "out"), "MODEL": str(tmp_path / "no-model"), "DATA": str(sample_path)}
    assert main([fill.get(a, a) for a in argv]) == 2
    err = capsys.readouterr().err
    option = argv[argv.index("") - 1]
    assert err.count("\n") == 1 and f"{option} '': an empty path (an unset variable?)" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here.json"]



def test_a_split_is_refused_only_for_a_source_without_splits(tmp_path, sample_path, sample_rows):
    """A file, a folder of files and a saved single Dataset have no splits: the split asked for was never read."""
    import datasets

    from augment.sources import reads_split, split_problem

    ds = datasets.Dataset.from_list(sample_rows[:2])
    ds.save_to_disk(str(tmp_path / "ds"))
    datasets.DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "dd"))
    assert [reads_split(s) for s in (sample_path, sample_path.parent, tmp_path / "ds")] == [False] * 3
    assert [reads_split(s) for s in ("squad_v2", tmp_path / "dd", tmp_path / "missing.json")] == [True] * 3
    assert split_problem("--split", "test", "--data", sample_path) == (
        f"--split test has no effect: --data {sample_path} is a local file or folder of files, which has no splits "
        "(a hub dataset id or a datasets.save_to_disk DatasetDict directory has); leave --split out")
    assert "is a saved Dataset (not a DatasetDict)" in split_problem("--split", "x", "--data", tmp_path / "ds")
    assert split_problem("--split", "train", "--data", tmp_path / "dd") is None



@pytest.mark.parametrize("command,argv", [
    ("augment_squad", ["--input", "DATA", "--split", "test", "--mlm", "none", "--glove", "none", "--out", "OUT"]),
    ("squad_eval", ["--model", "MODEL", "--data", "DATA", "--split", "test"]),
    ("distill_train", ["--data", "DATA", "--eval", "DATA", "--eval-split", "test", "--teacher", "none",
                       "--student", "MODEL", "--out", "OUT"]),
])
def test_the_clis_refuse_a_split_of_a_local_file(command, argv, tmp_path, capsys, sample_path):
    """--split/--eval-split with a local .json was silently ignored (every row read); refused as distill-train
    refuses the other options a run never uses. The same split of a saved DatasetDict is not refused."""
    import importlib

    import datasets

    main = importlib.import_module(f"pipelines.{command}").main
    split_option = argv[argv.index("test") - 1]
    dd = tmp_path / "dd"
    datasets.DatasetDict({"test": datasets.Dataset.from_list(list(iter_rows(sample_path))[:2])}).save_to_disk(str(dd))
    capsys.readouterr()  # datasets' progress bar
    for data, refused in ((sample_path, True), (dd, False)):
        fill = {"OUT": str(tmp_path / "out"), "MODEL": str(tmp_path / "no-model"), "DATA": str(data)}
        assert main([fill.get(a, a) for a in argv]) == 2  # the missing model (no candidates), at least
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert (f"{split_option} test has no effect: " in err) == refused, err



@pytest.mark.parametrize("command,argv,says", [
    ("augment_squad", ["--input", "DATA", "--mlm", "none", "--glove", "none", "--out", "OUT", "--sp=train"],
     "--split train"),
    ("squad_eval", ["--model", "MODEL", "--data", "DATA", "--split", "validation"], "--split validation"),
    ("distill_train", ["--data", "DATA", "--eval", "DATA", "--eval-s", "validation", "--teacher", "none",
                       "--student", "MODEL", "--out", "OUT"], "--eval-split validation"),
])
def test_the_clis_refuse_the_default_split_typed_for_a_local_file(command, argv, says, tmp_path, capsys, sample_path):
    """The split checks compared the value with the default: the default typed out (squad-eval --data data/sample
    --split validation) looked left out and passed. Typed at any value and in any spelling, it is refused; left
    out, it is not."""
    import importlib

    main = importlib.import_module(f"pipelines.{command}").main
    typed = next(a for a in argv if a.startswith(("--sp", "--eval-s")))
    for given in (True, False):
        keep = argv if given else [a for a in argv if a not in (typed, "validation")]
        fill = {"OUT": str(tmp_path / "out"), "MODEL": str(tmp_path / "no-model"), "DATA": str(sample_path)}
        assert main([fill.get(a, a) for a in keep]) == 2  # the missing model (no candidates), at least
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert (f"{says} has no effect: " in err) == given, err
