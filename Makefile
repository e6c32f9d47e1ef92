# One entry point for people and CI. Everything runs inside .venv, created on demand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test test-fast lint bench demo flower migrate dist clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

# ruff (style, complexity), mypy, and the import contracts of pyproject.toml.
lint: install
	$(BIN)/ruff check syncd celeryapp tests bench
	$(BIN)/ruff format --check syncd celeryapp tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# The whole suite: unit, integration (real PostgreSQL/Redis/RabbitMQ/MariaDB), acceptance,
# slow loops. Unit and integration tests keep to their own databases, prefixes and ports, so
# they run on both cores (pytest-xdist); acceptance and fault tests judge processes by
# timing windows (TTLs, ticks, due times) and run one at a time.
TEST_WORKERS ?= 2
test: install lint
	$(BIN)/pytest -n $(TEST_WORKERS) --durations=20 tests/unit tests/integration $(PYTEST_ARGS)
	$(BIN)/pytest --durations=30 tests/acceptance tests/faults $(PYTEST_ARGS)

# Pure logic only: no services needed.
test-fast: install
	$(BIN)/pytest tests/unit -q $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/beat.py
	$(BIN)/python bench/beat_others.py
	$(BIN)/python bench/watch.py

# Flower with basic auth from FLOWER_BASIC_AUTH and --url-prefix=flower; refuses without it.
# Listens on 127.0.0.1 unless FLOWER_ADDRESS says otherwise (make flower FLOWER_ADDRESS=0.0.0.0).
FLOWER_ADDRESS ?= 127.0.0.1
flower: install
	FLOWER_ADDRESS=$(FLOWER_ADDRESS) $(BIN)/python -m celeryapp.flower

migrate: install
	$(BIN)/syncd migrate

demo: install
	$(BIN)/python -m syncd.demo

# The sdist and the wheel users install (the wheel carries the schema and migrations).
dist: install
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache syncd.db dist build
