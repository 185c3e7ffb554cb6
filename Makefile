# The two commands of the README quickstart, and a few conveniences.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: up test install install-test i18n lint clean

up: install                ## install and start the platform (Kunshan reference city) on http://127.0.0.1:8000
	$(BIN)/yiwang up

test: install-test         ## install test dependencies and run the whole suite (SQLite, PostgreSQL, browser)
	scripts/test.sh

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test,bench]"
	scripts/install-chromium.sh

i18n:                      ## extract messages and update the zh_CN / en catalogs
	scripts/i18n.sh

lint:
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var test-results .pytest_cache
