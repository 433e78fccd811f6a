import json

import pytest

from augment import InputError
from augment.fingerprints import fingerprint
from augment.squad_io import Location, iter_located, iter_rows
from augment.validate import InvalidExample, validate_example


def test_official_json_rows(sample_path):
    rows = list(iter_rows(sample_path))
    assert len(rows) == 65 and sum(r["is_impossible"] for r in rows) == 15
    imp = next(r for r in rows if r["is_impossible"])
    assert imp["answers"] == {"text": [], "answer_start": []} and imp["plausible_answers"]["text"]
    r = rows[0]
    assert r["answers"] == {"text": ["in the late 1990s"], "answer_start": [269]}
    assert list(iter_rows(sample_path.parent)) == rows  # a directory of JSON files


def test_jsonl_and_saved_dataset_roundtrip(tmp_path, sample_rows):
    import datasets

    jl = tmp_path / "rows.jsonl"
    jl.write_text("".join(json.dumps(r) + "\n" for r in sample_rows))
    assert list(iter_rows(jl)) == sample_rows
    ds = datasets.Dataset.from_list(sample_rows)
    ds.save_to_disk(str(tmp_path / "ds"))
    assert list(iter_rows(tmp_path / "ds")) == sample_rows
    datasets.DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "dd"))
    assert len(list(iter_rows(tmp_path / "dd", split="train"))) == 65
    with pytest.raises(InputError, match="no split 'validation'"):
        list(iter_rows(tmp_path / "dd", split="validation"))


def test_rows_are_located_in_every_format(tmp_path, sample_path, sample_rows):
    """Where each row was read, as the input's own error messages name it ("FILE: line N"), for rejects.jsonl."""
    import datasets

    located = list(iter_located(sample_path))
    assert [row for _, row in located] == sample_rows
    assert located[0][0] == Location(str(sample_path), "data[0].paragraphs[0].qas[0]")
    assert str(located[16][0]) == f"{sample_path}: data[0].paragraphs[1].qas[1]"  # 15 questions, then 12
    (tmp_path / "rows.jsonl").write_text("\n" + "".join(json.dumps(r) + "\n" for r in sample_rows[:2]))
    (tmp_path / "rows.json").write_text(json.dumps(sample_rows[:2]))  # a JSON array of rows
    assert [where for where, _ in iter_located(tmp_path)] == [  # a folder: each file's own rows
        Location(str(tmp_path / "rows.json"), "item [0]"), Location(str(tmp_path / "rows.json"), "item [1]"),
        Location(str(tmp_path / "rows.jsonl"), "line 2", 2), Location(str(tmp_path / "rows.jsonl"), "line 3", 3)]
    datasets.Dataset.from_list(sample_rows[:2]).save_to_disk(str(tmp_path / "ds"))
    assert [str(where) for where, _ in iter_located(tmp_path / "ds")] == [f"{tmp_path / 'ds'}: row {i}" for i in (0, 1)]


def test_a_json_lines_error_at_its_lines_end_is_placed_on_that_line(tmp_path, sample_rows):
    """A line cut short (the last one of a killed writer) was reported at "column 1", or, cut inside a string,
    as an "Invalid control character": json saw the line's own newline and placed the error after it."""
    path = tmp_path / "rows.jsonl"
    whole = json.dumps(sample_rows[0]) + "\n"
    for cut, where in (('{"id": "q2"', "column 12: Expecting ',' delimiter"),
                       ('{"id": "q2", "question": "When did', "column 26: Unterminated string starting here")):
        for end in ("\n", "\r\n"):
            path.write_text(whole + cut + end, newline="")
            with pytest.raises(InputError) as e:
                list(iter_rows(path))
            assert str(e.value) == f"{path}: invalid JSON on line 2 {where}"


