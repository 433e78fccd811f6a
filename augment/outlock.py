"""One run at a time in an output directory: a second, independent run into a live run's ``--out`` is refused.

Two augment-squad commands started on one --out each took the other's files for a killed run's leftovers: the
second deleted the first's temporary shard (:func:`augment.manifest.prepare` clears those), and the first then
failed with "could not write ...: No such file or directory; make room". The run holds an advisory lock
(``flock``) on ``OUT/.augment-squad.lock`` for as long as it runs, and writes there who it is:

    >>> lock = OutLock(out)        # doctest: +SKIP
    >>> lock.acquire()             # doctest: +SKIP
    {'pid': 4242, 'host': 'node7', 'started': '2026-11-29T23:30:00+00:00'}
    >>> lock.release()             # doctest: +SKIP

``acquire`` returns None once this process holds it, else the record of the one that does; ``release`` removes
the file (and does nothing where the lock was not taken).

The kernel drops a ``flock`` when the process that took it ends, however it ends: a run killed with kill -9
leaves the file but no lock, and the rerun that resumes it takes it (no recorded pid to test, which another
process may have been given since). Over NFS, Linux takes a ``flock`` as a lock on the whole file at the server,
which a run on another node sees too. The processes of one torchrun job are one run: rank 0 alone takes the
lock (``pipelines.augment_squad.hold_out``).
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

LOCK_NAME = ".augment-squad.lock"


class OutLock:
    """The lock on ``out``: :meth:`acquire` once, :meth:`release` when the run ends (``out`` must exist)."""

    def __init__(self, out):
        self.path = Path(out) / LOCK_NAME
        self.fd: int | None = None

    def acquire(self) -> dict | None:
        """Take the lock and record this process in it (None), or return the record of the process that holds
        it ({} if it has not written it yet). An OSError where the filesystem takes no locks (ENOLCK)."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _record(fd)
                os.close(fd)
                return holder
            except BaseException:
                os.close(fd)
                raise
            # The holder may have released it between our open and our flock: it unlinks the file first, so this
            # lock is then on a file that no later run opens. Only the file at the path counts: open it afresh.
            try:
                here = os.stat(self.path)
            except FileNotFoundError:
                here = None
            mine = os.fstat(fd)
            if here is not None and (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino):
                break
            os.close(fd)
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)  # a killed run's record
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        self.fd = fd
        return None

    def release(self) -> None:
        """Remove the file, then drop the lock (in that order: see :meth:`acquire`). Does nothing if not held."""
        if self.fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self.fd)
        self.fd = None


def _record(fd: int) -> dict:
    """The holder's record, {} while it has not written it (it takes the lock first) or if it is unreadable."""
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def holder_words(record: dict) -> str:
    """Who holds the lock, for a line: ``pid 4242 on node7, since 2026-11-29T23:30:00+00:00``."""
    if not record:
        return "which has not yet written its pid and host"
    return f"pid {record.get('pid')} on {record.get('host')}, since {record.get('started')}"
