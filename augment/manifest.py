"""Bookkeeping of a resumable, sharded output directory (what ``augment-squad --out DIR`` holds).

    DIR/shard-00000.arrow, ...        the rows (see augment.shards)
    DIR/.progress/config.json         the options that shape the rows: a rerun must match them
    DIR/.progress/shard-00000.json    a record per complete shard: rows, sha256, counts, rejects, timers
    DIR/.progress/claims-RUN/         several processes: which one took which block (see BlockClaims)
    DIR/.augment-squad.lock           while a run writes: who it is (see augment.outlock)
    DIR/rejects.jsonl, manifest.json, dataset_info.json, state.json: written at the end from the records

A shard is complete when its Arrow file and its record both exist. The record is written after the
shard's atomic rename, so a run killed anywhere leaves every shard complete or absent, and a rerun
redoes exactly the absent ones. A rerun first checks every recorded shard against its record (size, then
SHA-256 unless the modification and change times are still the recorded ones, :func:`drop_damaged`): a shard
damaged since (a truncated copy, a full disk) is rebuilt, not kept.

    >>> config_mismatch(out, {"seed": 1})          # doctest: +SKIP
    "--out data/aug was written with another configuration (seed: 0 -> 1)"
"""
from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
from collections import Counter
from pathlib import Path

from augment.outlock import LOCK_NAME
from augment.shards import atomic_write_json, atomic_write_text, sha256_file

PROGRESS = ".progress"
ARTEFACTS = ("manifest.json", "rejects.jsonl", "dataset_info.json", "state.json", "report.html")


def shard_name(k: int) -> str:
    return f"shard-{k:05d}.arrow"


def record_path(out: Path, k: int) -> Path:
    return Path(out) / PROGRESS / f"shard-{k:05d}.json"


