# DeepRock Studio — `make run` starts the app on the demo dataset, `make test` runs the tests.
# Both create .venv, install the pinned requirements and the system packages they need.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
# apt-get and pip must not race each other; the steps are quick once done anyway.
.NOTPARALLEL:
MAKEFLAGS += --no-builtin-rules

# python3.11 when on PATH, python3 otherwise (override: make PYTHON=/path/to/python3.11 ...).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
PORT ?= 8501
PYTEST_ARGS ?=
DEMO_DIR := data/demo
DEMO_CATALOG := data/demo.sqlite

# GPU=1: TensorFlow with its CUDA wheels (requirements-gpu.txt) instead of the CPU build.
GPU ?=
REQUIREMENTS := $(if $(GPU),requirements-gpu.txt,requirements.txt)
RUNTIME_STAMP := $(VENV)/.stamp-runtime$(if $(GPU),-gpu)
DEV_STAMP := $(VENV)/.stamp-dev

export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_NO_INPUT := 1
export PIP_PROGRESS_BAR := off
PIP := $(VENV)/bin/python -m pip

.PHONY: help venv dev-venv system-deps system-deps-soft demo run test lint bench clean

help:
	@echo "DeepRock Studio"
	@echo "  make run           start the app on the demo dataset (PORT=$(PORT); GPU=1 for CUDA)"
	@echo "  make test          lint, then run the whole test suite (PYTEST_ARGS=...)"
	@echo "  make lint          ruff check"
	@echo "  make bench         run bench/bench_*.py"
	@echo "  make demo          build the demo corpus and its catalog ($(DEMO_CATALOG))"
	@echo "  make venv          create $(VENV) with the runtime requirements"
	@echo "  make dev-venv      ... plus the test and lint tools"
	@echo "  make system-deps   check/install fluidsynth, a GM soundfont and chromium"
	@echo "  make clean         remove $(VENV) and caches (never data/ or models/)"

# --- virtual environment ------------------------------------------------------------------------

$(VENV)/bin/python:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "error: no python3.11 or python3 on PATH; install Python 3.11" >&2; exit 1; fi
	@"$(PYTHON)" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "error: $(PYTHON) is older than 3.11; run: make PYTHON=/path/to/python3.11 ..." >&2; \
	  exit 1; }
	@echo "Creating $(VENV) with $(PYTHON)"
	@"$(PYTHON)" -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "error: venv creation failed; on Debian: apt-get install python3-venv" >&2; exit 1; }

$(RUNTIME_STAMP): $(REQUIREMENTS) requirements.txt pyproject.toml | $(VENV)/bin/python
	@echo "Installing $(REQUIREMENTS) into $(VENV)"
	@$(PIP) install -q -r $(REQUIREMENTS)
	@$(PIP) install -q -e . --no-deps
	@touch $@

$(DEV_STAMP): requirements-dev.txt $(RUNTIME_STAMP)
	@echo "Installing requirements-dev.txt into $(VENV)"
	@$(PIP) install -q -r requirements-dev.txt
	@touch $@

venv: $(RUNTIME_STAMP)

dev-venv: $(DEV_STAMP)

# --- system packages ----------------------------------------------------------------------------

system-deps:
	@bash scripts/system-deps.sh

# For `make run` and `make bench`: the app works without audio, so never stop here.
system-deps-soft:
	@bash scripts/system-deps.sh || echo "warning: system dependencies incomplete; continuing" >&2

# --- demo dataset -------------------------------------------------------------------------------

$(DEMO_CATALOG): | $(RUNTIME_STAMP)
	@mkdir -p $(DEMO_DIR)
	@if [ -z "$$(find $(DEMO_DIR) -iname '*.mid' -print -quit)" ]; then \
	  echo "Writing the demo corpus to $(DEMO_DIR)"; \
	  $(VENV)/bin/deeprock demo-data $(DEMO_DIR); \
	fi
	@echo "Scanning $(DEMO_DIR) into $@"
	@$(VENV)/bin/deeprock scan $(DEMO_DIR) --catalog $@

demo: $(DEMO_CATALOG)

# --- commands -----------------------------------------------------------------------------------

# system-deps first: on a bare Debian it may also install pythonX.Y-venv, which .venv needs.
run: system-deps-soft $(RUNTIME_STAMP) demo
	$(VENV)/bin/streamlit run app.py --server.port $(PORT)

test: system-deps $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .

bench: system-deps-soft $(RUNTIME_STAMP)
	@for b in bench/bench_*.py; do \
	  [ -e "$$b" ] || continue; \
	  echo "== $$b"; \
	  $(VENV)/bin/python $$b || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info
	find . \( -path ./data -o -path ./models -o -path ./.git \) -prune -o \
	  -type d -name __pycache__ -prune -exec rm -rf {} +
