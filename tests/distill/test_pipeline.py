"""distill-train end to end on the tiny fixture models (in-process runs; see test_distributed.py for
the subprocess ones)."""
import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from pipelines.distill_train import DistillRecipe, build_parser, main, validate


def common(sample_path, tmp_path):
    return ["--data", str(sample_path), "--limit", "8", "--max-length", "96", "--doc-stride", "48",
            "--batch-size", "4", "--cache-dir", str(tmp_path / "cache")]


def evaluated_step(sample_path, tmp_path, teacher, student, out) -> list:
    """One prediction-stage step, then the final evaluation on 4 sample questions."""
    return common(sample_path, tmp_path) + ["--teacher", teacher, "--student", student, "--out", str(out), "--stage",
                                            "prediction", "--max-steps", "1", "--eval", str(sample_path),
                                            "--eval-limit", "4"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, sample_path, tiny_teacher_path, tiny_student_path):
    tmp = tmp_path_factory.mktemp("distill_run")
    argv = common(sample_path, tmp) + ["--teacher", tiny_teacher_path, "--student", tiny_student_path,
                                       "--out", str(tmp / "out"), "--stage", "both", "--max-steps", "3",
                                       "--save-every", "2", "--log-every", "1", "--eval", str(sample_path),
                                       "--eval-limit", "4", "--temperature", "2", "--distill-weight", "0.5",
                                       "--warmup", "0.34"]  # 1 warm-up step of 3
    assert main(argv) == 0
    return tmp


def test_outputs_config_metrics_and_eval(finished_run):
    out = finished_run / "out"
    config = json.loads((out / "config.json").read_text())
    assert {a.dest for a in build_parser()._actions if a.dest != "help"} <= set(config)
    assert config["temperature"] == 2.0 and config["stage"] == "both"
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    inter = [r for r in records if r.get("stage") == "intermediate" and "loss" in r]
    pred = [r for r in records if r.get("stage") == "prediction" and "loss" in r]
    assert [r["step"] for r in inter] == [1, 2, 3] and [r["step"] for r in pred] == [1, 2, 3]
    assert {"hidden", "attention"} <= set(inter[0]) and {"kd", "ce"} <= set(pred[0])
    assert all(r["loss"] == pytest.approx(0.5 * r["kd"] + 0.5 * r["ce"], rel=1e-5) for r in pred)
    # The rate each step ran at: 0 in the one warm-up step, then the peak, then half of it (not the next step's).
    assert [r["lr"] for r in inter] == pytest.approx([0.0, 5e-5, 2.5e-5])
    assert [r["lr"] for r in pred] == pytest.approx([0.0, 3e-5, 1.5e-5])
    # Throughput per log interval, and a summary per stage and for the teacher cache (README: FLOP formula).
    assert all(r["windows_per_s"] > 0 and r["tflops"] > 0 for r in inter + pred)
    assert all(r["processes"] == 1 for r in inter + pred)  # as the summaries say: one process's rates
    summaries = {r["stage"]: r["summary"] for r in records if "summary" in r}
    assert set(summaries) == {"intermediate", "teacher_cache", "prediction"}
    assert summaries["intermediate"]["windows"] == 3 * 4 and summaries["teacher_cache"]["windows"] > 0
    assert summaries["intermediate"]["attention_loss"] == "factored"  # the CPU's form (README, BENCHMARKS 6d)
    assert all(v["windows_per_s"] > 0 and v["tflops"] > 0 and v["device"] == "cpu" for v in summaries.values())
    result = json.loads((out / "eval.json").read_text())
    assert result["metrics"]["total"] == 4 and "best_f1_thresh" in result["metrics"]
    # --eval is a folder of files: no split read, and none for squad-eval, which would refuse --split validation.
    assert result["options"]["split"] is None and result["options"]["data"] == config["eval"]
    # Checkpoints: the newest ones, each complete.
    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert ckpts == ["1-prediction-step00000002", "1-prediction-step00000003"]


def test_the_intermediate_stages_student_is_kept(finished_run, tiny_student_path):
    from safetensors.torch import load_file

    out = finished_run / "out"
    inter = load_file(str(out / "student-intermediate" / "model.safetensors"))
    final = load_file(str(out / "student" / "model.safetensors"))
    init = load_file(str(next((Path(tiny_student_path)).glob("*.safetensors"))))
    assert inter.keys() == final.keys() == init.keys()
    head = [k for k in inter if k.startswith("qa_outputs.")]
    body = [k for k in inter if "encoder.layer.0." in k]
    assert head and body
    # The intermediate stage trains the encoder, never the QA head; the prediction stage trains both.
    assert all(torch.equal(inter[k], init[k]) for k in head)
    assert not all(torch.equal(inter[k], init[k]) for k in body)
    assert not all(torch.equal(inter[k], final[k]) for k in head + body)
    assert (out / "student-intermediate" / "tokenizer.json").exists()


def test_saved_student_answers_questions(finished_run, sample_rows):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from augment.qa.evaluate import evaluate

    path = str(finished_run / "out" / "student")
    model = AutoModelForQuestionAnswering.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    assert model.config._attn_implementation != "tinyaug_scores"  # saved with the stock attention
    result = evaluate(model, tok, sample_rows[:4], max_length=96, doc_stride=48)
    # The model on disk is the one the run evaluated at its end: same answers, same null-score margins.
    at_the_end = json.loads((finished_run / "out" / "eval.json").read_text())
    assert result["predictions"] == at_the_end["predictions"]
    assert result["null_diffs"] == pytest.approx(at_the_end["null_diffs"], abs=1e-4)
    # A standard QA checkpoint: transformers 5 removed pipeline("question-answering"), so users load it
    # with AutoModelForQuestionAnswering and ask it questions with augment.qa.answer.
    assert model.config.architectures == ["BertForQuestionAnswering"]
    from augment.qa.answer import answer

    asked = answer(model, tok, [r["question"] for r in sample_rows[:4]], [r["context"] for r in sample_rows[:4]],
                   max_length=96, doc_stride=48)
    assert [a["answer"] for a in asked] == [at_the_end["predictions"][r["id"]] for r in sample_rows[:4]]


def test_a_run_folder_given_as_data_is_named_as_one(finished_run, sample_path, tiny_student_path, capsys):
    """Read as a folder of .json files, its config.json (the run's options) stopped every command with
    "config.json: data[0]: missing key 'paragraphs'", as if the data were broken."""
    from augment.errors import InputError
    from augment.squad_io import iter_located

    out = finished_run / "out"
    says = (f"{out}: a distill-train output folder, not data (its config.json holds that run's options); pass the "
            f"data itself instead, such as the run's --data {sample_path}; its trained model, {out / 'student'}, is "
            "what squad-eval --model takes")
    argv = ["--data", str(out), "--teacher", "none", "--student", tiny_student_path, "--out", str(finished_run / "x")]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"distill-train: error: {says}\n"
    with pytest.raises(InputError) as e:  # the reader of augment-squad's --input, squad-eval's --data and --eval
        next(iter_located(out, option="--eval"))
    assert str(e.value) == says


def test_a_runs_config_json_or_eval_json_given_as_data_is_named_as_one(finished_run, sample_path, tiny_student_path,
                                                                       capsys):
    """Given as the file itself, a run's config.json stopped at "data[0]: missing key 'paragraphs'" (its --data list
    read as SQuAD articles) and its eval.json at "missing key 'data'": told by their content, as the folder is."""
    from augment.errors import InputError
    from augment.squad_io import iter_located

    out = finished_run / "out"
    argv = ["--teacher", "none", "--student", tiny_student_path, "--out", str(finished_run / "x")]
    assert main(["--data", str(out / "config.json"), *argv]) == 2
    assert capsys.readouterr().err == (
        f"distill-train: error: {out / 'config.json'}: a distill-train run's options (the config.json of its --out), "
        f"not data; pass the data itself instead, such as the run's --data {sample_path}; its trained model, "
        f"{out / 'student'}, is what squad-eval --model takes\n")
    with pytest.raises(InputError) as e:  # the reader of every command's data
        next(iter_located(out / "eval.json", option="--eval"))
    assert str(e.value) == (f"{out / 'eval.json'}: an evaluation's report (the eval.json of squad-eval or "
                            "distill-train: its metrics and predictions), not data; pass the data itself instead, "
                            f"such as the data it evaluated, {sample_path}")


def test_init_student_names_a_run_folder_as_one_not_a_model(finished_run, tiny_teacher_path, capsys):
    """It said "it holds a saved model (config.json)", and with --overwrite replaced the run's options by a model's."""
    from pipelines.init_student import main as init_student

    out = finished_run / "out"
    before = (out / "config.json").read_bytes()
    for more in ([], ["--overwrite"]):
        assert init_student(["--teacher", tiny_teacher_path, "--layers", "1", "--out", str(out), *more]) == 2
        assert capsys.readouterr().err == (f"init-student: error: --out {out}: it is a distill-train output folder "
                                           "(its config.json holds that run's options, not a model); choose another "
                                           "--out\n")
    assert (out / "config.json").read_bytes() == before


def test_eval_help_names_every_form_it_takes():
    """It named squad_v2, FILE.json or DIR alone, though --eval reads a .jsonl (and a JSON array of rows) too."""
    text = " ".join(build_parser().format_help().split())
    assert ("--eval SRC evaluate at the end on a hub id (squad_v2), FILE.json (official SQuAD, or a JSON array of "
            "rows), FILE.jsonl or DIR (save_to_disk, or a directory of .json/.jsonl files)") in text


def test_teacher_cache_is_reused(finished_run, sample_path, tiny_teacher_path, tiny_student_path, monkeypatch,
                                 capsys):
    from augment import manifest
    from augment.distill import teacher_cache

    cached = list((finished_run / "cache").glob("teacher-*.arrow"))
    assert len(cached) == 1
    monkeypatch.setattr(teacher_cache, "build", lambda *a, **k: pytest.fail("rebuilt the teacher cache"))
    named_by, digest = [], teacher_cache.teacher_digest
    monkeypatch.setattr(teacher_cache, "teacher_digest",
                        lambda teacher, files=None: named_by.append(files) or digest(teacher, files))
    argv = common(sample_path, finished_run) + ["--teacher", tiny_teacher_path, "--student", tiny_student_path,
                                                "--out", str(finished_run / "again"), "--stage", "prediction",
                                                "--max-steps", "1"]
    capsys.readouterr()
    assert main(argv) == 0
    assert "windows, 1 step of 4 x 1 x 1 windows\n" in capsys.readouterr().err  # not "1 steps"
    # Named by the fingerprint of the teacher's files that config.json records, not by its weights (on a GPU, all
    # copied to the host and hashed at every prediction stage).
    assert named_by == [manifest.model_fingerprint(tiny_teacher_path)]


def test_a_teacher_cache_cut_short_is_built_again(finished_run, tmp_path, sample_path, tiny_teacher_path,
                                                 tiny_student_path, capsys):
    """A run builds the cache only when its file is missing: one cut short (an interrupted copy, a full disk) stopped
    every later run with pyarrow's traceback ("Not an Arrow file")."""
    from augment.distill import teacher_cache

    shutil.copytree(finished_run / "cache", tmp_path / "cache")
    for cut in (tmp_path / "cache").glob("teacher-*.arrow"):  # the run's, and any other test's beside it
        cut.write_bytes(cut.read_bytes()[:cut.stat().st_size // 2])
    argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", tiny_student_path,
                                            "--out", str(tmp_path / "out"), "--stage", "prediction", "--max-steps", "1"]
    capsys.readouterr()
    assert main(argv) == 0
    said = re.search(r"removed the teacher-logit cache file (\S+), which cannot be read", capsys.readouterr().err)
    assert said and Path(said[1]).parent == tmp_path / "cache"
    assert len(teacher_cache.TeacherLogits(said[1]).table) > 0  # built again


def test_a_teacher_cache_with_a_damaged_byte_is_built_again(finished_run, tmp_path, sample_path, tiny_teacher_path,
                                                           tiny_student_path, capsys):
    """A reused cache with one damaged float16 (NaN) read as Arrow and gave NaN losses, with the advice to lower the
    learning rate: its checksum tells, and it is removed and built again as a file cut short is."""
    import numpy as np

    from augment.distill import teacher_cache

    shutil.copytree(finished_run / "cache", tmp_path / "cache")
    damaged = next((tmp_path / "cache").glob("teacher-*-world1.arrow"))
    good = damaged.read_bytes()
    first = teacher_cache.TeacherLogits(damaged).table.column("start_logits").chunk(0).values.to_numpy()[:8]
    at = good.find(first.astype(np.float16).tobytes())
    damaged.write_bytes(good[:at] + np.array([np.nan], np.float16).tobytes() + good[at + 2:])
    argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", tiny_student_path,
                                            "--out", str(tmp_path / "out"), "--stage", "prediction", "--max-steps", "1"]
    capsys.readouterr()
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert (f"removed the teacher-logit cache file {damaged}, which does not match the checksum written with it"
            in err), err
    assert damaged.read_bytes() == good  # built again, bit for bit


