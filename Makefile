# vnbridge — one entry point for everything a newcomer runs.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: help venv demo test unit integration lint stack-up stack-status stack-down bench dashboards clean

help: ## show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip >/dev/null
	@$(BIN)/pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP) ## create .venv with vnbridge and its dev tools

demo: $(STAMP) ## bring the stack up, run the simulator and every component, print what it shows
	@bash deploy/local/stack.sh up
	@$(BIN)/python -m simulator demo

test: $(STAMP) lint ## lint, type-check, unit tests, then integration tests on the real stack
	@$(BIN)/pytest -q tests

unit: $(STAMP) ## unit tests only (no services)
	@$(BIN)/pytest -q tests/unit

integration: $(STAMP) ## integration tests only (starts the stack on demand)
	@$(BIN)/pytest -q tests/integration

lint: $(STAMP) ## ruff, mypy --strict, import-linter contracts
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check . >/dev/null || { $(BIN)/ruff format --diff . | head -40; exit 1; }
	@$(BIN)/mypy
	@$(BIN)/lint-imports --no-cache >/dev/null || $(BIN)/lint-imports --no-cache

stack-up: ## start Kafka, Elasticsearch, Prometheus, etcd, kube-apiserver on 127.0.0.1 (writes .stack/env)
	@bash deploy/local/stack.sh up

stack-status: ## one line per stack service
	@bash deploy/local/stack.sh status

stack-down: ## stop exactly the stack processes started by stack-up
	@bash deploy/local/stack.sh down

bench: $(STAMP) ## run the benchmarks (starts the stack; rsyslog from Debian); prints figures, writes .bench/results.json
	@command -v rsyslogd >/dev/null && test -e /usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so || \
		{ apt-get update -qq && apt-get install -y -qq rsyslog rsyslog-kafka >/dev/null; } || \
		echo "bench: could not install rsyslog + rsyslog-kafka; the rsyslog comparison will be skipped"
	@bash deploy/local/stack.sh up >/dev/null
	@$(BIN)/python -m tests.bench $(BENCH)

dashboards: $(STAMP) ## regenerate grafana/*.json from grafana/generate.py (grafana-foundation-sdk)
	@$(BIN)/python grafana/generate.py

clean: stack-down ## stop the stack and remove .stack/ and .venv/
	rm -rf .stack $(VENV)
