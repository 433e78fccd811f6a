"""How the processes of a torchrun job end a failed command: with one line, from one of them.

Under torchrun every process runs the whole command, so an error that they all meet (a bad option, a bad line
of the input) would be printed once per process, and an error that one meets (a shard it cannot write, a file
of its own that is damaged) must be printed by that one. When a process fails and exits, the others learn of it
at their next collective, which gloo ends at once with "Connection closed by peer": a traceback per process on
top of the error that caused it, before torchrun (which checks its workers every 0.1 s) stops them.

:func:`first_to_report` asks the store that the job's processes share which of them is first to end with an
error; it alone prints its line. :func:`lost_peer` tells a collective that failed because another process
exited: that process said why (it asked first), or torchrun's report names it (SIGKILL, the OOM killer), so
the process that meets it stays quiet unless it is the first.
"""
from __future__ import annotations

import os
import sys

# How gloo (torch.distributed's CPU backend) and its TCP store say that the process at the other end of a
# connection exited or was killed.
PEER_GONE = ("Connection closed by peer", "Connection reset by peer", "Broken pipe")


def _group():
    """torch.distributed when this process is in an initialised process group, else None (never imports torch)."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist


def first_to_report() -> bool:
    """Whether this process prints the line that ends the command.

    One process: yes. In a process group: whether it is the first of the job's processes to ask, by an atomic
    counter in their shared store (torchrun's); the store's key carries torchrun's restart count, so that a
    restarted group asks afresh. Before the group exists, the processes have met the same options: the first
    process (RANK 0) answers for all."""
    dist = _group()
    if dist is None:
        return os.environ.get("RANK", "0") == "0"
    try:
        # The default group's store: what init_process_group rendezvoused through, as long-lived as the job.
        store = dist.distributed_c10d._get_default_store()
        return store.add(f"tinyaug/first-error/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", 1) == 1
    except Exception:  # the store went with the process that held it: better said twice than not at all
        return True


def lost_peer(error: BaseException) -> str | None:
    """gloo's words when ``error`` (or an error it was raised from) is a collective that failed because another
    process of the group is gone, else None. Only in a process group: elsewhere "Broken pipe" means a pipe."""
    if _group() is None:
        return None
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, RuntimeError):
            for words in PEER_GONE:
                if words in str(error):
                    return words
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None