def test_a_teacher_cache_of_other_windows_is_one_line_naming_it(finished_run, tmp_path, sample_path, tiny_teacher_path,
                                                                tiny_student_path, capsys):
    """A cache file whose windows are not the run's (copied from elsewhere, say) stopped the run with a traceback."""
    import pyarrow as pa

    from augment.distill import teacher_cache

    shutil.copytree(finished_run / "cache", tmp_path / "cache")
    for other in (tmp_path / "cache").glob("teacher-*.arrow"):  # the run's, and any other test's beside it
        table = teacher_cache.TeacherLogits(other).table
        table = table.set_column(0, "window", pa.array([f"{w}x" for w in table.column("window").to_pylist()]))
        renamed = other.with_name(other.name + ".new")  # not over the file the table maps
        with pa.OSFile(str(renamed), "wb") as sink, pa.ipc.new_file(sink, teacher_cache.SCHEMA) as writer:
            writer.write_table(table)
        renamed.replace(other)
        teacher_cache.write_checksum(other)  # copied with the checksum of its own bytes: sound, but not the run's
    argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", tiny_student_path,
                                            "--out", str(tmp_path / "out"), "--stage", "prediction", "--max-steps", "1"]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    said = re.fullmatch(r"distill-train: error: (\S+): its cached windows do not match .*", err.splitlines()[-1])
    assert said and Path(said[1]).parent == tmp_path / "cache" and "Traceback" not in err, err


def test_a_teacher_cache_of_other_window_lengths_is_one_line_also_with_loader_workers(
        finished_run, tmp_path, sample_path, tiny_teacher_path, tiny_student_path, capsys):
    """A cache whose windows have the run's names but other lengths (logits of other windows, copied in with their
    checksum) was found only by the loader's lookup, which in a DataLoader worker (--num-workers, as on CUDA by
    default) reached the user as "Caught ValueError in DataLoader worker process 0" and a traceback. It is found
    before training, in the main process, and named in the run's one error line."""
    import pyarrow as pa

    from augment.distill import teacher_cache

    shutil.copytree(finished_run / "cache", tmp_path / "cache")
    cache = next((tmp_path / "cache").glob("teacher-*-world1.arrow"))
    table = teacher_cache.TeacherLogits(cache).table
    for name in ("start_logits", "end_logits"):  # every window one logit short
        col = table.column(name).combine_chunks()
        offsets = col.offsets.to_numpy()
        keep = pa.array([i not in set(offsets[1:] - 1) for i in range(offsets[-1])])
        shorter = pa.ListArray.from_arrays(pa.array(offsets - range(len(offsets))), col.values.filter(keep))
        table = table.set_column(table.schema.get_field_index(name), name, shorter)
    renamed = cache.with_name(cache.name + ".new")  # not over the file the table maps
    with pa.OSFile(str(renamed), "wb") as sink, pa.ipc.new_file(sink, teacher_cache.SCHEMA) as writer:
        writer.write_table(table)
    renamed.replace(cache)
    teacher_cache.write_checksum(cache)
    argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", tiny_student_path,
                                            "--out", str(tmp_path / "out"), "--stage", "prediction", "--max-steps", "1",
                                            "--num-workers", "1"]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "DataLoader worker" not in err, err
    said = re.fullmatch(rf"distill-train: error: {re.escape(str(cache))}: window \S+#\d+ has (\d+) cached logits but "
                        r"(\d+) real tokens: .*; delete it, and the next run builds it again", err.splitlines()[-1])
    assert said and int(said[1]) + 1 == int(said[2]), err


def test_caches_named_the_old_way_are_removed_when_the_cache_is_reused(tmp_path, sample_path, tiny_teacher_path,
                                                                      tiny_student_path, capsys):
    """A cache named before the name held the batch size and the processes (teacher-<key>-<digest>[-bf16].arrow)
    is never reused: a run removes it, and the part a killed multi-process build of one left, also when the cache
    it reads exists already; this run's cache and other files stay."""
    import os
    import shutil

    def run(out):
        argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", tiny_student_path,
                                                "--out", str(tmp_path / out), "--stage", "prediction",
                                                "--max-steps", "1"]
        assert main(argv) == 0

    run("first")
    cache = tmp_path / "cache"
    current = next(cache.glob("teacher-*-batch*.arrow"))
    stem = current.name.split("-batch")[0]                # teacher-<windows key>-<teacher digest>
    old = [f"{stem}.arrow", f"{stem}-bf16.arrow", f"{stem}-fp16.arrow", f"{stem}.arrow.part00001-of-00002"]
    # Not old names: another batch size's cache, and a part of a two-process build still running (its other
    # process is writing its own part; remove_stale_parts).
    kept = ["teacher-notes.arrow", f"{stem}-batch64-world1.arrow", f"{stem}-batch256-world2.arrow.part00001-of-00002",
            f"{stem}-batch256-world2.arrow.part00000-of-00002.tmp{os.getpid()}"]
    for name in old + kept:
        shutil.copyfile(current, cache / name)
    before = current.stat().st_mtime_ns
    capsys.readouterr()
    run("second")
    assert sorted(p.name for p in cache.glob("teacher-*")) == sorted([current.name, f"{current.name}.crc32", *kept])
    assert current.stat().st_mtime_ns == before          # reused, not rebuilt
    err = capsys.readouterr().err
    assert f"removed 4 teacher-logit cache files named the old way, which no run reuses: {', '.join(sorted(old))}" \
        in err


def test_projections_exist_before_and_are_in_the_optimizer(tmp_path, sample_path, tiny_teacher_path,
                                                           tiny_student_path):
    args = build_parser().parse_args(common(sample_path, tmp_path) + [
        "--teacher", tiny_teacher_path, "--student", tiny_student_path, "--out", str(tmp_path / "o")])
    validate(args)
    recipe = DistillRecipe(args)
    recipe.setup()
    module, optimizer, scheduler, total = recipe._build_stage("intermediate")
    in_optimizer = {id(p) for g in optimizer.param_groups for p in g["params"]}
    projections = list(module.hidden_loss.projections.parameters())
    # --projection shared (default): pair 0 (embeddings) has W_e, both layer pairs the one W_h.
    assert len(module.hidden_loss.projections) == 3 and len({id(m) for m in module.hidden_loss.projections}) == 2
    assert len(projections) == 4 and all(id(p) in in_optimizer for p in projections)
    assert all(id(p) in in_optimizer for p in module.student.parameters())


def test_attention_loss_option_picks_the_form_and_both_forms_give_the_same_loss(tmp_path, sample_path,
                                                                              tiny_teacher_path, tiny_student_path):
    """--attention-loss direct|factored overrides auto's choice by device; the first step's attention loss
    (same weights, same batch) agrees between the two up to float32 rounding."""
    from augment.distill.attention_loss import FORMS
    from augment.distill.options import ATTENTION_FORMS

    assert ATTENTION_FORMS == FORMS  # the parser's copy, kept free of the torch import
    first = {}
    for form in ("direct", "factored"):
        out = tmp_path / form
        assert main(common(sample_path, tmp_path) + [
            "--teacher", tiny_teacher_path, "--student", tiny_student_path, "--out", str(out),
            "--stage", "intermediate", "--max-steps", "1", "--log-every", "1", "--attention-loss", form]) == 0
        records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        (summary,) = [r["summary"] for r in records if "summary" in r]
        assert summary["attention_loss"] == form
        assert json.loads((out / "config.json").read_text())["attention_loss"] == form
        first[form] = next(r["attention"] for r in records if "attention" in r)
    assert first["direct"] > 0 and first["direct"] == pytest.approx(first["factored"], rel=1e-4)


def test_prediction_data_gives_the_prediction_stage_its_own_windows(tmp_path, sample_path, sample_rows,
                                                                   tiny_teacher_path, tiny_student_path):
    """--data for the intermediate stage, --prediction-data for the prediction stage (one run, as the
    Haystack guide's two runs): each stage trains on the windows of its own source."""
    other = tmp_path / "original.jsonl"
    other.write_text("".join(json.dumps(r) + "\n" for r in sample_rows[-3:]), encoding="utf-8")
    args = build_parser().parse_args(common(sample_path, tmp_path) + [
        "--prediction-data", str(other), "--teacher", tiny_teacher_path, "--student", tiny_student_path,
        "--out", str(tmp_path / "o")])
    validate(args)
    recipe = DistillRecipe(args)
    recipe.setup()
    inter, pred = recipe.stage_data["intermediate"], recipe.stage_data["prediction"]
    assert inter[0] != pred[0]
    assert {f["example_id"] for f in pred[1]} == {r["id"] for r in sample_rows[-3:]}
    assert {f["example_id"] for f in inter[1]} == {r["id"] for r in sample_rows[:8]}
    recipe._build_stage("prediction")
    assert recipe.windows is pred[2] and recipe.features is pred[1]


def test_data_options_given_twice_read_every_source(tmp_path, sample_rows, tiny_teacher_path, tiny_student_path):
    """--data a --data b trains on both, as --data a b does (and so for --prediction-data): with nargs="+" alone,
    the last one replaced the others and the run trained on part of its data without a word."""
    files = []
    for name, rows in (("a", sample_rows[:2]), ("b", sample_rows[2:4]), ("c", sample_rows[4:5]),
                       ("d", sample_rows[5:6])):
        files.append(tmp_path / f"{name}.jsonl")
        files[-1].write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    a, b, c, d = map(str, files)
    args = build_parser().parse_args([
        "--data", a, "--data", b, "--prediction-data", c, "--prediction-data", d, "--max-length", "96",
        "--doc-stride", "48", "--batch-size", "4", "--cache-dir", str(tmp_path / "cache"),
        "--teacher", tiny_teacher_path, "--student", tiny_student_path, "--out", str(tmp_path / "o")])
    assert args.data == [a, b] and args.prediction_data == [c, d]
    validate(args)
    recipe = DistillRecipe(args)
    recipe.setup()
    assert {f["example_id"] for f in recipe.stage_data["intermediate"][1]} == {r["id"] for r in sample_rows[:4]}
    assert {f["example_id"] for f in recipe.stage_data["prediction"][1]} == {r["id"] for r in sample_rows[4:6]}


def test_skipped_rows_are_reported_per_option_by_file_and_position(tmp_path, capsys, sample_path, sample_rows,
                                                                   tiny_teacher_path, tiny_student_path, monkeypatch):
    """Each stage's data reports the rows it skips under its own option, naming each row's file inside a folder and
    its line: the source and id alone did not say which --data or --prediction-data file to fix, nor where."""
    monkeypatch.delenv("RANK", raising=False)
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copy(sample_path, folder / sample_path.name)
    (folder / "z.jsonl").write_text(json.dumps(dict(sample_rows[0], id="no-question", question=None)) + "\n")
    other = tmp_path / "original.jsonl"
    other.write_text("".join(json.dumps(r) + "\n" for r in [sample_rows[1], dict(sample_rows[2], id="far", answers={
        "text": ["xyz"], "answer_start": [99999]})]))
    args = build_parser().parse_args(common(folder, tmp_path) + [
        "--prediction-data", str(other), "--teacher", tiny_teacher_path, "--student", tiny_student_path,
        "--out", str(tmp_path / "o")])
    validate(args)
    DistillRecipe(args).setup()
    lines = [x for x in capsys.readouterr().err.splitlines() if "skipped" in x]
    assert len(lines) == 2, lines
    assert "rows of --data whose" in lines[0] and f"{folder / 'z.jsonl'}: line 1: example 'no-question'" in lines[0]
    assert "1 of 2 rows of --prediction-data" in lines[1] and f"{other}: line 2: example 'far'" in lines[1]


