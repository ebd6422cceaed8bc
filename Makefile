# The course's commands. The README names two: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
KERNEL := genmodels-course
# Quiet, reproducible notebook runs: no progress bars in logs, one thread pool per kernel.
NB_ENV := TQDM_DISABLE=1 PYTHONHASHSEED=0

.PHONY: help setup system-deps run lab test data slides exercises bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup: $(STAMP) ## create .venv and install labhelpers with its dev extras

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (genmodels course)" >/dev/null
	touch $(STAMP)

system-deps: ## install Debian packages the tests use (Chromium, Fashion-MNIST) where apt and root are available
	@$(BIN)/python tools/system_deps.py 2>/dev/null || $(PYTHON) tools/system_deps.py

run: setup ## execute every notebook (full mode; QUICK=1 for quick) into build/, export HTML, print the summary
	$(NB_ENV) $(BIN)/python tools/run_notebooks.py $(if $(filter 1,$(QUICK)),--quick) --kernel $(KERNEL)

lab: setup ## open JupyterLab on notebooks/
	$(BIN)/jupyter lab notebooks/

test: setup system-deps ## unit tests, every notebook under nbval in quick mode, slides and student copies
	LAB_QUICK=1 $(NB_ENV) $(BIN)/python -m pytest

data: setup ## fetch every dataset reachable from here (apt package, downloads)
	$(BIN)/python tools/fetch_data.py

slides: setup ## reveal.js decks that work offline, one per notebook, into build/slides/
	$(BIN)/python tools/build_slides.py

exercises: setup ## student copies with solutions replaced by stubs, into build/exercises/
	$(BIN)/python tools/make_exercises.py

bench: setup ## benchmarks: speed, memory and quality ratios; results in bench/RESULTS.md
	$(NB_ENV) $(BIN)/python bench/run_all.py

clean: ## remove everything generated
	rm -rf build .pytest_cache
