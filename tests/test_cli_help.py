"""--help of every command answers at once: no torch, transformers or datasets is imported to print it (they take
6 to 10 s to import on these 2-core machines; squad-eval's bad options are checked the same way, in
tests/qa/test_squad_eval_cli.py)."""
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
