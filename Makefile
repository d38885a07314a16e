# Two commands on a fresh machine with only python3: `make demo` and `make test`.
# `make check` is the quick loop while working: lint + the unit and validation tests (about a minute).
# Each creates .venv if missing and installs the project with the pinned versions first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo check test lint typecheck unit install clean bench

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/vaxdrill drill scenarios/raigad-2021-01-16.yaml

# Lint + the unit and validation tests (tests/unit, tests/validation), with the time they took.
check: $(STAMP)
	@start=$$(date +%s); \
	$(BIN)/ruff check . && $(BIN)/lint-imports && $(BIN)/pytest -q -m "unit or validation"; \
	status=$$?; echo "make check: $$(( $$(date +%s) - start )) s"; exit $$status

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# Every test: unit, validation, integration, e2e (slow ones included), on PYTEST_WORKERS processes
# (pytest-xdist). Each test file runs whole on one worker (--dist loadfile), so a module's server or
# cluster fixture starts once; files with slow tests are handed out first (tests/conftest.py).
# Tests must be xdist-safe: README "Running the full suite". `make unit PYTEST_WORKERS=0` runs serially.
PYTEST_WORKERS ?= 2
unit: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
