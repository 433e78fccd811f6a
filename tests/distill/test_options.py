"""distill-train's options as a practitioner combines them, each run a process of its own (tests/forkrun.py):
values that argparse accepts but training cannot use, a kill during a mid-run evaluation, --grad-accum against a
larger batch, and the evaluation squad-eval must be able to repeat."""
import json
import shutil
import signal
import time

import pytest

from tests import forkrun


def tiny(sample_path, tmp, teacher, student, out, *extra):
    return ["--data", str(sample_path), "--limit", "12", "--max-length", "96", "--doc-stride", "48",
            "--batch-size", "4", "--cache-dir", str(tmp / "cache"), "--teacher", teacher, "--student", student,
            "--out", str(out), "--log-every", "1", *extra]


def records(out) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_values_argparse_takes_but_training_cannot_use_are_one_line(tmp_path, sample_path, tiny_teacher_path,
                                                                  tiny_student_path):
    """float() takes 'nan' and 'inf', int() any size: each was a traceback after the models loaded (a negative or
    too large --seed: NumPy's seeding; --dist-timeout past timedelta's range; a NaN --lr-intermediate: AdamW) or a
    run of NaN losses that reported success (--temperature inf or nan, --weight-decay nan). All named at once."""
    bad = {"--seed": "-1", "--lr-intermediate": "nan", "--lr-prediction": "inf", "--temperature": "inf",
           "--weight-decay": "-0.5", "--embedding-dropout": "nan", "--dist-timeout": "100000000000000"}
    out = tmp_path / "out"
    done = forkrun.run("pipelines.distill_train",
                       *tiny(sample_path, tmp_path, tiny_teacher_path, tiny_student_path, out,
                             *[x for kv in bad.items() for x in kv]))
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    for option in bad:
        assert f"{option} must be" in lines[0]
    assert "--seed must be in [0, 2**32 - 1], got -1" in lines[0]
    assert "--weight-decay must be >= 0, got -0.5" in lines[0]
    assert lines[0].count("--embedding-dropout") == 1  # nan: named once, as not finite
    assert not out.exists()
    done = forkrun.run("pipelines.distill_train",
                       *tiny(sample_path, tmp_path, tiny_teacher_path, tiny_student_path, out, "--seed", str(2 ** 32)))
    assert done.returncode == 2 and f"--seed must be in [0, 2**32 - 1], got {2 ** 32}" in done.stderr