def test_malformed_files_name_file_and_position(tmp_path, sample_path):
    trunc = tmp_path / "trunc.json"
    trunc.write_text(sample_path.read_text()[:5000])
    with pytest.raises(InputError, match=r"trunc.json: invalid JSON at line \d+ column \d+") as e:
        list(iter_rows(trunc))
    # A whole sentence, not json's "Unterminated string starting at" cut before its position:
    assert str(e.value).endswith(": Unterminated string starting here; the file ends before it is complete "
                                 "(truncated?)")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"data": [{"title": "x", "paragraphs": [{"qas": []}]}]}))
    with pytest.raises(InputError, match=r"data\[0\].paragraphs\[0\]: missing key 'context'"):
        list(iter_rows(bad))
    with pytest.raises(InputError, match="missing key 'data'"):
        (tmp_path / "nodata.json").write_text("{}")
        list(iter_rows(tmp_path / "nodata.json"))
    (tmp_path / "bad.jsonl").write_text('{"id": "a", "context": "c", "question": "q"}\n{"id": \n')
    with pytest.raises(InputError, match="line 2"):
        list(iter_rows(tmp_path / "bad.jsonl"))
    with pytest.raises(InputError, match="no such file"):
        list(iter_rows(tmp_path / "missing.json"))


def test_fingerprint_changes_with_content(tmp_path, sample_path):
    f = tmp_path / "a.json"
    f.write_bytes(sample_path.read_bytes())
    fp = fingerprint(f)
    assert fp == fingerprint(f) and fp.startswith("sha256:")
    f.write_bytes(sample_path.read_bytes().replace(b"Beyonc", b"Beyonk"))
    assert fingerprint(f) != fp


def test_streaming_parser_agrees_with_json_load(tmp_path, sample_path):
    """Key order, a 'data' string inside other values, escapes: the article-by-article parser reads
    exactly what json.load reads; on corrupt files it reports json.load's line and column."""
    doc = json.loads(sample_path.read_text())
    odd = {"data": doc["data"], "note": {"data": "[not {this}]", "x": [1, 2]}, "version": "v2.0"}
    f = tmp_path / "odd.json"
    f.write_text(json.dumps(odd, indent=None, ensure_ascii=True))
    assert list(iter_rows(f)) == list(iter_rows(sample_path))
    text = sample_path.read_text()
    for cut in (len(text) // 3, len(text) - 5):
        bad = tmp_path / f"cut{cut}.json"
        bad.write_text(text[:cut] + "}" + text[cut + 1:])
        try:
            json.loads(bad.read_text())
        except json.JSONDecodeError as e:
            want = f"line {e.lineno} column {e.colno}"
        with pytest.raises(InputError, match=want):
            list(iter_rows(bad))


def test_rows_without_answers_stay_without(tmp_path, sample_path):
    """squad_v2 rows always carry 'answers'; a row without it is not made unanswerable (validate rejects
    it), while the official format's unanswerable questions without an answers list stay unanswerable."""
    jl = tmp_path / "rows.jsonl"
    jl.write_text(json.dumps({"id": "a", "context": "c", "question": "q"}) + "\n")
    (row,) = iter_rows(jl)
    assert "answers" not in row and "is_impossible" not in row
    off = tmp_path / "off.json"
    off.write_text(json.dumps({"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": [
        {"id": "x", "question": "q", "is_impossible": True}]}]}]}))
    (row,) = iter_rows(off)
    assert row["answers"] == {"text": [], "answer_start": []} and row["is_impossible"] is True
    # ... but one that says nothing (no answers, no is_impossible, or answers null) is not made unanswerable.
    for qa in ({"id": "y", "question": "q"}, {"id": "z", "question": "q", "answers": None}):
        off.write_text(json.dumps({"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": [qa]}]}]}))
        (row,) = iter_rows(off)
        assert "answers" not in row and row["is_impossible"] is None
        with pytest.raises(InvalidExample, match="missing 'answers'"):
            validate_example(row)


def test_a_second_json_value_after_the_first_is_an_error(tmp_path, sample_path):
    """Two files concatenated: a reader that stops after the first value would drop the second's rows."""
    twice = tmp_path / "twice.json"
    twice.write_text(sample_path.read_text() + "\n" + sample_path.read_text())
    with pytest.raises(InputError, match=r"twice.json: invalid JSON at line \d+ column 1: extra data after the "
                                         r"top-level JSON value"):
        list(iter_rows(twice))
    rows = list(iter_rows(sample_path))
    (tmp_path / "arrays.json").write_text(json.dumps(rows[:2]) + " " + json.dumps(rows[2:4]))
    with pytest.raises(InputError, match="extra data"):
        list(iter_rows(tmp_path / "arrays.json"))
    (tmp_path / "spaces.json").write_text(json.dumps(rows[:2]) + " \n\t\n")  # trailing whitespace is fine
    assert list(iter_rows(tmp_path / "spaces.json")) == rows[:2]


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
    by the files' names: SQuAD data named config.json or eval.json (beside an eval.html) is read as ever."""
    import shutil

    for name in ("config.json", "eval.json"):
        shutil.copy(sample_path, tmp_path / name)
    (tmp_path / "eval.html").write_text("<html></html>")
    assert list(iter_rows(tmp_path)) == sample_rows * 2


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


