"""augment.hub: a model spec is a local directory or a hub id, and offline it fails in seconds."""
import time

import pytest

from augment import hub


def test_a_missing_local_path_is_no_such_model_directory(tmp_path):
    assert hub.model_problems([("--teacher", "/nope")], hub.CLI_FIXES) == ["--teacher /nope: no such model directory"]
    assert hub.model_problems([("--mlm", str(tmp_path))], hub.CLI_FIXES) == [
        f"--mlm {tmp_path}: no config.json; expected a directory written by save_pretrained (model and tokenizer)"]


def test_a_model_folder_without_weights_or_tokenizer_files_is_named(tmp_path, tiny_teacher_path):
    """Saving only the model (or only the config) happens; without its vocabulary, transformers makes a
    tokenizer of the 5 special tokens and every word reads as [UNK], with no error anywhere."""
    import shutil

    from pipelines.squad_eval import main as squad_eval

    model = tmp_path / "model"
    model.mkdir()
    shutil.copy(f"{tiny_teacher_path}/config.json", model)
    assert hub.model_problems([("--model", str(model))], hub.CLI_FIXES) == [
        f"--model {model}: no weights (model.safetensors or pytorch_model.bin); expected a directory written by "
        "save_pretrained"]
    shutil.copy(f"{tiny_teacher_path}/model.safetensors", model)
    assert hub.model_problems([("--model", str(model))], hub.CLI_FIXES) == [
        f"--model {model}: no tokenizer files (tokenizer.json, vocab.txt, vocab.json); save the tokenizer beside "
        "the model (tokenizer.save_pretrained on the same directory)"]
    assert squad_eval(["--model", str(model), "--data", "data/sample/train-v2.0-sample.json", "--limit", "2",
                       "--out", str(tmp_path / "eval")]) == 2
    assert not (tmp_path / "eval").exists()
    shutil.copy(f"{tiny_teacher_path}/tokenizer.json", model)
    assert hub.model_problems([("--model", str(model))], hub.CLI_FIXES) == []


def test_a_model_file_or_a_folder_holding_the_model_names_the_model_directory(tmp_path, tiny_teacher_path):
    """A distill-train --out has a config.json of its own (the run's options) and the model in student/;
    passing it, or the weights file itself, said "no weights" or "no such model directory" (for a file
    that exists) without saying where the model is."""
    import shutil

    out = tmp_path / "run"
    shutil.copytree(tiny_teacher_path, out / "student")
    (out / "config.json").write_text('{"data": ["data/aug"]}')
    assert hub.model_problems([("--model", str(out))], hub.CLI_FIXES) == [
        f"--model {out}: no weights (model.safetensors or pytorch_model.bin); expected a directory written by "
        f"save_pretrained; it holds a model directory: {out / 'student'}"]
    (out / "config.json").unlink()  # the tutorial's runs/tutorial: no config.json, models one level down
    shutil.copytree(tiny_teacher_path, out / "student-init")
    assert hub.model_problems([("--model", str(out))], hub.CLI_FIXES)[0].endswith(
        f"no config.json; expected a directory written by save_pretrained (model and tokenizer); it holds model "
        f"directories: {out / 'student'}, {out / 'student-init'}")
    weights = out / "student" / "model.safetensors"
    assert hub.model_problems([("--model", str(weights))], hub.CLI_FIXES) == [
        f"--model {weights}: a file, not a model directory (one written by save_pretrained); its folder "
        f"{out / 'student'} is one"]


def test_an_empty_model_name_is_refused_not_taken_for_the_working_directory():
    """--model "$MODEL" with MODEL unset said "--model : no config.json" (Path("") is the working directory)."""
    assert hub.model_problems([("--model", "")], hub.CLI_FIXES) == [
        "--model '': an empty name (an unset variable?); name a model directory or a hub id"]
    assert hub.model_problems([("mlm", " ")], hub.CLI_FIXES, name="Augmenter({option}={spec!r})") == [
        "Augmenter(mlm=' '): an empty name (an unset variable?); name a model directory or a hub id"]


def test_local_models_and_none_need_no_hub(tiny_mlm_path, monkeypatch):
    def probe():
        raise AssertionError("probed the hub for a local model")
    monkeypatch.setattr(hub, "is_offline", lambda: False)  # the tests' HF_HUB_OFFLINE=1 would skip the probe anyway
    assert hub.model_problems([("--mlm", tiny_mlm_path), ("--teacher", "none"), ("--x", None)], hub.CLI_FIXES,
                              probe=probe) == []


def test_offline_and_not_cached_names_option_id_and_fixes(monkeypatch):
    monkeypatch.setattr(hub, "is_offline", lambda: True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "_went_offline", False)  # the user's HF_HUB_OFFLINE=1, not our probe
    (line,) = hub.model_problems([("--student", "org/tiny")], hub.CLI_FIXES)
    assert line.startswith("--student org/tiny: HF_HUB_OFFLINE=1 is set and the model is not in the local cache;")
    assert "local model directory (--student PATH)" in line
    # Not "run with HF_HUB_OFFLINE=1", which the user did already: the download needs it unset.
    assert line.endswith("unset HF_HUB_OFFLINE and run once with network access to download the model into the "
                         "cache") and "run with HF_HUB_OFFLINE=1" not in line


