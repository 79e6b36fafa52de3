# kgtwin: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= $(shell scripts/find-python)
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint typecheck servers ui clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { scripts/find-python; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The stamps re-install when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --editable .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --editable '.[test]'
	@touch $@ $(VENV)/.installed

## run: the whole twin on embedded defaults, the explorer at http://127.0.0.1:8000/explorer
run: $(VENV)/.installed
	$(BIN)/kgtwin serve --demo

## test: provision the real test servers, then ruff, mypy, the import layers and pytest
test: $(VENV)/.installed-test servers lint typecheck
	$(BIN)/pytest

servers:
	bash tests/servers/provision.sh

## ui: rebuild the explorer and GraphiQL into api/ui_static from ui/package-lock.json (Node 20, npm);
## `make test` checks that the committed bundle is what this builds (tests/ui/test_bundle.py)
ui:
	scripts/build-ui

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