def test_is_impossible_is_kept_as_given_never_cast(tmp_path):
    """bool("false") is True: a string is passed on as it is, for validate_example to reject, in both formats."""
    from augment.validate import validate_example

    qa = {"id": "x", "question": "Where?", "answers": [{"text": "Paris", "answer_start": 0}]}
    off = tmp_path / "off.json"
    off.write_text(json.dumps({"data": [{"title": "t", "paragraphs": [{"context": "Paris is big.", "qas": [
        {**qa, "is_impossible": "false"}, {**qa, "id": "y"}, {**qa, "id": "z", "is_impossible": False}]}]}]}))
    jl = tmp_path / "rows.jsonl"
    jl.write_text(json.dumps({"id": "x", "context": "Paris is big.", "question": "Where?", "is_impossible": "false",
                              "answers": {"text": ["Paris"], "answer_start": [0]}}) + "\n")
    rows = list(iter_rows(off))
    assert [r["is_impossible"] for r in rows] == ["false", False, False]  # as given, derived, as given
    (row,) = iter_rows(jl)
    assert row["is_impossible"] == "false"
    for bad in (rows[0], row):
        with pytest.raises(ValueError, match="is_impossible must be true or false, got 'false'"):
            validate_example(bad)


def test_official_files_pass_validation_with_their_boolean_is_impossible():
    """The bundled official SQuAD 2.0 files (4,784 questions) hold booleans that agree with the answers."""
    from pathlib import Path

    from augment.validate import validate_example

    data = Path(__file__).resolve().parents[1] / "data"
    rows = [r for f in ("sample/train-v2.0-sample.json", "squad_v2/train-v2.0-subset.json")
            for r in iter_rows(data / f)]
    assert len(rows) == 65 + 4719 and {type(r["is_impossible"]) for r in rows} == {bool}
    for r in rows:
        validate_example(r)


def test_json_lines_with_bare_cr_line_endings_read_as_with_lf(tmp_path, sample_rows):
    """Old Mac files end lines with a lone \\r: read as one line of "Extra data" before. A \\r or \\n inside a
    string is escaped in JSON, so the contexts (and their answer offsets) are the characters written."""
    rows = [*sample_rows[:5], {**sample_rows[0], "id": "crlf", "context": "A\r\nline.\rParis\n is big.",
                               "answers": {"text": ["Paris"], "answer_start": [9]}}]
    for suffix in (".jsonl", ".json", ".txt"):  # .jsonl by name; .json and others by their content
        path = tmp_path / f"rows{suffix}"
        path.write_bytes(b"".join(json.dumps(r).encode() + b"\r" for r in rows))
        located = list(iter_located(path))
        assert [row for _, row in located] == rows, suffix
        assert [where.line for where, _ in located] == [1, 2, 3, 4, 5, 6], suffix
        assert located[-1][1]["context"][9:14] == "Paris"
    mixed = tmp_path / "mixed.jsonl"  # \r\n and blank \r lines beside lone \r endings
    mixed.write_bytes(json.dumps(rows[0]).encode() + b"\r\n\r" + json.dumps(rows[1]).encode() + b"\r")
    assert [(w.line, r["id"]) for w, r in iter_located(mixed)] == [(1, rows[0]["id"]), (3, rows[1]["id"])]


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


def test_a_hub_id_naming_a_missing_entry_of_a_local_folder_says_it_is_not_local_either(tmp_path, monkeypatch):
    """`--data data/aug` before augment-squad wrote data/aug reads as a hub id (no ./, no .json), and the error
    spoke of the hub alone, though data/ is right here; an owner/name with no such local folder is left as it was."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    with pytest.raises(InputError) as e:
        next(iter_located("data/aug", option="--data"))
    assert "could not load dataset 'data/aug'" in str(e.value)
    assert "; nor is it a local file or folder: data/ has no 'aug'; offline?" in str(e.value)
    with pytest.raises(InputError) as e:
        next(iter_located("no-such-owner/not_a_cached_dataset", option="--data"))
    assert "nor is it a local" not in str(e.value)


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
