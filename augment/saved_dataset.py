"""Directories written by ``datasets.save_to_disk`` (a Dataset, or a DatasetDict of splits; an ``augment-squad``
output directory is one): telling one from a folder of data files, opening it memory-mapped with an
:class:`InputError` that names the file a broken one lacks or the Arrow file that is truncated, and listing the
files its rows come from (what its fingerprint covers).

    >>> len(open_saved_dataset("data/aug"))                  # doctest: +SKIP
    1300
"""
from __future__ import annotations

import json
import posixpath
from pathlib import Path

from augment.errors import InputError


def is_saved_dataset(path: Path) -> bool:
    return (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists() or (
        path / "state.json").exists()


def _saved_splits(path: Path) -> list[str]:
    """The split folders a DatasetDict's ``dataset_dict.json`` names; an InputError naming the file when it cannot
    be read."""
    try:
        splits = json.loads((path / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
        # Else datasets iterates it: a string's letters became split folders ('t'), a null a TypeError traceback.
        if not isinstance(splits, list) or not all(isinstance(split, str) for split in splits):
            raise TypeError(f"'splits' is {splits!r:.80}, not a list of split names")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path / 'dataset_dict.json'}: unreadable ({type(e).__name__}: {e}); "
                         "expected {'splits': [...]} as datasets.save_to_disk writes it") from None
    # Each split is read from path / split: "../x" or "/abs" would read (and fingerprint) a folder outside this one,
    # and "" or "." this folder again, without end. datasets.load_from_disk follows them too (posixpath.join), so
    # it is no safer; save_to_disk names a split's folder by the split alone.
    if bad := [split for split in splits if not _plain_name(split)]:
        raise InputError(f"{path / 'dataset_dict.json'}: split {bad[0]!r} is not a plain folder name (a split is read "
                         f"from the folder of its name inside {path}); expected names such as 'train', as "
                         "datasets.save_to_disk writes them")
    return splits


def _plain_name(name: str) -> bool:
    """One path component that stays in its folder: not empty, '.', '..', nor holding a separator (a backslash
    too, Windows' separator)."""
    return name not in ("", ".", "..") and not any(c in name for c in "/\\\0")


def stays_inside(name: str) -> bool:
    """Whether the file ``name`` of a state.json's ``_data_files``, joined to its folder, stays in that folder: not an
    absolute path, and no '..' component. ('./data.arrow' does; what it counts in the fingerprint is
    :func:`_listed_data_files`' concern.)"""
    return not name.startswith("/") and ".." not in name.split("/")


def _check_saved_files(path: Path) -> list[str]:
    """Name the file a broken ``save_to_disk`` directory lacks, before ``datasets`` fails vaguely. Returns a Dataset
    folder's data files as its state.json lists them (none for a DatasetDict: see its split folders)."""
    if (path / "dataset_dict.json").exists():
        for split in _saved_splits(path):
            if not (path / split).is_dir():  # not "split/: missing state.json", as if the folder were there
                raise InputError(f"{path}: missing the split folder {split} (listed in dataset_dict.json)")
            _check_saved_files(path / split)
        return []
    for name in ("state.json", "dataset_info.json"):
        if not (path / name).is_file():
            raise InputError(f"{path}: not a complete datasets.save_to_disk directory: missing {name}")
    try:
        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
        files = [d["filename"] for d in state["_data_files"]]
        if not all(isinstance(name, str) for name in files):  # else path / None: a TypeError traceback below
            raise TypeError(f"'_data_files' names {files!r:.80}, not file names")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path / 'state.json'}: unreadable ({type(e).__name__}: {e}); "
                         "expected '_data_files' as datasets.save_to_disk writes it") from None
    # Each file is read from path / name, by datasets.load_from_disk too (posixpath.join): "../x.arrow" or "/abs.arrow"
    # would read rows from outside this folder, which its fingerprint (saved_dataset_files) never covers.
    if bad := next((name for name in files if not stays_inside(name)), None):
        raise InputError(f"{path / 'state.json'}: data file {bad!r} is outside {path} (a data file is read from the "
                         f"folder of its state.json); expected names such as 'data-00000-of-00001.arrow', as "
                         "datasets.save_to_disk writes them")
    try:  # else datasets' JSONDecodeError, which names neither the file nor the folder
        json.loads((path / "dataset_info.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"{path / 'dataset_info.json'}: unreadable ({type(e).__name__}: {e}); "
                         "expected the features as datasets.save_to_disk writes them") from None
    for name in files:
        if not (path / name).is_file():
            raise InputError(f"{path}: missing {name} (listed in state.json)")
    return files


def saved_dataset_error(path: Path, e: Exception) -> InputError:
    """An InputError naming the Arrow file that fails to read, or the directory."""
    import pyarrow as pa

    for f in sorted(path.rglob("*.arrow")):
        try:
            with pa.memory_map(str(f)) as m:
                pa.ipc.open_stream(m).read_all()
        except (OSError, ValueError, pa.ArrowException) as bad:
            return InputError(f"{f}: truncated or corrupt Arrow file ({str(bad).strip()[:160]})")
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return InputError(f"{path}: cannot read the saved dataset ({type(e).__name__}: {first[:160]})")


def open_saved_dataset(path, split: str = "train"):
    """The ``datasets.Dataset`` of a ``save_to_disk`` directory (``split`` of a DatasetDict), memory-mapped; a
    broken directory (a missing or truncated file) or a missing split raises :class:`InputError` naming it.
    Shared by :func:`augment.squad_io.read_saved_dataset` and distill-train's data, so both refuse a broken directory
    alike.

        >>> len(open_saved_dataset("data/aug"))  # doctest: +SKIP
        1300
    """
    import datasets

    path = Path(path)
    _check_saved_files(path)
    try:
        ds = datasets.load_from_disk(str(path))
    except (OSError, ValueError) as e:  # a truncated .arrow, a corrupt JSON file
        raise saved_dataset_error(path, e) from None
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise InputError(f"{path}: no split {split!r}; it has {sorted(ds)}")
        ds = ds[split]
    return ds


def saved_columns(path, split: str = "train") -> list[str]:
    """The column names of a ``save_to_disk`` directory's rows (of ``split`` in a DatasetDict), or [] where it has no
    rows, found without ``datasets``, whose import takes over a second: for a command already refused for another
    source, to name this one's problems in the same line (:func:`augment.squad_io.source_problems`). Raises the
    :class:`InputError` :func:`open_saved_dataset` would for a missing or unreadable file, a missing split or a
    truncated Arrow file; what only ``datasets`` finds (features that do not fit the table) is found when the rows
    are read.

        >>> saved_columns("data/aug")                     # doctest: +SKIP
        ['id', 'title', 'context', 'question', 'answers']
    """
    import pyarrow as pa

    path = Path(path)
    files = _check_saved_files(path)
    folder = path
    if (path / "dataset_dict.json").exists():
        splits = _saved_splits(path)
        if split not in splits:
            raise InputError(f"{path}: no split {split!r}; it has {sorted(splits)}")
        folder = path / split
        files = _check_saved_files(folder)
    columns, rows = [], 0
    for name in files:
        try:  # memory-mapped: the rows are not copied, only their buffers' bounds checked
            with pa.memory_map(str(folder / name)) as m:
                table = pa.ipc.open_stream(m).read_all()
        except (OSError, ValueError, pa.ArrowException) as e:
            raise InputError(f"{folder / name}: truncated or corrupt Arrow file ({str(e).strip()[:160]})") from None
        columns, rows = table.column_names, rows + table.num_rows
    return columns if rows else []


# What datasets.load_from_disk reads besides the Arrow files: the features, the list of files, the splits.
SAVED_DATASET_FILES = ("state.json", "dataset_info.json", "dataset_dict.json")


def data_folders(path: Path) -> list[Path]:
    """The folders whose files a ``save_to_disk`` directory's rows come from: ``path``, and a DatasetDict's split
    folders (those its dataset_dict.json names). What :func:`saved_dataset_files` lists, and what no command may
    write into (:func:`augment.outdir.source_folder_problem`).

        >>> data_folders(Path("data/aug-dict"))  # doctest: +SKIP
        [PosixPath('data/aug-dict'), PosixPath('data/aug-dict/train'), PosixPath('data/aug-dict/validation')]
    """
    folders = [path]
    if (path / "dataset_dict.json").is_file():
        try:
            folders += [path / split for split in _saved_splits(path)]
        except InputError:  # reading the rows fails and says why; until then every folder may be a split
            folders += [d for d in path.iterdir() if d.is_dir() and not d.name.startswith(".")]
    return folders


def saved_dataset_files(path: Path) -> list[Path]:
    """The files of a ``save_to_disk`` directory that its rows come from: its Arrow files and
    :data:`SAVED_DATASET_FILES`, and those of a DatasetDict's splits (the folders its dataset_dict.json names), and
    a file that a state.json lists in a folder inside its own ("sub/x.arrow", which datasets reads).
    Not datasets' own cache files (cache-*.arrow, written by a map or cast on the loaded dataset: they come and go
    without the rows changing), nor what else is kept there: a report.html, a README, an augment-squad run's
    manifest.json, rejects.jsonl and .progress/ records, or another folder, such as an --out inside it (whose
    shards, written after the run recorded its input's fingerprint, refused every rerun as another input). Nor an
    Arrow file that the folder's state.json does not list: a save of fewer shards into the folder of an earlier
    save leaves that save's data-0000N-of-0000M.arrow behind, and a change to one refused a resume as another input.
    """
    files = []
    for folder in data_folders(path):
        if folder.is_dir():
            listed = _listed_data_files(folder)
            files += [f for f in folder.iterdir() if f.is_file() and not f.name.startswith(".") and (
                f.name in SAVED_DATASET_FILES or f.suffix == ".arrow" and not f.name.startswith("cache-")
                and (listed is None or f.name in listed))]
            # A listed file in a folder inside ("sub/x.arrow") is read by datasets like any other; it counts whatever
            # its name, as no fingerprint recorded before counted it (the folder's own files go by the rule above).
            files += [folder / name for name in sorted(listed or ()) if "/" in name and (folder / name).is_file()]
    return sorted(files)


def _listed_data_files(folder: Path) -> set[str] | None:
    """The files ``folder``'s state.json lists as the dataset's (its ``_data_files``), as paths relative to the
    folder: "./data.arrow" as "data.arrow", "sub/x.arrow" as it is. None where it lists none to go by: a DatasetDict's
    top folder (no state.json), an unreadable state.json, or a name that is no file inside the folder ("", ".",
    "../x.arrow", "/abs": reading the rows refuses it and says why). Then every Arrow file of the folder counts, as
    before."""
    try:
        names = [d["filename"] for d in json.loads((folder / "state.json").read_text(encoding="utf-8"))["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not names or not all(isinstance(n, str) and stays_inside(n) for n in names):
        return None
    # datasets joins each name to the folder (posixpath.join): "./x.arrow" and "sub//x.arrow" are the files
    # "x.arrow" and "sub/x.arrow". Matched as written, the real shards were left out. normpath folds no ".." here.
    listed = {posixpath.normpath(n) for n in names}
    # Only ever narrowing the Arrow files counted before keeps a folder without stale shards at the fingerprint that
    # runs recorded.
    return None if "." in listed else listed
