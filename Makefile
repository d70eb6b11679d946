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

.PHONY: demo run test bench lint format dev sample clean help

help:
	@echo "make demo   build the warehouse from the bundled sample mirror (no network)"
	@echo "make test   run the whole test suite"
	@echo "make run    the live job: download from the publishers, build, publish"
	@echo "make bench  measure speed and memory of the pipeline stages"
	@echo "make lint   ruff check + format check"
	@echo "make dev    Dagster UI (dagster dev) on http://127.0.0.1:3000"

# Headless Chromium renders the HTML report in the end-to-end tests (Debian package).
CHROMIUM := /usr/bin/chromium
# Best effort: without root or apt the browser test skips, saying why.
$(CHROMIUM):
	-apt-get update -qq
	-DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

demo: $(STAMP)
	$(VENV)/bin/eudap demo

run: $(STAMP)
	$(VENV)/bin/eudap run

test: $(STAMP) $(CHROMIUM)
	$(VENV)/bin/python -m pytest -q

bench: $(STAMP)
	$(VENV)/bin/python bench/run_bench.py

lint: $(STAMP)
	$(VENV)/bin/ruff check pipelines tests scripts bench
	$(VENV)/bin/ruff format --check pipelines tests scripts bench

format: $(STAMP)
	$(VENV)/bin/ruff format pipelines tests scripts bench
	$(VENV)/bin/ruff check --fix pipelines tests scripts bench

dev: $(STAMP)
	$(VENV)/bin/dagster dev -m pipelines.definitions -h 127.0.0.1 -p 3000

sample: $(STAMP)
	$(VENV)/bin/python scripts/make_sample.py

clean:
	rm -rf $(VENV) $(TOOLS) data/warehouse/*.duckdb data/warehouse/exports data/warehouse/runs