@pytest.mark.parametrize("cache", ["on", "off"])
def test_distill_weight_0_never_counts_or_caches_the_teacher(tmp_path, sample_path, tiny_teacher_path,
                                                             tiny_student_path, cache):
    """--distill-weight 0 trains on the hard labels alone, and the loss never reads a teacher logit. The cache was
    still built (a whole teacher pass over the windows), and with --teacher-cache off the stage's TFLOP/s counted a
    teacher forward per step that never ran."""
    from augment.distill.flops import StageCost

    args = build_parser().parse_args(common(sample_path, tmp_path) + [
        "--stage", "prediction", "--distill-weight", "0", "--teacher-cache", cache, "--teacher", tiny_teacher_path,
        "--student", tiny_student_path, "--out", str(tmp_path / "o")])
    validate(args)
    recipe = DistillRecipe(args)
    recipe.setup()
    recipe._build_stage("prediction")
    assert recipe.cost == StageCost.of("prediction", recipe.student.config)  # the student's FLOPs only
    assert recipe._teacher_logits() is None
    assert not list((tmp_path / "cache").glob("teacher-*"))


def test_resume_refuses_changed_prediction_data_or_projection(tmp_path, sample_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"prediction_data": ["a.json"], "projection": "per-layer",
                                                 "attention_loss": "direct", "teacher_cache": "off",
                                                 "cache_batch_size": 7}))
    assert main(["--data", str(sample_path), "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "--prediction-data ['a.json'] -> None" in err and "--projection 'per-layer' -> 'shared'" in err
    assert "--attention-loss 'direct' -> 'auto'" in err  # another form: not the same run to resume
    # Live float32 teacher logits, or cached float16 ones: the prediction stage would differ.
    assert "--teacher-cache 'off' -> 'on'" in err
    # The cache's batches decide a few logits' last bits: a resume would rebuild it into other logits.
    assert "--cache-batch-size 7 -> 256" in err


def test_resume_accepts_the_same_file_spelled_otherwise_and_a_cache_batch_size_with_no_cache(
        tmp_path, sample_path, capsys, monkeypatch):
    """Options that differ in spelling only, or that change nothing in this run, are not another run."""
    import os

    monkeypatch.chdir(sample_path.parent)
    out = tmp_path / "o"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"data": [f"./{sample_path.name}"], "teacher_cache": "off",
                                                 "cache_batch_size": 7, "seed": 1}))
    assert main(["--data", os.path.abspath(sample_path.name), "--out", str(out), "--resume", "--teacher-cache",
                 "off", "--teacher", str(tmp_path / "no-teacher"), "--seed", "2"]) == 2
    err = capsys.readouterr().err
    assert "--seed 1 -> 2" in err  # the comparison ran
    assert "--data" not in err and "--cache-batch-size" not in err, err


def test_resume_accepts_the_same_model_directory_spelled_otherwise(tmp_path, sample_path, tiny_teacher_path,
                                                                   tiny_student_path, capsys, monkeypatch):
    """A model directory named with a trailing slash (as shells complete it) or relative to the working directory
    is the directory transformers opens: the resume of the same run was refused as '--student 'runs/s/' ->
    'runs/s''. Another directory, or a hub id, is another model."""
    import os

    monkeypatch.chdir(Path(tiny_student_path).parent)
    out = tmp_path / "o"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"teacher": tiny_teacher_path + "/",
                                                 "student": f"./{Path(tiny_student_path).name}", "seed": 1}))
    argv = ["--data", str(sample_path), "--out", str(out), "--resume", "--seed", "2"]
    assert main(argv + ["--teacher", tiny_teacher_path, "--student", os.path.abspath(tiny_student_path)]) == 2
    err = capsys.readouterr().err
    assert "--seed 1 -> 2" in err  # the comparison ran
    assert "--teacher" not in err and "--student" not in err, err
    assert main(argv + ["--teacher", tiny_student_path, "--student", "org/student"]) == 2
    err = capsys.readouterr().err
    assert f"--teacher {tiny_teacher_path + '/'!r} -> {tiny_student_path!r}" in err
    assert f"--student './{Path(tiny_student_path).name}' -> 'org/student'" in err


def test_resume_from_another_working_directory_accepts_the_same_files_by_their_fingerprints(
        tmp_path, sample_path, tiny_teacher_path, tiny_student_path, capsys, monkeypatch):
    """config.json records the paths as given: a run begun with relative ones and resumed from another working
    directory (a resubmitted job) with the same files named absolutely was refused as '--data ['sample'] ->
    [...]', '--teacher 'teacher' -> ...', though their recorded fingerprints agree. Other contents still differ."""
    import shutil

    from augment import manifest

    begun = tmp_path / "begun"
    begun.mkdir()
    data, teacher, student = (shutil.copytree(src, begun / name) for src, name in (
        (sample_path.parent if sample_path.is_file() else sample_path, "sample"), (tiny_teacher_path, "teacher"),
        (tiny_student_path, "student")))
    out = tmp_path / "o"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({
        "data": ["sample"], "teacher": "teacher", "student": "student", "seed": 1,
        "data_fingerprints": [manifest.data_fingerprint(data)],
        "teacher_fingerprint": manifest.model_fingerprint(teacher),
        "student_fingerprint": manifest.model_fingerprint(student, weights=False)}))
    monkeypatch.chdir(tmp_path)  # not where the run began: 'sample' names nothing here
    argv = ["--out", str(out), "--resume", "--seed", "2", "--teacher", str(teacher), "--student", str(student)]
    assert main(argv + ["--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "--seed 1 -> 2" in err  # the comparison ran
    assert "--data" not in err and "--teacher" not in err and "--student" not in err, err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"data": []}))
    assert main(argv + ["--data", str(other)]) == 2
    assert f"--data ['sample'] -> [{str(other)!r}]" in capsys.readouterr().err


@pytest.mark.parametrize("student, stage, message", [
    ("three_layer_student_path", "both", "multiple of the student's"),
    # 4 % 0 was a ZeroDivisionError: a traceback and exit 1.
    ("zero_layer_student_path", "both", "teacher has 4 layers and student 0: intermediate distillation needs"),
    ("two_head_student_path", "intermediate", "attention heads"),
    ("other_vocab_student_path", "prediction", "different vocabularies"),
    # The same vocabulary read with case: the teacher would get the ids of [UNK] for 'Who'.
    ("cased_student_path", "prediction", "tokenize the same text differently although their vocabularies are "
     "equal (other lower-casing, accent stripping or prefix space): token 1 of a probe question and context is "
     "'who' for the teacher and '[UNK]' for the student"),
    ("mpnet_student_path", "intermediate", "the student (MPNetForQuestionAnswering) does not route attention "
     "through transformers' AttentionInterface, so its pre-softmax attention scores cannot be captured for the "
     "intermediate stage; use a BERT-style student or --stage prediction"),
])
def test_incompatible_pairs_stop_before_any_weights_load(request, tmp_path, sample_path, tiny_teacher_path,
                                                        monkeypatch, capsys, student, stage, message):
    import transformers

    def no_weights(*a, **k):
        raise AssertionError("model weights loaded before the pair was checked")
    monkeypatch.setattr(transformers.AutoModelForQuestionAnswering, "from_pretrained", no_weights)
    out, student_path = tmp_path / "o", request.getfixturevalue(student)
    capsys.readouterr()  # building the fixture printed progress bars
    argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", student_path,
                                            "--out", str(out), "--stage", stage]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()  # a run that failed before writing anything leaves no empty --out
    assert not (tmp_path / "cache").exists()  # nor was the data tokenised


@pytest.mark.parametrize("extra, messages", [
    (["--data", "nowhere/train.json"], ["nowhere/train.json: no such file"]),
    (["--teacher", "none", "--stage", "intermediate"], ["needs a teacher"]),
    (["--temperature", "0", "--batch-size", "0", "--distill-weight", "2", "--cache-batch-size", "0"],
     ["--temperature must be > 0", "--batch-size must be >= 1", "--distill-weight must be in [0, 1]",
      "--cache-batch-size must be >= 1"]),
    (["--stage", "everything"], ["invalid choice"]),
    (["--pad-to-multiple-of", "0"], ["--pad-to-multiple-of must be >= 1, got 0"]),
    (["--doc-stride", "0", "--max-length", "0"], ["--doc-stride must be at least 1, got 0",
                                                  "--max-length must be at least 1, got 0"]),
    (["--eval-every", "5", "--eval-limit", "3"], ["--eval-every needs --eval", "--eval-limit needs --eval"]),
    # One stage, two data options: --data was silently never read (the stage trained on --prediction-data).
    (["--stage", "prediction", "--prediction-data", "other.json"],
     ["--prediction-data other.json with --stage prediction", "would go unused"]),
    (["--teacher", "none", "--prediction-data", "other.json"],
     ["with --stage prediction (the stage of --teacher none)", "would go unused"]),
    (["--resume"], ["holds no earlier run"]),
    (["--data", str(Path(__file__).parent)],  # a folder of no data: one line, as when it is read
     [f"{Path(__file__).parent}: directory holds neither a saved dataset nor .json/.jsonl files"]),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, sample_path, extra, messages):
    argv = ["--data", str(sample_path), "--out", str(tmp_path / "o")] + extra
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse's own errors
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert all(m in err for m in messages)


def test_doc_stride_0_is_refused_as_squad_eval_refuses_it(tmp_path, capsys, sample_path, tiny_teacher_path):
    """distill-train's eval.json records the window options for squad-eval to repeat: both take the same values."""
    from pipelines import squad_eval

    message = "--doc-stride must be at least 1, got 0"
    assert squad_eval.main(["--model", tiny_teacher_path, "--data", str(sample_path), "--doc-stride", "0",
                            "--out", str(tmp_path / "e.json")]) == 2
    assert message in capsys.readouterr().err
    assert main(["--data", str(sample_path), "--out", str(tmp_path / "o"), "--doc-stride", "0", "--teacher", "none",
                 "--student", tiny_teacher_path]) == 2
    assert message in capsys.readouterr().err


def test_questions_cut_by_a_stride_near_max_length_are_counted(tmp_path, capsys, sample_path, sample_rows,
                                                               tiny_student_path):
    """--max-length 96 --doc-stride 80 leaves a window room for 12 question tokens: one warning line counts the
    questions cut, instead of cutting them silently (each window then also holds less context); so does one
    for --eval's, as squad-eval counts its own (they were cut without a word)."""
    from augment.qa.features import cut_questions

    args = build_parser().parse_args(common(sample_path, tmp_path) + [
        "--doc-stride", "80", "--teacher", "none", "--student", tiny_student_path, "--out", str(tmp_path / "o"),
        "--eval", str(sample_path), "--eval-limit", "5"])
    validate(args)
    recipe = DistillRecipe(args)
    capsys.readouterr()
    recipe.setup()
    questions = [r["question"] for r in sample_rows[:8]]
    cut = cut_questions(questions, recipe.tokenizer, 96, 80)
    assert 0 < cut == sum(len(recipe.tokenizer.tokenize(q)) > 12 for q in questions)
    cut_eval = cut_questions(questions[:5], recipe.tokenizer, 96, 80)
    assert 0 < cut_eval
    lines = [x for x in capsys.readouterr().err.splitlines() if "warning" in x]
    assert lines == [f"distill-train: warning: {cut_eval} of 5 questions of --eval ({cut_eval / 5:.1%}) cut to 12 "
                     "tokens: windows of --max-length 96 with --doc-stride 80 leave no more room for the question; a "
                     "smaller --doc-stride leaves more",
                     f"distill-train: warning: {cut} of 8 questions of --data ({cut / 8:.1%}) cut to 12 tokens: windows "
                     "of --max-length 96 with --doc-stride 80 leave no more room for the question; a smaller "
                     "--doc-stride leaves more"]


def test_ctrl_c_says_how_to_go_on_from_the_first_process_only(tmp_path, capsys, sample_path, monkeypatch):
    """Ctrl-C before the first checkpoint (the one after it: test_distributed.py), and under torchrun."""
    import pipelines.distill_train as distill_train

    def ctrl_c(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(distill_train, "run_command", ctrl_c)
    out = tmp_path / "o"
    argv = ["--data", str(sample_path), "--out", str(out)]
    assert main(argv) == 130
    assert capsys.readouterr().err == "distill-train: interrupted before the run began: nothing to resume\n"
    out.mkdir()
    (out / "config.json").write_text("{}")
    assert main(argv) == 130
    assert capsys.readouterr().err == ("distill-train: interrupted before the first checkpoint: rerun with --resume "
                                       "to start the run again\n")
    # --overwrite stopped before it removed the earlier run: that run's checkpoints are not this one's.
    monkeypatch.setattr(distill_train, "_began", False)
    assert main([*argv, "--overwrite"]) == 130
    assert capsys.readouterr().err == ("distill-train: interrupted before the run began; the earlier run in --out is "
                                       "as it was: rerun with --overwrite to replace it\n")
    monkeypatch.setenv("RANK", "1")
    assert main(argv) == 130 and capsys.readouterr().err == ""
    monkeypatch.setenv("RANK", "0")

    def ctrl_c_in_a_worker_pool(args):  # datasets' map with num_proc > 1 on Ctrl-C
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise TimeoutError from None  # "from None" hides the cause from the traceback, not __context__
    monkeypatch.setattr(distill_train, "run_command", ctrl_c_in_a_worker_pool)
    assert main(argv) == 130 and capsys.readouterr().err.startswith("distill-train: interrupted")

    def another_error(args):
        raise TimeoutError
    monkeypatch.setattr(distill_train, "run_command", another_error)
    with pytest.raises(TimeoutError):
        main(argv)


def test_an_option_error_is_printed_by_the_first_process_only(tmp_path, capsys, sample_path, monkeypatch):
    """Under torchrun every process finds the same problem: one line, not one per process."""
    argv = ["--data", str(sample_path), "--out", str(tmp_path / "o"), "--batch-size", "0", "--teacher", "none",
            "--student", str(tmp_path / "nowhere")]
    monkeypatch.setenv("RANK", "1")
    assert main(argv) == 2 and capsys.readouterr().err == ""
    monkeypatch.setenv("RANK", "0")
    assert main(argv) == 2 and "--batch-size must be >= 1" in capsys.readouterr().err


def test_a_setup_error_is_printed_by_the_first_process_only(tmp_path, capsys, sample_path, tiny_teacher_path,
                                                            three_layer_student_path, monkeypatch):
    """The problems found once the models' configs or the data are read (here a pair that cannot be mapped) were
    printed by every torchrun process: one line per process, where the option errors are printed once."""
    argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", three_layer_student_path,
                                            "--out", str(tmp_path / "o")]
    monkeypatch.setenv("RANK", "1")
    assert main(argv) == 2 and capsys.readouterr().err == ""
    monkeypatch.setenv("RANK", "0")
    assert main(argv) == 2 and "multiple of the student's" in capsys.readouterr().err


def test_bad_eval_rows_stop_the_run_before_training(tmp_path, capsys, sample_path, sample_rows, tiny_teacher_path,
                                                   tiny_student_path):
    """--eval is checked as squad-eval checks its data, at set-up: a repeated id (its prediction would replace the
    first's) is one line, not a surprise at the first evaluation."""
    row = {k: sample_rows[0][k] for k in ("id", "title", "context", "question", "answers")}
    bad = tmp_path / "eval.jsonl"
    bad.write_text(json.dumps(row) + "\n" + json.dumps({**row, "question": "Another?"}) + "\n")
    argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", tiny_student_path,
                                            "--out", str(tmp_path / "o"), "--eval", str(bad)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert f"--eval {bad}: line 2: example {row['id']!r}: duplicate id" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o" / "metrics.jsonl").exists()


def test_resume_without_a_checkpoint_starts_the_records_again(tmp_path, sample_path, tiny_teacher_path,
                                                              tiny_student_path):
    """A run killed before its first checkpoint (here: its checkpoints removed, and a last line cut short) starts
    again on --resume; so does metrics.jsonl, instead of holding each step twice."""
    out = tmp_path / "o"
    argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", tiny_student_path,
                                            "--out", str(out), "--stage", "intermediate", "--max-steps", "2",
                                            "--log-every", "1"]
    assert main(argv) == 0
    first = (out / "metrics.jsonl").read_text()
    shutil.rmtree(out / "checkpoints")
    with open(out / "metrics.jsonl", "a") as f:
        f.write('{"stage": "intermediate", "st')
    assert main(argv + ["--resume"]) == 0
    steps = [[(r["stage"], r.get("step")) for r in map(json.loads, text.splitlines())]
             for text in (first, (out / "metrics.jsonl").read_text())]
    assert steps[0] == steps[1] == [("intermediate", 1), ("intermediate", 2), ("intermediate", None)]


