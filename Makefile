# The two commands a newcomer needs: `make run` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export TIMELINE_API_KEYS ?= admin:demo-admin-key,write:demo-write-key,read:demo-read-key

.PHONY: run test lint typecheck pytest contract soak bench vendor screenshots clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## run: serve http://$(HOST):$(PORT)/api/v1 with the demo data (embedded SQLite + Redis)
run: $(BIN)/.installed
	TIMELINE_WEBHOOK_ALLOW_PRIVATE=$${TIMELINE_WEBHOOK_ALLOW_PRIVATE:-yes} exec $(BIN)/timeline serve --demo --host $(HOST) --port $(PORT)

## test: lint, type-check, run the whole test suite, then check the API against its contract
test: lint typecheck pytest contract

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

## pytest: every test; the browser tests keep each page's screenshot in artifacts/screenshots
pytest: $(BIN)/.installed
	TIMELINE_SCREENSHOTS=$${TIMELINE_SCREENSHOTS:-artifacts/screenshots} $(BIN)/pytest -q $(PYTEST_ARGS)

## contract: schemathesis, every check and phase, against a served demo (reports: artifacts/contract)
contract: $(BIN)/.installed
	BIN=$(BIN) ./scripts/contract.sh

## soak: PostgreSQL + gunicorn + RQ workers under 8 writers, with workers killed and Redis and
## the database cut (SOAK_STATEMENTS, default 20000; needs PostgreSQL and Redis)
soak: $(BIN)/.installed
	$(BIN)/pytest -q -s -m soak tests/soak

## bench: the benchmark scripts (figures go to bench/RESULTS.md by hand)
bench: $(BIN)/.installed
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/catchup.py
	$(BIN)/python bench/lag.py

## vendor: refresh the dashboard's third-party files from npm (exact versions, with licences)
vendor:
	./scripts/vendor.sh

## screenshots: retake the README's dashboard screenshots (needs Chromium)
screenshots: $(BIN)/.installed
	TIMELINE_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/browser

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