@pytest.mark.parametrize("env, reason, unset", [
    ({"TRANSFORMERS_OFFLINE": "1"}, "TRANSFORMERS_OFFLINE", "TRANSFORMERS_OFFLINE"),
    ({"HF_HUB_OFFLINE": "", "TRANSFORMERS_OFFLINE": "true"}, "TRANSFORMERS_OFFLINE", "TRANSFORMERS_OFFLINE"),
    ({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}, "HF_HUB_OFFLINE", "HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE"),
    ({"TRANSFORMERS_OFFLINE": "yes"}, "TRANSFORMERS_OFFLINE", "TRANSFORMERS_OFFLINE"),  # huggingface_hub's values
    ({"HF_HUB_OFFLINE": "", "TRANSFORMERS_OFFLINE": "On"}, "TRANSFORMERS_OFFLINE", "TRANSFORMERS_OFFLINE"),
    ({}, "HF_HUB_OFFLINE", "HF_HUB_OFFLINE"),  # offline mode switched on in the process itself
])
def test_offline_mode_from_transformers_offline_names_that_variable(monkeypatch, env, reason, unset):
    """huggingface_hub reads TRANSFORMERS_OFFLINE when HF_HUB_OFFLINE is unset or empty: "unset HF_HUB_OFFLINE"
    told a user who had set only TRANSFORMERS_OFFLINE=1 to unset a variable they never set, and the next run
    failed the same way; with both set, unsetting HF_HUB_OFFLINE alone leaves the other one on."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(hub, "is_offline", lambda: True)
    monkeypatch.setattr(hub, "_went_offline", False)
    (line,) = hub.model_problems([("--student", "org/tiny")], hub.CLI_FIXES)
    assert line.startswith(f"--student org/tiny: {reason}=1 is set and the model is not in the local cache;")
    assert line.endswith(f"or unset {unset} and run once with network access to download the model into the cache")


def test_unreachable_hub_switches_to_offline_mode(monkeypatch):
    switched = []

    def go_offline():
        switched.append(True)
        monkeypatch.setattr(hub, "_went_offline", True)
    monkeypatch.setattr(hub, "is_offline", lambda: False)
    monkeypatch.setattr(hub, "go_offline", go_offline)
    monkeypatch.setattr(hub, "is_cached", lambda repo: repo == "org/cached")
    problems = hub.model_problems([("--teacher", "org/cached"), ("--student", "org/missing")], hub.CLI_FIXES,
                                  probe=lambda: False)
    assert switched == [True]  # so that the cached teacher loads without transformers' retries
    assert problems == ["--student org/missing: the Hugging Face Hub cannot be reached and the model is not in "
                        "the local cache; pass a local model directory (--student PATH), or download the model once "
                        "with network access and run with HF_HUB_OFFLINE=1 to use the cached copy"]


def test_a_later_check_blames_the_network_not_a_variable_the_user_never_set(monkeypatch):
    """The first check finds the hub unreachable and turns offline mode on itself; a second check in the
    same process (the API's next Augmenter, squad-eval after distill-train) must still name the network."""
    import sys

    from huggingface_hub import constants

    monkeypatch.setattr(hub, "_went_offline", False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    if "datasets.config" in sys.modules:
        monkeypatch.setattr(sys.modules["datasets.config"], "HF_HUB_OFFLINE", sys.modules["datasets.config"].HF_HUB_OFFLINE)
    monkeypatch.setattr(hub, "is_cached", lambda repo: False)
    (first,) = hub.model_problems([("--mlm", "org/a")], hub.CLI_FIXES, probe=lambda: False)
    assert hub.is_offline()

    def probe():
        raise AssertionError("probed again although offline mode is on")
    (second,) = hub.model_problems([("--mlm", "org/b")], hub.CLI_FIXES, probe=probe)
    for line in (first, second):
        assert "the Hugging Face Hub cannot be reached and the model is not in the local cache" in line
        assert "HF_HUB_OFFLINE=1 is set" not in line
        # No variable to unset: the user's HF_HUB_OFFLINE=1, for the cached copy, is the way out.
        assert line.endswith("download the model once with network access and run with HF_HUB_OFFLINE=1 to use the "
                             "cached copy")


def test_reachable_hub_leaves_the_load_to_transformers(monkeypatch):
    monkeypatch.setattr(hub, "is_offline", lambda: False)
    monkeypatch.setattr(hub, "go_offline", lambda: pytest.fail("went offline with the hub reachable"))
    assert hub.model_problems([("--mlm", "org/anything")], hub.CLI_FIXES, probe=lambda: True) == []


def test_probe_of_a_closed_port_answers_at_once(monkeypatch):
    from huggingface_hub import constants

    for var in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    t = time.perf_counter()
    assert hub.hub_reachable(timeout=2.0) is False
    assert time.perf_counter() - t < 2.5


@pytest.mark.parametrize("files, gap", [
    (("config.json", "model.safetensors"), "no tokenizer files (tokenizer.json, vocab.txt, vocab.json)"),
    (("config.json", "tokenizer.json"), "no weights (model.safetensors or pytorch_model.bin)"),
    (("config.json", "model.safetensors", "spiece.model"), None),
])
def test_offline_a_cached_copy_without_weights_or_tokenizer_is_named(monkeypatch, tmp_path, files, gap):
    """A cache holding the config and weights but no tokenizer file (single files fetched with hf_hub_download,
    an interrupted download) loaded offline with a tokenizer of the 5 special tokens: every word [UNK], scores of
    noise and no error; one without weights failed after the tokenizer loaded, in transformers' words."""
    from huggingface_hub import constants

    commit = "0" * 40
    repo = tmp_path / "models--org--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    for name in files:
        (repo / "snapshots" / commit / name).write_text("{}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(hub, "is_offline", lambda: True)
    monkeypatch.setattr(hub, "_went_offline", True)
    problems = hub.model_problems([("--model", "org/tiny")], hub.CLI_FIXES)
    assert problems == ([] if gap is None else [
        f"--model org/tiny: the Hugging Face Hub cannot be reached and the local cache holds its config but {gap}; "
        "pass a local model directory (--model PATH), or download the model once with network access and run with "
        "HF_HUB_OFFLINE=1 to use the cached copy"])
