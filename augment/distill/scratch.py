"""A folder of one process's own inside a cache folder that other runs share, and the removal of those that killed
processes left.

``datasets.map`` writes a cache file as ``tmpXXXXXXXX`` in the file's folder and renames it when complete. A
process killed outright (SIGKILL, the OOM killer, a lost node) leaves that file behind: gigabytes for the windows of
augmented SQuAD 2.0, and nothing in its name says whose it is, so a later run cannot tell it from the file a
concurrent run sharing the folder is writing at that moment. Written inside ``<name>.tmp<pid>-<machine>/``, it has
an owner that a later run can check.

    >>> work = make(cache_dir, "features-0123456789abcdef-labels3")        # doctest: +SKIP
    >>> remove_abandoned(cache_dir)   # other processes' folders whose owner is gone  # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import time
from pathlib import Path

# A folder of another machine's process (whose pid means nothing here) is abandoned once nothing in it has been
# written for this long: a tokenising process writes its file every batch of rows. The teacher-logit cache's rule
# (augment.distill.teacher_cache.STALE_SECONDS) too.
STALE_SECONDS = 3600

_NAME = re.compile(r"(?P<stem>.+)\.tmp(?P<pid>\d+)-(?P<machine>[0-9a-f]{12})")


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def machine() -> str:
    """Where a pid names a process: the host name, its boot and the pid namespace, digested. A container sharing its
    host's name (``--network host``) has pids of its own, and the pids of an earlier boot are no process now."""
    ident = [socket.gethostname(), _read("/proc/sys/kernel/random/boot_id"), _pid_namespace()]
    return hashlib.sha256("\0".join(ident).encode()).hexdigest()[:12]


def own_name(stem: str) -> str:
    """This process's name for a temporary ``stem``, folder or file: ``<stem>.tmp<pid>-<machine>``."""
    return f"{stem}.tmp{os.getpid()}-{machine()}"


def make(parent, stem: str) -> Path:
    """Create and return this process's folder for ``stem`` in ``parent``: ``<stem>.tmp<pid>-<machine>``."""
    path = Path(parent) / own_name(stem)
    path.mkdir(parents=True, exist_ok=True)
    return path


def running(pid: int) -> bool:
    """Whether ``pid`` is a process in this pid namespace (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def keep_complete(folder, parent, complete) -> list[Path]:
    """Move the files of ``folder`` whose names ``complete`` (a compiled pattern) matches whole into ``parent``,
    unless ``parent`` has one of that name already, then remove ``folder``; return the files moved. Only complete
    files carry such a name (datasets writes a temporary one and renames it), so none is moved half-written."""
    moved = []
    for f in sorted(Path(folder).iterdir()) if Path(folder).is_dir() else []:
        target = Path(parent) / f.name
        if complete.fullmatch(f.name) and not f.is_symlink() and f.is_file() and not target.exists():
            with contextlib.suppress(FileNotFoundError):  # another process cleaning the same folder moved it
                os.replace(f, target)
                moved.append(target)
    shutil.rmtree(folder, ignore_errors=True)  # a concurrent clean-up may remove entries first
    return moved


def _last_written(path: Path) -> float:
    times = [path.stat().st_mtime]
    for f in path.iterdir() if path.is_dir() else []:
        with contextlib.suppress(FileNotFoundError):
            times.append(f.lstat().st_mtime)
    return max(times)


def abandoned(path: Path, now: float | None = None) -> bool:
    """Whether ``path``, a folder or file named by :func:`own_name`, belongs to no live process: its pid is gone from
    this machine, or, made on another machine (or before a reboot, or in another pid namespace), nothing in it (or
    the file) was written for ``STALE_SECONDS``."""
    found = _NAME.fullmatch(path.name)
    if found is None or not path.exists():
        return False
    if found["machine"] == machine():
        return not running(int(found["pid"]))
    now = time.time() if now is None else now
    try:
        return now - _last_written(path) > STALE_SECONDS
    except FileNotFoundError:  # removed meanwhile
        return False


def remove_abandoned(parent, complete_name=None, now: float | None = None) -> tuple[list[Path], list[Path]]:
    """Remove the folders in ``parent`` that :func:`make` made for processes that are gone (:func:`abandoned`),
    first moving into ``parent`` their complete files (``complete_name(stem)``: the compiled pattern of the names
    that :func:`keep_complete` keeps; None keeps nothing). Returns (folders removed, files kept)."""
    removed, kept = [], []
    for folder in sorted(Path(parent).glob("*.tmp*-*")):
        # Folders only: a file of that name is another writer's (a teacher-logit cache's), removed by its own code.
        if folder.is_dir() and abandoned(folder, now):
            stem = _NAME.fullmatch(folder.name)["stem"]
            pattern = complete_name(stem) if complete_name is not None else re.compile("(?!)")
            kept += keep_complete(folder, parent, pattern)
            removed.append(folder)
    return removed, kept