def test_unreachable_hub_model_is_one_line(tmp_path, capsys, sample_path, tiny_student_path, monkeypatch):
    from augment import hub

    monkeypatch.setattr(hub, "is_cached", lambda repo: False)  # as on a machine that never downloaded it
    # The default teacher is a hub id; offline (HF_HUB_OFFLINE=1) it cannot be had.
    rc = main(["--data", str(sample_path), "--out", str(tmp_path / "o"), "--student", tiny_student_path])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert ("--teacher deepset/bert-base-uncased-squad2: HF_HUB_OFFLINE=1 is set and the model is not in the "
            "local cache; pass a local model directory (--teacher PATH)") in err
    assert not (tmp_path / "o").exists()


def test_a_teacher_without_a_qa_head_is_refused_where_its_logits_are_distilled(tmp_path, capsys, sample_path,
                                                                               tiny_teacher_path, tiny_student_path):
    """A masked LM or bare encoder as --teacher loaded with a random QA head, whose start/end logits the prediction
    stage distilled into the student; the intermediate stage, which reads hidden states alone, may take it."""
    from safetensors.torch import load_file, save_file

    encoder = tmp_path / "encoder"  # the tiny teacher without its QA head, as a bare encoder's checkpoint is
    shutil.copytree(tiny_teacher_path, encoder)
    weights = load_file(encoder / "model.safetensors")
    save_file({k: v for k, v in weights.items() if not k.startswith("qa_outputs.")}, encoder / "model.safetensors",
              metadata={"format": "pt"})
    argv = common(sample_path, tmp_path) + ["--teacher", str(encoder), "--student", tiny_student_path,
                                            "--max-steps", "1"]
    assert main(argv + ["--out", str(tmp_path / "both")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"distill-train: error: --teacher {encoder} has no question-answering head weights (qa_outputs.bias and "
        "1 more), so the prediction stage would distil random start and end logits; pass a teacher trained for "
        "question answering (distill-train --teacher none fine-tunes one), or --stage intermediate")
    assert not (tmp_path / "both").exists()
    assert main(argv + ["--out", str(tmp_path / "inter"), "--stage", "intermediate"]) == 0


def test_without_a_teacher_the_recorded_weight_is_the_one_used(tmp_path, sample_path, tiny_student_path):
    args = build_parser().parse_args(common(sample_path, tmp_path) + [
        "--teacher", "none", "--student", tiny_student_path, "--out", str(tmp_path / "o")])
    validate(args)
    assert args.stage == "prediction" and args.distill_weight == 0.0


def test_a_part_left_by_an_interrupted_build_of_another_process_count_is_removed(tmp_path, capsys, sample_path,
                                                                                  tiny_teacher_path, tiny_student_path):
    """A two-process cache build killed after one process wrote its part left it beside the cache for good: a later
    one-process run names its cache -world1 and only removed temporary files and old-style names."""
    argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", tiny_student_path,
                                            "--stage", "prediction", "--max-steps", "1"]
    assert main(argv + ["--out", str(tmp_path / "a")]) == 0
    cache = next((tmp_path / "cache").glob("teacher-*-world1.arrow"))
    part = cache.with_name(cache.name.replace("-world1.", "-world2.") + ".part00000-of-00002")
    shutil.copy(cache, part)  # the interrupted run's finished share
    cache.unlink()
    capsys.readouterr()
    assert main(argv + ["--out", str(tmp_path / "b")]) == 0
    assert not part.exists() and cache.exists()
    assert f"removed 1 teacher-logit cache part that an interrupted build left: {part.name}" in capsys.readouterr().err


def test_an_explicit_distill_weight_without_a_teacher_is_refused(tmp_path, capsys, sample_path, tiny_teacher_path,
                                                                 tiny_student_path):
    """--teacher none --distill-weight 0.5 trained on hard labels alone (recording 0) without a word."""
    base = common(sample_path, tmp_path) + ["--student", tiny_student_path, "--out", str(tmp_path / "o")]
    assert main(base + ["--teacher", "none", "--distill-weight", "0.5", "--batch-size", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--batch-size must be >= 1" in err  # with the other problems
    assert ("--distill-weight 0.5 weights the teacher's logits and --teacher none has none: leave "
            "--distill-weight out (hard labels only)") in err
    for extra in ([], ["--distill-weight", "0"]):  # the default, and an explicit 0, say what the run does
        args = build_parser().parse_args(base + ["--teacher", "none", *extra])
        validate(args)
        assert args.distill_weight == 0.0
    args = build_parser().parse_args(base + ["--teacher", tiny_teacher_path])
    validate(args)
    assert args.distill_weight == 1.0  # a teacher's default
    assert "(default: 1;" in " ".join(build_parser().format_help().split())


def test_compile_mode_reaches_the_models_and_only_training_is_compiled(tmp_path, sample_path, tiny_teacher_path,
                                                                       tiny_student_path, monkeypatch,
                                                                       dynamo_config):
    """``--compile reduce-overhead``: both models get the mode; every call that
    takes the compiled path sees the one padded training shape, while the teacher cache and evaluation (whose
    lengths vary) run the same modules eagerly; the loop marks each step's start for CUDA graphs.

    ``Module.compile`` is replaced by a recorder (compiling BERT on 2 cores takes minutes). Whether a call
    took the compiled path is asked of dynamo itself: a compiled probe that adds 1 when dynamo traces it and
    0 when ``torch.compiler.set_stance("force_eager")`` makes it run as plain Python."""
    probe = torch.compile(lambda x: x + (1 if torch.compiler.is_compiling() else 0), backend="eager")
    modes, calls, marks = [], [], []

    def compile_(self, *args, mode=None, **kwargs):
        modes.append(mode)
        plain = self._call_impl

        def recorded(*a, **kw):
            ids = kw.get("input_ids")
            calls.append((bool(probe(torch.zeros(())).item()), None if ids is None else int(ids.shape[1])))
            return plain(*a, **kw)
        self._compiled_call_impl = recorded
    monkeypatch.setattr(torch.nn.Module, "compile", compile_)
    real_mark = torch.compiler.cudagraph_mark_step_begin
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: (marks.append(1), real_mark()))
    argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", tiny_student_path,
                                            "--out", str(tmp_path / "o"), "--stage", "both", "--max-steps", "1",
                                            "--compile", "reduce-overhead", "--eval", str(sample_path),
                                            "--eval-limit", "2", "--max-length", "256"]  # some windows shorter
    assert main(argv) == 0
    assert modes == ["reduce-overhead"] * 2  # student and teacher (the losses stay eager: compile_losses)
    compiled = {length for on, length in calls if on and length is not None}
    eager = {length for on, length in calls if not on and length is not None}
    assert compiled == {256}  # --max-length: training batches are padded to one shape
    assert eager and eager != {256}  # the cache's and evaluation's batches, cut to their longest window
    assert len(marks) == 2  # 1 step x 2 stages
    assert json.loads((tmp_path / "o" / "eval.json").read_text())["metrics"]


