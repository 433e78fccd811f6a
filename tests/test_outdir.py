"""augment.outdir: an unusable --out is found before anything loads, and a failed run leaves none."""
import errno

import pytest

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


def test_an_empty_or_blank_name_is_refused_not_taken_for_the_working_directory():
    # Path("") is ".": `--out "$OUT"` with $OUT unset would write into (and --overwrite clean) the working directory.
    assert outdir.out_problem("--out", "") == "--out '': an empty path (an unset variable?); name the output directory"
    assert outdir.out_problem("--out", "  ").startswith("--out '  ': an empty path")


def _refused_in_place(main, argv, prog, tmp_path, monkeypatch, capsys):
    """``main(argv)`` run in a working directory holding another tool's files: exit 2, one line naming --out '',
    and the files untouched."""
    monkeypatch.chdir(tmp_path)
    theirs = {name: f"{name} of another tool" for name in ("manifest.json", "state.json", "report.html")}
    for name, text in theirs.items():
        (tmp_path / name).write_text(text)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"{prog}: error: ")
    assert "--out '': an empty path" in err
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == theirs


def test_distill_train_refuses_an_empty_out(tmp_path, monkeypatch, capsys, sample_path):
    from pipelines import distill_train

    _refused_in_place(distill_train.main, ["--data", str(sample_path), "--teacher", "none", "--student",
                                           str(tmp_path / "no-model"), "--out", "", "--overwrite"],
                      "distill-train", tmp_path, monkeypatch, capsys)


def test_init_student_refuses_an_empty_out(tmp_path, monkeypatch, capsys):
    from pipelines import init_student

    _refused_in_place(init_student.main, ["--teacher", str(tmp_path / "no-model"), "--layers", "2", "--out", "",
                                          "--overwrite"], "init-student", tmp_path, monkeypatch, capsys)


