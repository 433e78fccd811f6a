"""Fingerprints of a data source: a SHA-256 over the bytes of the files its rows are read from (a hub id: its
name and split), which a run records so that a resume on other data is refused, and the fingerprint that
earlier builds recorded, so that a run they began goes on.

    >>> fingerprint("data/sample")                            # doctest: +SKIP
    'sha256:...'
"""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from augment.errors import InputError
from augment.saved_dataset import is_saved_dataset, saved_dataset_files
from augment.sources import data_files, local_path, output_file_problem


def fingerprint(source: str | os.PathLike, split: str = "train") -> str:
    """SHA-256 over the bytes of a local source (the files its rows are read from), or the hub id and split."""
    path = local_path(source)
    if path is None or not (path.is_file() or path.is_dir()):
        return "hub:" + hashlib.sha256(f"{source}:{split}".encode()).hexdigest()
    if path.is_file():
        if problem := output_file_problem(path):  # a command's output, refused as data_files refuses its folder
            raise InputError(problem)
        return _hash_files(path, [path])
    # The files the rows are read from, and only those: an --out inside the folder, or a README or report.html
    # beside the data, must not change the fingerprint (a resume would be refused as another input).
    return _hash_files(path, saved_dataset_files(path) if is_saved_dataset(path) else data_files(path))


def earlier_fingerprint(source: str | os.PathLike, split: str = "train") -> str | None:
    """The :func:`fingerprint` that tinyaug recorded before 2026-11-29 (before saved_dataset_files) of a
    ``save_to_disk`` directory holding other files too: every file in it but datasets' caches. None where it is
    today's (a folder of nothing but its data, all that save_to_disk writes; any other source). A resume compares a
    recorded fingerprint with it as well, so that a run begun before goes on. It is also what tinyaug recorded until
    Arrow files that state.json does not list were left out, of a folder holding such stale shards of an earlier
    save beside its data and nothing else."""
    path = local_path(source)
    if path is None or not path.is_dir() or not is_saved_dataset(path):
        return None
    every = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
                   and not (p.name.startswith("cache-") and p.suffix == ".arrow"))
    return None if every == saved_dataset_files(path) else _hash_files(path, every)


def _hash_files(path: Path, files: list[Path]) -> str:
    """SHA-256 over ``files``' names (relative to the directory ``path``) and bytes."""
    # distill-train asks twice per start (the resume check, the windows' cache key): the bytes are read once
    # while no file's size, modification or change time has changed. The change time too: cp -p, tar and rsync give
    # new bytes an old modification time, but no call sets the change time.
    now = time.time_ns()
    stats = [f.stat() for f in files]
    key = (str(path.resolve()), tuple((str(f), s.st_size, s.st_mtime_ns, s.st_ctime_ns) for f, s in zip(files, stats)))
    if key in _FINGERPRINTS:
        return _FINGERPRINTS[key]
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    digest = "sha256:" + h.hexdigest()
    # A file changed within a timestamp's resolution of now can change again, size and all, without its times
    # moving (a kernel's coarse clock ticks every 1-10 ms, FAT stores 2 s), and its old digest would be served: it
    # is not kept, as git checks its "racily clean" index entries again.
    if all(s.st_ctime_ns < now - _RESOLUTION_NS for s in stats):
        _FINGERPRINTS[key] = digest
    return digest


_FINGERPRINTS: dict[tuple, str] = {}  # (path, its files' (name, size, mtime, ctime)) -> fingerprint, this process
_RESOLUTION_NS = 2_000_000_000  # the coarsest file timestamps kept in use: FAT's 2 s
