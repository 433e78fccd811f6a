"""The README's Python examples run as written (the masked-LM model swapped for the tiny local one), and the
numbers it quotes from a script's output are what the script prints."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(section: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end if end > 0 else None], flags=re.S)


@pytest.fixture
def no_cached_defaults(monkeypatch):
    from augment import api

    monkeypatch.setattr(api, "_DEFAULTS", {})
    return api._DEFAULTS


def test_augmentation_examples_run_as_written(tiny_mlm_path, augmenter, no_cached_defaults, capsys):
    offline, with_mlm = python_blocks("The augmentation")
    scope = {}
    exec(compile(offline, "README.md", "exec"), scope)  # verbatim: GloVe only, offline
    assert scope["row"]["id"] == "q1-aug1" and "'field': 'context'" in capsys.readouterr().out
    # The masked-LM example names bert-base-uncased; the tests have no network, so a tiny local masked LM
    # stands in, and the default augmenter that augment_example builds once is the tiny one too.
    no_cached_defaults[()] = augmenter
    exec(compile(with_mlm.replace('"bert-base-uncased"', repr(tiny_mlm_path)), "README.md", "exec"), scope)
    assert len(scope["rows"]) == 5 and scope["rows"][0]["orig_id"] == "q1"


def test_default_augmenter_offline_points_to_glove_only_or_a_local_model(no_cached_defaults, monkeypatch):
    from augment import ConfigError, augment_example, hub

    monkeypatch.setattr(hub, "is_cached", lambda repo: False)  # even where bert-base-uncased was downloaded
    example = {"id": "q1", "title": "t", "context": "Paris is big.", "question": "What is big?",
               "answers": {"text": ["Paris"], "answer_start": [0]}}
    with pytest.raises(ConfigError) as e:
        augment_example(example, n=5)
    message = str(e.value)
    assert message.startswith("Augmenter(mlm='bert-base-uncased'): HF_HUB_OFFLINE=1 is set and the model is not")
    assert "Augmenter(mlm=None)" in message and "Augmenter(mlm='path/to/model')" in message


def test_answer_example_runs_as_written(tiny_student_path):
    (block,) = python_blocks("distill-train")
    scope = {}
    exec(compile(block.replace('"runs/tiny/student"', repr(tiny_student_path)), "README.md", "exec"), scope)
    context = "It was written by Ann Lee in 1990."
    got = scope["answer"](scope["model"], scope["tokenizer"], "Who wrote it?", context)
    assert set(got) == {"answer", "start", "end", "null_diff"}
    # What the README's comment promises: offsets into the context, or '' (start None) when the null score wins.
    for threshold in (float("-inf"), float("inf")):
        span = scope["answer"](scope["model"], scope["tokenizer"], "Who wrote it?", context, threshold=threshold)
        if threshold < 0:
            assert (span["answer"], span["start"], span["end"]) == ("", None, None)
        else:
            assert span["answer"] and context[span["start"]:span["end"]] == span["answer"]
    assert got == (span if got["null_diff"] <= 0 else {**span, "answer": "", "start": None, "end": None})


def test_bf16_candidate_counts_are_what_the_benchmark_prints():
    """The README states what `python benchmarks/bf16_candidates.py` prints; it said 71 of 298 sets and 265 lists
    after single letters stopped being masked, when the script printed 70 of 293 and 260."""
    import importlib.util

    path = README.parent / "benchmarks" / "bf16_candidates.py"
    spec = importlib.util.spec_from_file_location("bf16_candidates", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = " ".join(README.read_text(encoding="utf-8").split())
    said = re.search(r"the (\d+) sample contexts, (\d+) of (\d+) candidate sets change, and (\d+) lists change "
                     r"order or content \(`python benchmarks/bf16_candidates\.py`", text)
    assert said, "the README's bf16 sentence moved: update this test's pattern"
    n = module.count()
    assert tuple(map(int, said.groups())) == (n["texts"], n["sets"], n["lists"], n["differ"])


def test_layout_names_every_module():
    """The Layout section is where a newcomer looks for a file: every module of augment/ and pipelines/ (and each
    subpackage of augment/) is named there. pipelines/ranks.py (torchrun's one-line failures) was missing."""
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Layout")
    (layout,) = re.findall(r"```\n(.*?)```", text[start:text.index("\n## ", start + 1)], flags=re.S)
    named = set(re.findall(r"[\w.]+/?", layout))
    repo = README.parent
    modules = {p.stem for p in (repo / "augment").glob("*.py")} | {p.name for p in (repo / "pipelines").glob("*.py")}
    packages = {f"{p.parent.name}/" for p in (repo / "augment").glob("*/__init__.py")}
    missing = sorted((modules | packages) - {"__init__", "__init__.py"} - named)
    assert not missing, f"the README's Layout does not name {missing}"