def test_squad_eval_refuses_an_empty_out(tmp_path, monkeypatch, capsys, sample_path):
    """squad-eval --out '' wrote eval.json and eval.html into the working directory (Path("") is "."), where the
    other commands refuse it."""
    from pipelines import squad_eval

    _refused_in_place(squad_eval.main, ["--model", str(tmp_path / "no-model"), "--data", str(sample_path),
                                        "--out", ""], "squad-eval", tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize("empty", ["DIR", "--out"])
def test_augment_report_refuses_an_empty_dir_or_out(empty, tmp_path, monkeypatch, capsys):
    """augment-report '' said ': no shard-*.arrow files', and --out '' '--out : a directory'."""
    from pipelines import augment_report

    monkeypatch.chdir(tmp_path)
    argv = [""] if empty == "DIR" else [str(tmp_path / "no-run"), "--out", ""]
    assert augment_report.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{empty} '': an empty path (an unset variable?)" in err, err


def test_a_data_folder_as_out_is_refused_in_any_spelling(tmp_path):
    (tmp_path / "data").mkdir()
    data = str(tmp_path / "data")
    assert outdir.source_folder_problem("--out", f"{data}/", f"{data}/", [("--data", "squad_v2"), ("--data", data)]) \
        == (f"--out {data}/: it is the --data folder, where a later run over {data} would read this run's files as "
            "data; choose another --out")
    assert outdir.source_folder_problem("--out", f"{data}/e.json", data, [("--data", data)]).startswith(
        f"--out {data}/e.json: {data} is the --data folder")
    (tmp_path / "data" / "run").mkdir()  # a folder inside it is not read as data
    assert outdir.source_folder_problem("--out", f"{data}/run", f"{data}/run", [("--data", data)]) is None  # a folder inside it is not read as data
    assert outdir.source_folder_problem("--out", data, data, [("--data", f"{data}/train.json")]) is None


@pytest.mark.parametrize("command", ["augment_squad", "distill_train", "squad_eval"])
def test_out_that_is_the_data_folder_is_refused_before_anything_is_written(command, tmp_path, monkeypatch, capsys,
                                                                           sample_path):
    """distill-train --data D --out D wrote config.json and metrics.jsonl into D, and squad-eval --out D its
    eval.json: the next run over D read them as data and stopped ('D/config.json: data[0]: missing key
    'paragraphs''). augment-squad --input D --out D --overwrite wrote its shards over its input."""
    import importlib
    import shutil

    data = tmp_path / "data"
    shutil.copytree(sample_path.parent, data)  # data/sample/: a folder of .json files
    before = sorted(p.name for p in data.iterdir())
    model = ["--mlm", "none"] if command == "augment_squad" else \
        ["--model" if command == "squad_eval" else "--student", str(tmp_path / "no-model")]
    argv = {"augment_squad": ["--input", str(data), "--overwrite"], "squad_eval": ["--data", str(data)],
            "distill_train": ["--data", str(data), "--teacher", "none"]}[command] + model
    monkeypatch.chdir(tmp_path)
    assert importlib.import_module(f"pipelines.{command}").main([*argv, "--out", "data"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out data: it is the " in err and "folder, where a later run over" in err, err
    assert sorted(p.name for p in data.iterdir()) == before


def test_a_cache_dir_in_a_data_folder_is_refused_naming_both_options(tmp_path, capsys, sample_path, sample_rows):
    """distill-train --cache-dir D with D a saved dataset's folder (or a DatasetDict's split folder) wrote its
    windows and teacher logits (features-*.arrow, teacher-*.arrow) among the data's Arrow files: they counted in its
    fingerprint, and the --resume of that very run was refused as "--data D changed". A folder inside D is not read."""
    import shutil

    import datasets

    from pipelines.distill_train import main

    saved = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(sample_rows[:2])}).save_to_disk(str(saved))
    shutil.copytree(sample_path.parent, tmp_path / "eval")  # a folder of .json files
    capsys.readouterr()  # save_to_disk's progress bar
    base = ["--data", str(saved), "--eval", str(tmp_path / "eval"), "--teacher", "none",
            "--student", str(tmp_path / "no-model"), "--out", str(tmp_path / "out")]
    for cache, says in [(saved / "train", f"the train split folder of --data {saved}"), (saved, "the --data folder")]:
        assert main([*base, "--cache-dir", str(cache)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and (f"--cache-dir {cache}: it is {says}, where a later run over {saved} would "
                                         "read this run's files as data; choose another --cache-dir") in err, err
    assert main([*base, "--cache-dir", str(tmp_path / "eval")]) == 2  # why: test_arrow_files_in_a_json_folder_...
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--cache-dir {tmp_path / 'eval'}: it is the --eval folder, a folder of " in err
    for cache in (saved / "cache", None):  # inside it, and the default (.distill-cache beside it): not read as data
        assert main([*base, *(["--cache-dir", str(cache)] if cache else [])]) == 2  # the missing student only
        assert "--cache-dir" not in capsys.readouterr().err
    assert not (saved / "cache").exists() and not (tmp_path / ".distill-cache").exists()


def test_a_saved_models_config_json_is_no_record_of_a_run(tiny_student_path):
    """Only distill-train's options (its keys) make a folder a run's: init-student --out over a model folder, or a
    model folder given as data, must not be told it is one."""
    assert outdir.distill_run_options(tiny_student_path) is None
    assert outdir.squad_eval_options(tiny_student_path) is None


def test_a_cache_dir_in_a_folder_of_json_files_is_refused_saying_why(tmp_path, sample_path):
    """distill-train --cache-dir D, D a --data folder of .json files, was refused as if a later run would read the
    cache as data. tinyaug's readers skip .arrow files there, but datasets.load_dataset(D) reads a folder whose file
    names name no split as its most common kind of file, Arrow first on a tie: the windows and logits instead of
    the questions. So the refusal stays, and says so."""
    import shutil

    import datasets

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(sample_path, data / "squad.json")  # no split in its name (train-v2.0.json would be the train split)
    assert outdir.source_folder_problem("--cache-dir", data, data, [("--data", str(data))], arrow_only=True) == (
        f"--cache-dir {data}: it is the --data folder, a folder of .json/.jsonl data files: "
        f"datasets.load_dataset({data}) can read the .arrow files cached there instead of its questions (where no "
        "file name names a split, it reads a folder's most common kind of file, Arrow before JSON on a tie), though "
        "tinyaug's readers skip them; choose another --cache-dir")
    windows = datasets.Dataset.from_dict({"input_ids": [[101, 102]]})
    for name in ("features-k-labels2.arrow", "teacher-k.arrow"):  # what a run caches (data.tokenize, teacher_cache)
        windows.map(lambda b: b, batched=True, cache_file_name=str(data / name))
    assert datasets.load_dataset(str(data), split="train", cache_dir=str(tmp_path / "hf")).column_names == ["input_ids"]


def test_out_into_any_folder_read_as_data_is_refused_naming_it(tmp_path, sample_path, sample_rows):
    """squad-eval --out D/preds.json, D a data folder that is not its --data, wrote the report among D's data: under
    a name other than eval.json the folder was not told as squad-eval's, so the next run over D stopped at the
    report ("an evaluation's report, not data") and D's fingerprint changed."""
    import shutil

    import datasets

    files = shutil.copytree(sample_path.parent, tmp_path / "files")  # a folder of .json files
    rows = datasets.Dataset.from_list(sample_rows[:2])
    rows.save_to_disk(str(tmp_path / "saved"))
    datasets.DatasetDict({"train": rows}).save_to_disk(str(tmp_path / "dict"))
    (tmp_path / "running" / ".progress").mkdir(parents=True)  # an augment-squad --out before its state.json
    (tmp_path / "running" / ".progress" / "config.json").write_text("{}")
    hub = [("--data", "squad_v2")]
    assert outdir.data_folder_problem("--out", f"{files}/preds.json", files, hub) == (
        f"--out {files}/preds.json: {files} is a folder of SQuAD data files ({sample_path.name}), which augment-squad, "
        f"distill-train and squad-eval read as data; write this run's files outside it, such as --out {files}-eval")
    for folder, kind in [(tmp_path / "saved", "a datasets.save_to_disk directory"),
                         (tmp_path / "dict", "a datasets.save_to_disk directory"),
                         (tmp_path / "dict" / "train", f"the train split folder of the saved dataset {tmp_path}/dict"),
                         (tmp_path / "running", "an augment-squad output that has not finished")]:
        assert outdir.data_folder_problem("--out", folder, folder, hub).startswith(f"--out {folder}: it is {kind}")


def test_out_beside_data_that_is_no_data_folder_is_allowed(tmp_path, sample_path, sample_rows, tiny_student_path):
    """What is near data but not read as data: the folder of the data file evaluated (the usage line's
    --data dev-v2.0.json --out eval.json), the folder holding a saved dataset, a new folder inside a data folder, a
    distill-train run's folder, a model's, one of earlier reports under other names."""
    import json
    import shutil

    import datasets

    files = shutil.copytree(sample_path.parent, tmp_path / "files")
    datasets.Dataset.from_list(sample_rows[:2]).save_to_disk(str(tmp_path / "saved"))
    (files / "evals").mkdir()
    run = tmp_path / "run"  # distill-train --out: its options, metrics and eval.json
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"data": ["d"], "teacher": "t", "student": "s", "stage": "both"}))
    (run / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0}\n')
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "teacher.json").write_text(json.dumps({"metrics": {}, "options": {"data": "d"}, "predictions": {}}))
    beside = [("--data", str(files / sample_path.name))]
    for folder in (files, tmp_path, files / "evals", run, tiny_student_path, reports):
        assert outdir.data_folder_problem("--out", f"{folder}/preds.json", folder, beside) is None, folder
    assert outdir.data_folder_problem("--out", f"{files}/preds.json", files, [("--data", "squad_v2")])  # not its file


