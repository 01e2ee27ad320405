# The README's contract: `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CUBE_DIR ?= $(CURDIR)/.testcube
export SAR_TESTCUBE_DIR := $(CUBE_DIR)
export ODC_CONFIG_PATH := $(CUBE_DIR)/datacube.conf
LAB_IP ?= 127.0.0.1
LAB_PORT ?= 8888
LAB_FLAGS := $(if $(LAB_PUBLIC),--public) $(if $(LAB_NO_TOKEN),--no-token)

.PHONY: setup cube browser demo lint docs test lab clean

setup: cube

# A virtual environment with the locked dependencies and this package.
$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# Start the embedded PostgreSQL and build (or repair) the local test datacube.
cube: $(STAMP)
	$(BIN)/sar-helpers testcube up
	$(BIN)/sar-helpers testcube kernel

NOTEBOOKS := $(wildcard notebooks/[0-9][0-9]_*.ipynb)

# The main job: every tutorial notebook run into an HTML report (and its executed notebook).
demo: setup
	@for notebook in $(NOTEBOOKS); do \
		$(BIN)/sar-helpers report $$notebook -o reports/$$(basename $$notebook .ipynb).html || exit 1; \
	done

# The end-to-end tests drive Debian's Chromium (browser downloads are not possible here).
browser:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		elif sudo -n true 2>/dev/null; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else echo "The browser tests need Chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

# Static checks: ruff (lint and format, the notebooks included), mypy on the package, and the
# package's layers (import-linter's contracts in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The documentation site: the lessons as their stored outputs show them, the API reference from the
# docstrings, the guides; every warning an error. tests/test_docs.py builds it and opens it in Chromium.
DOCS_OUT ?= build/docs/html
docs: $(STAMP)
	$(BIN)/python -m sphinx -b html -W --keep-going -q docs $(DOCS_OUT)
	@echo "The documentation is in $(DOCS_OUT)/index.html"

test: lint setup browser
	$(BIN)/python -m pytest

# JupyterLab on 127.0.0.1 with a random token; LAB_PUBLIC=1 / LAB_NO_TOKEN=1 to lift either guard.
lab: setup
	$(BIN)/sar-helpers lab --ip $(LAB_IP) --port $(LAB_PORT) $(LAB_FLAGS)

clean:
	-$(BIN)/sar-helpers testcube down
	rm -rf $(VENV) reports
