# The course's commands. The README names two: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
KERNEL := genmodels-course
# Quiet, reproducible notebook runs: no progress bars in logs, and the thread counts pinned (a few metrics
# change in the last digits with the count; the README's numbers come from `make run` as set below).
THREADS ?= 2
NB_ENV := TQDM_DISABLE=1 PYTHONHASHSEED=0 OMP_NUM_THREADS=$(THREADS) MKL_NUM_THREADS=$(THREADS)
# `make run` runs JOBS notebooks at a time with RUN_THREADS threads each (two small models side by side use
# two cores better than one model on two threads); a notebook waits for those it reads (labhelpers.needs).
JOBS ?= 2
RUN_THREADS ?= 1
# `make test` runs its test files on TEST_JOBS pytest-xdist workers (a file's tests stay on one worker).
TEST_JOBS ?= 2
TEST_THREADS ?= 1

.PHONY: help setup system-deps run lab test data slides exercises bench clean lock

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup: $(STAMP) ## create .venv and install labhelpers with its dev extras

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e ".[dev]"
	$(BIN)/python tools/install_kernel.py >/dev/null
	touch $(STAMP)

system-deps: ## install Debian packages the tests use (Chromium, Fashion-MNIST) where apt and root are available
	@$(BIN)/python tools/system_deps.py 2>/dev/null || $(PYTHON) tools/system_deps.py

# `make run` sets up what its notebooks need first (the venv; the datasets: Debian's package where apt and root are
# available, verified downloads where the network is) and says in one line per dataset what it cannot have.
# WITHOUT=fashion-mnist,svhn runs the lectures as on a machine without those datasets (every fallback path, CI);
# NOTEBOOKS="notebooks/05_vae.ipynb ..." runs only those.
WITHOUT ?=
NOTEBOOKS ?=
run: setup ## set up, then execute every notebook (full mode; QUICK=1 for quick) into build/, export HTML, print the summary
	@LAB_UNAVAILABLE=$(WITHOUT) $(BIN)/python tools/fetch_data.py --brief
	$(NB_ENV) OMP_NUM_THREADS=$(RUN_THREADS) MKL_NUM_THREADS=$(RUN_THREADS) $(BIN)/python tools/run_notebooks.py \
		$(if $(filter 1,$(QUICK)),--quick) $(if $(WITHOUT),--without $(WITHOUT)) --jobs $(JOBS) --kernel $(KERNEL) $(NOTEBOOKS)

# Jupyter refuses to start as root unless told; in a container (root is the usual user there) we pass
# --allow-root and nothing else: the token and the 127.0.0.1 binding stay as Jupyter's defaults.
LAB_ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: setup exercises ## JupyterLab at the repo root, opened on your exercises/ (the lectures are in notebooks/)
	$(BIN)/jupyter lab --ip=127.0.0.1 $(LAB_ROOT_FLAG) --ServerApp.root_dir=$(CURDIR) \
		--LabApp.default_url=/lab/tree/exercises

test: setup system-deps ## unit tests, every notebook under nbval in quick mode, slides and student copies
	LAB_QUICK=1 $(NB_ENV) OMP_NUM_THREADS=$(TEST_THREADS) MKL_NUM_THREADS=$(TEST_THREADS) \
		$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile

data: setup ## fetch every dataset reachable from here (apt package, downloads)
	$(BIN)/python tools/fetch_data.py

slides: setup ## reveal.js decks that work offline, one per notebook, into build/slides/
	$(BIN)/python tools/build_slides.py

exercises: setup ## your copies of the lectures with the solutions removed, in exercises/ (never overwrites your edits; FORCE=1 backs them up and regenerates)
	$(BIN)/python tools/make_exercises.py $(if $(filter 1,$(FORCE)),--force)

bench: setup ## benchmarks: speed, memory and quality ratios; results in bench/RESULTS.md
	$(NB_ENV) $(BIN)/python bench/run_all.py

clean: ## remove everything generated (build/, caches, egg-info, lock files); datasets and .venv stay
	rm -rf build .pytest_cache .ruff_cache *.egg-info labhelpers.egg-info
	find . -path ./.venv -prune -o -type d -name __pycache__ -exec rm -rf {} +
	find . -path ./.venv -prune -o \( -name ".ipynb_checkpoints" \) -type d -exec rm -rf {} +
	find data -name ".*.lock" -delete 2>/dev/null || true
	find data -name ".*.part" -delete 2>/dev/null || true
	find data -name ".unreachable-mirrors.json" -delete 2>/dev/null || true

lock: setup ## re-pin requirements.lock from the current environment (after editing pyproject.toml)
	{ sed -n '1,3p' requirements.lock; $(BIN)/python -m pip freeze --exclude-editable | grep -v '^labhelpers'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
