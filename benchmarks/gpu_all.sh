#!/usr/bin/env bash
# One GPU-machine call for issues #9 and #10: the augmentation and distillation benchmarks one after the
# other, each under its own time limit so that one failing still leaves the other's numbers.
# Usage (repository root, on the GPU machine): bash benchmarks/gpu_all.sh VOCAB_DIR OUT_DIR [AUG_S] [DIST_S]
# VOCAB_DIR holds the bert-base-uncased tokenizer files; wheels for packages the machine lacks (datasets,
# dill, multiprocess) may lie in .whl/ and are installed into /tmp/site first.
set -u
vocab=$1 out=$2 aug_s=${3:-240} dist_s=${4:-240}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=/tmp/site:$PWD || exit 1
else
    export PYTHONPATH=$PWD
fi
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc;
  python3 -c "import torch, transformers, pyarrow; print('torch', torch.__version__, 'transformers', transformers.__version__, 'pyarrow', pyarrow.__version__)"; } 2>&1 | tee "$out/machine.txt"
timeout "$aug_s" python3 benchmarks/gpu_augment.py --vocab "$vocab" --out "$out/augment" 2>&1 | tee "$out/augment.log"
echo "gpu_augment exit: ${PIPESTATUS[0]}"
timeout "$dist_s" python3 benchmarks/gpu_distill.py --vocab "$vocab" --out "$out/distill" 2>&1 | tee "$out/distill.log"
echo "gpu_distill exit: ${PIPESTATUS[0]}"
