"""--help of every command answers at once: no torch, transformers or datasets is imported to print it (they take
6 to 10 s to import on these 2-core machines), nor to refuse augment-squad's and distill-train's bad options
(squad-eval's are checked the same way, in tests/qa/test_squad_eval_cli.py)."""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ("augment_squad", "augment_report", "distill_train", "squad_eval", "init_student", "demo", "tutorial")

# One fresh interpreter for all of them: after each command's help, which of the heavy modules are loaded so far.
PROBE = """
import contextlib, io, json, sys
seen = {}
for name in %r:
    main = __import__("pipelines." + name, fromlist=["main"]).main
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            main(["--help"])
        except SystemExit as e:
            code = e.code
    heavy = [m for m in ("torch", "transformers", "datasets") if m in sys.modules]
    seen[name] = [code, "usage:" in out.getvalue(), heavy]
print(json.dumps(seen))
"""


def test_help_of_every_command_imports_no_torch_transformers_or_datasets():
    done = subprocess.run([sys.executable, "-c", PROBE % (COMMANDS,)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout)
    assert seen == {name: [0, True, []] for name in COMMANDS}


# The option errors of the two recipes, in one fresh interpreter: after each, which heavy modules are loaded so far.
ERRORS = """
import contextlib, io, json, sys
seen = []
for name, argv in %r:
    main = __import__("pipelines." + name, fromlist=["main"]).main
    with contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(argv)
    lines = err.getvalue().strip().splitlines()
    heavy = [m for m in ("torch", "transformers", "datasets") if m in sys.modules]
    seen.append([code, len(lines), "--batch-size" in err.getvalue(), heavy])
print(json.dumps(seen))
"""


def test_option_errors_of_augment_squad_and_distill_train_import_no_torch_transformers_or_datasets(tmp_path,
                                                                                                  sample_rows,
                                                                                                  sample_path):
    """Their option checks moved out of the recipes into modules the recipes import at their top (augment/distill's
    options, paths, resume and models; augment's outconfig, blocks and summary): one of them importing torch would
    make every option error wait for it, which --help alone would not show. A bad source (the others are then read,
    a saved dataset among them: it was opened with datasets, 1.8 s instead of 0.35), local model folders
    (fingerprinted) and a --resume of a recorded run take the paths that read files."""
    import datasets

    model, run, saved = tmp_path / "model", tmp_path / "run", tmp_path / "saved"
    for folder in (model, run):
        folder.mkdir()
    (model / "config.json").write_text("{}")
    (run / "config.json").write_text(json.dumps({"data": ["elsewhere"], "teacher": "none"}))
    datasets.Dataset.from_list(sample_rows[:3]).save_to_disk(str(saved))
    data = str(sample_path)
    commands = [("distill_train", ["--data", data, "--student", str(model), "--teacher", "none",
                                   "--out", str(tmp_path / "out"), "--batch-size", "0"]),
                ("distill_train", ["--data", str(saved), data, str(tmp_path / "missing.json"), "--student",
                                   str(model), "--teacher", str(model), "--out", str(run), "--resume", "--eval", data,
                                   "--batch-size", "0"]),
                ("augment_squad", ["--input", data, "--out", str(tmp_path / "aug"), "--batch-size", "0"])]
    done = subprocess.run([sys.executable, "-c", ERRORS % (commands,)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == [[2, 1, True, []]] * len(commands)
