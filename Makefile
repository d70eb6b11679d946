# eudap: every target sets up what it needs itself (Python 3.11, uv, the locked virtualenv).
SHELL := /bin/bash
PYTHON ?= python3.11
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)

.PHONY: demo run test bench lint format dev sample clean help tree-before check-clean

help:
	@echo "make demo   build the warehouse from the bundled sample mirror (no network)"
	@echo "make test   run the whole test suite"
	@echo "make run    the live job: download from the publishers, build, publish"
	@echo "make bench  measure speed and memory of the pipeline stages"
	@echo "make lint   ruff check + format check"
	@echo "make dev    Dagster UI and daemon (dg dev) on http://127.0.0.1:3000"
	@echo "make check-clean  fail if the last make demo/test left files in the git tree"

# Headless Chromium renders the HTML report in the end-to-end tests (Debian package).
CHROMIUM := /usr/bin/chromium
# Best effort: without root or apt the browser test skips, saying why.
$(CHROMIUM):
	-apt-get update -qq
	-DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --compile-bytecode: the .pyc files are written once, here, so no process compiles Dagster,
# GX or pandas again, even where PYTHONDONTWRITEBYTECODE is set (about 5 s of CPU a process).
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	@touch $@

demo: $(STAMP) tree-before
	$(VENV)/bin/eudap demo
	@$(MAKE) --no-print-directory check-clean

run: $(STAMP)
	$(VENV)/bin/eudap run

# One pytest-xdist worker per core, at most 8 (PYTEST_WORKERS=N sets it; 0 runs in one
# process). The suite is CPU-bound: on the 2-core machine two workers finished it in 252 s,
# four in 262 s (it passes oversubscribed too); more cores are what make it faster, and
# beyond 8 the few files with full builds set the pace. The tests of one file run
# in the same worker, so a module's build is made once (the session's demo once in all: see
# tests/conftest.py). The files with full builds go out first (--no-loadscope-reorder keeps the
# order tests/conftest.py gives them), so no long build starts when the rest is done. The tests'
# own bytecode is cached (in ignored __pycache__ folders) even under PYTHONDONTWRITEBYTECODE.
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n > 8 ? 8 : n )))
test: $(STAMP) $(CHROMIUM) tree-before
	env -u PYTHONDONTWRITEBYTECODE $(VENV)/bin/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder
	@$(MAKE) --no-print-directory check-clean

bench: $(STAMP)
	PYTEST_WORKERS=$(PYTEST_WORKERS) $(VENV)/bin/python bench/run_bench.py

lint: $(STAMP)
	$(VENV)/bin/ruff check pipelines tests scripts bench
	$(VENV)/bin/ruff format --check pipelines tests scripts bench

format: $(STAMP)
	$(VENV)/bin/ruff format pipelines tests scripts bench
	$(VENV)/bin/ruff check --fix pipelines tests scripts bench

# dg finds the code location (eudap) in pyproject.toml [tool.dg]; the daemon it starts runs
# the schedule and the run-failure sensor.
DEV_PORT ?= 3000
dev: $(STAMP)
	$(VENV)/bin/dg dev -h 127.0.0.1 -p $(DEV_PORT)

# `make demo` and `make test` must leave `git status` as they found it: everything they
# write goes to ignored folders (data/raw, data/warehouse, .dagster_home) or to temp dirs.
# What the tree held before (a developer's own edits) is recorded, so only new changes count.
TREE_BEFORE := $(TOOLS)/tree-before.txt
tree-before:
	@mkdir -p $(TOOLS)
	@git status --porcelain --untracked-files=all > $(TREE_BEFORE) 2>/dev/null || : > $(TREE_BEFORE)

check-clean:
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  test -f $(TREE_BEFORE) || : > $(TREE_BEFORE); \
	  new=$$(git status --porcelain --untracked-files=all | sort | comm -13 <(sort $(TREE_BEFORE)) -); \
	  if [ -n "$$new" ]; then \
	    echo "check-clean: the run changed the git tree (ignore or move what it writes):"; \
	    echo "$$new"; exit 1; fi; \
	  echo "check-clean: the git tree is as the run found it"; \
	fi

sample: $(STAMP)
	$(VENV)/bin/python scripts/make_sample.py

clean:
	rm -rf $(VENV) $(TOOLS) data/warehouse/*.duckdb data/warehouse/exports data/warehouse/runs
