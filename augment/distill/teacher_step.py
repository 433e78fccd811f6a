"""The prediction stage's teacher logits as a run gets them: its cache file (augment.distill.teacher_cache) reused
when sound, else built by every process of the run together.

Every process calls :func:`cached_logits` at the same point of the run, and they meet there in this order:

1. the main process tidies the cache folder (:func:`tidy`): caches named the old way, the parts that interrupted
   builds left, and this run's cache if it is damaged, which it then builds again;
2. every process takes the main process's word on whether the cache is there (``Processes.agree``), so that all
   take the same branch;
3. if it is not: each process runs the teacher over its contiguous share of the windows into a part of its own,
   all wait, their tokens are summed for the FLOPs of the summary (the main process reports it), and the main
   process joins the parts in order;
4. all wait, and each maps the joined file, checked against its windows.

Nothing here prints: the main process's lines go to ``log``, its summary to ``report``.

    >>> path = teacher_cache.cache_path(cache_dir, key, teacher, 256, 1, None)        # doctest: +SKIP
    >>> cache = cached_logits(teacher, features, path, Processes(), log=print)       # doctest: +SKIP
    >>> start, end = cache.lookup([0, 5, 9], batch["attention_mask"])                # doctest: +SKIP
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from augment.distill import teacher_cache
from augment.distill.summary import count


def _alone(value):
    return value


def _ignore(*_) -> None:
    pass


@dataclass(frozen=True)
class Processes:
    """This process, ``rank`` of the run's ``world``, and the collectives that every process calls at the same
    point: ``barrier()`` waits for all of them, ``agree(value)`` gives every process the main process's ``value``,
    ``summed(counts)`` a list of ints summed over the processes. The defaults are a run of one process, which waits
    for nobody.

        >>> alone = Processes()
        >>> alone.main, alone.agree(True), alone.summed([3, 9])
        (True, True, [3, 9])
    """

    rank: int = 0
    world: int = 1
    barrier: Callable[[], None] = _ignore
    agree: Callable = _alone
    summed: Callable[[list], list] = _alone

    @property
    def main(self) -> bool:
        return self.rank == 0


def tidy(path) -> list[str]:
    """Remove, beside the cache at ``path``, what no run reads again, and return what was removed in words, one line
    each: the caches named the old way (:data:`teacher_cache.OLD_NAME`, removed even when this run's cache exists), the
    parts that interrupted builds of this cache left (with any number of processes), and the cache itself if it is
    damaged (:func:`teacher_cache.remove_damaged`). The main process alone calls it, before the others look for the
    cache: no part of this run's build exists yet.

        >>> tidy(Path("no-such-folder") / "teacher-k-d-batch256-world1.arrow")
        []
    """
    path = Path(path)
    lines = []
    old = [f.name for f in teacher_cache.remove_stale_files(path.parent) if teacher_cache.OLD_NAME.fullmatch(f.name)]
    if old:
        lines.append(f"removed {count(len(old), 'teacher-logit cache file')} named the old way, which no run "
                     f"reuses: {', '.join(sorted(old))}")
    parts = [f.name for f in teacher_cache.remove_stale_parts(path)]
    if parts:
        lines.append(f"removed {count(len(parts), 'teacher-logit cache part')} that an interrupted build left: "
                     f"{', '.join(sorted(parts))}")
    if (reason := teacher_cache.remove_damaged(path)) is not None:
        lines.append(f"removed the teacher-logit cache file {path}, which {reason}; building it again")
    return lines


def cached_logits(teacher, features, path, processes: Processes = Processes(), *, batch_size: int = 256,
                  device="cpu", autocast_dtype=None, progress: bool = False, log=_ignore,
                  report=_ignore) -> teacher_cache.TeacherLogits:
    """The teacher's logits on every window of ``features``, from the cache at ``path``, built first where it is
    missing or damaged (the module's steps 1 to 4); every process of the run calls this at the same point.

    ``batch_size``, ``device``, ``autocast_dtype``: as :func:`teacher_cache.build` runs the teacher (its
    ``batch_size`` and ``processes.world`` are in the name :func:`teacher_cache.cache_path` gives ``path``).
    ``progress``: whether this process draws the "teacher logits" bar. ``log(line)``: the main process's lines
    (what :func:`tidy` removed, the build it starts). ``report(windows, seconds, flops)``: the main process's
    measure of a build, the whole job's (``flops`` None for a teacher whose FLOPs are not counted,
    augment.distill.flops)."""
    path = Path(path)
    if processes.main:
        for line in tidy(path):
            log(line)
    if not processes.agree(path.exists()):
        _build(teacher, features, path, processes, batch_size, device, autocast_dtype, progress, log, report)
    processes.barrier()
    return teacher_cache.TeacherLogits(path, features)


def _build(teacher, features, path: Path, processes: Processes, batch_size: int, device, autocast_dtype,
           progress: bool, log, report) -> None:
    """Step 3 of :func:`cached_logits`: each process's share into its part, then the main process joins them."""
    from tqdm.auto import tqdm

    from augment.distill.flops import StageCost

    rank, world = processes.rank, processes.world
    mine = teacher_cache.share(len(features), rank, world)
    if processes.main:
        log(f"caching teacher logits for {count(len(features), 'window')} in {path} "
            f"({count(world, 'process', 'processes')})")
    bar = tqdm(total=len(mine), desc="teacher logits", unit="win", dynamic_ncols=True, disable=not progress)
    t0, stats = time.perf_counter(), {}
    teacher_cache.build(teacher, features.select(mine), teacher_cache.part_path(path, rank, world),
                        batch_size=batch_size, device=device, progress=bar.update, autocast_dtype=autocast_dtype,
                        stats=stats)
    bar.close()
    processes.barrier()
    seconds = time.perf_counter() - t0
    # Every process's tokens: the shares are contiguous runs of the windows, whose lengths differ from one run to
    # the next (an article's long context and its variants), so the main process's share times the number of
    # processes was 24% short on the sample's first 30 questions in two processes.
    tokens, tokens_sq = processes.summed([stats["tokens"], stats["tokens_sq"]])
    if processes.main:
        cost = StageCost.of("teacher_cache", None, teacher.config)
        report(len(features), seconds, None if cost is None else cost.flops(tokens, tokens_sq))
        teacher_cache.merge([teacher_cache.part_path(path, r, world) for r in range(world)], path)
