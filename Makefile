# Set-up and entry points. TORCH_SPEC is installed first, explicitly, so that
# no other requirement pulls a CUDA build of torch onto a CPU machine.
# Override it for a GPU machine, e.g. make test TORCH_SPEC='torch==2.13.0 --index-url ...'.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PYG_SPEC ?= torch-geometric==2.8.1
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow test-all lint docs install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet $(TORCH_SPEC)
	$(BIN)/pip install --quiet $(PYG_SPEC) -e '.[test,docs]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/graphmeta demo --out runs/demo --threads 2

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

# The documentation site, warnings as errors; the gallery runs its examples
# on the dataset mirror (GRAPHMETA_DATA, default ../shared/datasets).
GRAPHMETA_DATA ?= $(abspath ../shared/datasets)
docs: $(STAMP)
	GRAPHMETA_DATA=$(GRAPHMETA_DATA) $(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html
	test -f docs/_build/html/gallery/custom_encoder.html   # the build ran to its end
	test -f docs/_build/html/gallery/custom_method.html

lint: $(STAMP)
	$(BIN)/ruff check graphmeta tests examples benchmarks
	$(BIN)/mypy

clean:
	rm -rf runs .pytest_cache docs/_build docs/api docs/gallery docs/datasets.md
