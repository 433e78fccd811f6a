"""tests/forkrun.py: a forked run of a module ends as a fresh ``python -m`` run of it does."""
import subprocess
import sys
import tempfile
import time

import pytest

from tests import forkrun

PROGRAM = '''
import atexit, os, sys
atexit.register(lambda: print("atexit ran", flush=True))
print("argv", sys.argv[1:], "cwd", os.path.basename(os.getcwd()), "stdin", sys.stdin.read() == "")
print("to stderr", file=sys.stderr)
if sys.argv[1] == "raise":
    raise ValueError("boom")
sys.exit(int(sys.argv[1]))
'''


@pytest.mark.parametrize("how", ["0", "3", "raise"])
def test_a_forked_run_ends_as_a_fresh_interpreter_does(tmp_path, how):
    (tmp_path / "probe_module.py").write_text(PROGRAM)
    fresh = subprocess.run([sys.executable, "-m", "probe_module", how], cwd=tmp_path, capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, timeout=60)
    forked = forkrun.run("probe_module", how, cwd=tmp_path, timeout=60)
    assert forked.returncode == fresh.returncode == {"0": 0, "3": 3, "raise": 1}[how]
    assert forked.stdout == fresh.stdout  # argv, working directory, an empty stdin, then the atexit handler
    assert forked.stdout.endswith("atexit ran\n")
    assert forked.stderr.splitlines()[0] == fresh.stderr.splitlines()[0] == "to stderr"
    assert forked.stderr.splitlines()[-1] == fresh.stderr.splitlines()[-1]  # "ValueError: boom" when raised


def test_a_killed_run_reports_the_signal_and_a_timeout_kills(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the runs' output folders: none may be left behind
    (tmp_path / "sleeper.py").write_text("import time\nprint('up', flush=True)\ntime.sleep(600)\n")
    run = forkrun.start("sleeper", cwd=tmp_path)
    assert run.poll() is None  # still sleeping
    run.kill()
    deadline = time.monotonic() + 60
    while run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.poll() == -9 and run.wait(timeout=60).returncode == -9  # wait() after poll() does not ask again
    with pytest.raises(subprocess.TimeoutExpired):
        forkrun.run("sleeper", cwd=tmp_path, timeout=1)
    assert forkrun.run("probe_module_missing", cwd=tmp_path, timeout=60).returncode == 1  # the server still serves
    first = forkrun.start("sleeper", cwd=tmp_path)
    with pytest.raises(RuntimeError, match="has not been waited for"):  # one run at a time, never crossed replies
        forkrun.start("sleeper", cwd=tmp_path)
    first.kill()
    assert first.wait(timeout=60).returncode == -9
    assert not list(tmp_path.glob("forkrun-*"))  # a timed-out run's and a refused start's folders were left


def test_an_environment_is_refused():
    with pytest.raises(ValueError, match="environment"):
        forkrun.run("json.tool", env={"X": "1"})
