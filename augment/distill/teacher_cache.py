"""The teacher's start/end logits for every training window, computed once and reused every epoch.

Stored as one Arrow IPC file, memory-mapped on read: a ``window`` key column (``"<example_id>#<window_index>"``)
and two ``list<float16>`` columns holding the logits of the window's real tokens (padding is not stored).
float16 keeps about 3 significant digits, far finer than what a softmax at T >= 1 can tell apart.
Size: 4 bytes per real token plus about 40 bytes per window for the key and offsets. Measured on the SQuAD 2.0
train subset at max length 384 / stride 128 (4,812 windows of 171 real tokens on average): 733 bytes per
window, i.e. about 0.73 GB per million windows; the bound, every window a full 384 tokens, is 1.58 GB.

    >>> path = build(teacher, features, cache_dir / "teacher-<key>.arrow")   # doctest: +SKIP
    (several processes: each builds its share() into a part_path(), then one merge()s them in order)
    >>> cache = TeacherLogits(path, features)                                 # doctest: +SKIP
    >>> start, end = cache.lookup([0, 5, 9], batch["attention_mask"])        # (3, L) float32 each
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from augment.distill.data import collate
from augment.distill.intermediate import model_inputs

SCHEMA = pa.schema([("window", pa.string()), ("start_logits", pa.list_(pa.float16())),
                    ("end_logits", pa.list_(pa.float16()))])


def window_keys(features) -> list[str]:
    return [f"{e}#{w}" for e, w in zip(features["example_id"], features["window_index"])]


def teacher_digest(teacher) -> str:
    """A digest of the teacher's weights and config: a retrained teacher never reuses stale logits."""
    h = hashlib.sha256(teacher.config.to_json_string().encode())
    for name, t in sorted(teacher.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def _list_array(rows: list[np.ndarray]) -> pa.Array:
    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum([len(r) for r in rows])
    values = np.concatenate(rows).astype(np.float16) if rows else np.zeros(0, np.float16)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))


@torch.no_grad()
def build(teacher, features, path, batch_size: int = 64, device="cpu", progress=None) -> Path:
    """Run ``teacher`` over every window of ``features`` in order and write the logits to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    keys = window_keys(features)
    teacher.eval()
    cols = [c for c in ("input_ids", "attention_mask", "token_type_ids", "context_mask")
            if c in features.column_names]
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, SCHEMA) as writer:
        for lo in range(0, len(features), batch_size):
            rows = features.select_columns(cols)[lo:lo + batch_size]
            batch = collate([dict(zip(rows, vals)) for vals in zip(*rows.values())])
            out = teacher(**{k: v.to(device) for k, v in model_inputs(batch).items()})
            # The real tokens' logits, wherever they sit: first under right padding, last under left.
            real = batch["attention_mask"].bool().numpy()
            start = out.start_logits.float().cpu().numpy()
            end = out.end_logits.float().cpu().numpy()
            writer.write_batch(pa.record_batch(
                [pa.array(keys[lo:lo + batch_size]),
                 _list_array([start[i][m] for i, m in enumerate(real)]),
                 _list_array([end[i][m] for i, m in enumerate(real)])], schema=SCHEMA))
            if progress is not None:
                progress(len(real))
    os.replace(tmp, path)  # a killed run never leaves a half-written cache behind
    return path


def share(n_windows: int, rank: int, world: int) -> range:
    """The contiguous run of windows process ``rank`` of ``world`` computes; the runs tile 0..n in order."""
    return range(n_windows * rank // world, n_windows * (rank + 1) // world)


def part_path(path, rank: int, world: int) -> Path:
    path = Path(path)
    return path.with_name(f"{path.name}.part{rank:05d}-of-{world:05d}")


def merge(parts, path) -> Path:
    """Concatenate the parts written by :func:`build` (in rank order) into one cache file at ``path``,
    batch by batch (never all in memory), then delete them."""
    path = Path(path)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, SCHEMA) as writer:
        for part in parts:
            with pa.memory_map(str(part)) as src:
                reader = pa.ipc.open_file(src)
                for i in range(reader.num_record_batches):
                    writer.write_batch(reader.get_batch(i))
    os.replace(tmp, path)
    for part in parts:
        Path(part).unlink()
    return path


class TeacherLogits:
    """Memory-mapped cached logits, checked window by window against the features they belong to."""

    def __init__(self, path, features):
        self.path = Path(path)
        self.table = pa.ipc.open_file(pa.memory_map(str(self.path))).read_all()
        if self.table.column("window").to_pylist() != window_keys(features):
            raise ValueError(f"{self.path}: cached windows do not match the training windows; delete it")

    def lookup(self, indices, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Start and end logits (B, L) float32 of the given windows, laid out as ``attention_mask`` (B, L)
        (the batch's, possibly trimmed of padding columns); padding positions are 0 (the loss masks them)."""
        real = attention_mask.bool().cpu().numpy()
        sub = self.table.take(pa.array(indices, type=pa.int64()))
        out = []
        for name in ("start_logits", "end_logits"):
            col = sub.column(name).combine_chunks()
            offsets = col.offsets.to_numpy()
            values = col.values.to_numpy(zero_copy_only=False)
            dense = np.zeros(real.shape, dtype=np.float32)
            for i in range(len(indices)):
                seg = values[offsets[i]:offsets[i + 1]]
                if len(seg) != real[i].sum():
                    raise ValueError(f"{self.path}: window {indices[i]} has {len(seg)} cached logits but "
                                     f"{int(real[i].sum())} real tokens; delete the cache")
                dense[i, real[i]] = seg
            out.append(torch.from_numpy(dense))
        return out[0], out[1]
