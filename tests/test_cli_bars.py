"""pipelines.cli.library_bars: datasets', transformers' and huggingface_hub's progress bars (and squad-eval's own)
follow the command's own rule (a terminal, no --quiet, the first process), and nothing but the bars is switched."""
import io

import pytest


class Terminal(io.StringIO):
    def isatty(self):
        return True


def switches() -> dict:
    """Each library's (is on, turn on, turn off)."""
    import datasets
    import huggingface_hub.utils as hub_utils
    from transformers.utils import logging as hf_logging

    return {"datasets": (lambda: not datasets.utils.are_progress_bars_disabled(), datasets.enable_progress_bars,
                         datasets.disable_progress_bars),
            "transformers": (hf_logging.is_progress_bar_enabled, hf_logging.enable_progress_bar,
                             hf_logging.disable_progress_bar),
            "huggingface_hub": (lambda: not hub_utils.are_progress_bars_disabled(), hub_utils.enable_progress_bars,
                                hub_utils.disable_progress_bars)}


def library_states() -> dict:
    return {name: is_on() for name, (is_on, _, _) in switches().items()}


@pytest.fixture
def library_bars_on():
    """Every library's bars on, as in a fresh process (a command run in this one turned them off), and put back
    as they were found."""
    before = library_states()
    for _, on, _ in switches().values():
        on()
    yield
    for name, (_, on, off) in switches().items():
        on() if before[name] else off()


@pytest.mark.parametrize("terminal, quiet, rank, shown", [
    (True, False, None, True),
    (True, True, None, False),     # --quiet
    (False, False, None, False),   # a log file or a pipe: datasets' "windows:" bar filled distill-train's logs
    (True, False, "1", False),     # torchrun's other processes would draw the same bars again
    (True, False, "0", True),
])
def test_library_bars_follow_the_commands_rule(library_bars_on, monkeypatch, terminal, quiet, rank, shown):
    from transformers.utils import logging as hf_logging

    from pipelines.cli import library_bars

    monkeypatch.setattr("sys.stderr", Terminal() if terminal else io.StringIO())
    if rank is None:
        monkeypatch.delenv("RANK", raising=False)
    else:
        monkeypatch.setenv("RANK", rank)
    verbosity = hf_logging.get_verbosity()
    assert library_bars(quiet) is shown
    assert library_states() == dict.fromkeys(("datasets", "transformers", "huggingface_hub"), shown)
    assert hf_logging.get_verbosity() == verbosity  # warnings and errors print as before


@pytest.mark.parametrize("rank, drawn", [("1", False), ("0", True)])
def test_squad_evals_own_bar_follows_the_commands_rule(library_bars_on, monkeypatch, tiny_teacher_path,
                                                       sample_path, tmp_path, rank, drawn):
    """augment.qa.evaluate's "eval" bar asked only whether stderr is a terminal: a torchrun process other than the
    first drew it over the first one's. The command now passes its rule in (the library imports no pipelines)."""
    from pipelines import squad_eval

    err = Terminal()
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.setenv("RANK", rank)
    assert squad_eval.main(["--model", tiny_teacher_path, "--data", str(sample_path), "--limit", "2",
                            "--max-length", "96", "--doc-stride", "32", "--out", str(tmp_path / "e.json"),
                            "--device", "cpu"]) == 0
    assert ("eval:" in err.getvalue()) is drawn, err.getvalue()
