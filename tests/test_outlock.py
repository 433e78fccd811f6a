"""The lock on an output directory: one holder, who is named; released, or dropped with its process."""
import os
import socket

from augment.outlock import LOCK_NAME, OutLock


def test_a_second_lock_is_refused_with_the_holders_pid_and_host_until_the_first_is_released(tmp_path):
    first, second = OutLock(tmp_path), OutLock(tmp_path)  # two opens of the file: two holders to flock
    assert first.acquire() is None
    holder = second.acquire()
    assert (holder["pid"], holder["host"]) == (os.getpid(), socket.gethostname()) and holder["started"]
    first.release()
    assert not (tmp_path / LOCK_NAME).exists()  # a finished run leaves no file
    assert second.acquire() is None
    second.release()
    second.release()  # twice: nothing more to do


def test_a_lock_file_that_no_process_holds_is_taken(tmp_path):
    """What kill -9 leaves: the file with the dead run's record, and no lock (the kernel dropped it)."""
    (tmp_path / LOCK_NAME).write_text('{"pid": 999999999, "host": "elsewhere", "started": "then"}\n')
    lock = OutLock(tmp_path)
    assert lock.acquire() is None
    assert OutLock(tmp_path).acquire()["pid"] == os.getpid()  # its record replaced the dead run's
    lock.release()
