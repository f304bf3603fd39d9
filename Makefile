# One command each: `make demo` runs the demo, `make test` runs the tests.
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8765

.PHONY: setup pulumi tools test unit act lint check demo bench stress simulator

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed  ## the virtualenv with the runtime and test dependencies

pulumi:  ## find or build the Pulumi CLI (prints its path)
	@scripts/pulumi-cli

# Go tools the tests run, pinned, built from the Go module proxy once into GOPATH/bin.
GOBIN := $(shell go env GOPATH 2>/dev/null)/bin
ACTIONLINT_VERSION := v1.7.12
ACT_VERSION := v0.2.89

# gitlab-ci-local runs the GitLab pipeline: the newest release Node 20 runs (4.74 needs Node 22).
GITLAB_CI_LOCAL_VERSION := 4.73.0
GITLAB_CI_LOCAL := $(VENV)/gitlab-ci-local/node_modules/.bin/gitlab-ci-local

tools:  ## actionlint and act (the GitHub workflow; need Go), gitlab-ci-local (the GitLab pipeline; npm), pinned, installed once
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "make tools: no npm here, so no gitlab-ci-local: its tests are skipped"; \
	elif ! $(GITLAB_CI_LOCAL) --version 2>/dev/null | grep -qx "$(GITLAB_CI_LOCAL_VERSION)"; then \
		npm install --silent --no-audit --no-fund --prefix $(VENV)/gitlab-ci-local \
			gitlab-ci-local@$(GITLAB_CI_LOCAL_VERSION); \
	fi
	@if ! command -v go >/dev/null 2>&1; then \
		echo "make tools: no Go here, so no act or actionlint: their tests are skipped"; \
	else \
		{ $(GOBIN)/actionlint -version 2>/dev/null | grep -q "^$(ACTIONLINT_VERSION)$$" || \
			GOFLAGS=-mod=mod go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION); } && \
		{ $(GOBIN)/act --version 2>/dev/null | grep -q " $(ACT_VERSION:v%=%)$$" || \
			GOFLAGS=-mod=mod go install github.com/nektos/act@$(ACT_VERSION); }; \
	fi

# Tests run side by side in JOBS workers (pytest-xdist), each group (a file, or a file's tests
# of one plugin set) whole, the longest first: tests/scheduling.py. PYTEST_ARGS adds to the
# command line (-x, --store-durations), never to the pytest runs the tests start themselves.
JOBS ?= 3

test: setup tools  ## every test: unit, simulator over HTTP, provider process, real pulumi CLI (both plugin sets), act, gitlab-ci-local
	scripts/pulumi-cli >/dev/null
	scripts/pulumi-cli --official >/dev/null || [ $$? -eq 3 -a -z "$$CI" ]  # CI has ../shared: must build
	PATH="$(GOBIN):$$PATH" $(PY) -m pytest -n $(JOBS) $(PYTEST_ARGS)

unit: setup  ## every test but the real-CLI ones; never builds the CLI
	$(PY) -m pytest -n $(JOBS) -m "not engine" $(PYTEST_ARGS)

act: setup tools  ## only the tests that run the GitHub workflow with act
	scripts/pulumi-cli >/dev/null
	PATH="$(GOBIN):$$PATH" $(PY) -m pytest -m act

lint: setup  ## ruff (lint and format), mypy, the import contracts between the rooms, the docs site
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir $(VENV)/site

check: lint test  ## what CI runs

PLUGINS ?= auto
demo: setup  ## the whole story on loopback with the real pulumi CLI (PLUGINS=official|stand-ins|auto)
	$(PY) -m scripts.demo --plugins $(PLUGINS)

bench: setup  ## benchmarks against the simulator; writes nothing, prints a table (ROWS=2,11: some)
	$(PY) -m scripts.bench $(if $(ROWS),--rows $(ROWS))

TRIES ?= 20
stress: setup  ## kill pulumi up midway TRIES times per plugin set, every core busy: late calls, survivors
	scripts/pulumi-cli >/dev/null
	scripts/pulumi-cli --official >/dev/null
	$(PY) -m scripts.stress_kill --tries $(TRIES)

simulator: setup  ## a simulated shop on 127.0.0.1:$(PORT) until Ctrl-C
	$(PY) -m sandbox.simulator --port $(PORT)