def test_compiled_training_runs_one_graph_per_model_forward(tmp_path, vocab_dir, monkeypatch):
    """Really compiled (dynamo, with a backend that records which graph runs: ``benchmarks/compiled_graphs.py``),
    both stages, each past an epoch's short last batch, with ``--group-by-length``: each batch padded to a
    multiple of 64 tokens (not to --max-length, which would compute the padding grouping saves), so the graphs
    see a few shapes. Every intermediate step runs one graph for the teacher and one for the student, every
    prediction step one, with no graph break and no step left to run eagerly; each (batch size, length) is
    compiled once and reused.

    What this guards against (each failed here before its fix):
    - ``install_output_hooks``: transformers installs its hidden-state hooks under a lock dynamo cannot trace;
      met in the first compiled call, that split every intermediate forward into two graphs for good;
    - the mask given on every compiled step: a batch without padding was a second variant of every graph;
    - before both, the teacher's and the student's variants (they share their forward's code) passed dynamo's
      default limit of 8 (here 9 graphs: the next test covers the limit);
    - every grouped batch padded to --max-length (one length, 160 here).
    The warm-up runs in eval mode (no dropout draws), so the losses equal an uncompiled run's padded the same
    way (same shapes, so the same dropout draws)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import compiled_graphs

    # 16 questions at length 160: windows of 160 tokens (some batches all of them: no padding) and shorter
    # ones, in batches of 5 and an epoch's short last batch; 8 steps reach the second epoch.
    steps = 8
    grouped = ("--group-by-length", "--limit", "16", "--max-length", "160", "--doc-stride", "64")
    result = compiled_graphs.measure(compiled_graphs.REPO, vocab_dir, steps, tmp_path, grouped)
    per_step, shapes = result["per_step"], result["shapes"]
    assert len(per_step) == len(shapes) == 2 * steps and result["graph_breaks"] == 0, result["stages"]
    assert {length for _, length in shapes} == {128, 160}  # a multiple of 64, or --max-length; one length without
    assert len({b for b, _ in shapes}) == 2, shapes  # full batches and the short one
    for record, models in ((slice(0, steps), 2), (slice(steps, None), 1)):
        graph_sets = {}
        for shape, graphs in zip(shapes[record], per_step[record]):
            assert len(graphs) == models == len(set(graphs)), per_step  # one graph per model forward
            assert graph_sets.setdefault(shape, graphs) == graphs, (shapes, per_step)  # a shape's graphs, reused
        assert len({tuple(g) for g in graph_sets.values()}) == len(graph_sets)  # a graph per shape
    inter, pred = len(set(shapes[:steps])), len(set(shapes[steps:]))
    assert result["graphs_compiled"] == 2 * inter + pred
    assert torch._dynamo.config.automatic_dynamic_shapes  # measure() gave the suite its settings back
    # The stage summaries report the same counts (metrics.jsonl: where a GPU run shows them).
    summaries = {r["stage"]: r["summary"] for r in map(json.loads, (tmp_path / "out" / "metrics.jsonl")
                                                       .read_text().splitlines()) if "summary" in r}
    assert summaries["intermediate"]["graphs_compiled"] == 2 * inter and summaries["prediction"]["graphs_compiled"] == pred
    assert summaries["intermediate"]["graph_breaks"] == summaries["prediction"]["graph_breaks"] == 0
    assert summaries["prediction"]["cudagraph_skips"] == 0  # inductor not involved: nothing for it to skip
    assert "graphs_compiled" not in summaries["teacher_cache"]

    teacher, student = (str(tmp_path / name) for name in ("teacher", "student"))
    plain_argv = compiled_graphs.recipe_argv(tmp_path, teacher, student, steps, tmp_path / "plain")
    assert main(plain_argv + [*grouped, "--pad-to-multiple-of", "64"]) == 0

    def losses(out):
        records = map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
        return [(r["stage"], r["step"], r["loss"]) for r in records if "loss" in r]
    compiled, plain = losses(tmp_path / "out"), losses(tmp_path / "plain")
    assert [c[:2] for c in compiled] == [p[:2] for p in plain] and len(plain) == 2 * steps
    assert "graph_breaks" not in (tmp_path / "plain" / "metrics.jsonl").read_text()  # counted under --compile only
    assert all(c[2] == pytest.approx(p[2], rel=1e-4) for c, p in zip(compiled, plain)), (compiled, plain)


def test_compiled_intermediate_losses_each_reach_the_student(tmp_path, monkeypatch, dynamo_config):
    """Under --compile, the hidden-state loss's gradient and, taken apart, the attention loss's reach each of the
    student's parameters as they do eagerly. The test above compares logged losses, at rel 1e-4: the attention
    loss is some 0.04% of the total, and a compiled graph that cut it off from the student logs the same losses.
    The models are set up by the recipe's own ``compile_models`` (hooks, dynamo's settings, ``compile_in_place``),
    then switched to the capturing attention as ``_build_stage`` does; the losses come from ``_loss``; the eager
    reference is the same modules under ``uncompiled()``.

    The backend is "aot_eager" (``Module.compile`` is handed it): AOT autograd traces the joint forward and
    backward graph as under inductor, without inductor's code generation (a probe with the fixture-sized models:
    inductor 44 s on this machine and gradients within 2.6e-7 of eager, aot_eager's equal to eager's). One
    layer each, 16 and 8 wide (so a projection between them), and no dropout, whose draws compiled need not be
    eager's: what is compared is where the gradients go."""
    from contextlib import nullcontext
    from types import SimpleNamespace

    from transformers import BertConfig, BertForQuestionAnswering

    from augment.distill import IntermediateDistiller, LayerMap, use_score_attention
    from augment.distill.compilation import compile_counts, compiled_since

    def bert(seed, width, layers):
        torch.manual_seed(seed)
        return BertForQuestionAnswering(BertConfig(vocab_size=60, hidden_size=width, num_hidden_layers=layers,
                                                   num_attention_heads=2, intermediate_size=2 * width,
                                                   max_position_embeddings=16, hidden_dropout_prob=0.0,
                                                   attention_probs_dropout_prob=0.0))
    real_compile = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile",
                        lambda self, *args, **kwargs: real_compile(self, *args, backend="aot_eager", **kwargs))
    args = build_parser().parse_args(["--data", "unused", "--out", str(tmp_path), "--stage", "intermediate",
                                      "--compile", "--max-length", "8"])
    recipe = DistillRecipe(args)
    recipe.acc = SimpleNamespace(device=torch.device("cpu"), autocast=nullcontext)
    recipe.student, recipe.teacher = bert(1, 8, 1).train(), bert(0, 16, 1).eval().requires_grad_(False)
    before = compile_counts()
    try:
        recipe.compile_models(args.compile)
        use_score_attention(recipe.student)
        use_score_attention(recipe.teacher)
        distiller = IntermediateDistiller(recipe.student, LayerMap(1, 1), 16)
        recipe.teacher_layers = distiller.teacher_layers
        ids = torch.randint(5, 60, (2, 8), generator=torch.Generator().manual_seed(0))
        mask = torch.tensor([[1] * 8, [1] * 5 + [0] * 3])
        batch = {"input_ids": ids * mask, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids),
                 "padded": True}  # as the loop hands a compiled step its batch
        params = dict(recipe.student.named_parameters())

        def gradients(part):
            loss = recipe._loss("intermediate", distiller, batch)[part]
            # No gradient at all (a loss cut off from the student) fails below, by name, as a partial one does.
            found = torch.autograd.grad(loss, list(params.values()), allow_unused=True) if loss.requires_grad \
                else [None] * len(params)
            # A compiled graph hands zeros where eager autograd hands None (a parameter the loss does not use).
            return {name: torch.zeros_like(p) if g is None else g for (name, p), g in zip(params.items(), found)}
        compiled = {part: gradients(part) for part in ("hidden", "attention")}
        counts = compiled_since(before)
        with recipe.uncompiled():
            eager = {part: gradients(part) for part in ("hidden", "attention")}
    finally:
        torch._dynamo.reset()  # the compiled variants hold these models
    # One whole graph per model: a forward that dynamo left to run eagerly, in part or whole, would match trivially.
    assert counts["graphs_compiled"] == 2 and counts["graph_breaks"] == 0, counts
    query = "bert.encoder.layer.0.attention.self.query.weight"
    reached = {part: float(eager[part][query].abs().sum()) for part in eager}
    assert all(reached.values()), reached  # eagerly, both losses reach the queries: the comparison is not vacuous
    for part in ("hidden", "attention"):
        scale = max(float(g.abs().max()) for g in eager[part].values())
        for name in params:
            torch.testing.assert_close(compiled[part][name], eager[part][name], rtol=1e-4, atol=1e-6 * scale,
                                       msg=lambda m: f"{part} loss, {name}: {m}")


def test_an_intermediate_step_leaves_the_head_alone_when_its_gradients_are_zeros():
    """Compiled, the intermediate stage's backward hands the QA head, which no loss of the stage reaches, zero
    gradients where eager autograd leaves None; AdamW decays a zero-gradient weight and gives it state, so a
    --compile run moved the head (by lr x weight decay a step) that an eager run leaves alone. The loop's step
    drops the gradients of ``unreached_parameters`` first: the head keeps its weights and gets no state, while
    every parameter the losses reach (all of the encoder's, by the hidden-state loss) is stepped."""
    from transformers import BertConfig, BertForQuestionAnswering

    from augment.distill import IntermediateDistiller, LayerMap
    from augment.distill.steps import optimizer_step

    torch.manual_seed(0)
    student = BertForQuestionAnswering(BertConfig(vocab_size=60, hidden_size=8, num_hidden_layers=1,
                                                  num_attention_heads=2, intermediate_size=16,
                                                  max_position_embeddings=16))
    distiller = IntermediateDistiller(student, LayerMap(1, 1), 16)
    unreached = distiller.unreached_parameters()
    named = dict(distiller.named_parameters())
    head = {n for n, p in named.items() if any(p is q for q in unreached)}
    assert head == {"student.qa_outputs.weight", "student.qa_outputs.bias"}
    for name, p in named.items():  # as a compiled backward leaves them
        p.grad = torch.zeros_like(p) if name in head else torch.full_like(p, 1e-3)
    optimizer = torch.optim.AdamW([{"params": [p for p in named.values() if p.ndim >= 2], "weight_decay": 0.01},
                                   {"params": [p for p in named.values() if p.ndim < 2], "weight_decay": 0.0}],
                                  lr=1e-2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    before = {n: p.detach().clone() for n, p in named.items()}
    optimizer_step(distiller, optimizer, scheduler, torch.nn.utils.clip_grad_norm_, unreached)
    for name, p in named.items():
        assert torch.equal(p, before[name]) == (name in head), name
        assert (p in optimizer.state) == (name not in head), name
        assert p.grad is None, name


def test_configure_dynamo_compiles_every_shape_statically(dynamo_config):
    """Under --compile, dynamo keeps up to COMPILED_VARIANTS variants of a function, each with static shapes. By
    default the ninth runs uncompiled, and a second shape turns the batch dimension symbolic for every later
    graph of that code (the short last batch of an epoch would do that to both models and the next stage)."""
    import torch._dynamo

    from augment.distill.compilation import COMPILED_VARIANTS, configure_dynamo, dynamo_settings

    config = dynamo_config  # restored after the test
    name = next(k for k in dynamo_settings() if k != "automatic_dynamic_shapes")  # the limit's name

    def defaults():
        setattr(config, name, 8)
        config.automatic_dynamic_shapes = True
    compiled_shapes = []

    def backend(gm, example_inputs):
        # A symbolic graph takes its sizes as inputs of their own, beside the tensor.
        static = all(isinstance(x, torch.Tensor) for x in example_inputs)
        compiled_shapes.append(tuple(example_inputs[0].shape) if static else "symbolic")
        return gm.forward

    def run_sizes():
        compiled_shapes.clear()
        torch._dynamo.reset()
        f = torch.compile(lambda x: x * 2 + 1, backend=backend)
        for n in range(1, 11):
            assert f(torch.ones(n, 3)).shape == (n, 3)
        return list(compiled_shapes)

    defaults()
    assert run_sizes() == [(1, 3), "symbolic"]  # torch's default: the second size makes it symbolic
    config.automatic_dynamic_shapes = False
    assert run_sizes() == [(n, 3) for n in range(1, 9)]  # static, but sizes 9 and 10 ran uncompiled
    defaults()
    configure_dynamo()  # from torch's defaults
    assert getattr(config, name) == COMPILED_VARIANTS >= 10 and not config.automatic_dynamic_shapes
    assert run_sizes() == [(n, 3) for n in range(1, 11)]  # ten sizes, ten static graphs, none left eager
    configure_dynamo(lengths=6)  # --group-by-length: room for the variants of each of the batch lengths
    assert getattr(config, name) == 6 * COMPILED_VARIANTS
    # ... in all, too: torch's accumulated limit (256) would otherwise cap the per-function one.
    accumulated = next(k for k in dynamo_settings() if k.startswith("accumulated"))
    assert getattr(config, accumulated) == 6 * COMPILED_VARIANTS > 256
    torch._dynamo.reset()


def test_compile_option_values(tmp_path, sample_path, capsys, monkeypatch):
    base = ["--data", str(sample_path), "--out", str(tmp_path / "o")]
    assert build_parser().parse_args(base + ["--compile"]).compile == "default"
    assert build_parser().parse_args(base + ["--compile", "reduce-overhead"]).compile == "reduce-overhead"
    assert build_parser().parse_args(base).compile is None
    # CUDA graphs hand back gradients in memory the next replay reuses: no accumulation across micro-batches
    assert main(base + ["--compile", "reduce-overhead", "--grad-accum", "2", "--teacher", "none"]) == 2
    err = capsys.readouterr().err
    assert "--compile reduce-overhead (CUDA graphs) needs --grad-accum 1, got 2" in err
    monkeypatch.delattr(torch.compiler, "set_stance")  # as in torch < 2.6
    assert main(base + ["--compile", "--teacher", "none"]) == 2
    assert f"--compile needs torch 2.6 or later (torch.compiler.set_stance), found {torch.__version__}" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(base + ["--compile", "fastest"])
    assert e.value.code == 2 and "invalid choice: 'fastest'" in capsys.readouterr().err


def test_an_earlier_run_in_out_is_refused_unless_resume_or_overwrite(tmp_path, capsys, sample_path, tiny_student_path):
    """Killed before its first checkpoint, a run leaves config.json and metrics.jsonl; a fresh run into the same
    --out appended to that metrics.jsonl and left the old students beside its own."""
    out = tmp_path / "o"
    argv = common(sample_path, tmp_path) + ["--teacher", "none", "--student", tiny_student_path, "--out", str(out),
                                            "--max-steps", "2", "--log-every", "1"]
    assert main(argv) == 0
    shutil.rmtree(out / "checkpoints")
    (out / "student-intermediate").mkdir()
    (out / "student-intermediate" / "config.json").write_text("{}")  # an older run's, say
    (out / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"distill-train: error: {out} holds an earlier run (config.json, metrics.jsonl, student): pass "
                   "--resume to continue it, --overwrite to replace it, or choose another --out")
    assert main(argv + ["--resume", "--overwrite"]) == 2
    assert "pass one of them" in capsys.readouterr().err
    assert main(argv + ["--overwrite"]) == 0
    steps = [r.get("step") for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())]
    assert steps == [1, 2, None]  # this run's records only
    assert not (out / "student-intermediate").exists() and (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "config.json").read_text())["processes"] == 1


