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
