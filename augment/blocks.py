"""The input cut into paragraphs, blocks and drawing tasks: where augment-squad's work is cut, so that its rows never
depend on --batch-size, the number of processes or where a killed run was resumed.

- a *paragraph* is a run of consecutive input rows with the same context (about 7 SQuAD questions);
- a *block* is a run of whole paragraphs holding at least --shard-rows output rows (the last one may hold fewer),
  which becomes one shard. Where a block ends depends only on the input and the options: every process finds it by
  reading (and validating) the whole input, :func:`walk`;
- a *drawing task* is a few of a chunk's paragraphs whose rows are drawn together (:func:`draw_tasks`).

    >>> from augment.squad_io import Location
    >>> row = {"id": "q1", "title": "t", "context": "Paris is in France.", "question": "Where is Paris?",
    ...        "answers": {"text": ["France"], "answer_start": [12]}}
    >>> [(block, [ex["id"] for ex in examples], n_read)
    ...  for block, examples, _, n_read in walk([(Location("in.jsonl", "line 1", 1), row)], 20, 50_000, False, None)]
    [(0, ['q1'], 1)]
"""
from __future__ import annotations

import hashlib
import re

from augment.errors import InputError, InvalidExample
from augment.validate import validate_example

DRAW_PARAGRAPHS = 16  # paragraphs per drawing task: small, so the workers share the last chunk's rows
# Rows per drawing task, at most (an example with more is a task of its own). A task's encoded rows are held
# until they are written, about 2 tasks per worker: cut by paragraphs alone, a task at --multiplier 1000 held
# 100,000 rows. As augment.rowpool.BATCH_ROWS, above what 16 SQuAD paragraphs have at x20.
DRAW_ROWS = 8192


class StrictStop(InputError):
    """--strict: the first invalid record, as the command's one error line (where it was read, why, its reason)."""


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()


VARIANT_ID = re.compile(r"(.*)-aug([1-9][0-9]*)", re.DOTALL)  # the ids variants_of gives: ID-augV


def id_collision(row_id: str, seen: set, variants: int) -> str | None:
    """Why ``row_id`` would share an output id with an earlier row's, or None. With --include-original an
    original keeps its id beside its variants' ``ID-aug1``..: re-augmenting such an output gives ``q`` and
    ``q-aug1``, whose ids would both be written for two different rows. ``seen``: digests of earlier ids.

        >>> id_collision("q-aug1", {_digest("q")}, variants=2)
        "its id is the id of variant 1 of the earlier row 'q'"
    """
    m = VARIANT_ID.fullmatch(row_id)
    if m and int(m.group(2)) <= variants and _digest(m.group(1)) in seen:
        return f"its id is the id of variant {m.group(2)} of the earlier row {m.group(1)!r}"
    for v in range(1, variants + 1):
        if _digest(f"{row_id}-aug{v}") in seen:
            return f"its variant {v} would take the id of the earlier row {row_id + f'-aug{v}'!r}"
    return None


def walk(rows, rows_per_example: int, shard_rows: int, strict: bool, limit: int | None, variant_ids: int = 0,
         source=None):
    """Yield ``(block index, valid examples, rejects, examples read)`` per paragraph, in input order.
    ``rows``: ``(Location, row)`` pairs (:func:`augment.squad_io.iter_located`), so that each reject says where
    it was read. ``variant_ids``: the multiplier when originals are written beside their variants (their ids
    may collide). ``source``: the --input the rows come from, named when it holds none. ``strict``: the first
    invalid record is a :class:`StrictStop`, not a reject."""
    seen: set[bytes] = set()  # 8-byte id digests: duplicates are rejected across the whole input
    block, block_rows, n_read = 0, 0, 0
    para, rejects, key = [], [], object()
    for where, row in rows:
        if limit is not None and n_read >= limit:
            break
        context = row.get("context") if isinstance(row, dict) else None
        if n_read and context != key:
            yield block, para, rejects, len(para) + len(rejects)
            block_rows += rows_per_example * len(para)
            if block_rows >= shard_rows:
                block, block_rows = block + 1, 0
            para, rejects = [], []
        key, n_read = context, n_read + 1
        try:
            validate_example(row)
            digest = _digest(row["id"])
            if digest in seen:
                raise InvalidExample(row["id"], "duplicate id (the first row with it is kept)", "duplicate_id")
            if variant_ids and (collision := id_collision(row["id"], seen, variant_ids)):
                raise InvalidExample(row["id"], f"{collision}, and --include-original writes both (the first "
                                                "row is kept)", "duplicate_id")
            seen.add(digest)
            para.append(row)
        except InvalidExample as e:
            if strict:
                raise StrictStop(f"--strict: {where}: {e} [{e.reason}]") from None
            rejects.append({"id": e.example_id, "reason": e.reason, "message": str(e), "record": row,
                            "source": where.source, "line": where.line, "position": where.position})
    if n_read:
        yield block, para, rejects, len(para) + len(rejects)
    else:  # an empty .jsonl or {"data": []}: a run that "succeeds" with no rows hides the mistake
        named = "--input" if source is None else f"--input {source}"
        raise InputError(f"{named} holds no examples (an empty file, data list or dataset)")


def draw_tasks(paragraphs: list[list[dict]], per_example: int) -> list[list[dict]]:
    """The examples of ``paragraphs`` cut into drawing tasks, in order: up to DRAW_PARAGRAPHS paragraphs and
    DRAW_ROWS rows (``per_example`` rows an example) each; a paragraph with more rows than that is cut between
    its examples, and an example with more is a task of its own. Tasks only group the rows, in the order
    written, so they never change a row or where a shard ends.

        >>> [len(task) for task in draw_tasks([[{}] * 3] * 20, per_example=20)]  # 16 paragraphs, then 4
        [48, 12]
        >>> [len(task) for task in draw_tasks([[{}] * 3], per_example=4000)]  # 2 examples of 4000 rows fit
        [2, 1]
    """
    tasks, part = [], []
    for i, para in enumerate(paragraphs):
        # By position (a paragraph whose examples were all rejected counts too), so that a group of
        # DRAW_PARAGRAPHS within DRAW_ROWS is the one task, and one record batch, it always was.
        if i % DRAW_PARAGRAPHS == 0 and part:
            tasks.append(part)
            part = []
        for ex in para:
            if part and (len(part) + 1) * per_example > DRAW_ROWS:
                tasks.append(part)
                part = []
            part.append(ex)
    if part:
        tasks.append(part)
    return tasks
