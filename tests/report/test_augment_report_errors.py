"""augment-report on a damaged output directory: one line naming the file, exit code 2; and the answer-span
check over every row, the originals of --include-original too. A small real run (GloVe only, 8 questions)."""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from augment.report.augment_page import build_report
from augment.report.augment_stats import AugmentStats, shard_paths
from pipelines import augment_report, augment_squad

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, sample_path):
    """8 questions x (the original + 2 variants), GloVe only: no masked LM to build."""
    out = tmp_path_factory.mktemp("aug") / "out"
    assert augment_squad.main(["--input", str(sample_path), "--mlm", "none", "--limit", "8", "--multiplier", "2",
                               "--include-original", "--quiet", "--out", str(out)]) == 0
    return out


@pytest.fixture
def damaged(run_dir, tmp_path):
    """A copy of the run to break."""
    return shutil.copytree(run_dir, tmp_path / "aug")


def read_rows(path):
    with pa.OSFile(str(path), "rb") as f:
        return pa.ipc.open_stream(f).read_all()


def one_line_error(argv, capsys) -> str:
    assert augment_report.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("augment-report: error: ") and err.count("\n") == 1, err
    return err


def test_negative_seed_is_refused_before_reading(run_dir, capsys):
    err = one_line_error([str(run_dir), "--seed", "-5"], capsys)
    assert err == "augment-report: error: --seed -5: use an integer >= 0\n"  # not numpy's ValueError


def test_truncated_shard_is_named(damaged, capsys):
    shard = damaged / "shard-00000.arrow"
    os.truncate(shard, 1000)
    err = one_line_error([str(damaged)], capsys)
    assert f"error: {shard}: truncated or corrupt Arrow file (" in err  # not pyarrow's ArrowInvalid


def test_shard_listed_in_state_json_but_gone_is_named(damaged, capsys):
    shard = damaged / "shard-00000.arrow"
    shard.rename(damaged / "shard-00001.arrow")  # still a shard-*.arrow, as the option check wants
    err = one_line_error([str(damaged)], capsys)
    assert f"error: {shard}: no such shard file" in err


def test_corrupt_state_json_is_named(damaged, capsys):
    (damaged / "state.json").write_text("{")
    err = one_line_error([str(damaged)], capsys)
    assert f"error: {damaged / 'state.json'}: unreadable (JSONDecodeError: " in err


@pytest.mark.parametrize("text, problem", [
    ('{"counts": ', "unreadable (JSONDecodeError: Expecting value"),
    ("[]", "a JSON list, not the object augment-squad writes"),
    ('{"options": ["--seed", "0"]}', "'options' is a list, not an object"),
])
def test_corrupt_manifest_is_named(damaged, capsys, text, problem):
    (damaged / "manifest.json").write_text(text)
    err = one_line_error([str(damaged)], capsys)
    assert f"error: {damaged / 'manifest.json'}: {problem}" in err


def test_a_manifest_part_that_is_null_reads_as_not_recorded(damaged):
    """read_manifest lets a null "options", "counts" or "throughput" through (it refuses only the other parts that are not objects),
    and the header called .get on it: an AttributeError traceback instead of a page."""
    manifest = json.loads((damaged / "manifest.json").read_text())
    manifest.update(options=None, counts=None, throughput=None)
    (damaged / "manifest.json").write_text(json.dumps(manifest))
    page, summary = build_report(damaged)
    assert summary["rows"] == 16 and "16 variants of 8 questions" in page


@pytest.mark.parametrize("entry", ["bert-base-uncased", ["glove"], 7, True])
def test_a_models_entry_that_is_not_an_object_reads_as_not_recorded(damaged, entry):
    """As a null one is: the header called .get on models["mlm"] or models["glove"], a traceback for a string."""
    manifest = json.loads((damaged / "manifest.json").read_text())
    manifest["models"] = {"mlm": entry, "glove": entry}
    (damaged / "manifest.json").write_text(json.dumps(manifest))
    page, summary = build_report(damaged)
    assert summary["rows"] == 16 and "mlm model" not in page and "glove model" not in page


