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