def test_resume_with_another_number_of_processes_is_refused(tmp_path, capsys, sample_path, tiny_student_path,
                                                            monkeypatch):
    """Batches, schedule and random streams depend on it: the resumed run would not be the killed one."""
    out = tmp_path / "o"
    argv = common(sample_path, tmp_path) + ["--teacher", "none", "--student", tiny_student_path, "--out", str(out),
                                            "--max-steps", "2"]
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "processes": 2}))  # as a two-process run records it
    capsys.readouterr()
    assert main(argv + ["--resume"]) == 2
    assert "--resume with different options than the run in --out: 2 processes -> 1" in capsys.readouterr().err
    (out / "config.json").write_text(json.dumps({**config, "processes": 1}))
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun --nproc_per_node 2 sets it; refused before it matters
    assert main(argv + ["--resume"]) == 2
    assert "than the run in --out: 1 process -> 2" in capsys.readouterr().err  # not "1 processes"


def test_resume_refuses_data_that_changed_under_the_same_name(tmp_path, capsys, sample_rows, tiny_student_path):
    """config.json records a fingerprint of each --data source; a resume whose data differs is refused, naming the
    file. A run recorded before that (no fingerprints) is still refused when its checkpoint's step is past the
    stage's schedule on the new data, rather than "resumed" with nothing to train."""
    import re

    from augment import manifest

    data, out = tmp_path / "train.jsonl", tmp_path / "o"
    data.write_text("".join(json.dumps(r) + "\n" for r in sample_rows[:8]), encoding="utf-8")
    argv = ["--data", str(data), "--max-length", "96", "--doc-stride", "48", "--batch-size", "4", "--cache-dir",
            str(tmp_path / "cache"), "--teacher", "none", "--student", tiny_student_path, "--out", str(out),
            "--epochs", "1", "--save-every", "1"]
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["data_fingerprints"] == [manifest.data_fingerprint(str(data))]
    assert config["prediction_data_fingerprints"] is None
    data.write_text("".join(json.dumps(r) + "\n" for r in sample_rows[:1]), encoding="utf-8")  # fewer windows
    capsys.readouterr()
    assert main(argv + ["--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"distill-train: error: --resume: --data {data} changed since the run in --out began (its "
                   "contents differ); --overwrite starts the run again")
    del config["data_fingerprints"]  # as an older version recorded it
    (out / "config.json").write_text(json.dumps(config))
    metrics = (out / "metrics.jsonl").read_text()
    assert main(argv + ["--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    found = re.fullmatch(r"distill-train: error: --resume: \S+ is at step (\d+) of the prediction stage, which now "
                         r"has (\d+) steps?; --overwrite starts the run again", err)
    assert found and int(found[1]) > int(found[2]), err
    assert (out / "metrics.jsonl").read_text() == metrics  # refused before anything was changed


def test_resume_refuses_a_teacher_trained_again_into_its_folder(tmp_path, capsys, sample_path, tiny_teacher_path,
                                                                tiny_student_path, monkeypatch):
    """A teacher trained again into the same folder was resumed with: the checkpoint went on against the new
    teacher (its logit cache, keyed by the teacher's digest, was rebuilt), one run of two teachers. config.json
    records each local model's fingerprint; a resume whose teacher changed is refused, naming it. The student's
    weights come from the checkpoint on resume: a student folder with other weights resumes, one with another
    config (which builds the model they go into) is refused. A run recorded without fingerprints resumes."""
    from transformers import AutoModelForQuestionAnswering

    from augment import manifest

    monkeypatch.setenv("TINYAUG_CACHE", str(tmp_path / "fingerprints"))  # not the user's cache
    teacher, student = tmp_path / "teacher", tmp_path / "student"
    shutil.copytree(tiny_teacher_path, teacher)
    shutil.copytree(tiny_student_path, student)
    out = tmp_path / "o"
    argv = common(sample_path, tmp_path) + ["--teacher", str(teacher), "--student", str(student), "--out", str(out),
                                            "--stage", "prediction", "--max-steps", "1"]
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["teacher_fingerprint"] == manifest.model_fingerprint(teacher)
    assert config["student_fingerprint"] == manifest.model_fingerprint(student, weights=False)
    assert config["student_fingerprint"] != manifest.model_fingerprint(student)  # its weights left out

    def train_again(path, seed):  # other weights, saved over the old ones
        model = AutoModelForQuestionAnswering.from_pretrained(path)
        torch.manual_seed(seed)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.01)
        model.save_pretrained(path)

    train_again(student, 1)
    capsys.readouterr()
    assert main(argv + ["--resume"]) == 0, capsys.readouterr().err  # the checkpoint holds the student's weights
    train_again(teacher, 2)
    capsys.readouterr()
    assert main(argv + ["--resume"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"distill-train: error: --resume: --teacher {teacher} changed since the run in --out began (its weights, "
        "config or tokenizer files differ); --overwrite starts the run again")
    config = json.loads((out / "config.json").read_text())
    del config["teacher_fingerprint"], config["student_fingerprint"]  # as an older version recorded it
    (out / "config.json").write_text(json.dumps(config))
    assert main(argv + ["--resume"]) == 0
    cfg = json.loads((student / "config.json").read_text())
    (student / "config.json").write_text(json.dumps({**cfg, "hidden_dropout_prob": 0.3}))
    capsys.readouterr()
    assert main(argv + ["--resume"]) == 2
    err = capsys.readouterr().err
    assert f"--resume: --student {student} changed since the run in --out began (its config or tokenizer" in err
    assert "--teacher" not in err  # the resumed run recorded the new teacher's


@pytest.mark.parametrize("extra, says", [
    (["--stage", "prediction", "--lr-intermediate", "1e-4"], "--lr-intermediate 0.0001 has no effect: it is the "
     "intermediate stage's learning rate, and --stage prediction runs the prediction stage alone"),
    (["--teacher", "none", "--projection", "per-layer"], "--projection per-layer has no effect: it is part of the "
     "intermediate stage's loss, and --teacher none runs the prediction stage alone"),
    (["--stage", "prediction", "--attention-loss", "direct"], "--attention-loss direct has no effect"),
    (["--stage", "intermediate", "--temperature", "2"], "--temperature 2 has no effect: it is part of the "
     "prediction stage's distillation term, and --stage intermediate runs the intermediate stage alone"),
    (["--stage", "intermediate", "--lr-prediction", "1e-4"], "--lr-prediction 0.0001 has no effect"),
    (["--stage", "intermediate", "--distill-weight", "0.5"], "--distill-weight 0.5 has no effect"),
    (["--stage", "intermediate", "--teacher-cache", "off"], "--teacher-cache off has no effect"),
    (["--teacher", "none", "--temperature", "2"], "--temperature 2 has no effect: it is part of the prediction "
     "stage's distillation term, and --teacher none has no teacher"),
    (["--teacher", "none", "--cache-batch-size", "64"], "--cache-batch-size 64 has no effect"),
    (["--teacher", "none", "--teacher-cache", "off"], "--teacher-cache off has no effect"),
    (["--eval-split", "train"], "--eval-split needs --eval"),
    # Typed at its default (which a check that compared values with the defaults let pass), abbreviated, --opt=value:
    (["--eval-split=validation"], "--eval-split needs --eval"),
    (["--stage", "prediction", "--lr-i", "5e-05"], "--lr-intermediate 5e-05 has no effect"),
])
def test_an_option_the_run_never_uses_is_refused(tmp_path, capsys, sample_path, tiny_teacher_path, tiny_student_path,
                                                 extra, says):
    """Options of a stage the run does not run, teacher-logit options without a teacher, and --eval-split without
    --eval were accepted and silently ignored: a command that does not do what it says."""
    teacher = [] if "--teacher" in extra else ["--teacher", tiny_teacher_path]  # a second --teacher is refused
    argv = common(sample_path, tmp_path) + [*teacher, "--student", tiny_student_path, "--out", str(tmp_path / "o"),
                                            *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err, err
    assert not (tmp_path / "o").exists()


def test_an_option_another_option_switches_off_is_warned_about_once(tmp_path, capsys, sample_path, tiny_teacher_path,
                                                                    tiny_student_path):
    """--distill-weight 0 reads no teacher logits, --teacher-cache off builds no cache: what they switch off is
    named on stderr, and the run goes on (a sweep over the weight keeps one command)."""
    no_teacher = common(sample_path, tmp_path) + ["--student", tiny_student_path, "--out", str(tmp_path / "o")]
    base = no_teacher + ["--teacher", tiny_teacher_path]
    args = build_parser().parse_args(base + ["--distill-weight", "0", "--temperature", "2", "--cache-batch-size", "64"])
    validate(args)
    assert capsys.readouterr().err.splitlines() == [
        "distill-train: warning: --temperature 2 has no effect: it is part of the prediction stage's distillation "
        "term, and --distill-weight 0 reads no teacher logits",
        "distill-train: warning: --cache-batch-size 64 has no effect: it is the batch size of the prediction "
        "stage's teacher-logit cache, and --distill-weight 0 reads no teacher logits"]
    validate(build_parser().parse_args(base + ["--teacher-cache", "off", "--cache-batch-size", "64"]))
    assert capsys.readouterr().err.strip() == (
        "distill-train: warning: --cache-batch-size 64 has no effect: it is the batch size of the prediction stage's "
        "teacher-logit cache, and --teacher-cache off builds none")
    for quiet in (base + ["--distill-weight", "0"], base + ["--stage", "intermediate", "--lr-intermediate", "1e-4"],
                  no_teacher + ["--teacher", "none", "--lr-prediction", "1e-4", "--epochs", "1", "--max-steps", "2"]):
        validate(build_parser().parse_args(quiet))  # options in use, defaults: no word
        assert capsys.readouterr().err == ""


def test_dist_timeout_in_a_run_of_one_process_is_warned_about(tmp_path, capsys, monkeypatch, sample_path,
                                                               tiny_teacher_path, tiny_student_path):
    """--dist-timeout is how long a process waits for the others; a run not started by torchrun (or by it with one
    process) has none, and the option did nothing without a word. A warning, not a refusal: one script may launch
    torchrun --nproc-per-node $GPUS on a machine of one GPU."""
    argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", tiny_student_path,
                                            "--out", str(tmp_path / "o"), "--dist-timeout", "60"]
    for world in (None, "1"):
        if world is None:
            monkeypatch.delenv("WORLD_SIZE", raising=False)
        else:
            monkeypatch.setenv("WORLD_SIZE", world)
        validate(build_parser().parse_args(argv))
        assert capsys.readouterr().err == (
            "distill-train: warning: --dist-timeout 60 has no effect: it is how long a process waits for the "
            "others, and this run is a single process (not started by torchrun with several)\n")
    monkeypatch.setenv("WORLD_SIZE", "2")  # (validate reads the world size only; no process group is made)
    validate(build_parser().parse_args(argv))
    assert capsys.readouterr().err == ""


def test_projection_for_a_student_as_wide_as_its_teacher_is_warned_about(tmp_path, capsys, sample_path, tokenizer,
                                                                          tiny_teacher_path, tiny_student_path):
    """Equal widths train no projection, shared or per layer: --projection per-layer did nothing, without a word."""
    from tests.conftest import _bert, _save

    wide = _save(_bert("qa", tokenizer, 5, 64, 2, 4), tokenizer, tmp_path / "wide")  # the teacher's 64
    for student, projection, warned in ((wide, ["--projection", "per-layer"], True), (wide, [], False),
                                        (tiny_student_path, ["--projection", "per-layer"], False)):
        args = build_parser().parse_args(common(sample_path, tmp_path) + [
            "--teacher", tiny_teacher_path, "--student", student, "--out", str(tmp_path / "o"),
            "--stage", "intermediate", *projection])
        validate(args)
        DistillRecipe(args).setup()
        lines = [x for x in capsys.readouterr().err.splitlines() if "--projection" in x]
        assert lines == (["distill-train: warning: --projection per-layer has no effect: the student and the "
                          "teacher are both 64 wide, so no projection is trained"] if warned else []), student


def test_resume_ignores_an_option_the_run_never_uses(tmp_path, capsys, sample_path):
    """An earlier version recorded options the run never used (--lr-intermediate with --stage prediction): left out
    of the resumed command, as the new refusal asks, they were a difference that refused the resume for good."""
    out = tmp_path / "o"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"stage": "prediction", "lr_intermediate": 1e-4,
                                                 "attention_loss": "direct", "seed": 1}))
    assert main(["--data", str(sample_path), "--out", str(out), "--resume", "--stage", "prediction",
                 "--seed", "2"]) == 2
    err = capsys.readouterr().err
    assert "--seed 1 -> 2" in err  # the comparison ran
    assert "--lr-intermediate" not in err and "--attention-loss" not in err, err