def test_answer_spans_of_original_rows_are_checked(run_dir):
    stats = AugmentStats(sample=0)
    for path in shard_paths(run_dir):
        stats.add_shard(path)
    rows = [r for path in shard_paths(run_dir) for r in read_rows(path).to_pylist()]
    s = stats.summary()
    assert s["originals"] == 8 == sum(r["variant"] == 0 for r in rows)
    assert s["answers_checked"] == sum(len((r[f] or {"text": []})["text"]) for r in rows
                                       for f in ("answers", "plausible_answers"))
    assert s["answers_broken"] == 0


def test_a_broken_span_in_an_original_row_is_reported(damaged):
    shard = damaged / "shard-00000.arrow"
    table = read_rows(shard)
    rows = table.to_pylist()
    bad = next(r for r in rows if r["variant"] == 0 and r["answers"]["text"])
    bad["answers"]["answer_start"][0] += 1  # the text no longer sits at its offset
    with pa.OSFile(str(shard), "wb") as f, pa.ipc.new_stream(f, table.schema) as writer:
        writer.write_table(pa.Table.from_pylist(rows, schema=table.schema))
    _record_hash(damaged, shard)  # as if augment-squad itself had written the broken span
    html, summary = build_report(damaged, sample=0)
    assert summary["answers_broken"] == 1 and summary["broken_examples"] == [bad["id"]]
    assert f"1 of {summary['answers_checked']:,} answer spans not exact" in html


def _record_hash(run: Path, shard: Path) -> None:
    from augment.shards import sha256_file

    manifest = json.loads((run / "manifest.json").read_text())
    next(s for s in manifest["shards"] if s["file"] == shard.name)["sha256"] = sha256_file(shard)
    (run / "manifest.json").write_text(json.dumps(manifest))


def test_a_shard_edited_in_place_is_named_though_it_reads(damaged, capsys):
    """An edit's recorded original changed, same row count, every span still exact: only the hash shows it."""
    shard = damaged / "shard-00000.arrow"
    table = read_rows(shard)
    rows = table.to_pylist()
    edited = next(r for r in rows if r["edits"])
    edited["edits"][0]["original"] += "x"
    with pa.OSFile(str(shard), "wb") as f, pa.ipc.new_stream(f, table.schema) as writer:
        writer.write_table(pa.Table.from_pylist(rows, schema=table.schema))
    err = one_line_error([str(damaged)], capsys)
    assert f"error: {shard}: its SHA-256 differs from the one manifest.json records" in err


