#!/usr/bin/env bash
# One GPU-machine call for issues #9 and #10: the augmentation and the distillation benchmarks one after
# the other, each under its own time limit, so that one failing still leaves the other's numbers.
#   bash benchmarks/gpu_all.sh VOCAB_DIR OUT_DIR [AUGMENT_S] [DISTILL_S]     (a limit of "skip" skips that script)
# (BENCH_ARGS=--smoke runs both scripts' CPU versions: a check of this file on a machine without a GPU;
# AUG_ARGS and DIST_ARGS pass options to one script each.)
# VOCAB_DIR holds the bert-base-uncased tokenizer files. Wheels of packages the machine lacks (datasets,
# dill, multiprocess) may lie in .whl/. Models and shards go to a scratch folder; OUT_DIR gets only the
# logs and the two scripts' result tables. Exit code 1 when either script failed or was stopped at its limit.
set -u
vocab=$1 out=$2 aug_s=${3:-250} dist_s=${4:-240}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT  # models, shards and caches: scratch only
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
failed=0
# bench NAME LIMIT_S SCRIPT ARGS...: one script under its limit (TERM, then KILL 20 s later if it hangs on); its
# log, exit code and result files in OUT. Files of an earlier call to the same OUT are removed first, so that a
# script that wrote none is not shown with an older run's table.
bench() {
    local name=$1 limit=$2 script=$3; shift 3
    rm -f "$out/$name.log" "$out/$name-results.json" "$out/$name-results.md" "$out/$name-table.md"
    timeout -k 20 "$limit" python3 "benchmarks/$script" --vocab "$vocab" --out "$work/$name" "$@" > "$out/$name.log" 2>&1
    local rc=$?
    [ "$rc" -eq 124 ] && echo "$script: stopped at its limit of $limit s" | tee -a "$out/$name.log"
    echo "$script exit: $rc" | tee -a "$out/$name.log"
    [ "$rc" -eq 0 ] || failed=1
    for f in results.json results.md table.md; do
        [ -f "$work/$name/$f" ] && cp "$work/$name/$f" "$out/$name-$f"
    done
    cat "$out/$name-results.md" 2>/dev/null || cat "$out/$name-table.md" 2>/dev/null || tail -20 "$out/$name.log"
}
# shellcheck disable=SC2086  # the *_ARGS are word lists
[ "$aug_s" != skip ] && bench augment "$aug_s" gpu_augment.py ${BENCH_ARGS:-} ${AUG_ARGS:-}
# shellcheck disable=SC2086
[ "$dist_s" != skip ] && bench distill "$dist_s" gpu_distill.py ${BENCH_ARGS:-} ${DIST_ARGS:-}
exit "$failed"  # 1 when either script failed or ran past its limit (each one's results are kept all the same)
