#!/usr/bin/env bash
# One GPU-machine call for issues #9 and #10: the augmentation and the distillation benchmarks one after
# the other, each under its own time limit, so that one failing still leaves the other's numbers.
#   bash benchmarks/gpu_all.sh VOCAB_DIR OUT_DIR [AUGMENT_S] [DISTILL_S]     (a limit of "skip" skips that script)
# (BENCH_ARGS=--smoke runs both scripts' CPU versions: a check of this file on a machine without a GPU;
# AUG_ARGS and DIST_ARGS pass options to one script each.)
# VOCAB_DIR holds the bert-base-uncased tokenizer files. Wheels of packages the machine lacks (datasets,
# dill, multiprocess) may lie in .whl/. Models and shards go to a scratch folder; OUT_DIR gets only the
# logs and the two scripts' result tables.
set -u
vocab=$1 out=$2 aug_s=${3:-250} dist_s=${4:-240}
work=$(mktemp -d)
mkdir -p "$out"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONPATH=$PWD
if ls .whl/*.whl >/dev/null 2>&1; then  # into the machine's environment; else beside it, on PYTHONPATH
    if ! python3 -m pip install -q --no-index --no-deps --no-compile .whl/*.whl; then
        python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
            && export PYTHONPATH=/tmp/site:$PWD
    fi
fi
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; echo "cores: $(nproc)";
  python3 -c "import torch, transformers, pyarrow, datasets; print('torch', torch.__version__, '| transformers',
transformers.__version__, '| pyarrow', pyarrow.__version__, '| datasets', datasets.__version__)"; } 2>&1 | tee "$out/machine.txt"
if [ "$aug_s" != skip ]; then
timeout "$aug_s" python3 benchmarks/gpu_augment.py --vocab "$vocab" --out "$work/augment" ${BENCH_ARGS:-} ${AUG_ARGS:-} > "$out/augment.log" 2>&1
echo "gpu_augment exit: $?" | tee -a "$out/augment.log"
cp "$work"/augment/results.json "$out/augment-results.json" 2>/dev/null; cp "$work"/augment/results.md "$out/augment-results.md" 2>/dev/null
cat "$out/augment-results.md" 2>/dev/null || tail -20 "$out/augment.log"
fi
[ "$dist_s" = skip ] && exit 0
timeout "$dist_s" python3 benchmarks/gpu_distill.py --vocab "$vocab" --out "$work/distill" ${BENCH_ARGS:-} ${DIST_ARGS:-} > "$out/distill.log" 2>&1
echo "gpu_distill exit: $?" | tee -a "$out/distill.log"
cp "$work"/distill/results.json "$out/distill-results.json" 2>/dev/null; cp "$work"/distill/table.md "$out/distill-table.md" 2>/dev/null
cat "$out/distill-table.md" 2>/dev/null || tail -20 "$out/distill.log"