def test_squad_eval_refuses_an_out_file_in_a_data_folder_before_anything_is_written(tmp_path, sample_path, capsys):
    import shutil

    from pipelines.squad_eval import main

    files = shutil.copytree(sample_path.parent, tmp_path / "files")
    before = sorted(p.name for p in files.iterdir())
    data = tmp_path / "dev.json"
    data.write_bytes(sample_path.read_bytes())
    assert main(["--model", str(tmp_path / "no-model"), "--data", str(data), "--out", f"{files}/preds.json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--out {files}/preds.json: {files} is a folder of SQuAD data files" in err, err
    assert sorted(p.name for p in files.iterdir()) == before


def test_a_folder_of_its_own_is_refused_beside_the_data_file_too(tmp_path, sample_path):
    """distill-train's run, augment-squad's saved dataset and a cache are folders the run makes its own, not places
    for a file beside the data: the folder of a --data file among its sources is refused as any other data folder."""
    import shutil

    files = shutil.copytree(sample_path.parent, tmp_path / "files")
    beside = [("--input", str(files / sample_path.name))]
    assert outdir.data_folder_problem("--out", files, files, beside) is None  # squad-eval's rule
    assert outdir.data_folder_problem("--out", files, files, beside, own_folder=True, suffix="-aug") == (
        f"--out {files}: it is a folder of SQuAD data files ({sample_path.name}), which augment-squad, distill-train "
        f"and squad-eval read as data; write this run's files outside it, such as --out {files}-aug")
    (files / "new").mkdir()  # a new folder inside it is not read
    assert outdir.data_folder_problem("--out", files / "new", files / "new", beside, own_folder=True) is None


@pytest.mark.parametrize("case", ["augment-squad --out a folder of files", "augment-squad --out a saved dataset",
                                  "distill-train --out", "distill-train --cache-dir"])
def test_a_folder_of_its_own_into_another_data_folder_is_refused_before_anything_is_written(
        case, tmp_path, monkeypatch, capsys, sample_path, sample_rows):
    """A data folder that is not one of the run's sources: augment-squad --out --overwrite wrote its shards and
    state.json among a folder's .json files (a saved dataset of the shards alone then) or over a saved dataset's
    state.json; distill-train --out its config.json (the folder then a run's, refused as data); its --cache-dir
    its Arrow files, which datasets.load_dataset reads instead of the questions."""
    import importlib
    import shutil

    import datasets

    other = tmp_path / "other"
    if "saved" in case:
        datasets.Dataset.from_list(sample_rows[:2]).save_to_disk(str(other))
        capsys.readouterr()  # save_to_disk's progress bar
    else:
        shutil.copytree(sample_path.parent, other)
    before = {p.name: p.read_bytes() for p in other.iterdir()}
    command, option = case.split()[:2]
    argv = ["--input", str(sample_path), "--mlm", "none", "--overwrite"] if command == "augment-squad" else [
        "--data", str(sample_path), "--teacher", "none", "--student", str(tmp_path / "no-model")]
    argv += ["--out", str(other)] if option == "--out" else ["--out", str(tmp_path / "run"), option, str(other)]
    monkeypatch.chdir(tmp_path)
    assert importlib.import_module(f"pipelines.{command.replace('-', '_')}").main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{option} {other}: it is a " in err and "read as data; write this run's" in err, err
    assert {p.name: p.read_bytes() for p in other.iterdir()} == before
