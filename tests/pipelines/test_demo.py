"""`make demo` (the README's first command): the real augment-squad run on the sample, then two variants
side by side with their edits marked and their answers checked."""
import re

from pipelines.demo import marked, main


def test_marked_brackets_each_replacement_in_the_variants_text():
    # "the big cat sat" -> "the large dog sat": the edits hold the original's offsets (as augment-squad
    # records them), so the second replacement sits where the first one's longer word moved it.
    edits = [{"field": "context", "start": 8, "end": 11, "replacement": "dog"},
             {"field": "context", "start": 4, "end": 7, "replacement": "large"},
             {"field": "question", "start": 0, "end": 3, "replacement": "Who"}]  # not the context: unmarked
    assert marked("the large dog sat", edits) == "the [large] [dog] sat"


def test_demo_augments_the_sample_and_shows_two_checked_variants(tmp_path, sample_rows, capsys):
    assert main(["--out", str(tmp_path / "demo")]) == 0
    printed = capsys.readouterr().out
    import datasets

    rows = datasets.load_from_disk(str(tmp_path / "demo"))
    assert len(rows) == 3 * len(sample_rows)  # --multiplier 3, every sample question kept
    assert f"{len(rows)} rows in {tmp_path / 'demo'}" in printed
    # The manifest names the augment-squad call the demo made, not the arguments of the process around it.
    import json

    command = json.loads((tmp_path / "demo" / "manifest.json").read_text())["command"]
    assert command[:2] == ["augment-squad", "--input"] and "--multiplier" in command and "3" in command
    assert command[command.index("--out") + 1] == str(tmp_path / "demo")
    answers = re.findall(r"variant (\d) answer: .* \((.*)\)", printed)
    assert answers == [("1", "context[s:s+len] matches"), ("2", "context[s:s+len] matches")]
    # The shown variants are real rows of the output, with the edits the display marks.
    orig_id = re.search(r"question '([^']+)'", printed).group(1)
    shown = [r for r in rows if r["orig_id"] == orig_id and r["variant"] in (1, 2)]
    assert len(shown) == 2 and all(r["edits"] for r in shown)
    for r in shown:  # each bracket holds the next replacement, and without brackets the text is the row's
        replaced = [e["replacement"] for e in sorted(r["edits"], key=lambda e: e["start"]) if e["field"] == "context"]
        shown_text = marked(r["context"], r["edits"])
        assert "[" not in r["context"] and re.findall(r"\[([^\]]*)\]", shown_text) == replaced
        assert shown_text.replace("[", "").replace("]", "") == r["context"]


def _stamps(d):
    return {p.name: p.stat().st_mtime_ns for p in d.iterdir()}


def test_demo_refuses_an_out_holding_another_run_or_other_files_and_redoes_its_own(tmp_path, sample_path, capsys):
    """`--out DIR` always added --overwrite: pointed at a real augment-squad output, it deleted that run's shards."""
    from pipelines import augment_squad

    other = tmp_path / "aug"  # a run of the sample, but not the demo's: --multiplier 1
    assert augment_squad.main(["--input", str(sample_path), "--limit", "5", "--mlm", "none", "--multiplier", "1",
                               "--quiet", "--out", str(other)]) == 0
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    for out in (other, notes):
        before = _stamps(out)
        capsys.readouterr()
        assert main(["--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith(f"demo: error: --out {out} ")
        assert "the demo replaces only its own earlier output" in err
        assert _stamps(out) == before
    demo = tmp_path / "demo"
    assert main(["--out", str(demo)]) == 0
    (demo / "shard-00000.arrow").write_bytes(b"")  # its own earlier output, even damaged, is redone
    assert main(["--out", str(demo)]) == 0


def test_demo_reads_the_sample_file_so_a_squad_eval_report_beside_it_does_not_stop_it(tmp_path, reported_sample,
                                                                                        monkeypatch, capsys):
    """README's `squad-eval --data data/sample/train-v2.0-sample.json --out data/sample` leaves eval.json and
    eval.html beside the sample; the demo read the folder, which then reads as a squad-eval output, not data,
    and stopped with a line a demo user cannot act on."""
    from pipelines import demo

    monkeypatch.setattr(demo, "SAMPLE", reported_sample(demo.SAMPLE))  # the demo's input, in the reported copy
    out = tmp_path / "out"
    assert main(["--out", str(out)]) == 0, capsys.readouterr().err
    assert f"195 rows in {out}" in capsys.readouterr().out  # README: the 65 sample questions x3
