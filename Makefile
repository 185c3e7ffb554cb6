# The two commands of the README quickstart, and a few conveniences.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: up test install install-test upgrade lock i18n lint clean

up: install                ## install and start the platform (Kunshan reference city) on http://127.0.0.1:8000
	$(BIN)/yiwang up

test: install-test lint    ## install test dependencies, check the style, run the whole suite (SQLite, PostgreSQL, browser)
	scripts/test.sh

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The exact releases the suite last passed with (requirements/*.lock, every file hash checked),
# then yiwang itself without resolving anything again.
install: $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements/app.lock
	$(BIN)/pip install --quiet --no-deps -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements/test.lock
	$(BIN)/pip install --quiet --no-deps -e .
	scripts/install-chromium.sh

upgrade: $(BIN)/python     ## take the newest releases pyproject.toml's ranges allow, install them, run the suite
	scripts/lock.sh --upgrade
	$(MAKE) test

lock: $(BIN)/python        ## re-resolve the lock files after a range in pyproject.toml changed (keeps other pins)
	scripts/lock.sh

i18n:                      ## extract messages and update the zh_CN / en catalogs
	scripts/i18n.sh

lint:                      ## ruff (rules and format), mypy (strict on core), import-linter contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var test-results .pytest_cache
