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


# What the README and BENCHMARKS.md name inside the repository's folders; "docs/ANCHORS.md" was named there
# and never shipped. The outputs and inputs of the examples (augment-squad --out data/aug, a data/b.jsonl in
# an error message) are names, not files.
NAMED = re.compile(r"(?<![\w./~$-])(?:benchmarks|docs|tests|augment|pipelines|\.ci|data)/[\w./-]*\w")
EXAMPLE_NAMES = re.compile(r"data/aug(/|$)|data/b\.jsonl$")


def test_every_path_the_docs_name_is_in_the_repository():
    missing = [f"{doc}: {path}" for doc in ("README.md", "BENCHMARKS.md")
               for path in sorted(set(NAMED.findall((REPO / doc).read_text(encoding="utf-8"))))
               if not (REPO / path).exists() and not EXAMPLE_NAMES.match(path)]
    assert not missing, "named in the docs, not in the repository:\n" + "\n".join(missing)


def test_every_make_target_the_docs_name_exists():
    targets = set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(encoding="utf-8"), flags=re.M))
    named = {t for doc in ("README.md", "BENCHMARKS.md")
             for t in re.findall(r"(?:^|`|# or: )make ([\w-]+)", (REPO / doc).read_text(encoding="utf-8"), flags=re.M)}
    assert {"demo", "test", "tutorial", "mini-repro"} <= named  # the pattern still finds them
    assert named <= targets, f"make targets the docs name that the Makefile lacks: {sorted(named - targets)}"


def test_the_version_floors_the_makefile_names_are_setup_cfgs():
    """The Makefile pins torch before installing the project and says which floor the pin must satisfy;
    setup.cfg is where pip reads the floor, so a comment that names another one misleads whoever changes the pin."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg", encoding="utf-8")
    floors = dict(re.findall(r"^([\w-]+)>=([\w.]+)$", cfg["options"]["install_requires"], flags=re.M))
    named = re.findall(r"\b([\w-]+)>=([\d][\w.]*)", (REPO / "Makefile").read_text(encoding="utf-8"))
    assert named, "the Makefile names no floor: drop this test or the pattern is stale"
    wrong = [f"{pkg}>={ver} (setup.cfg: {floors.get(pkg)})" for pkg, ver in named if floors.get(pkg) != ver]
    assert not wrong, f"the Makefile names floors that setup.cfg does not have: {wrong}"