def test_a_kill_during_a_mid_run_evaluation_is_evaluated_again_on_resume(tmp_path, sample_path, tiny_teacher_path,
                                                                         tiny_student_path):
    """The evaluation at step 2 came after step 2's checkpoint: killed during it, the run resumed from that
    checkpoint, past the evaluation, and metrics.jsonl never got the step-2 result that an uninterrupted run has."""
    from tests.conftest import SUBSET

    def run(out, *extra):
        return tiny(sample_path, tmp_path, tiny_teacher_path, tiny_student_path, out, "--stage", "intermediate",
                    "--max-steps", "3", "--save-every", "1", "--eval", str(SUBSET), "--eval-limit", "400",
                    "--eval-every", "2", *extra)

    def evaluations(out):
        return [r["step"] for r in records(out) if "eval" in r]

    whole = tmp_path / "whole"
    done = forkrun.run("pipelines.distill_train", *run(whole))
    assert done.returncode == 0, done.stderr[-2000:]
    assert evaluations(whole) == [2, "final"]

    cut = tmp_path / "cut"
    proc = forkrun.start("pipelines.distill_train", *run(cut))
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline and not (
            (cut / "metrics.jsonl").exists() and any(r.get("step") == 2 for r in records(cut))):
        time.sleep(0.02)
    time.sleep(0.3)  # step 2 logged: now in its evaluation (400 questions, over a second here)
    proc.kill(signal.SIGKILL)
    assert proc.wait().returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert evaluations(cut) == [], "killed after the evaluation, not during it"

    done = forkrun.run("pipelines.distill_train", *run(cut, "--resume"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert evaluations(cut) == [2, "final"]
    kinds = [(r["stage"], r.get("step"), "eval" in r, "summary" in r) for r in records(cut)]
    assert kinds == [(r["stage"], r.get("step"), "eval" in r, "summary" in r) for r in records(whole)]


def test_squad_eval_repeats_the_runs_evaluation_from_its_recorded_options(tmp_path, sample_rows, tiny_student_path):
    """eval.json's options are squad-eval's: passed back to it, they give the same numbers. They left out
    --eval-split (squad-eval read a saved dataset's validation split where the run had evaluated its train split)
    and squad-eval had no way to evaluate under the bf16 autocast that --bf16 evaluates under."""
    from datasets import Dataset, DatasetDict

    columns = ("id", "title", "context", "question", "answers")
    data = tmp_path / "saved"
    DatasetDict({"train": Dataset.from_list([{c: r[c] for c in columns} for r in sample_rows[:8]]),
                 "validation": Dataset.from_list([{c: r[c] for c in columns} for r in sample_rows[8:16]])}
                ).save_to_disk(str(data))
    out = tmp_path / "out"
    done = forkrun.run("pipelines.distill_train", "--data", str(data), "--limit", "8", "--max-length", "96",
                       "--doc-stride", "48", "--batch-size", "4", "--teacher", "none", "--student", tiny_student_path,
                       "--out", str(out), "--max-steps", "2", "--bf16", "--eval", str(data), "--eval-split", "train",
                       "--cache-dir", str(tmp_path / "cache"))
    assert done.returncode == 0, done.stderr[-2000:]
    run = json.loads((out / "eval.json").read_text())
    options = run["options"]
    assert options["split"] == "train" and options["autocast"] == "bfloat16" and options["device"] == "cpu"
    argv = [x for k, v in options.items() if v is not None for x in (f"--{k.replace('_', '-')}", str(v))]
    done = forkrun.run("pipelines.squad_eval", *argv, "--out", str(tmp_path / "again.json"))
    assert done.returncode == 0, done.stderr[-2000:]
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["metrics"] == run["metrics"]
    assert again["predictions"] == run["predictions"] and again["null_diffs"] == run["null_diffs"]


def test_grad_accum_averages_a_step_as_one_batch_of_all_its_windows(tmp_path, sample_path, tiny_teacher_path,
                                                                    tiny_student_path):
    """--batch-size 2 --grad-accum 3 is one step over the windows --batch-size 6 takes at once, and its loss (the
    one logged and the one its gradients come from) is theirs: 5 windows of 5 contexts, each its own length, in
    micro-batches of 2, 2 and 1. Each micro-batch's mean was divided by 3: the lone window weighed as much as two,
    and tokens of short windows more than tokens of long ones (3e-4 off in the intermediate stage, 1.3e-2 in the
    prediction stage)."""
    # Without dropout: micro-batches draw other dropout masks than their batch, whatever the weighting.
    student = tmp_path / "student"
    shutil.copytree(tiny_student_path, student)
    config = json.loads((student / "config.json").read_text())
    (student / "config.json").write_text(json.dumps(config | {"hidden_dropout_prob": 0.0,
                                                             "attention_probs_dropout_prob": 0.0}))

    def step_one(out, *extra):
        done = forkrun.run("pipelines.distill_train",
                           *tiny(sample_path, tmp_path, tiny_teacher_path, str(student), out, "--limit", "5",
                                 "--max-length", "384", "--doc-stride", "128", "--max-steps", "1",
                                 "--embedding-dropout", "0", *extra))
        assert done.returncode == 0, done.stderr[-2000:]
        return {r["stage"]: r for r in records(out) if r.get("step") == 1 and "loss" in r}

    whole = step_one(tmp_path / "whole", "--batch-size", "6")
    accumulated = step_one(tmp_path / "accumulated", "--batch-size", "2", "--grad-accum", "3")
    assert set(whole) == set(accumulated) == {"intermediate", "prediction"}
    for stage, record in whole.items():
        for name in ("loss", "hidden", "attention", "kd"):
            if name in record:
                assert accumulated[stage][name] == pytest.approx(record[name], rel=2e-6), (stage, name)


def test_a_diverged_run_stops_with_one_line_and_strict_json(tmp_path, sample_path, tiny_teacher_path,
                                                            tiny_student_path):
    """A loss that turns NaN or infinite ran on to the end and reported success, and metrics.jsonl held NaN,
    which is not JSON. The first log step that sees it ends the run: exit 1, one line naming the stage, the step
    and the option to change; the record holds null there."""
    out = tmp_path / "out"
    done = forkrun.run("pipelines.distill_train",
                       *tiny(sample_path, tmp_path, tiny_teacher_path, tiny_student_path, out, "--stage",
                             "intermediate", "--max-steps", "6", "--lr-intermediate", "1e30"))
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("distill-train: error: the intermediate stage diverged: at step ")
    assert "Lower --lr-intermediate (now 1e+30)" in line
    logged = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]  # strict: no NaN tokens
    steps = [r for r in logged if "loss" in r]
    assert steps[-1]["loss"] is None and f"at step {steps[-1]['step']} " in line
    assert all(r["loss"] is not None for r in steps[:-1])
    assert not (out / "student").exists()


def test_eval_every_ends_each_stage_with_an_evaluation(tmp_path, sample_path, tiny_teacher_path, tiny_student_path):
    """With --stage both, the intermediate stage's last step was never evaluated (the condition left out every
    stage's last step, for the final evaluation to score, but that one follows the prediction stage only): its
    curve stopped at the last multiple of --eval-every, and even a multiple that was the stage's end was skipped.
    Now each stage ends with an evaluation, the last stage's being the final one."""
    out = tmp_path / "out"
    done = forkrun.run("pipelines.distill_train",
                       *tiny(sample_path, tmp_path, tiny_teacher_path, tiny_student_path, out, "--stage", "both",
                             "--max-steps", "3", "--eval", str(sample_path), "--eval-limit", "4",
                             "--eval-every", "2"))
    assert done.returncode == 0, done.stderr[-2000:]
    evaluations = [(r["stage"], r["step"]) for r in records(out) if "eval" in r]
    assert evaluations == [("intermediate", 2), ("intermediate", 3), ("prediction", 2), ("prediction", "final")]


def test_a_bad_eval_record_in_a_folder_names_its_file_and_line(tmp_path, sample_path, sample_rows, tiny_teacher_path,
                                                               tiny_student_path):
    """--eval's bad record was named by the folder and its id alone; in a folder of files or a long JSON-lines file
    that is a search. It names the file and the line, as augment-squad's rejects do, before any training."""
    keys = ("id", "title", "context", "question", "answers")
    data = tmp_path / "dev"
    data.mkdir()
    (data / "a.jsonl").write_text(json.dumps({k: sample_rows[0][k] for k in keys}) + "\n")
    rows = [{k: sample_rows[n][k] for k in keys} for n in (1, 2)] + [{**sample_rows[3], "question": None}]
    (data / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    done = forkrun.run("pipelines.distill_train",
                       *tiny(sample_path, tmp_path, tiny_teacher_path, tiny_student_path, out, "--eval", str(data)))
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert f"--eval {data / 'b.jsonl'}: line 3: example {sample_rows[3]['id']!r}: question" in lines[0], lines[0]
    assert not (out / "metrics.jsonl").exists()


def test_every_bad_data_source_is_named_in_one_line(tmp_path, sample_path, tiny_student_path):
    """Of several bad --data sources only the first was named; the next only once it was fixed and the command run
    again. Whether found before anything loads (a missing file, a folder of no data: the others are read then) or as
    the data loads (invalid JSON), every bad one is named in the one error line."""
    broken, cut, missing = tmp_path / "broken.json", tmp_path / "cut.jsonl", tmp_path / "missing.json"
    broken.write_text('{"data": [}')
    cut.write_text('{"id": "q1", "context": "c", "question": "q"}\n{"id": \n')
    empty = [tmp_path / "empty1", tmp_path / "empty2"]
    for folder in empty:
        folder.mkdir()
    for sources in ([missing, sample_path, broken], [broken, sample_path, cut], empty):
        out = tmp_path / "out"
        done = forkrun.run("pipelines.distill_train", "--data", *map(str, sources), "--teacher", "none", "--student",
                           tiny_student_path, "--out", str(out), "--cache-dir", str(tmp_path / "cache"))
        assert done.returncode == 2, done.stderr[-2000:]
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
        assert all(f"{bad}: " in lines[0] for bad in sources if bad != sample_path), lines[0]
        assert not out.exists()


def test_a_bad_source_given_to_several_options_is_named_once_with_them(tmp_path, sample_path, tiny_teacher_path,
                                                                       tiny_student_path):
    """One bad source given to --data and --eval (or --prediction-data) was named once per option in the one error
    line, the same words each time and no word of which option gave it: each bad source is named once, after the
    options that gave it. Found as the data loads (invalid JSON: setup reads --eval and each stage's data) or
    before anything loads (a missing file, a folder of no data: validate), and a source repeated within one
    option too."""
    broken, missing, empty = tmp_path / "broken.json", tmp_path / "missing.json", tmp_path / "empty"
    broken.write_text('{"data": [}')
    empty.mkdir()
    for given, options, bad in (
            (["--data", sample_path, broken, "--prediction-data", broken, "--eval", broken],
             "--data/--prediction-data/--eval", broken),
            (["--data", broken, "--prediction-data", broken], "--data/--prediction-data", broken),  # read once
            (["--data", missing, "--eval", missing], "--data/--eval", missing),
            (["--data", empty, empty, "--prediction-data", empty], "--data/--prediction-data", empty)):
        out = tmp_path / "out"
        done = forkrun.run("pipelines.distill_train", *map(str, given), "--teacher", tiny_teacher_path, "--student",
                           tiny_student_path, "--out", str(out), "--cache-dir", str(tmp_path / "cache"))
        assert done.returncode == 2, done.stderr[-2000:]
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
        assert lines[0].count(str(bad)) == 1 and f"error: {options} {bad}: " in lines[0], lines[0]
        assert not out.exists()


def test_a_student_tokenizer_with_ids_past_its_embeddings_is_refused_before_training(tmp_path, sample_path,
                                                                                     short_vocab_student_path):
    """The windows' ids past the student's embedding rows were an IndexError traceback from the first step."""
    done = forkrun.run("pipelines.distill_train", *tiny(sample_path, tmp_path, "none", short_vocab_student_path,
                                                        tmp_path / "out", "--max-steps", "1"))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "the student's tokenizer has 30522 tokens but the student embeds only 1000" in done.stderr


def test_dist_timeout_is_idle_in_a_run_of_one_process_alone():
    """augment.distill.options.idle_options: --dist-timeout is only warned about (not refused) where the launch
    has a single process; with several it is used."""
    from argparse import Namespace

    from augment.distill.options import idle_options

    args = Namespace(stage="both", teacher="t", distill_weight=1.0, teacher_cache="on")
    assert idle_options(args, 1) == [("dist_timeout", "it is how long a process waits for the others, and this run "
                                                      "is a single process (not started by torchrun with several)",
                                      False)]
    assert idle_options(args, 2) == []
