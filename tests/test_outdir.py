"""augment.outdir: an unusable --out is found before anything loads, and a failed run leaves none."""
import errno

from augment import outdir


def test_a_new_nested_directory_is_fine_and_nothing_is_left(tmp_path):
    assert outdir.out_problem("--out", tmp_path / "a" / "b") is None
    assert list(tmp_path.iterdir()) == []  # the write test cleaned up after itself


def test_a_file_in_the_way_is_named(tmp_path):
    (tmp_path / "f").write_text("x")
    assert outdir.out_problem("--out", tmp_path / "f") == (
        f"--out {tmp_path / 'f'}: it is a file, not a directory; name a new or existing directory")
    assert outdir.out_problem("--out", tmp_path / "f" / "sub").startswith(
        f"--out {tmp_path / 'f' / 'sub'}: {tmp_path / 'f'} is a file")


def test_an_unwritable_directory_is_named_with_the_reason(tmp_path, monkeypatch):
    def read_only(**kwargs):
        raise OSError(errno.EROFS, "Read-only file system")
    monkeypatch.setattr(outdir.tempfile, "mkdtemp", read_only)
    assert outdir.out_problem("--out", tmp_path / "aug") == (
        f"--out {tmp_path / 'aug'}: cannot write in {tmp_path} (Read-only file system); "
        "choose a directory you can write to")


def test_remove_empty_takes_only_what_it_made_and_only_if_empty(tmp_path):
    made = outdir.missing_dirs(tmp_path / "a" / "b" / "c")
    assert made == [tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"]
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    outdir.remove_empty(made)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "keep.txt").write_text("x")
    outdir.remove_empty(made)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["keep.txt"]
