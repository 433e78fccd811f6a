"""Padded, length-sorted batches: the plan, and how full it is on the SQuAD subset (no model run)."""
from itertools import groupby

import pytest

from augment.batching import Batch, plan_batches, summarise_counters


def test_every_sequence_once_shortest_first_within_the_batch_size():
    lengths = [30, 12, 50, 12, 7, 31, 90, 8]
    plan = plan_batches(lengths, batch_size=3)
    assert sorted(i for b in plan for i in b.jobs) == list(range(len(lengths)))
    assert all(len(b.jobs) <= 3 for b in plan)
    assert [lengths[i] for b in plan for i in b.jobs] == sorted(lengths)
    assert plan[0] == Batch((4, 7, 1), 16)  # ties keep input order; padded to a multiple of 8
    assert all(b.length >= max(lengths[i] for i in b.jobs) for b in plan)


def test_token_budget_closes_a_batch_early_and_a_long_sequence_still_runs():
    plan = plan_batches([10, 10, 10, 10, 200], batch_size=64, max_tokens=40)
    assert [b.jobs for b in plan] == [(0, 1), (2, 3), (4,)]
    assert all(len(b.jobs) * b.length <= 40 for b in plan[:2]) and plan[2].length == 200
    assert plan_batches([5, 500], 4, max_length=503)[-1].length == 503  # rounding never passes the model


def test_bad_sizes_are_named():
    from augment import ConfigError

    with pytest.raises(ConfigError, match="batch_size=0"):
        plan_batches([1], 0)
    with pytest.raises(ConfigError, match="max_batch_tokens=0"):
        plan_batches([1], 4, max_tokens=0)


def test_summary_of_counters():
    s = summarise_counters({"forward_passes": 2, "sequences": 96, "capacity": 128, "tokens": 850,
                            "padded_tokens": 1000, "host_transfers": 2})
    assert (s["fill"], s["padding_share"], s["host_transfers_per_pass"]) == (0.75, 0.15, 1.0)
    # Transfers per pass is a ratio, not a constant (every real run has 1.0): 3 copies over 2 passes.
    s = summarise_counters({"forward_passes": 2, "sequences": 10, "capacity": 40, "tokens": 300,
                            "padded_tokens": 400, "host_transfers": 3})
    assert (s["fill"], s["padding_share"], s["host_transfers_per_pass"]) == (0.25, 0.25, 1.5)
    assert summarise_counters({"forward_passes": 0})["host_transfers_per_pass"] is None  # no pass, no ratio


def test_summary_of_copies_to_the_device_per_pass():
    s = summarise_counters({"forward_passes": 4, "host_transfers": 4, "device_transfers": 6})
    assert (s["host_transfers_per_pass"], s["device_transfers_per_pass"]) == (1.0, 1.5)
    # Shards of a run from before the counter (manifest.lm_counters gives None): unknown, not 0 copies.
    assert summarise_counters({"forward_passes": 4, "device_transfers": None})["device_transfers_per_pass"] is None
    assert summarise_counters({"forward_passes": 4})["device_transfers_per_pass"] is None


@pytest.mark.parametrize("mode,n_paragraphs", [("multi", 694), ("exact", 150)])
def test_subset_at_batch_64_fills_passes_with_little_padding(mode, n_paragraphs, tiny_mlm_path):
    """The subset cut as augment-squad cuts it (blocks of 50,000 rows at x20, chunks of
    CHUNK_PARAGRAPHS): fill >= 0.9, padding <= 15%, one host copy per pass. The plan needs only the
    tokenizer, so no model runs; tests/test_mlm.py checks that a real run counts the same. multi, the
    hard case (about 3 sequences per paragraph), on all 694 paragraphs; exact (about 60 per
    paragraph, all of a paragraph's of one length) on the first 150, to save time."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from augment.batching import LMStats
    from augment.mlm import MaskedLMCandidates
    from augment.segment import english_stopwords, is_eligible, split_words
    from augment.squad_io import iter_located
    from augment.blockjob import CHUNK_PARAGRAPHS
    from augment.blocks import walk
    from tests.conftest import SUBSET

    gen = MaskedLMCandidates(AutoModelForMaskedLM.from_pretrained(tiny_mlm_path),
                             AutoTokenizer.from_pretrained(tiny_mlm_path), mode=mode, batch_size=64)
    sw = english_stopwords()
    total = LMStats()
    paragraphs = [(block, examples) for block, examples, _, _ in walk(iter_located(SUBSET), 20, 50_000, False, None)]
    assert len(paragraphs) == 694
    del paragraphs[n_paragraphs:]
    for _, chunk_paras in groupby(paragraphs, key=lambda p: p[0]):  # per block ...
        chunk_paras = list(chunk_paras)
        for a in range(0, len(chunk_paras), CHUNK_PARAGRAPHS):  # ... per chunk
            texts = [examples[0]["context"] for _, examples in chunk_paras[a:a + CHUNK_PARAGRAPHS]]
            items = [(t, ws, [i for i, w in enumerate(ws) if is_eligible(w.text, sw)])
                     for t in texts for ws in [split_words(t)]]
            total.add(gen.dry_run(items))
    s = summarise_counters(total.counters())
    assert s["fill"] >= 0.9 and s["padding_share"] <= 0.15, s
    assert s["host_transfers_per_pass"] == s["device_transfers_per_pass"] == 1.0
