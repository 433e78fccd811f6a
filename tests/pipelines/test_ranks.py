"""pipelines.ranks: which process of a torchrun job prints the line that ends a failed command. The CLIs' runs
under torchrun (test_augment_squad.py, tests/distill/test_distributed.py) show it end to end; here, the rules."""
import pytest

from pipelines import ranks


def test_outside_a_process_group_the_first_process_answers_and_no_error_is_a_lost_peer(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    assert ranks.first_to_report() and ranks.first_to_report()  # one process: every line is its own
    monkeypatch.setenv("RANK", "1")  # torchrun's processes before their group exists: rank 0 speaks for all
    assert not ranks.first_to_report()
    # "Broken pipe" outside a group is a pipe, not a process of the job that is gone.
    assert ranks.lost_peer(RuntimeError("Broken pipe")) is None


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
