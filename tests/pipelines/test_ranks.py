"""pipelines.ranks: which process of a torchrun job prints the line that ends a failed command, and torchrun's
variables read and checked. The CLIs' runs under torchrun (test_augment_squad.py, tests/distill/test_distributed.py)
show it end to end; here, the rules."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines import ranks

REPO = Path(__file__).resolve().parents[2]


def test_outside_a_process_group_the_first_process_answers_and_no_error_is_a_lost_peer(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    assert ranks.first_to_report() and ranks.first_to_report()  # one process: every line is its own
    monkeypatch.setenv("RANK", "1")  # torchrun's processes before their group exists: rank 0 speaks for all
    assert not ranks.first_to_report()
    # "Broken pipe" outside a group is a pipe, not a process of the job that is gone.
    assert ranks.lost_peer(RuntimeError("Broken pipe")) is None


def test_a_process_started_alone_joins_no_group_and_its_collectives_do_nothing(monkeypatch):
    """WORLD_SIZE without RANK (a process of a job that sets only some variables) is a process alone too: a group
    that waited for the others would never start. Alone, each collective returns at once (with no group,
    torch.distributed's would raise)."""
    from datetime import timedelta

    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert ranks.gloo_group(timedelta(seconds=1)) == (0, 1, 0)
    ranks.barrier(1)
    ranks.shutdown(1)
    assert ranks.broadcast(["mine"], 1) == ["mine"]
    monkeypatch.setenv("WORLD_SIZE", "two")  # checked before anything else reads it
    with pytest.raises(ranks.LaunchError, match="WORLD_SIZE='two'"):
        ranks.gloo_group(timedelta(seconds=1))


def test_in_a_group_the_first_to_ask_reports_and_a_lost_peer_is_found_under_other_errors(tmp_path, monkeypatch):
    dist = pytest.importorskip("torch.distributed")
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "3")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        monkeypatch.setenv("RANK", "0")  # the store decides, not the rank: the first to ask, once
        assert [ranks.first_to_report() for _ in range(3)] == [True, False, False]
        monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "4")  # a restarted group asks afresh
        assert ranks.first_to_report()
        gone = RuntimeError("[gloo/transport/tcp/pair.cc:537] Read error [127.0.0.1]:15252: Connection reset "
                            "by peer. This is typically caused by a remote worker hanging")
        try:
            try:
                raise gone
            except RuntimeError:
                raise ValueError("raised while handling it")
        except ValueError as e:
            assert ranks.lost_peer(e) == "Connection reset by peer"
        assert ranks.lost_peer(RuntimeError("CUDA out of memory")) is None
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("environ, says", [
    ({"WORLD_SIZE": "two"}, "WORLD_SIZE='two' in the environment: torchrun sets it to an integer >= 1"),
    ({"WORLD_SIZE": "0"}, "WORLD_SIZE='0' in the environment: torchrun sets it to an integer >= 1"),
    ({"WORLD_SIZE": "2", "RANK": "-1"}, "RANK='-1' in the environment: torchrun sets it to an integer >= 0"),
    ({"WORLD_SIZE": "2", "RANK": " 1"}, "RANK=' 1' in the environment"),
    ({"WORLD_SIZE": "2", "RANK": "2"}, "RANK='2' with WORLD_SIZE='2' in the environment: RANK is from 0 to 1"),
    ({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "2", "LOCAL_WORLD_SIZE": "2"},
     "LOCAL_RANK='2' with LOCAL_WORLD_SIZE='2' in the environment: LOCAL_RANK is from 0 to 1"),
    ({"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "3"}, "LOCAL_WORLD_SIZE='3' with WORLD_SIZE='2' in the environment"),
])
def test_a_torchrun_variable_no_launch_sets_is_named_with_its_value(environ, says):
    with pytest.raises(ranks.LaunchError) as error:
        ranks.launch(environ)
    assert str(error.value).startswith(says) and "\n" not in str(error.value)


def test_a_launch_reads_every_variable_and_a_process_alone_is_the_first():
    assert ranks.launch({}) == ranks.Launch(0, 1, 0, 1)
    assert ranks.launch({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}) == \
        ranks.Launch(3, 4, 1, 2)
    assert ranks.launch({"RANK": "1"}).rank == 1  # a size left unset bounds nothing (the tests' other processes)


def test_an_unreadable_rank_is_said_by_every_process_rather_than_by_none(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "two")  # no process can tell it is the first
    assert ranks.first_to_report() and ranks.rank_zero()
    monkeypatch.setenv("WORLD_SIZE", "two")  # a readable RANK still decides: the first process says it, once
    monkeypatch.setenv("RANK", "1")
    assert not ranks.first_to_report()


@pytest.mark.parametrize("module, argv", [("augment_squad", ["--mlm", "none"]),
                                          ("distill_train", ["--data", "nowhere.json", "--teacher", "none"])])
@pytest.mark.parametrize("rank", ["0", "1"])
def test_the_commands_end_on_a_bad_variable_with_its_line_and_exit_2(module, argv, rank, tmp_path, monkeypatch,
                                                                     capsys):
    """WORLD_SIZE=two was int()'s ValueError traceback from every process; now one line, from the first, before
    anything loads."""
    import importlib

    command = importlib.import_module(f"pipelines.{module}")
    monkeypatch.setenv("WORLD_SIZE", "two")
    monkeypatch.setenv("RANK", rank)
    assert command.main([*argv, "--out", str(tmp_path / "o")]) == 2
    said = "" if rank == "1" else (f"{command.PROG}: error: WORLD_SIZE='two' in the environment: torchrun sets it "
                                   "to an integer >= 1; correct it, or unset it to run one process\n")
    assert capsys.readouterr().err == said
    assert not (tmp_path / "o").exists()


def test_the_variables_are_read_from_os_environ_as_it_is_at_the_call(monkeypatch):
    """datasets' map(num_proc=...) replaces os.environ by a copy of it: read through a default bound at import, a
    RANK set afterwards went unseen, and a second process printed the line that the first one prints."""
    import copy
    import os

    monkeypatch.setattr(os, "environ", copy.deepcopy(os.environ))  # as datasets does
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert ranks.launch() == ranks.Launch(1, 2, 0, 1)
    assert not ranks.rank_zero()


# A stand-in for torchrun's agent: starts two workers, each in a session of its own as torchrun starts them, one
# with torchrun's TORCHELASTIC_RUN_ID and one without (a command started alone), prints their pids, and waits.
AGENT = """
import os, subprocess, sys
worker = ("from pipelines import ranks; import pathlib, sys, time; asked = ranks.end_with_agent(); "
          "pathlib.Path(sys.argv[1]).write_text(str(asked)); time.sleep(60)")
alone = {k: v for k, v in os.environ.items() if k != "TORCHELASTIC_RUN_ID"}
procs = [subprocess.Popen([sys.executable, "-c", worker, sys.argv[1] + name], env=env, start_new_session=True)
         for name, env in (("torchrun", {**alone, "TORCHELASTIC_RUN_ID": "none"}), ("alone", alone))]
print(*(p.pid for p in procs), flush=True)
procs[0].wait()
"""


def running(pid: int) -> bool:
    """Whether ``pid`` runs: a process killed after its parent died stays a zombie until whoever adopted it reaps it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_torchrun_worker_ends_when_its_agent_is_killed_and_a_command_alone_goes_on(tmp_path):
    """torchrun's agent killed with kill -9 left its workers running to the end of the run, writing --out beside
    the rerun (distill-train's metrics.jsonl then held steps twice). A command started alone outlives its parent."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    agent = subprocess.Popen([sys.executable, "-c", AGENT, str(tmp_path / "asked-")], env=env,
                             stdout=subprocess.PIPE, text=True)
    workers = [int(pid) for pid in agent.stdout.readline().split()]
    try:
        deadline = time.time() + 30
        while len(list(tmp_path.glob("asked-*"))) < 2 and time.time() < deadline:
            time.sleep(0.01)
        assert [(tmp_path / f"asked-{name}").read_text() for name in ("torchrun", "alone")] == ["True", "False"]
        agent.kill()
        agent.wait()
        deadline = time.time() + 10
        while running(workers[0]) and time.time() < deadline:
            time.sleep(0.01)
        assert [running(pid) for pid in workers] == [False, True]
    finally:
        agent.kill()
        agent.stdout.close()
        for pid in workers:
            if running(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("module, argv", [("augment_squad", ["--mlm", "none"]),
                                          ("distill_train", ["--data", "nowhere.json", "--teacher", "none"])])
def test_the_commands_ask_to_end_with_the_agent_first(module, argv, tmp_path, monkeypatch):
    """Before anything else, so that no process of theirs outlives a killed agent (the test above)."""
    import importlib

    command = importlib.import_module(f"pipelines.{module}")
    asked = []
    monkeypatch.setattr(ranks, "end_with_agent", lambda: asked.append(True))
    monkeypatch.setenv("WORLD_SIZE", "two")  # the commands' first check: they stop there, before anything loads
    monkeypatch.delenv("RANK", raising=False)
    assert command.main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert asked == [True]
