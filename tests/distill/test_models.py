"""augment.distill.models: the teacher and the student as files."""
from pathlib import Path

import pytest

from augment.distill.models import save_model, teacher_files


def test_a_hub_teachers_cache_is_named_by_its_cached_snapshot(tmp_path, monkeypatch):
    """A hub id has no fingerprint in config.json: the files of its snapshot in the local hub cache stand for its
    weights; with none there, None (the weights are hashed)."""
    from huggingface_hub import constants

    from augment import manifest

    snapshot = tmp_path / "models--org--tiny" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (tmp_path / "models--org--tiny" / "refs").mkdir()
    (tmp_path / "models--org--tiny" / "refs" / "main").write_text("0" * 40)
    for name in ("config.json", "model.safetensors"):
        (snapshot / name).write_text(name)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    # A hub id has no fingerprint recorded (model_fingerprints); a local teacher's recorded one is taken as it is.
    assert teacher_files("org/tiny", None) == manifest.model_fingerprint(snapshot)
    assert teacher_files("org/other", None) is None
    assert teacher_files("org/tiny", "recorded") == "recorded"


def test_a_save_killed_midway_leaves_no_partial_student(tmp_path, tokenizer):
    """save_model writes beside the directory and renames: a save that dies after the config leaves the earlier
    student (or none), never a config without weights."""

    class DiesMidway:
        def save_pretrained(self, path):
            Path(path).mkdir(parents=True)
            (Path(path) / "config.json").write_text("{}")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        save_model(DiesMidway(), tokenizer, tmp_path / "student")
    assert not (tmp_path / "student").exists()
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / "model.safetensors").write_text("earlier")
    with pytest.raises(KeyboardInterrupt):
        save_model(DiesMidway(), tokenizer, tmp_path / "student")
    assert [p.name for p in (tmp_path / "student").iterdir()] == ["model.safetensors"]
