# The two set-up commands of the README: `make run` and `make test`.
# llama-cpp-python compiles from source (~8 min on 2 cores) the first time; pip's wheel cache makes
# every later install reuse that build.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make run` runs the desktop assistant's terminal demo (docs/desktop.md); TASK="..." asks it something else
TASK ?=

.PHONY: install run test lint bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# the CPU build of torch (the machine's wheel) before anything asks for torch
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/tinycrew desktop demo $(if $(TASK),"$(TASK)")

test: $(STAMP)
	-bash tests/trajectories/ensure_postgres.sh; bash tests/demos/ensure_chromium.sh
	$(BIN)/ruff check tinycrew tests benchmarks demos
	$(BIN)/ruff format --check tinycrew tests benchmarks demos
	# two workers, one file each at a time: every model runs on one thread (tests/conftest.py)
	$(BIN)/pytest -q -n 2 --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py
