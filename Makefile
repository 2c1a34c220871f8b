# Set-up and everyday commands. Everything runs inside .venv, created on first use.
#   make train   - set up, then train and evaluate DLinear on ETTh1 (lookback 336, horizon 96)
#   make test    - set up, then run the test suite
#   make gpu-check - on a CUDA machine: the cuda-marked tests, then a short timing table written to
#                  benchmarks/results/gpu_check.json (see docs/training.md, "Running on a GPU")
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.samovar-installed

# Where benchmark files live: $SAMOVAR_DATA_DIR when set, else ../shared/data when present, else the user cache / download.
SAMOVAR_DATA_DIR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export SAMOVAR_DATA_DIR

MODEL    ?= dlinear
DATASET  ?= ETTh1
LOOKBACK ?= 336
HORIZON  ?= 96

.PHONY: setup train test gpu-check bench-mixers clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# Keep an installed torch (e.g. a CUDA build); otherwise take the CPU wheel 2.13.0.
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install "torch==2.13.0"
	$(BIN)/pip install -e ".[dev]"
	touch $(STAMP)

train: setup
	$(BIN)/samovar train --model $(MODEL) --dataset $(DATASET) --lookback $(LOOKBACK) --horizon $(HORIZON)

test: setup
	$(BIN)/python -m pytest -n 2 -q

# The CUDA tests (skipped, with the reason, without a device) and the timings; the timing script
# exits 2 with one line when there is no CUDA device, so the target fails there.
gpu-check: setup
	$(BIN)/python -m pytest -m cuda -q -rs tests/test_cuda.py
	$(BIN)/python benchmarks/gpu_check.py

bench-mixers: setup
	$(BIN)/python benchmarks/mixers.py run --readme README.md

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
