"""The benchmark's paragraph selection (the runs themselves are BENCHMARKS.md's business)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_augment  # noqa: E402


def test_paragraphs_first_or_spread_over_the_articles():
    first = bench_augment.paragraphs(3)
    spread = bench_augment.paragraphs(24, every=29)
    assert first == bench_augment.paragraphs(3, every=1)
    for group in first + spread:  # each group is one paragraph's questions, in file order
        assert len({r["context"] for r in group}) == 1
    assert len(spread) == 24 and spread[0] == first[0]
    assert {r["title"] for g in first for r in g} == {"Beyoncé"}
    assert len({g[0]["title"] for g in spread}) == 10  # every article is sampled
