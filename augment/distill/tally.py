"""What a training stage's summary counts, carried across ``--resume``.

distill-train ends each training stage with a ``summary`` record: windows, training seconds and throughput over
the whole stage and from its first log step on (the steady state, past start-up and compilation). The counts
behind it (windows, and the tokens and squared tokens the FLOPs are computed from) and the marks they are read
between live in a :class:`StageTally`. Each checkpoint stores :meth:`StageTally.totals`, and a run resumed from
it starts from them, so the resumed stage's summary covers the whole stage: the steps up to the checkpoint as the
killed run counted them, the rest as the resumed run counts them (what the killed run did past its checkpoint,
done again, counts once). A checkpoint written before the totals were carried holds none: the summary then
covers the resumed part alone, and says from which step (``from_step``).

Under torchrun every count is the whole job's: each process counts its own batches, and the counts are summed
over the processes at the marks alone (log steps and checkpoints, where the host waits for the device anyway),
never per step. The processes hold as many windows each, but each cuts its part of a batch to that part's longest
window, so their tokens differ: the main process's FLOPs times the number of processes were 10.6% short in the
first log interval of the two-process test (tests/distill/test_distributed.py).

    >>> import time
    >>> tally = StageTally(time.perf_counter, None, step=0)
    >>> tally.add(windows=4, length=96); before, now = tally.mark()
    >>> now[1]                                                   # (seconds, counts): the counts since the start
    {'windows': 4, 'tokens': 384, 'tokens_sq': 36864}
"""
from __future__ import annotations

COUNTS = ("windows", "tokens", "tokens_sq")


class StageTally:
    """Counts of every process's batches and ``(seconds, counts)`` marks: the stage's start, its first log step
    (``steady_from``) and its latest (``last``). ``clock`` gives training seconds (checkpoints and evaluations
    left out); ``carried`` is a checkpoint's :meth:`totals` (None: none there), ``step`` the step it resumes at.
    ``summed`` sums a list of this process's counts over the ``world`` processes (None: one process); a
    collective, which :meth:`mark` and :meth:`totals` call, so every process calls those at the same steps."""

    def __init__(self, clock, carried: dict | None = None, step: int = 0, summed=None, world: int = 1):
        self.clock = clock
        self.summed = summed
        now = clock()
        zero = dict.fromkeys(COUNTS, 0)
        self.local = dict(zero)  # this process's batches since this run began the stage
        self.base = dict(zero)  # every process's before that: the checkpoint's totals
        self.start = (now, zero)
        self.steady_from = None
        self.compiled = {}  # graphs compiled and the like (compilation.compile_counts) in the runs before
        self.from_step = 0  # the steps before it are not counted: resumed from a checkpoint that carried no totals
        if carried is not None:
            # A checkpoint without "summed" carried the main process's counts alone, which the version that wrote
            # it multiplied by the number of processes: so are they read.
            scale = 1 if carried.get("summed") else world
            self.base = {k: carried[k] * scale for k in COUNTS}
            # Shifted into this process's clock: the stage began ``seconds`` of training ago.
            self.start = (now - carried["seconds"], zero)
            if carried.get("steady") is not None:
                steady = carried["steady"]
                self.steady_from = (self.start[0] + steady["seconds"], {k: steady[k] * scale for k in COUNTS})
            self.compiled = dict(carried.get("compiled") or {})
            self.from_step = carried.get("from_step", 0)  # a resume of a resume of such a checkpoint
        else:
            self.from_step = step
        self.last = (now, dict(self.base))  # the next log step's interval begins here (after a resume: its start)

    def add(self, windows: int, length: int) -> None:
        """A micro-batch of ``windows`` windows, ``length`` tokens each as computed (after trimming)."""
        self.local["windows"] += windows
        self.local["tokens"] += windows * length
        self.local["tokens_sq"] += windows * length * length

    def counts(self) -> dict:
        """Every process's counts since the stage began (a collective under ``summed``)."""
        mine = [self.local[k] for k in COUNTS]
        every = mine if self.summed is None else self.summed(mine)
        return {k: self.base[k] + int(n) for k, n in zip(COUNTS, every)}

    def mark(self) -> tuple[tuple, tuple]:
        """A log step: (the previous mark, this one), the interval its record reports."""
        before, self.last = self.last, (self.clock(), self.counts())
        if self.steady_from is None:
            self.steady_from = self.last
        return before, self.last

    def steady_start(self):
        """Where the steady state's interval begins, or None while it would be empty (one log step so far)."""
        return None if self.steady_from is None or self.steady_from is self.last else self.steady_from

    def with_compiled(self, counts: dict) -> dict:
        """This process's ``counts`` since the stage (or its resume) began, plus those of the runs before."""
        return {k: v + self.compiled.get(k, 0) for k, v in counts.items()}

    def totals(self, compiled: dict | None = None) -> dict:
        """What a checkpoint carries, now: every process's counts (``summed``: True, which a checkpoint of an
        earlier version lacks), seconds since the stage began, the steady state's start (None before the first log
        step), ``compiled``, this process's counts so far (``with_compiled``), and ``from_step``."""
        now = self.clock()
        steady = None
        if self.steady_from is not None:
            steady = {"seconds": self.steady_from[0] - self.start[0], **self.steady_from[1]}
        return {**self.counts(), "summed": True, "seconds": now - self.start[0], "steady": steady,
                "compiled": self.with_compiled(compiled or {}), "from_step": self.from_step}