def config_mismatch(out: Path, config: dict, ignore=(), notes: dict | None = None,
                    located: dict | None = None) -> str | None:
    """Why ``out`` cannot be resumed with ``config`` (None when it can, or when it is empty or new).

    ``ignore``: keys not compared (not known yet). ``notes``: a phrase per key that says what a
    difference in it means ("the --mlm model changed"), for keys whose values are opaque hashes, or a
    function of the recorded and the new value that returns one.
    ``located``: path keys and the fingerprint key of what they name ({"input": "input_fingerprint"}): a path
    spelled otherwise (``./x.json``, an absolute path, a moved copy) is the same input when the recorded
    fingerprints agree, so a resubmitted job resumes. A fingerprint that one side lacks (``--mlm none``, no file)
    while its path key changed is not named: the path's change says it all, and the note of the fingerprint ("the
    --mlm model changed (its config, weights ...)") would tell of files that one side never had.
    """
    paths = {fp: k for k, fp in (located or {}).items()}
    out = Path(out)
    saved = out / PROGRESS / "config.json"
    if saved.exists():
        try:
            old = json.loads(saved.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:  # a disk that filled up, a hand edit
            return f"--out {out}: its {PROGRESS}/config.json is unreadable ({type(e).__name__}: {e})"
        if not isinstance(old, dict):
            return f"--out {out}: its {PROGRESS}/config.json holds {type(old).__name__}, not the run's options"
        diff = []
        for k in sorted(set(old) | set(config)):
            if k in ignore or old.get(k) == config.get(k):
                continue
            fp = (located or {}).get(k)
            if fp is not None and fp not in ignore and old.get(fp) is not None and old.get(fp) == config.get(fp):
                continue
            path = paths.get(k)
            if path is not None and None in (old.get(k), config.get(k)) and old.get(path) != config.get(path):
                continue
            was = repr(old[k]) if k in old else "not recorded"
            change = f"{k}: {was} -> {config.get(k)!r}"
            note = (notes or {}).get(k)
            if callable(note):
                note = note(old.get(k), config.get(k))
            diff.append(f"{note} ({change})" if note else change)
        return f"--out {out} was written with another configuration ({'; '.join(diff)})" if diff else None
    if out.exists() and any(p.name != LOCK_NAME for p in out.iterdir()):  # the lock: this run's, or a killed one's
        return f"--out {out} is not empty and holds no earlier run of this tool"
    return None


# What identifies a local model's outputs: its config, weights and tokenizer files (names and bytes). The
# tokenizer's are every file AutoTokenizer reads: its vocabulary (tokenizer.json, a WordPiece or BPE vocabulary, a
# sentencepiece *.model) and its configuration, which changes the cutting as much (do_lower_case, model_max_length,
# the special and added tokens).
WEIGHT_FILES = ("*.safetensors", "*.bin")
MODEL_FILES = ("config.json", *WEIGHT_FILES, "tokenizer.json", "vocab.txt", "vocab.json", "merges.txt", "*.model",
               "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json")
# MODEL_FILES before 2026-11-29, within 0.2.2 (no tokenizer configuration): the digests that runs begun then recorded.
EARLIER_MODEL_FILES = ("config.json", *WEIGHT_FILES, "tokenizer.json", "vocab.txt", "vocab.json", "merges.txt")


def fingerprint_cache_path() -> Path:
    """Where model fingerprints are remembered: ``$TINYAUG_CACHE`` or ``~/.cache/tinyaug``."""
    root = os.environ.get("TINYAUG_CACHE") or Path.home() / ".cache" / "tinyaug"
    return Path(root) / "model-fingerprints.json"


def model_fingerprint(path, cache: Path | None = None, weights: bool = True) -> str:
    """SHA-256 over the names and contents of a local model directory's :data:`MODEL_FILES`; with
    ``weights=False`` its config and tokenizer files alone (distill-train's resumed student takes its
    weights from the checkpoint, not from the directory).

    Hashing bert-base's 440 MB took seconds of every start; the result is remembered in ``cache``
    (default :func:`fingerprint_cache_path`) with each file's size, modification time, inode and change
    time, and reused while none of them changes. The change time because the others can stay as they were
    over new bytes: ``cp -p`` of other weights of the same architecture (the same size) onto the old file
    writes into its inode and gives it the source's modification time (as tar and ``rsync -t`` do), which can
    be the old file's (archives made with one fixed mtime), and the old digest was served. No call sets the
    change time; what else moves it (chmod, a hard link, a rename) costs one more hash, never a wrong digest.
    """
    path = Path(path)
    files = _model_files(path, MODEL_FILES, weights)
    # An entry remembered without the change time (0.2.2 and before) never matches: hashed once more, to the
    # same digest, which is all that runs record and compare.
    stamp = [[f.name, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns] for f in files for st in [f.stat()]]
    cache = fingerprint_cache_path() if cache is None else Path(cache)
    # Each set of files its own entry: the two digests of one directory do not evict each other.
    key = str(path.resolve()) + ("" if weights else "#without-weights")
    try:
        known = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no cache yet, or an unreadable one: hash
        known = {}
    if not isinstance(known, dict):
        known = {}
    if isinstance(known.get(key), dict) and known[key].get("stamp") == stamp:
        return known[key]["fingerprint"]
    digest = _hash_model_files(files)
    # Folders removed since (a deleted run's student, a temporary model) are dropped: the file would
    # otherwise gain an entry for every model folder ever fingerprinted.
    known = {k: v for k, v in known.items() if Path(k.removesuffix("#without-weights")).is_dir()}
    known[key] = {"stamp": stamp, "fingerprint": digest}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(cache, known)
    except OSError:  # a read-only home: the next run hashes again, nothing worse
        pass
    return digest


def earlier_model_fingerprint(path, weights: bool = True) -> str | None:
    """The :func:`model_fingerprint` that tinyaug recorded before 2026-11-29 of a model directory (over
    :data:`EARLIER_MODEL_FILES`), or None where it is today's (a folder without the tokenizer files added since).
    A resume compares a recorded fingerprint with it as well, so that a run begun then goes on: it cannot tell
    whether the files added since changed, as that version could not. Not cached: asked only when a recorded
    fingerprint differs from today's, and the run then records today's."""
    path = Path(path)
    files = _model_files(path, EARLIER_MODEL_FILES, weights)
    return None if files == _model_files(path, MODEL_FILES, weights) else _hash_model_files(files)


def _model_files(path: Path, patterns, weights: bool) -> list[Path]:
    patterns = patterns if weights else [p for p in patterns if p not in WEIGHT_FILES]
    return sorted({f for pattern in patterns for f in path.glob(pattern) if f.is_file()})


def _hash_model_files(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return "sha256:" + h.hexdigest()


def file_fingerprint(path) -> str:
    """A cheap fingerprint of a large file (a GloVe vectors file is GBs): its size and the SHA-256 of its
    first, middle and last MiB. Not a hash of every byte, so a same-size edit elsewhere goes unnoticed;
    no modification time either, so a copied or moved file (a job resumed on another node) still
    matches."""
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for at in sorted({0, max(0, size // 2 - (1 << 19)), max(0, size - (1 << 20))}):
            fh.seek(at)
            h.update(fh.read(1 << 20))
    return f"size={size};sha256_sampled={h.hexdigest()}"


def data_fingerprint(source, split: str = "train") -> str:
    """What a data source holds, for a resumed job to tell that it changed under the same name.

    A directory this tool wrote (``manifest.json`` by augment-squad): a digest of the SHA-256 of each shard that
    its manifest lists, computed as the shard was written, so gigabytes of shards are not read again (a rerun
    into the directory writes a new manifest; a shard edited by hand goes unnoticed). Anything else:
    :func:`augment.fingerprints.fingerprint`, over the bytes of the files read (a hub id: its name)."""
    from augment.fingerprints import fingerprint

    try:
        written = json.loads((Path(source) / "manifest.json").read_text(encoding="utf-8"))
        shards = [[s["file"], s["sha256"]] for s in written["shards"]] if written["tool"] == "augment-squad" else None
    except (OSError, ValueError, KeyError, TypeError):  # no manifest of ours: a file, a hub id, other data
        shards = None
    if shards is None:
        return fingerprint(source, split)
    return "shards:" + hashlib.sha256(json.dumps(shards).encode()).hexdigest()


def prepare(out: Path, config: dict, wipe: bool) -> None:
    """Create ``out`` and record ``config``. ``wipe`` deletes earlier shards and records first: only the
    files this module and augment.shards write, never other files a user keeps there."""
    out = Path(out)
    for f in out.glob(".shard-*.arrow.tmp-*"):  # a killed writer's temporary file
        f.unlink(missing_ok=True)
    if wipe:
        shutil.rmtree(out / PROGRESS, ignore_errors=True)
        for f in [*out.glob("shard-*.arrow"), *(out / a for a in ARTEFACTS)]:
            f.unlink(missing_ok=True)
    (out / PROGRESS).mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / PROGRESS / "config.json", config)


def discard_unstarted(out: Path) -> None:
    """Undo :func:`prepare` after a run that failed before any shard was written (a bad line in the
    input, --strict): its config.json would refuse the corrected command as another configuration.
    Removes only that file, and the directories if that leaves them empty."""
    out = Path(out)
    progress = out / PROGRESS
    if any(out.glob("shard-*.arrow")) or any(progress.glob("shard-*.json")):
        return
    (progress / "config.json").unlink(missing_ok=True)
    for d in (progress, out):
        try:
            d.rmdir()
        except OSError:  # not empty (a user's files) or already gone
            return


class BlockClaims:
    """Which process augments block ``k``: the first to ask. ``take(k)`` creates
    ``.progress/claims-RUN/block-K`` with ``O_EXCL``, which exactly one process can do, so each block
    is taken once; a process that finishes early takes the next free block instead of idling while
    a slower one (later start-up, costlier blocks) works through a fixed share. The rows do not depend on
    who takes a block. ``RUN`` is the run's start (the same for every process of a run), so a resumed run
    ignores the claims of a killed one.

    Rank 0 calls :meth:`create` before the others may ask (it also removes the claims of earlier, killed
    runs); each process writes which blocks it did (:meth:`report`), which rank 0 reads (:meth:`reports`)
    once all are done, before it removes this run's folder (:meth:`drop`). One process (``world == 1``)
    takes every block and writes nothing."""

    def __init__(self, out: Path, run_started: float, world: int):
        self.world = world
        self.dir = Path(out) / PROGRESS / f"claims-{run_started:.6f}"

    def create(self) -> None:
        # A killed multi-process run's claims go even when one process resumes it, which makes no folder of its own.
        for d in self.dir.parent.glob("claims-*"):
            shutil.rmtree(d, ignore_errors=True)
        if self.world > 1:
            self.dir.mkdir(parents=True)

    def take(self, k: int) -> bool:
        if self.world == 1:
            return True
        path = self.dir / f"block-{k:05d}"
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        except FileNotFoundError:  # the folder rank 0 made is not visible here yet (a network filesystem)
            self.dir.mkdir(parents=True, exist_ok=True)
            return self.take(k)
        os.close(fd)
        return True

    def report(self, rank: int, span: dict) -> None:
        """This process's blocks and when it did them (see :func:`span_of`)."""
        if self.world > 1:
            atomic_write_json(self.dir / f"rank-{rank:05d}.json", {"rank": rank, **span})

    def reports(self) -> list[dict]:
        """Every process's report, by rank (empty for one process)."""
        paths = sorted(self.dir.glob("rank-*.json")) if self.world > 1 else []
        return [json.loads(p.read_text(encoding="utf-8")) for p in paths]

    def drop(self) -> None:
        if self.world > 1:
            shutil.rmtree(self.dir, ignore_errors=True)


def span_of(records: list[dict]) -> dict:
    """The blocks of ``records`` (shard records of one process) and when that process did them: its first
    block's start and its last block's commit, epoch seconds (None without blocks)."""
    return {"blocks": sorted(r["block"] for r in records),
            "started": min((r["started"] for r in records), default=None),
            "ended": max((r["started"] + r["seconds"] for r in records), default=None)}


def is_complete(out: Path, k: int) -> bool:
    return (Path(out) / shard_name(k)).exists() and record_path(out, k).exists()


def shard_problem(out: Path, record: dict, verify: bool = False) -> str | None:
    """How the shard that ``record`` describes differs from it (missing, another size, other bytes), or None.
    The size is checked first: cheap, and it names a truncated file; records of older runs have no size.

    A shard with the size, modification time and change time its record holds is taken to be those bytes without
    hashing it again: SQuAD 2.0 x20 would be some 6.5 GB of shards (an estimate from the subset's 2.5 KB a row),
    about 5 s of SHA-256 at the 1.2 GB/s measured here from the page cache and more from a cold disk, on every
    resume and every rerun of a finished run.
    The change time because size and mtime can stay as they were over new bytes: ``cp -p``, ``tar -x`` and
    ``rsync -t`` write into the old inode and then set the source's mtime, which can be the recorded one, and the
    resume kept the other bytes as this shard's rows and wrote the record's SHA-256 into manifest.json. Writing
    sets the ctime to now and no call sets it back; what else moves it (``cp -a`` or ``mv`` of the whole --out to
    another disk, chmod) costs a hash, never a rebuild (:func:`check_shard` then records the new times).
    Records of earlier runs hold no ctime: trusted on size and mtime, as then.
    ``verify=True`` always hashes. (augment-report does not call this: it hashes every shard itself, against
    manifest.json, in :mod:`augment.report.augment_page`.)"""
    path = Path(out) / record["file"]
    try:
        st = path.stat()
    except FileNotFoundError:
        return "it is missing"
    size = st.st_size
    if record.get("bytes") is not None and size != record["bytes"]:
        return f"it has {size} bytes, its record {record['bytes']}"
    if not verify and _stamp_matches(record, st.st_size, st.st_mtime_ns, st.st_ctime_ns):
        return None
    if sha256_file(path) != record["sha256"]:
        return "its SHA-256 differs from its record's"
    return None


def _stamp(path: Path) -> tuple | None:
    """What identifies ``path``'s bytes cheaply: (inode, size, mtime, ctime), None when it is gone. Not the whole
    stat: hashing the file moves its access time."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _stamp_matches(record: dict, size: int, mtime_ns: int, ctime_ns: int) -> bool:
    """Whether a shard of this size and times is the one ``record`` describes (a record without ctime: size and
    mtime alone)."""
    return (record.get("bytes") == size and record.get("mtime_ns") == mtime_ns
            and record.get("ctime_ns", ctime_ns) == ctime_ns)


def check_shard(out: Path, record_file: Path, record: dict) -> str | None:
    """:func:`shard_problem`, and where that hashed a shard of a record with times and found it whole (its ctime
    moved: a copied or moved --out), the shard's times written into ``record_file`` so the next check trusts
    them instead of hashing every shard again."""
    before = _stamp(Path(out) / record["file"])
    problem = shard_problem(out, record)
    # The times from before the hash, and only if still the same after it: bytes written meanwhile move the ctime
    # past them, so they are hashed next time.
    if not problem and "ctime_ns" in record and before and not _stamp_matches(record, *before[1:]) \
            and _stamp(Path(out) / record["file"]) == before:
        try:
            atomic_write_json(record_file, {**record, "mtime_ns": before[2], "ctime_ns": before[3]})
        except OSError:  # a full disk, a read-only copy: the shard is whole all the same, and hashed next time
            pass
    return problem


def drop_damaged(out: Path) -> list[str]:
    """Check every recorded shard against its record and remove both where they differ, so that the run
    rebuilds that shard; a line per shard removed. Without this a damaged shard would be kept, marked
    complete, and listed in the dataset files that ``datasets.load_from_disk`` then fails to read."""
    out, lines = Path(out), []
    for path in sorted((out / PROGRESS).glob("shard-*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            problem = check_shard(out, path, record)
            name = record["file"]
        except (OSError, ValueError, KeyError, TypeError) as e:  # an unreadable record marks nothing complete
            problem, name = f"its record {path.name} is unreadable ({type(e).__name__})", path.stem + ".arrow"
        if problem:
            (out / name).unlink(missing_ok=True)
            path.unlink()
            lines.append(f"{name} does not match its record ({problem}); rebuilding it")
    # A shard whose record is gone is incomplete and will be written again: say so, as for a damaged one.
    for shard in sorted(out.glob("shard-*.arrow")):
        if not (out / PROGRESS / f"{shard.stem}.json").exists():
            lines.append(f"{shard.name} has no record in {PROGRESS}/; rebuilding it")
    return lines


def write_record(out: Path, k: int, record: dict) -> None:
    """Call after the shard's rename: the record is what marks shard ``k`` complete."""
    atomic_write_json(record_path(out, k), record)


def read_records(out: Path, n: int) -> tuple[list[dict], list[int]]:
    """The records of shards ``0..n-1``, and the indices of those that have none."""
    records, missing = [], []
    for k in range(n):
        path = record_path(out, k)
        if path.exists():
            records.append(json.loads(path.read_text(encoding="utf-8")))
        else:
            missing.append(k)
    return records, missing


# A shard record written before rejects were located has no source, line or position: they are written as null.
REJECT_KEYS = ("id", "reason", "message", "record", "source", "line", "position")


def write_rejects(out: Path, records: list[dict]) -> None:
    """``rejects.jsonl``: the rejects of every shard, in input order, one JSON object per line: the record's id,
    reason, message and the record, and where it was read (source file, line for JSON lines, position)."""
    atomic_write_text(Path(out) / "rejects.jsonl", "".join(
        json.dumps({k: r.get(k) for k in REJECT_KEYS}, ensure_ascii=False, default=str)
        + "\n" for rec in records for r in rec["rejects"]))


def counts(records: list[dict]) -> dict:
    rejected = Counter()
    for rec in records:
        rejected.update(rec["rejected"])
    return {"read": sum(r["read"] for r in records), "written": sum(r["rows"] for r in records),
            "rejected": dict(sorted(rejected.items())), "rejected_total": sum(rejected.values()),
            "paragraphs": sum(r["paragraphs"] for r in records), "shards": len(records),
            # --variant-draw independent: draws that repeated the original or an earlier variant;
            # --keep-question-words: replaceable words kept because the question uses them (per question).
            "dropped_duplicates": sum(r.get("dropped_duplicates", 0) for r in records),
            "protected_words": sum(r.get("protected_words", 0) for r in records)}


def time_shares(records: list[dict]) -> dict:
    """Share of busy time per stage: lm, glove, sample (the rest of augmenting) and write; with
    drawing workers, also wait (the model's process waiting for them)."""
    stage = Counter()
    for rec in records:
        stage.update(rec["timers"])
    # "candidates" covers lm + glove + segmentation; "draw" the slots, vectorised draws, span
    # arithmetic and row encoding (in workers or not). "augment" is both, in records of older runs.
    stage["sample"] = (stage.pop("augment", 0.0) + stage.pop("candidates", 0.0) + stage.pop("draw", 0.0)
                       - stage["lm"] - stage["glove"])
    busy = sum(stage.values()) or 1.0
    return {k: round(v / busy, 4) for k, v in sorted(stage.items()) if v > 0}


def lm_counters(records: list[dict]) -> dict | None:
    """The masked LM's counters summed over shards, with fill, padding share and copies per pass (None without an
    LM). ``device_transfers`` is None where a shard of an older run lacks the counter."""
    from augment.batching import summarise_counters

    total, kept = Counter(), [rec["lm_counters"] for rec in records if rec.get("lm_counters")]
    for counters in kept:
        total.update(counters)
    if not total:
        return None
    total = dict(total)
    if any("device_transfers" not in counters for counters in kept):
        total["device_transfers"] = None  # a shard from before it was counted: a partial sum would understate it
    return summarise_counters(total)


def lm_section(records: list[dict], attention: dict | None) -> dict | None:
    """The manifest's ``lm``: :func:`lm_counters`, how the masked LM's attention was set up
    (``MaskedLMCandidates.attention_record``), the device-to-host syncs that ``host_transfers`` cannot count
    (at most one per padded pass with the 2-D mask, none with the 4-D one) and, where there may be any, a
    ``note`` saying so in words. ``padded_passes`` is None where a shard of an older run lacks the counter."""
    lm = lm_counters(records)
    if lm is None or attention is None:
        return lm
    if any("padded_passes" not in rec["lm_counters"] for rec in records if rec.get("lm_counters")):
        lm["padded_passes"] = None  # a partial sum would understate the syncs
    lm.update(attention)
    lm["uncounted_syncs_at_most"] = 0 if attention["attention_mask"] == "4d" else lm["padded_passes"]
    note = sync_note(lm)
    if note:
        lm["note"] = note
    return lm


def sync_note(lm: dict) -> str | None:
    """The sentence for a masked LM whose syncs per pass may exceed ``host_transfers_per_pass``, else None."""
    if lm.get("attention_mask") != "2d" or lm.get("uncounted_syncs_at_most") == 0:
        return None
    n = lm["uncounted_syncs_at_most"]
    passes = "an unknown number of" if n is None else f"{n} of {lm['forward_passes']}"
    return (f"the masked LM ({lm.get('attention')} attention) keeps the 2-D attention mask, which transformers may "
            f"check for padding with one device-to-host sync per padded pass ({passes} passes were padded): "
            "syncs per pass can exceed host_transfers_per_pass")


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, because Linux carries ru_maxrss over fork + exec:
    a run started by a big parent would report the parent's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def process_age() -> float | None:
    """Seconds since this process started (interpreter start-up and imports included); Linux only."""
    try:
        with open("/proc/self/stat") as f:
            started_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return max(uptime - started_ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return None