@pytest.mark.parametrize("recorded, given, named", [
    (3, ["--max-steps", "3"], False),   # --max-steps overrides --epochs in both runs: --epochs sets nothing
    (3, ["--max-steps", "4"], True),    # another schedule: --max-steps is named, and --epochs with it
    (3, [], True),                      # this run's steps come from --epochs
    (None, ["--max-steps", "3"], True),  # the recorded run's did
    (None, [], True),
])
def test_resume_ignores_epochs_only_where_the_same_max_steps_overrides_them(tmp_path, capsys, sample_path,
                                                                            recorded, given, named):
    """A resume with the same --max-steps and another --epochs is the same run: it was refused as '--epochs 1 -> 2'."""
    out = tmp_path / "o"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"epochs": 1, "max_steps": recorded, "seed": 1}))
    assert main(["--data", str(sample_path), "--out", str(out), "--resume", "--seed", "2", "--epochs", "2",
                 *given]) == 2
    err = capsys.readouterr().err
    assert "--seed 1 -> 2" in err  # the comparison ran
    assert ("--epochs 1 -> 2" in err) == named, err


def test_an_augment_squad_directory_is_fingerprinted_by_its_manifest(tmp_path, sample_path):
    """Its shards' digests, recorded as they were written: no gigabytes read again on every start."""
    from augment import manifest
    from augment.fingerprints import fingerprint

    listed = {"tool": "augment-squad", "shards": [{"file": "shard-00000.arrow", "sha256": "a" * 64, "rows": 3}]}
    (tmp_path / "manifest.json").write_text(json.dumps(listed))
    (tmp_path / "shard-00000.arrow").write_bytes(b"not read")
    first = manifest.data_fingerprint(str(tmp_path))
    assert first.startswith("shards:") and manifest.data_fingerprint(str(tmp_path)) == first
    listed["shards"][0]["sha256"] = "b" * 64  # augment-squad run again into the directory
    (tmp_path / "manifest.json").write_text(json.dumps(listed))
    assert manifest.data_fingerprint(str(tmp_path)) != first
    assert manifest.data_fingerprint(str(sample_path)) == fingerprint(sample_path)  # anything else: every byte


def test_intermediate_student_is_saved_on_resume_when_the_kill_came_just_before(tmp_path, sample_path,
                                                                               tiny_teacher_path, tiny_student_path):
    """Killed between the intermediate stage's last checkpoint and the save of OUT/student-intermediate, or in the
    middle of that save by a version that wrote into the directory itself (its config.json, no weights yet): the
    resumed run saves it (again)."""
    from transformers import AutoModelForQuestionAnswering

    out = tmp_path / "o"
    argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", tiny_student_path,
                                            "--out", str(out), "--stage", "both", "--max-steps", "2"]
    assert main(argv) == 0
    saved = AutoModelForQuestionAnswering.from_pretrained(out / "student-intermediate").state_dict()
    for f in (out / "student-intermediate").iterdir():
        if f.name != "config.json":
            f.unlink()
    shutil.rmtree(out / "checkpoints" / "1-prediction-step00000002")  # the newest is the intermediate stage's end
    assert main(argv + ["--resume"]) == 0
    again = AutoModelForQuestionAnswering.from_pretrained(out / "student-intermediate").state_dict()
    assert again.keys() == saved.keys() and all(torch.equal(again[k], saved[k]) for k in saved)


