"""Users have nothing beside their clone: no code, test or benchmark may reach outside the repository."""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = ["augment", "pipelines", "benchmarks", "tests"]
# A hop out of the tree, written as a relative path of at least two parts ("../shared/data"; a bare "../x"
# is how squad_io's tests spell a path-like input), through pathlib (REPO.parent, parents[3] and up from a
# file at most three folders deep), or as this workplace's absolute checkout path.
OUTSIDE = [re.compile(r"\.\./\w[\w.-]*/"), re.compile(r"\bREPO\.parent\b"), re.compile(r"parents\[\s*[3-9]\s*\]"),
           re.compile(r"/work/")]


def _files():
    for top in SOURCES:
        yield from sorted((REPO / top).rglob("*.py"))
    yield REPO / "Makefile"
    yield REPO / ".ci" / "run"


def test_no_code_refers_to_a_path_outside_the_repository():
    this = Path(__file__).resolve()
    found = []
    for path in _files():
        if path.resolve() == this:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if any(p.search(line) for p in OUTSIDE):
                found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not found, "paths outside the repository:\n" + "\n".join(found)


def test_the_pattern_catches_the_old_shared_path():
    old = 'SUBSET = REPO.parent / "shared" / "data" / "squad_v2" / "train-v2.0-subset.json"'
    assert any(p.search(old) for p in OUTSIDE)
    assert any(p.search("see ../shared/data/squad_v2") for p in OUTSIDE)
    assert not any(p.search('REPO / "data" / "squad_v2"') for p in OUTSIDE)


def test_the_shipped_subset_is_the_real_one():
    import json
    data = json.loads((REPO / "data" / "squad_v2" / "train-v2.0-subset.json").read_text(encoding="utf-8"))
    qas = [qa for art in data["data"] for p in art["paragraphs"] for qa in p["qas"]]
    assert len(data["data"]) == 10 and len(qas) == 4719
    assert sum(qa["is_impossible"] for qa in qas) == 348
