import os
import re
import subprocess
import time

from augment.distill import scratch


def test_only_folders_whose_owner_is_gone_are_removed_keeping_their_finished_files(tmp_path):
    """Runs sharing a cache folder tokenise at the same time: a folder of a live process here, or one written in the
    last hour (perhaps by another machine's live process, whose pid means nothing here), stays its owner's."""
    ended = subprocess.Popen(["true"])
    ended.wait()  # reaped: its pid is no process now
    here, elsewhere = scratch.machine(), "0" * 12
    old = time.time() - 2 * scratch.STALE_SECONDS
    folders = {"live": f"s.tmp{os.getpid()}-{here}", "killed": f"s.tmp{ended.pid}-{here}",
               "recent": f"s.tmp{ended.pid}-{elsewhere}", "stale": f"s.tmp{os.getpid()}-{elsewhere}"}
    for kind, name in folders.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "tmpabcd1234").write_bytes(b"half")
    (tmp_path / folders["killed"] / "s_00000_of_00002.arrow").write_bytes(b"a finished shard")
    for f in (tmp_path / folders["stale"]).iterdir():
        os.utime(f, (old, old))
    os.utime(tmp_path / folders["stale"], (old, old))

    shards = lambda stem: re.compile(re.escape(stem) + r"_\d{5}_of_\d{5}\.arrow")  # noqa: E731
    removed, kept = scratch.remove_abandoned(tmp_path, shards)
    assert sorted(f.name for f in removed) == sorted([folders["killed"], folders["stale"]])
    assert kept == [tmp_path / "s_00000_of_00002.arrow"] and kept[0].read_bytes() == b"a finished shard"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([folders["live"], folders["recent"],
                                                                 "s_00000_of_00002.arrow"])


def test_the_tokenising_clean_up_leaves_a_teacher_caches_temporary_file_alone(tmp_path):
    """A teacher-logit cache's temporary file carries a name of scratch's form (``<name>.tmp<pid>-<machine>``) in the
    same cache folder: it is the teacher cache's to remove (teacher_cache.remove_stale_files), not a folder to empty."""
    ended = subprocess.Popen(["true"])
    ended.wait()
    f = tmp_path / f"teacher-k.arrow.tmp{ended.pid}-{scratch.machine()}"
    f.write_bytes(b"half")
    assert scratch.abandoned(f)
    assert scratch.remove_abandoned(tmp_path) == ([], []) and f.read_bytes() == b"half"
