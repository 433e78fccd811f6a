"""augment.distill.resume: the run in --out, and whether a --resume continues it."""
import json

from augment.distill.resume import RUN_DEFINING, run_problems, same_in_effect, token_types_change


def test_run_problems_name_an_earlier_run_and_each_option_a_resume_changes(tmp_path):
    """A fresh run over an earlier one is refused; a resume names each run-defining option it changes, and the
    number of processes, but not an option this run never uses."""
    old = {k: 1 for k in RUN_DEFINING} | {"processes": 1, "labels_version": 3, "teacher_fingerprint": None,
                                          "student_fingerprint": None}
    (tmp_path / "config.json").write_text(json.dumps(old))
    (problem,), _ = run_problems(tmp_path, False, False, old, set())
    assert problem == (f"{tmp_path} holds an earlier run (config.json): pass --resume to continue it, --overwrite "
                       "to replace it, or choose another --out")
    now = old | {"seed": 2, "temperature": 3, "processes": 2}
    (problem,), warnings = run_problems(tmp_path, True, False, now, {"temperature"})
    assert problem == "--resume with different options than the run in --out: --seed 1 -> 2, 1 process -> 2"
    assert warnings == []
    assert run_problems(tmp_path, True, True, old, set())[0] == [
        "--resume continues the run in --out and --overwrite replaces it: pass one of them"]


def test_a_resume_naming_the_data_with_a_tilde_or_expanded_is_the_same_data(tmp_path, monkeypatch):
    """--data=~/aug reaches the program unexpanded (no shell expands a tilde after "="): the readers open the
    folder it names, but the resume check took it for a hub id, so a resume spelling the path out was refused."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "aug").mkdir()
    assert same_in_effect("data", {"data": ["~/aug"]}, {"data": [str(tmp_path / "aug")]})
    assert not same_in_effect("data", {"data": ["~/aug"]}, {"data": [str(tmp_path / "other")]})


def test_a_resume_names_a_change_of_token_types_and_nothing_else(tmp_path):
    assert token_types_change(tmp_path, True) is None  # no config.json: validate() said so
    (tmp_path / "config.json").write_text(json.dumps({"asked_token_types": True}))
    assert token_types_change(tmp_path, True) is None
    assert "began on windows with token type ids, this tinyaug's windows are without them" in \
        token_types_change(tmp_path, False)
    (tmp_path / "config.json").write_text("[]")  # not a run's config: nothing recorded to compare
    assert token_types_change(tmp_path, True) is None and token_types_change(tmp_path, False) is None
