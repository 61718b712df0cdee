# `make up`: install into .venv, start the embedded services, migrate, load demo data, serve.
# `make test`: install into .venv and run the whole test suite against real services.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install system-deps up test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned, with pip, so that its CPU build is taken (the embeddings of the knowledge base run on CPU);
	# left to the resolver, PyPI's default build pulls several GB of CUDA libraries
	$(PY) -m pip install --progress-bar on -c constraints.txt torch==2.13.0
	$(PY) -m pip install --progress-bar on -c constraints.txt --config-settings editable_mode=compat -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages the tests drive for real: Chromium (dashboards' browser test, through Playwright,
# no browser download) and redis-server (shared rate-limit counters).
SYSTEM_PACKAGES := chromium redis-server
system-deps:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then echo "Installing$$missing from Debian…"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "Please install:$$missing (sudo apt-get install$$missing)"; exit 1; fi; fi

up: install
	$(VENV)/bin/revorc up

test: install system-deps
	$(PY) -m pytest -n 2

# The performance table (docs/performance.md): every benchmark at a laptop size; `make bench PROSPECTS=1000000`.
# The API benchmark drives Debian's `wrk`.
PROSPECTS ?= 10000
bench: install
	@command -v wrk >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
		else echo "Please install wrk (sudo apt-get install wrk)"; exit 1; fi; }
	$(VENV)/bin/revorc bench --prospects $(PROSPECTS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/sqlfluff lint dbt_project/models dbt_project/macros

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
