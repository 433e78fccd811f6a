# Everything a fresh machine needs: `make test` and `make demo` build .venv from scratch.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install test demo bench mini-repro clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	# The CPU build of torch first: an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

test: install
	$(BIN)/python -m pytest -q tests

demo: install
	$(BIN)/python -m pipelines.demo

bench: install
	$(BIN)/python benchmarks/bench_augment.py

# The miniature reproduction: real MiniLM weights, real SQuAD 2.0 articles, two seeds side by side (BENCHMARKS.md).
mini-repro: install
	$(BIN)/python benchmarks/mini_repro.py --out runs/mini

clean:
	rm -rf $(VENV) build *.egg-info
