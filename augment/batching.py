"""Length-bucketed, padded batches for the masked LM, and the counters that say how full they were.

Sequences of many paragraphs are sorted by length and cut into consecutive runs, so a pass holds
``batch_size`` sequences (fewer only where a token budget or the end of the call stops it) and pads
each to the longest of its run, rounded up to ``pad_multiple`` (tensor cores like multiples of 8).
Sorted neighbours have nearly equal lengths, so padding stays small (the tests hold it under 15% on
the SQuAD subset at batch 64).

The plan is a pure function of the sequence lengths and the options: the same texts in the same
order always give the same batches, whichever process runs them or where a run resumed. (Only
equal-length batches were used before; in ``multi`` mode a paragraph has a handful of sequences, so
passes held about 4 of them whatever ``--batch-size`` said.)

    >>> plan_batches([5, 9, 6, 30], batch_size=2)
    [Batch(jobs=(0, 2), length=8), Batch(jobs=(1, 3), length=32)]
"""
from __future__ import annotations

from dataclasses import dataclass

from augment.errors import ConfigError


@dataclass(frozen=True)
class Batch:
    """Indices of the sequences of one forward pass and the length they are padded to."""

    jobs: tuple[int, ...]
    length: int


def _padded(n: int, multiple: int, cap: int | None) -> int:
    n = -(-n // multiple) * multiple
    return min(n, cap) if cap is not None else n


def plan_batches(lengths: list[int], batch_size: int, max_tokens: int | None = None, pad_multiple: int = 8,
                 max_length: int | None = None) -> list[Batch]:
    """Batches over sequences of ``lengths`` (indices into it), shortest first, ties in input order.

    A batch closes at ``batch_size`` sequences, or before the one that would make it exceed
    ``max_tokens`` padded tokens (a batch always holds one sequence at least). ``max_length`` caps the
    rounding (no sequence is longer than the model already).
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size={batch_size!r}: use an integer >= 1")
    if max_tokens is not None and max_tokens < 1:
        raise ConfigError(f"max_batch_tokens={max_tokens!r}: use an integer >= 1, or None for no budget")
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches, run = [], []
    for i in order:
        width = _padded(lengths[i], pad_multiple, max_length)  # sorted: the new one is the longest
        if run and (len(run) == batch_size or (max_tokens is not None and (len(run) + 1) * width > max_tokens)):
            batches.append(Batch(tuple(run), _padded(lengths[run[-1]], pad_multiple, max_length)))
            run = []
        run.append(i)
    if run:
        batches.append(Batch(tuple(run), _padded(lengths[run[-1]], pad_multiple, max_length)))
    return batches


@dataclass
class LMStats:
    """What the masked LM did, summed over calls; ``fill`` and ``padding_share`` derive from these."""

    forward_passes: int = 0
    sequences: int = 0
    masked_sites: int = 0
    tokens: int = 0  # real (non-padding) tokens fed to the model
    padded_tokens: int = 0  # batch x padded length, summed over passes
    capacity: int = 0  # batch_size summed over passes: fill = sequences / capacity
    host_transfers: int = 0  # device-to-host copies made by the candidate code
    device_transfers: int = 0  # host-to-device copies made by the candidate code
    # Passes with padding, so with an attention mask: where the model takes only the 2-D mask, transformers may
    # sync once per such pass to check it (MaskedLMCandidates.attention_record), unseen by host_transfers.
    padded_passes: int = 0

    def add(self, other: "LMStats") -> None:
        for k in ("forward_passes", "sequences", "masked_sites", "tokens", "padded_tokens", "capacity",
                  "host_transfers", "device_transfers", "padded_passes"):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def counters(self) -> dict:
        return {"forward_passes": self.forward_passes, "sequences": self.sequences,
                "masked_sites": self.masked_sites, "tokens": self.tokens, "padded_tokens": self.padded_tokens,
                "capacity": self.capacity, "host_transfers": self.host_transfers,
                "device_transfers": self.device_transfers, "padded_passes": self.padded_passes}


def summarise_counters(counters: dict) -> dict:
    """The counters plus ``fill`` (sequences per pass / batch size), ``padding_share`` (padding
    tokens / all tokens of the passes) and the copies per pass each way, ``host_transfers_per_pass`` (to the host)
    and ``device_transfers_per_pass`` (to the device): None without passes, or without the counter (a shard of a
    run from before it was kept)."""
    out = dict(counters)
    cap, padded = counters.get("capacity", 0), counters.get("padded_tokens", 0)
    passes = counters.get("forward_passes")
    out["fill"] = round(counters.get("sequences", 0) / cap, 4) if cap else None
    out["padding_share"] = round(1 - counters.get("tokens", 0) / padded, 4) if padded else None
    for way in ("host_transfers", "device_transfers"):
        n = counters.get(way)
        out[f"{way}_per_pass"] = round(n / passes, 4) if passes and n is not None else None
    return out
