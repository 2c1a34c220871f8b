# Set-up and everyday commands. Everything runs inside .venv, created on first use.
#   make train   - set up, then train and evaluate DLinear on ETTh1 (lookback 336, horizon 96)
#   make test    - set up, then run the test suite
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

.PHONY: setup train test bench-mixers clean

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

bench-mixers: setup
	$(BIN)/python benchmarks/mixers.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
