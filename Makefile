# Everything a fresh machine needs: `make test` and `make demo` build .venv from scratch.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

# torch comes from whatever index pip is configured with (on PyPI for Linux: the CUDA build). To choose
# the build, name PyTorch's index: make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

.PHONY: install test demo tutorial bench mini-repro clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	# torch first, pinned, so that the project's torch>=2.4 does not pull another build.
	$(BIN)/pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# Two workers: each test runs on one thread (tests/conftest.py), so two share 2 cores well; an idle
# worker takes tests queued for the other (worksteal), so the slow subprocess tests do not end up in one queue.
test: install
	$(BIN)/python -m pytest -q -n 2 --dist worksteal --durations=15 tests

demo: install
	$(BIN)/python -m pipelines.demo

# From data/sample/ to a trained 2-layer student, offline (README: "From the sample to a trained student").
tutorial: install
	$(BIN)/python -m pipelines.tutorial --out runs/tutorial

bench: install
	$(BIN)/python benchmarks/bench_augment.py

# The miniature reproduction: real MiniLM weights, real SQuAD 2.0 articles (BENCHMARKS.md §3).
# PROFILE=cpu: 2 cores, about 105 minutes, results in runs/mini; PROFILE=gpu: one GPU, x20 and 3 epochs per
# stage, 3 seeds, results in runs/mini-gpu (estimate: python benchmarks/mini_repro.py --profile gpu --estimate).
PROFILE ?= cpu
mini-repro: install
	$(BIN)/python benchmarks/mini_repro.py --profile $(PROFILE)

clean:
	rm -rf $(VENV) build *.egg-info
