"""StageTally: every process's counts, summed at the marks alone, and carried across --resume."""
from augment.distill.tally import StageTally


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_marks_and_totals_hold_every_process_counts_summed_at_the_marks_alone():
    """Another process cut its batch of 4 windows to 80 tokens where this one's is 96: the main process's counts
    times two were the job's, 4 * 96 * 2 tokens instead of 4 * (96 + 80)."""
    calls = []

    def summed(counts):  # the other process's counts added, as the all-reduce does
        calls.append(list(counts))
        return [counts[0] + 4, counts[1] + 4 * 80, counts[2] + 4 * 80 ** 2]

    clock = Clock()
    tally = StageTally(clock, summed=summed, world=2)
    tally.add(windows=4, length=96)
    assert calls == []  # no collective per batch
    clock.now = 2.0
    before, now = tally.mark()
    assert before == (0.0, {"windows": 0, "tokens": 0, "tokens_sq": 0})
    assert now == (2.0, {"windows": 8, "tokens": 4 * (96 + 80), "tokens_sq": 4 * (96 ** 2 + 80 ** 2)})
    assert calls == [[4, 384, 4 * 96 ** 2]]
    totals = tally.totals()
    assert totals["summed"] is True and totals["windows"] == 8 and totals["steady"]["windows"] == 8


def test_a_resume_reads_summed_totals_as_they_are_and_an_earlier_versions_as_the_main_process_times_world():
    carried = {"windows": 8, "tokens": 800, "tokens_sq": 80_000, "seconds": 10.0,
               "steady": {"seconds": 4.0, "windows": 4, "tokens": 400, "tokens_sq": 40_000}}
    summed = StageTally(Clock(), {**carried, "summed": True}, step=2, summed=lambda c: [2 * n for n in c], world=2)
    assert summed.last[1] == {"windows": 8, "tokens": 800, "tokens_sq": 80_000}
    earlier = StageTally(Clock(), carried, step=2, summed=lambda c: [2 * n for n in c], world=2)
    assert earlier.last[1] == {"windows": 16, "tokens": 1600, "tokens_sq": 160_000}
    assert earlier.steady_from[1] == {"windows": 8, "tokens": 800, "tokens_sq": 80_000}
    earlier.add(windows=4, length=10)  # this process's; the fake sum doubles it
    assert earlier.counts() == {"windows": 24, "tokens": 1680, "tokens_sq": 160_800}
