"""`make tutorial` end to end, at its --small size: every step runs and says what it made."""
import json


def test_small_tutorial_goes_from_the_sample_to_an_answering_student(tmp_path, capsys):
    from pipelines.tutorial import main

    assert main(["--small", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for n in range(1, 7):
        assert f"[{n}/6]" in printed
    assert printed.count("  -> ") == 7  # one line of what was made per step (two evaluations)
    assert "$ augment-squad --input" in printed and "$ init-student --teacher" in printed
    student = json.loads((tmp_path / "student" / "student" / "config.json").read_text())
    teacher = json.loads((tmp_path / "teacher" / "student" / "config.json").read_text())
    assert (student["num_hidden_layers"], teacher["num_hidden_layers"]) == (2, 6)
    assert json.loads((tmp_path / "eval-student.json").read_text())["metrics"]["total"] == 8
    assert "-> student: " in printed.split("[6/6]")[1]


def test_the_summary_line_leaves_out_a_group_without_questions():
    from augment.qa.metric import squad_v2_metric
    from pipelines.tutorial import f1_line

    answerable = {"id": "a", "answers": {"text": ["Paris"], "answer_start": [0]}}
    unanswerable = {"id": "n", "answers": {"text": [], "answer_start": []}}
    only_answerable = squad_v2_metric([answerable], {"a": "Paris"})
    assert f1_line({"metrics": only_answerable}) == "EM 100.0, F1 100.0 on 1 questions (HasAns F1 100.0)"
    both = squad_v2_metric([answerable, unanswerable], {"a": "Paris", "n": "x"})
    assert f1_line({"metrics": both}) == "EM 50.0, F1 50.0 on 2 questions (HasAns F1 100.0, NoAns accuracy 0.0)"
