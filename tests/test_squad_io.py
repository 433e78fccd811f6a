import json
import shutil

import pytest

from augment import InputError
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



def test_a_data_key_that_is_not_a_list_is_named_as_such_not_missing(tmp_path):
    """{"data": null} (or an article object where the list belongs) was refused as "missing key 'data'", sending
    the user to look for a key that is there."""
    for value, shown in (("null", "NoneType"), ('{"title": "x", "paragraphs": []}', "dict")):
        (tmp_path / "d.json").write_text('{"version": "v2.0", "data": ' + value + "}")
        with pytest.raises(InputError, match=f"d.json: 'data': expected a list of articles .*, got {shown}$") as e:
            list(iter_rows(tmp_path / "d.json"))
        assert "missing" not in str(e.value)



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



def test_a_malformed_plausible_answers_of_a_row_is_rejected_not_emptied(tmp_path):
    """A row's plausible_answers of "", 0, false or {} was taken for "none" (``or`` its default) and passed,
    while the same value in the official format is rejected; only a missing or null one means none."""
    row = {"id": "x", "context": "Paris is big.", "question": "Where?", "answers": {"text": [], "answer_start": []}}
    bad = ["", 0, False, {}]
    jl = tmp_path / "rows.jsonl"
    jl.write_text("".join(json.dumps({**row, "id": f"x{k}", "plausible_answers": p}) + "\n"
                          for k, p in enumerate([*bad, None, []])))
    rows = list(iter_rows(jl))
    assert [r["plausible_answers"] for r in rows[:4]] == bad  # as given
    for r in rows[:4]:
        with pytest.raises(InvalidExample, match=f"example '{r['id']}': plausible_answers"):
            validate_example(r)
    for r in rows[4:]:  # null and [] mean none
        assert r["plausible_answers"] == {"text": [], "answer_start": []}
        validate_example(r)



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


# A record with a key twice, as a hand edit leaves it: json keeps the last value without a word.
ROW = '{"id": "q1", "title": "t", "context": "Paris is in France.", "question": "Where is Paris?", '


DUPLICATED = [
    ("two-answers.jsonl", ROW + '"answers": {"text": ["France"], "answer_start": [12]}, '
                                '"answers": {"text": [], "answer_start": []}}\n',
     "line 1 (id 'q1'): key 'answers' is given twice with different values"),
    ("two-offsets.jsonl", "\n" + ROW + '"answers": {"text": ["France"], "answer_start": [12], "answer_start": [0]}}\n',
     "line 2 (id 'q1'): key 'answer_start' of answers is given twice with different values ([12] and [0])"),
    ("array.json", "[" + ROW + '"answers": {"text": [], "answer_start": []}}, ' + ROW.replace("q1", "q2")
     + '"question": "Why?", "answers": {"text": [], "answer_start": []}}]',
     "item [1] (id 'q2'): key 'question' is given twice"),
    ("two-contexts.json", '{"data": [{"title": "t", "paragraphs": [{"context": "a", "qas": []}, '
                          '{"context": "Paris.", "qas": [], "context": "Lyon."}]}]}',
     "data[0].paragraphs[1]: key 'context' is given twice"),
    ("answer.json", '{"data": [{"title": "t", "paragraphs": [{"context": "Paris.", "qas": [{"id": "q9", '
                    '"question": "Where?", "answers": [{"text": "Paris", "text": "Lyon", "answer_start": 0}]}]}]}]}',
     "data[0].paragraphs[0].qas[0] (id 'q9'): key 'text' of answers[0] is given twice with different values "
     '("Paris" and "Lyon")'),
    ("two-data.json", '{"data": [{"title": "a", "paragraphs": []}], "data": [{"title": "b", "paragraphs": []}]}',
     "the top-level object: key 'data' is given twice with different values"),
]


@pytest.mark.parametrize("name, text, where", DUPLICATED, ids=[name for name, _, _ in DUPLICATED])
def test_a_key_given_twice_with_different_values_is_refused_naming_key_record_and_file(tmp_path, name, text, where):
    """json.load keeps the last value of a key given twice: a record's first answers (or context) was dropped without
    a word. Refused with the file, the record (its position, and its id where it has one) and the key."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as e:
        list(iter_rows(path))
    assert str(e.value).startswith(f"{path}: {where}")
    assert len(str(e.value).splitlines()) == 1


def test_a_key_given_twice_with_the_same_value_is_read_as_once(tmp_path, sample_path, sample_rows):
    """A harmless repeat (an identical key and value, twice): the rows are those of the file without it."""
    answers = '"answers": {"text": ["France"], "answer_start": [12]}'
    once, twice = tmp_path / "once.jsonl", tmp_path / "twice.jsonl"
    once.write_text(ROW + answers + "}\n")
    twice.write_text(ROW + answers + ", " + answers + ', "title": "t"}\n')
    assert list(iter_rows(twice)) == list(iter_rows(once))
    text = sample_path.read_text()
    doubled = tmp_path / "doubled.json"  # the whole data list twice, and a context twice
    doc = json.loads(text)
    context = json.dumps(doc["data"][0]["paragraphs"][0]["context"], ensure_ascii=False)
    data = json.dumps(doc["data"])
    doubled.write_text('{"data": ' + data + ', "version": "v2.0", "data": ' + data + "}")
    assert list(iter_rows(doubled)) == sample_rows
    doubled.write_text(text.replace('"context": ' + context, '"context": ' + context + ', "context": ' + context, 1))
    assert text.count('"context": ' + context) == 1 and list(iter_rows(doubled)) == sample_rows


def test_every_bad_file_of_a_folder_is_named_at_once(tmp_path, sample_path):
    """A folder's second bad file was named only once its first was fixed and the command run again."""
    (tmp_path / "a.json").write_text('{"data": [}')
    shutil.copy(sample_path, tmp_path / "b.json")
    (tmp_path / "c.jsonl").write_text('{"id": "a", "context": "c", "question": "q"}\n{"id": \n')
    (tmp_path / "d.json").write_text('{"data": []}')
    with pytest.raises(InputError) as e:
        list(iter_rows(tmp_path))
    assert str(e.value) == (f"{tmp_path / 'a.json'}: invalid JSON at line 1 column 11: Expecting value; "
                            f"{tmp_path / 'c.jsonl'}: invalid JSON on line 2 column 8: Expecting value")


@pytest.mark.parametrize("name, text, where", [
    ("cut.jsonl", ROW + '"answers": {"text": [], "text": ["France"], "answer_start": [12]}, "title": \n',
     "invalid JSON on line 1 column 169: Expecting value"),
    ("cut.json", "[" + ROW + '"answers": {"text": [], "text": ["France"], "answer_start": [12]}, "title": ',
     "invalid JSON at line 1 column 170: Expecting value; the file ends before it is complete"),
])
def test_a_key_given_twice_in_a_record_cut_short_is_named_as_invalid_json(tmp_path, name, text, where):
    """The repeat is met (where the inner object closes) before the end that is missing: the record is then invalid
    JSON, what to fix first, as it was named before repeats were looked for; in a .jsonl file it was json's
    JSONDecodeError, a traceback."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as e:
        list(iter_rows(path))
    assert str(e.value).startswith(f"{path}: {where}") and len(str(e.value).splitlines()) == 1
