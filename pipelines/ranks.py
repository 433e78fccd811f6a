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

:func:`launch` reads torchrun's variables (WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE), checked.
:func:`end_with_agent` ends a process of the job when the torchrun agent that started it dies.
:func:`gloo_group`, :func:`barrier`, :func:`broadcast` and :func:`shutdown`: the few collectives of a job whose
processes only wait for each other (augment-squad), each a no-op for a process started alone.
"""
from __future__ import annotations

import os
import re
import signal
import sys
from dataclasses import dataclass
from datetime import timedelta

# How gloo (torch.distributed's CPU backend) and its TCP store say that the process at the other end of a
# connection exited or was killed.
PEER_GONE = ("Connection closed by peer", "Connection reset by peer", "Broken pipe")


class LaunchError(ValueError):
    """A torchrun variable in the environment that no launch sets: one line naming it and its value."""


@dataclass(frozen=True)
class Launch:
    """Where this process stands in its torchrun job: (rank, world_size) over the job, (local_rank,
    local_world_size) on this machine; a process started alone is (0, 1, 0, 1)."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1


def _number(environ, name: str, low: int) -> int | None:
    """``environ[name]`` as an integer >= ``low``, None when unset. ASCII digits only: int() also takes "-1"
    (a rank that Python then counts from the end of a list), " 2", "٢" and "2_0"."""
    value = environ.get(name)
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]+", value) or int(value) < low:
        raise LaunchError(f"{name}={value!r} in the environment: torchrun sets it to an integer >= {low}; correct "
                          f"it, or unset it to run one process")
    return int(value)


def launch(environ=None) -> Launch:
    """torchrun's variables in ``environ``, each checked: one :class:`LaunchError` for a value that is not a whole
    number (WORLD_SIZE=two gave a ValueError traceback from int()) or not within its bounds (RANK=2 with
    WORLD_SIZE=2 passed, a process group then waits for a rank that never comes). A rank is only compared with a
    size that is set: a process of a job that sets RANK alone stays as it was.

        >>> launch({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"})
        Launch(rank=1, world_size=2, local_rank=1, local_world_size=1)
    """
    # os.environ as it is at the call: datasets' map(num_proc=...) replaces the object with a copy, which a default
    # bound at import would not see (nor anything set in it since).
    environ = os.environ if environ is None else environ
    world, local_world = _number(environ, "WORLD_SIZE", 1), _number(environ, "LOCAL_WORLD_SIZE", 1)
    rank, local_rank = _number(environ, "RANK", 0), _number(environ, "LOCAL_RANK", 0)
    for name, value, size_name, size in (("RANK", rank, "WORLD_SIZE", world),
                                         ("LOCAL_RANK", local_rank, "LOCAL_WORLD_SIZE", local_world),
                                         ("LOCAL_RANK", local_rank, "WORLD_SIZE", world)):
        if value is not None and size is not None and value >= size:
            raise LaunchError(f"{name}={environ[name]!r} with {size_name}={environ[size_name]!r} in the environment: "
                              f"{name} is from 0 to {size - 1}; correct them, or unset them to run one process")
    if local_world is not None and world is not None and local_world > world:
        raise LaunchError(f"LOCAL_WORLD_SIZE={environ['LOCAL_WORLD_SIZE']!r} with "
                          f"WORLD_SIZE={environ['WORLD_SIZE']!r} in the environment: a machine runs at most the "
                          "job's processes; correct them, or unset them to run one process")
    return Launch(rank or 0, world or 1, local_rank or 0, local_world or 1)


def rank_zero(environ=None) -> bool:
    """Whether this process is the job's first: RANK unset or 0, whatever the other variables say (the first
    process names a bad WORLD_SIZE once for all). A RANK that is no number leaves no process first: then each
    is, so that the line naming it is printed rather than by none."""
    try:
        return _number(os.environ if environ is None else environ, "RANK", 0) in (None, 0)
    except LaunchError:
        return True


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
        return rank_zero()
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


def end_with_agent(environ=None) -> bool:
    """Under torchrun, have the kernel send this process SIGTERM (what torchrun stops its workers with) when the
    agent that started it dies; return whether it asked. Elsewhere, and off Linux, nothing (False).

    torchrun starts each worker in a session of its own, and stops them when it is stopped itself (SIGTERM,
    Ctrl-C), but an agent killed outright (kill -9, the out-of-memory killer) stops nothing: its workers went on
    to the end of the run, their gloo connections being their own. The same torchrun command rerun to resume
    then wrote into --out beside them (distill-train's metrics.jsonl held steps 19 to 30 of 30 twice), or was
    refused for as long as they held augment-squad's lock. Only a torchrun worker (TORCHELASTIC_RUN_ID set,
    as torch.distributed.is_torchelastic_launched reads it): a command started alone and left running after its
    shell ends (nohup) must go on.

        >>> end_with_agent({})
        False
    """
    environ = os.environ if environ is None else environ
    if "TORCHELASTIC_RUN_ID" not in environ or sys.platform != "linux":
        return False
    import ctypes

    # The signal comes when the thread that started this process ends: torchrun's agent starts its workers from
    # its main thread, so that is when the agent does.
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:  # the agent died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)
    return True


def gloo_group(timeout: timedelta) -> tuple[int, int, int]:
    """(rank, world size, local rank), joining the job's process group under torchrun; (0, 1, 0) for a process
    started alone. torchrun's variables are checked first (:func:`launch`: a :class:`LaunchError`, not the
    ValueError traceback of torch.distributed's int()). gloo: processes that only wait for each other need no
    NCCL, so it serves on GPU machines too. A process that exits (an error, a kill) ends the others' collective
    at once: gloo sees its connections close (:func:`lost_peer`)."""
    job = launch()
    if job.world_size <= 1 or "RANK" not in os.environ:
        return 0, 1, 0
    import torch.distributed as dist

    dist.init_process_group("gloo", timeout=timeout)
    return dist.get_rank(), job.world_size, job.local_rank


def barrier(world: int) -> None:
    """Wait for every process of the group (none to wait for alone)."""
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


def shutdown(world: int) -> None:
    """Leave the process group :func:`gloo_group` joined (none alone)."""
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()


def broadcast(value, world: int):
    """Process 0's ``value``, in every process (``value`` itself alone).

        >>> broadcast("mine", 1)
        'mine'
    """
    if world == 1:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