def test_stride_without_room_and_a_cache_path_that_is_a_file_are_one_line(tmp_path, capsys, sample_path,
                                                                         tiny_student_path):
    base = common(sample_path, tmp_path)[:-2] + ["--teacher", "none", "--student", tiny_student_path]
    assert main(base + ["--cache-dir", str(tmp_path / "cache"), "--max-length", "64", "--doc-stride", "62",
                        "--out", str(tmp_path / "a")]) == 2
    # 64 tokens: [CLS] question [SEP] context [SEP] needs 3 specials and 1 question token beside the stride.
    assert capsys.readouterr().err.strip().endswith(
        "--doc-stride 62 leaves no room for the question in windows of --max-length 64; use a --doc-stride below 60")
    assert not (tmp_path / "a").exists() and not (tmp_path / "cache").exists()
    # Every problem at once: the stride's and the student's 512 positions (not one after the other).
    assert main(base + ["--cache-dir", str(tmp_path / "cache"), "--max-length", "600", "--doc-stride", "598",
                        "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--doc-stride 598 leaves no room for the question" in err
    assert "--max-length 600 exceeds the student's 512 positions" in err
    (tmp_path / "afile").write_text("x")
    assert main(base + ["--cache-dir", str(tmp_path / "afile"), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"--cache-dir {tmp_path / 'afile'}: it is a file, not a directory" in err


def test_non_finite_eval_scores_are_null_and_the_student_is_saved(tmp_path, sample_path, tiny_teacher_path,
                                                                  tiny_student_path, monkeypatch, capsys):
    """Non-finite null-score differences (NaN or infinite logits) made best_f1_thresh -inf or NaN: the final
    evaluation's eval.json raised a traceback, before the student was saved, and metrics.jsonl got a bare
    -Infinity. Now they are null in both files, one line counts the questions, and the student is saved first."""
    import math

    from augment.qa import evaluate as qa_evaluate

    real = qa_evaluate.postprocess_predictions

    def broken_scores(examples, *args, **kwargs):  # the right answers, at a null score of -inf
        preds, diffs = real(examples, *args, **kwargs)
        return ({ex["id"]: (ex["answers"]["text"] or [""])[0] for ex in examples},
                {qid: -math.inf for qid in diffs})

    monkeypatch.setattr(qa_evaluate, "postprocess_predictions", broken_scores)
    out = tmp_path / "out"
    argv = evaluated_step(sample_path, tmp_path, tiny_teacher_path, tiny_student_path, out)
    assert main(argv) == 0
    assert "distill-train: 4 of 4 questions had non-finite scores" in capsys.readouterr().err
    assert (out / "student" / "config.json").exists()
    report = json.loads((out / "eval.json").read_text(), parse_constant=pytest.fail)  # strict: no NaN token
    assert set(report["null_diffs"].values()) == {None} and report["metrics"]["best_f1_thresh"] is not None
    logged = [json.loads(x, parse_constant=pytest.fail) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["eval"]["best_f1_thresh"] for r in logged if "eval" in r] == [report["metrics"]["best_f1_thresh"]]


def test_nan_eval_logits_end_the_run_in_one_line_after_the_student_is_saved(tmp_path, sample_path, tiny_teacher_path,
                                                                            tiny_student_path, monkeypatch, capsys):
    """NaN logits in an evaluation (a diverged student, float16 overflow) are an error (augment.qa.evaluate); in
    distill-train it is one line and exit code 1, as a diverged loss's, not a traceback."""
    import numpy as np

    from augment.qa import evaluate as qa_evaluate

    real = qa_evaluate.features_and_logits

    def nan_logits(*args, **kwargs):
        features, start, end = real(*args, **kwargs)
        return features, np.full_like(start, np.nan), end

    monkeypatch.setattr(qa_evaluate, "features_and_logits", nan_logits)
    out = tmp_path / "out"
    argv = evaluated_step(sample_path, tmp_path, tiny_teacher_path, tiny_student_path, out)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "distill-train: error: the model produced NaN logits for question '" in err and "Traceback" not in err
    assert (out / "student" / "config.json").exists()


def test_the_student_is_saved_before_the_final_evaluation(tmp_path, sample_path, tiny_teacher_path, tiny_student_path,
                                                          monkeypatch):
    """An evaluation that fails must not lose the trained student (it was saved only after the evaluation)."""
    from augment.qa import evaluate as qa_evaluate

    def fails(*args, **kwargs):
        raise RuntimeError("evaluation failed")

    monkeypatch.setattr(qa_evaluate, "evaluate", fails)
    out = tmp_path / "out"
    argv = evaluated_step(sample_path, tmp_path, tiny_teacher_path, tiny_student_path, out)
    with pytest.raises(RuntimeError, match="evaluation failed"):
        main(argv)
    assert (out / "student" / "config.json").exists()


@pytest.mark.parametrize("source, says", [
    ("empty.json", "empty.json: neither JSON nor JSON lines (it is empty); --eval takes an official SQuAD .json"),
    ("not_a_cached_dataset", "pass a local FILE.json, FILE.jsonl or DIR to --eval instead"),
    # An owner/name hub id (the canonical rajpurkar/squad_v2) was taken for a missing local path: "no such file".
    ("no-such-owner/not_a_cached_dataset", "could not load dataset 'no-such-owner/not_a_cached_dataset'")])
def test_eval_data_errors_name_eval(source, says, tmp_path, sample_path, tiny_teacher_path, tiny_student_path,
                                    capsys):
    """An empty --eval file said "--input takes …", and an --eval hub id that could not be loaded offline
    suggested --data: the shared reader did not know which option it was reading for."""
    (tmp_path / "empty.json").write_text("")
    src = str(tmp_path / source) if source.endswith(".json") else source
    argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", tiny_student_path,
                                            "--out", str(tmp_path / "out"), "--stage", "prediction",
                                            "--max-steps", "1", "--eval", src]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("distill-train: error: ") and says in err, err
    assert "--input" not in err and "--data" not in err


def test_hub_data_and_eval_that_cannot_load_offline_are_both_reported(tmp_path, sample_path, tiny_teacher_path,
                                                                    tiny_student_path, capsys):
    """Offline (the tests' HF_HUB_OFFLINE=1), --data squad_v2 --eval squad_v2 named the --eval alone; the --data
    came up on the next run. Each in its own words, in one line, as the command joins its problems."""
    argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", tiny_student_path,
                                            "--out", str(tmp_path / "out"), "--stage", "prediction",
                                            "--max-steps", "1", "--eval", "not_a_cached_dataset"]
    argv[argv.index("--data") + 1] = "not_a_cached_dataset"
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("distill-train: error: ") and err.count("\n") == 1, err
    assert err.count("could not load dataset 'not_a_cached_dataset'") == 2
    assert "(split 'validation')" in err and "to --eval instead" in err  # --eval's problem ...
    assert "(split 'train')" in err and "to --data instead" in err  # ... and --data's, in the same line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option", ["--data", "--prediction-data"])
def test_training_data_errors_name_their_option(option, tmp_path, sample_path, tiny_teacher_path, tiny_student_path,
                                                capsys):
    """An empty training file said "the data must be …", the wording for a reader that does not know which
    option named it; --data and --prediction-data are named as --eval is."""
    empty = tmp_path / "empty.json"
    empty.write_text("")
    argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", tiny_student_path,
                                            "--out", str(tmp_path / "out"), "--max-steps", "1"]
    if option == "--data":
        argv[argv.index("--data") + 1] = str(empty)
    else:  # --stage both (the default): the prediction stage reads it
        argv += ["--prediction-data", str(empty)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("distill-train: error: ") and f"(it is empty); {option} takes an official SQuAD" in err, err


def test_two_stage_commands_give_the_weights_of_stage_both_with_dropout(tmp_path, sample_path, tiny_teacher_path,
                                                                        tiny_student_path):
    """``--stage intermediate``, then ``--stage prediction`` from its student, is ``--stage both``: each stage's
    random numbers (dropout, projection init) come from (--seed, stage). The prediction stage of --stage both drew
    its dropout masks where the intermediate stage's draws had left the generator, and a run of that stage alone
    from the setup's state: other masks, other weights (they matched only without dropout)."""
    from safetensors.torch import load_file

    config = json.loads((Path(tiny_student_path) / "config.json").read_text())
    assert config["hidden_dropout_prob"] > 0 and config["attention_probs_dropout_prob"] > 0  # dropout draws

    def run(out, student, stage):
        argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", student,
                                                "--out", str(tmp_path / out), "--stage", stage, "--max-steps", "2"]
        assert main(argv) == 0
        return load_file(str(tmp_path / out / "student" / "model.safetensors"))

    both = run("both", tiny_student_path, "both")
    run("inter", tiny_student_path, "intermediate")
    apart = run("pred", str(tmp_path / "inter" / "student"), "prediction")
    assert both.keys() == apart.keys()
    assert [k for k in both if not torch.equal(both[k], apart[k])] == []


def test_a_resumed_stage_is_summarised_whole(tmp_path, sample_path, tiny_teacher_path, tiny_student_path, capsys):
    """A stage resumed mid-way ends with the summary of the whole stage: the windows and steps of the
    uninterrupted run, and the seconds the killed run trained up to its checkpoint plus the resumed run's (each
    checkpoint carries the running totals). The summary counted the resumed part alone: 8 windows of 16. A
    checkpoint without the totals (an older version's) still resumes, and its summary says what it covers."""
    def run(out, *extra):
        argv = common(sample_path, tmp_path) + ["--teacher", tiny_teacher_path, "--student", tiny_student_path,
                                                "--out", str(out), "--stage", "intermediate", "--max-steps", "4",
                                                "--save-every", "2", "--log-every", "1", "--keep-checkpoints", "5"]
        assert main(argv + list(extra)) == 0
        (summary,) = [r["summary"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
                      if "summary" in r]
        return summary

    def killed_after_step_2(name, edit):
        cut = tmp_path / name
        shutil.copytree(tmp_path / "whole", cut)
        shutil.rmtree(cut / "student")
        shutil.rmtree(cut / "checkpoints" / "0-intermediate-step00000004")
        state = cut / "checkpoints" / "0-intermediate-step00000002" / "state.json"
        state.write_text(json.dumps(edit(json.loads(state.read_text()))))
        return cut

    whole = run(tmp_path / "whole")
    assert whole["windows"] == 16 and whole["steps"] == 4 and "from_step" not in whole

    def slow(state):  # as if the killed run had trained for 1000 s before its checkpoint
        assert state["totals"]["windows"] == 8 and state["totals"]["steady"]["windows"] == 4
        return state | {"totals": state["totals"] | {"seconds": 1000.0}}
    resumed = run(killed_after_step_2("cut", slow), "--resume")
    assert {k: resumed[k] for k in ("windows", "steps", "attention_loss")} == \
        {k: whole[k] for k in ("windows", "steps", "attention_loss")}
    assert resumed["seconds"] > 1000 and resumed["windows_per_s"] < 1 and "from_step" not in resumed

    capsys.readouterr()
    older = run(killed_after_step_2("older", lambda state: {k: v for k, v in state.items() if k != "totals"}),
                "--resume")
    assert (older["windows"], older["steps"], older["from_step"]) == (8, 2, 2)
    assert "distill-train: intermediate (steps 3 to 4: its checkpoint held no totals of the steps before): 8 " \
           "windows in" in capsys.readouterr().err


@pytest.mark.parametrize("processes, share, line", [
    (2, 0.5, "teacher_cache: 989 windows in 1.0 s by 2 processes together, 989.0 windows/s, 989 TFLOP/s (50.0% of "
             "each NVIDIA H200's dense bf16 peak)"),
    (1, 1.0, "teacher_cache: 989 windows in 1.0 s, 989.0 windows/s, 989 TFLOP/s (100.0% of the NVIDIA H200's dense "
             "bf16 peak)")])
def test_the_share_of_peak_under_torchrun_is_per_card(monkeypatch, processes, share, line):
    """Two processes on two H200s at 989 TFLOP/s together run each card at half its peak: the share was the job's
    TFLOP/s over one card's peak (100%). One process on one card says neither "together" nor "each"."""
    from types import SimpleNamespace

    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    records, lines = [], []
    recipe = SimpleNamespace(acc=SimpleNamespace(device=torch.device("cuda", 0), num_processes=processes),
                             metrics=records.append, log=lines.append)
    DistillRecipe.report(recipe, "teacher_cache", 989, 1.0, 989e12)
    (record,) = records
    assert record["summary"]["tflops"] == 989.0 and record["summary"]["peak_share"] == share
    assert record["summary"]["processes"] == processes
    assert lines == [line]


def test_a_torchrun_stage_tally_sums_every_process_and_reads_an_earlier_checkpoint_as_the_main_process_times_two():
    """The recipe's StageTally under two processes (augment.distill.tally: what it does with them): its counts are
    all-reduced at the marks, and a checkpoint written before the totals were summed holds the main process's."""
    from types import SimpleNamespace

    reduced = []

    def reduce(tensor, op):  # two processes that counted alike
        reduced.append(op)
        return tensor * 2
    recipe = SimpleNamespace(acc=SimpleNamespace(device=torch.device("cpu"), num_processes=2, reduce=reduce))
    carried = {"windows": 8, "tokens": 800, "tokens_sq": 80_000, "seconds": 10.0, "steady": None}
    tally = DistillRecipe._tally(recipe, lambda: 0.0, carried, 2)
    assert tally.last[1] == {"windows": 16, "tokens": 1600, "tokens_sq": 160_000}
    tally.add(windows=4, length=10)
    assert tally.mark()[1][1] == {"windows": 24, "tokens": 1680, "tokens_sq": 160_800} and reduced == ["sum"]


def test_a_resume_across_a_change_of_the_window_labels_says_so(tmp_path, capsys, sample_path, tiny_student_path):
    """config.json did not record how the windows were labelled: a run begun before LABELS_VERSION 2 and resumed
    after it trained its remaining steps on differently labelled windows without a word. Warned, not refused."""
    from augment.qa.features import LABELS_VERSION

    out = tmp_path / "o"
    argv = common(sample_path, tmp_path) + ["--teacher", "none", "--student", tiny_student_path, "--out", str(out),
                                            "--max-steps", "2"]
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["labels_version"] == LABELS_VERSION == 3
    capsys.readouterr()
    assert main(argv + ["--resume"]) == 0  # the same labels: nothing to say
    err = capsys.readouterr().err
    assert "labels" not in err and "token type" not in err  # a BERT tokenizer makes them unasked: no change
    del config["labels_version"]  # as a run begun before it was recorded, i.e. by version 1
    (out / "config.json").write_text(json.dumps(config))
    assert main(argv + ["--resume"]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "labels" in line]
    assert len(warned) == 1 and warned[0].startswith("distill-train: warning: --resume:")
    assert "labelled by labels version 1, this tinyaug labels them by version 3" in warned[0]
    assert "edge" in warned[0] and warned[0].endswith("the rest of the run trains on the new labels")
    assert json.loads((out / "config.json").read_text())["labels_version"] == 3  # recorded for the next resume


def test_resume_accepts_the_data_fingerprint_an_earlier_tinyaug_recorded_of_the_same_files(
        tmp_path, sample_rows, tiny_student_path, capsys):
    """A saved dataset's fingerprint now covers its data files alone (a README or report.html beside them changed
    it): a run whose config.json an earlier tinyaug wrote holds another digest of the same files, and resumes."""
    import datasets

    from augment import manifest
    from augment.fingerprints import earlier_fingerprint

    data = tmp_path / "data"
    datasets.Dataset.from_list(sample_rows[:4]).save_to_disk(str(data))
    (data / "README.md").write_text("notes")
    assert earlier_fingerprint(data) not in (None, manifest.data_fingerprint(data))  # the folder tells them apart
    out = tmp_path / "o"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"data": [str(data)], "seed": 1,
                                                 "data_fingerprints": [earlier_fingerprint(data)]}))
    argv = ["--data", str(data), "--teacher", "none", "--student", tiny_student_path, "--out", str(out), "--resume",
            "--seed", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--seed 1 -> 2" in err and "--data" not in err, err  # the comparison ran, and took the data as the same
    (data / "README.md").write_text("other notes")  # what the earlier digest covered has changed since: refused
    assert main(argv) == 2
    assert f"--resume: --data {data} changed since the run in --out began" in capsys.readouterr().err


def test_resume_accepts_the_model_fingerprints_an_earlier_tinyaug_recorded_of_the_same_files(
        tmp_path, tiny_teacher_path, tiny_student_path, sample_path, capsys, monkeypatch):
    """A model's fingerprint now covers its tokenizer_config.json (do_lower_case, model_max_length cut the text):
    a run whose config.json an earlier tinyaug wrote holds other digests of the same folders, and resumes. A
    tokenizer_config.json changed since today's record is refused."""
    from augment import manifest

    monkeypatch.setenv("TINYAUG_CACHE", str(tmp_path / "fingerprints"))  # not the user's cache
    teacher, student = tmp_path / "teacher", tmp_path / "student"
    shutil.copytree(tiny_teacher_path, teacher)
    shutil.copytree(tiny_student_path, student)
    earlier = {"teacher_fingerprint": manifest.earlier_model_fingerprint(teacher),
               "student_fingerprint": manifest.earlier_model_fingerprint(student, weights=False)}
    today = {"teacher_fingerprint": manifest.model_fingerprint(teacher),
             "student_fingerprint": manifest.model_fingerprint(student, weights=False)}
    assert all(earlier[k] not in (None, today[k]) for k in earlier)  # the folders tell the two apart
    out = tmp_path / "o"
    out.mkdir()
    recorded = {"teacher": str(teacher), "student": str(student), "seed": 1}
    argv = ["--data", str(sample_path), "--teacher", str(teacher), "--student", str(student), "--out", str(out),
            "--resume", "--seed", "2"]
    (out / "config.json").write_text(json.dumps({**recorded, **earlier}))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--seed 1 -> 2" in err  # the comparison ran
    assert "--teacher" not in err and "--student" not in err, err
    (out / "config.json").write_text(json.dumps({**recorded, **today}))
    tokenizer_config = student / "tokenizer_config.json"
    tokenizer_config.write_text(json.dumps({**json.loads(tokenizer_config.read_text()), "do_lower_case": False}))
    assert main(argv) == 2
    assert f"--resume: --student {student} changed since the run in --out began" in capsys.readouterr().err
