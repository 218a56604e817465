# Lingua scheduler — every command the README, CI and developers use.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUF_VERSION := 1.75.0
BUF := .tools/node_modules/.bin/buf
WS_PORT ?= 5010
CONSOLE_PORT ?= 8090
TEAM_PORT ?= 50055
RUN_DIR ?= run
NODES ?= 6
CLIENTS ?= 3
PYTEST_ARGS ?=
CHAOS_ARGS ?=

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: pyproject.toml
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	@touch $@

.PHONY: deps
deps: $(VENV)/.installed ## Install Python packages (into .venv) and redis-server
	@scripts/ensure_redis.sh

.PHONY: browser-deps
browser-deps: ## Install Debian's chromium for the console's browser test (CI runs it)
	@scripts/ensure_chromium.sh

$(BUF):
	@scripts/ensure_node.sh
	npm install --silent --no-audit --no-fund --prefix .tools @bufbuild/buf@$(BUF_VERSION)

.PHONY: up
up: deps ## Start the whole suite locally (private redis, all services, 2 gateways, the team API on :50055, the console on :8090; DEMO=1 adds a simulated fleet)
	$(PY) -m tools.launcher --ws-port $(WS_PORT) --console-port $(CONSOLE_PORT) --team-port $(TEAM_PORT) --run-dir $(RUN_DIR) $(if $(DEMO),--demo --nodes $(NODES) --clients $(CLIENTS))

.PHONY: test
test: deps ## Run the tests (real redis-server, real cluster, real gRPC and WebSockets)
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: gen
gen: $(VENV)/.installed ## Regenerate the Python code for protos/
	PYTHON=$(PY) scripts/gen_protos.sh gen

.PHONY: check
check: deps $(BUF) ## Lint, format check, types, buf lint, generated-code drift
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(BUF) lint
	PYTHON=$(PY) scripts/check_gen.sh

.PHONY: fmt
fmt: $(VENV)/.installed ## Format and auto-fix
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

.PHONY: bench
bench: deps ## Run the benchmark (prints a table, writes bench/results/*.json)
	$(PY) -m bench

.PHONY: chaos
chaos: deps ## Kill, restart and flap each part of the stack under load; check nothing is lost (a table, bench/results/chaos-*.json)
	$(PY) -m tools.chaos $(CHAOS_ARGS)

.PHONY: clean
clean: ## Remove the virtualenv, tools and caches
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache .hypothesis

.PHONY: k8s-check
k8s-check: $(VENV)/.installed ## Build every k8s/ overlay offline, validate schemas and the deploy rules
	PY=$(PY) bash scripts/validate_k8s.sh
	$(PY) -m pytest tests/deploy -q