def test_the_run_dir_is_a_complete_report(run_dir):
    """The fixture itself reads cleanly, so each failure above comes from its damage alone."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    html, summary = build_report(run_dir, sample=1)
    assert summary["rows"] + summary["originals"] == manifest["counts"]["written"] == 24
    assert f"all {summary['answers_checked']:,} answer spans exact" in html


def test_a_shard_with_fewer_rows_than_its_manifest_lists_is_named(damaged, capsys):
    """Cut exactly between two record batches, a shard reads as a whole, shorter one: only the count shows it."""
    shard = damaged / "shard-00000.arrow"
    table = read_rows(shard)
    listed = json.loads((damaged / "manifest.json").read_text())["shards"][0]["rows"]
    with pa.OSFile(str(shard), "wb") as f, pa.ipc.new_stream(f, table.schema) as writer:
        writer.write_table(table.slice(0, table.num_rows - 3))
    err = one_line_error([str(damaged)], capsys)
    assert f"error: {shard}: {listed - 3:,} rows, but manifest.json lists {listed:,} (cut short?)" in err


@pytest.mark.parametrize("columns, problem", [
    ({"id": ["a"], "text": ["x"]}, "no single column 'orig_id', "),   # pyarrow read a missing column as the last one
    (None, "'variant' is string, not int32"),
])
def test_an_arrow_file_that_is_not_a_shard_is_named(damaged, capsys, columns, problem):
    shard = damaged / "shard-00000.arrow"
    if columns is None:  # the shard's own columns, one of another type
        table = read_rows(shard)
        table = table.set_column(2, "variant", pa.array([str(v) for v in table["variant"].to_pylist()]))
    else:
        table = pa.table(columns)
    with pa.OSFile(str(shard), "wb") as f, pa.ipc.new_stream(f, table.schema) as writer:
        writer.write_table(table)
    err = one_line_error([str(damaged), "--sample", "1"], capsys)  # was a KeyError traceback
    assert f"error: {shard}: not an augment-squad shard ({problem}" in err


def test_a_filename_in_state_json_that_is_not_a_string_is_named(damaged, capsys):
    (damaged / "state.json").write_text(json.dumps({"_data_files": [{"filename": 5}]}))
    err = one_line_error([str(damaged)], capsys)  # was a TypeError traceback from Path / 5
    assert f"error: {damaged / 'state.json'}: unreadable (TypeError: a filename 5)" in err


def test_a_shard_outside_the_run_is_named_not_read(damaged, capsys):
    """state.json naming a shard of the run beside it (up and into its folder) read that run's shard:
    check_shard_list goes by file name."""
    shutil.copytree(damaged, damaged.parent / "other")
    outside = "/".join(["..", "other", "shard-00000.arrow"])  # (spelt in parts: test_repo_paths reads this file)
    (damaged / "state.json").write_text(json.dumps({"_data_files": [{"filename": outside}]}))
    err = one_line_error([str(damaged)], capsys)
    assert (f"error: {damaged / 'state.json'}: data file '{outside}' is outside {damaged} (a shard is "
            "read from the folder of its state.json)") in err


def test_a_shard_left_from_another_run_is_named_not_counted(damaged, run_dir, capsys):
    """Without state.json every shard-*.arrow is read: one that manifest.json does not list (left by an older
    run into the same folder) was counted in the page with exit 0."""
    (damaged / "state.json").unlink()
    stray = damaged / "shard-00009.arrow"
    shutil.copy(damaged / "shard-00000.arrow", stray)
    err = one_line_error([str(damaged)], capsys)
    assert f"error: {stray}: not one of the shards manifest.json lists (left from another run?)" in err
    stray.unlink()
    assert augment_report.main([str(damaged), "--sample", "1"]) == 0  # the run's own shards, without state.json


def test_a_shard_the_manifest_lists_but_state_json_does_not_is_named(damaged, capsys):
    """state.json listing fewer shards than manifest.json gave a page of the rest (none: 0 rows), and exit 0."""
    (damaged / "state.json").write_text(json.dumps({"_data_files": []}))
    err = one_line_error([str(damaged)], capsys)
    assert (f"error: {damaged / 'shard-00000.arrow'}: listed in manifest.json but not in {damaged / 'state.json'}"
            in err)


def test_a_shard_with_more_rows_than_its_manifest_lists_is_not_called_cut_short(damaged, capsys):
    shard = damaged / "shard-00000.arrow"
    table = read_rows(shard)
    listed = json.loads((damaged / "manifest.json").read_text())["shards"][0]["rows"]
    with pa.OSFile(str(shard), "wb") as f, pa.ipc.new_stream(f, table.schema) as writer:
        writer.write_table(pa.concat_tables([table, table.slice(0, 3)]))
    err = one_line_error([str(damaged)], capsys)
    assert f"error: {shard}: {listed + 3:,} rows, but manifest.json lists {listed:,} (from another run?)" in err


@pytest.mark.parametrize("name", ["manifest.json", "state.json", "shard-00000.arrow", "notes.txt"])
def test_out_naming_a_file_of_the_run_is_refused(damaged, name, capsys):
    """--out DIR/manifest.json (or a shard, or any file already there that is no page) overwrote the run's own file:
    its next report or resume refused the run, or read the page as rows."""
    target = damaged / name
    if name == "notes.txt":
        target.write_text("mine\n")
    before = target.read_bytes()
    err = one_line_error([str(damaged), "--out", str(target)], capsys)
    assert f"--out {target}: a file of the augment-squad run in {damaged}" in err
    assert target.read_bytes() == before


@pytest.mark.parametrize("name", ["config.json", "shard-00000.json", "page.html"])
def test_out_inside_the_runs_progress_folder_is_refused(damaged, name, capsys):
    """--out DIR/.progress/config.json was written: the page replaced the configuration a resume compares, so the
    rerun of the same augment-squad command stopped on an unreadable config.json."""
    target = damaged / ".progress" / name
    before = target.read_bytes() if target.exists() else None
    err = one_line_error([str(damaged), "--out", str(target)], capsys)
    assert f"--out {target}: a file of the augment-squad run in {damaged}" in err
    assert (target.read_bytes() if target.exists() else None) == before


def test_out_naming_another_page_in_the_run_is_written(damaged):
    assert augment_report.main([str(damaged), "--out", str(damaged / "sample-30.html"), "--sample", "2"]) == 0
    assert (damaged / "sample-30.html").read_text().startswith("<!")


# -- reading versus writing: an OSError says which it was, and names the file --------------------------------------
def _vanish_after_reading(monkeypatch):
    """Each shard is removed as soon as its rows are read (another run's --overwrite, a lost mount): the reading
    that follows, its SHA-256 against manifest.json, meets a real OSError."""
    add_shard = AugmentStats.add_shard

    def add_then_vanish(self, path):
        rows = add_shard(self, path)
        Path(path).unlink()
        return rows
    monkeypatch.setattr(AugmentStats, "add_shard", add_then_vanish)


def test_a_shard_that_cannot_be_read_is_named_as_unreadable(damaged, capsys):
    """An I/O error while reading a shard was "truncated or corrupt Arrow file": it is neither. /proc/self/mem is a
    regular file that fails with EIO at offset 0, even for root (whom no file mode stops)."""
    if not Path("/proc/self/mem").is_file():
        pytest.skip("needs Linux's /proc/self/mem")
    shard = damaged / "shard-00000.arrow"
    shard.unlink()
    shard.symlink_to("/proc/self/mem")
    err = one_line_error([str(damaged)], capsys)
    assert err == f"augment-report: error: {shard}: cannot be read (Input/output error)\n"


def test_an_oserror_while_hashing_a_shard_is_one_line(damaged, capsys, monkeypatch):
    _vanish_after_reading(monkeypatch)
    err = one_line_error([str(damaged)], capsys)  # was a FileNotFoundError traceback
    shard = damaged / "shard-00000.arrow"
    assert err == f"augment-report: error: {shard}: cannot be read (No such file or directory)\n"


def test_augment_squad_report_says_a_read_error_is_one(tmp_path, sample_path, capsys, monkeypatch):
    """augment-squad --report: a shard that could not be read for the page was "could not write SHARD: ...; make
    room", exit 1. It is a file that cannot be read (exit 2, as a corrupt shard is)."""
    out = tmp_path / "out"
    _vanish_after_reading(monkeypatch)
    assert augment_squad.main(["--input", str(sample_path), "--mlm", "none", "--limit", "2", "--multiplier", "1",
                               "--quiet", "--report", "--out", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err == f"augment-squad: error: {out / 'shard-00000.arrow'}: cannot be read (No such file or directory)"


def test_a_page_that_cannot_be_written_is_one_line(damaged, capsys):
    """DIR/report.html a directory (augment-report's default page): refused as --out DIR is, not a traceback."""
    (damaged / "report.html").mkdir()
    err = one_line_error([str(damaged)], capsys)
    assert err == (f"augment-report: error: {damaged / 'report.html'}: a directory, where the page goes; remove it "
                   f"or name a file with --out\n")


@pytest.mark.parametrize("finished", [True, False])
def test_augment_squad_report_where_a_directory_holds_the_pages_place_is_refused_up_front(damaged, sample_path,
                                                                                          tmp_path, finished, capsys):
    """OUT/report.html a directory: a rerun of a finished run failed on the page's write (a traceback, later one
    line), and a new run only after all its work; both are refused before anything runs, as augment-report does."""
    out = damaged if finished else tmp_path / "new"
    (out / "report.html").mkdir(parents=True)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert augment_squad.main(["--input", str(sample_path), "--mlm", "none", "--limit", "8", "--multiplier", "2",
                               "--include-original", "--quiet", "--report", "--out", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err == (f"augment-squad: error: --report: {out / 'report.html'} is a directory, where the page goes; "
                   "remove it"), err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # nothing written


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE and SIGXFSZ as Linux has them")
def test_a_page_that_fills_the_disk_is_one_line(run_dir, tmp_path):
    """The page's write failing (files past 20 kB refused, as on a full disk) was a traceback."""
    def limit_file_size():
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an error from write(), not a signal that kills
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
    page = tmp_path / "page.html"
    proc = subprocess.run([sys.executable, "-m", "pipelines.augment_report", str(run_dir), "--out", str(page)],
                          cwd=REPO, capture_output=True, text=True, timeout=120, preexec_fn=limit_file_size)
    assert (proc.returncode, proc.stderr) == (2, f"augment-report: error: could not write {page}: File too large\n")
    assert list(tmp_path.iterdir()) == []  # no temporary file left
