# vnbridge — one entry point for everything a newcomer runs.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the Rust core's build cache lives outside the clone, so a fresh clone builds warm
export CARGO_TARGET_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/vnbridge/cargo-target
CORE_SRC := core/Cargo.toml $(wildcard core/src/*.rs)

.PHONY: help venv demo test unit integration lint stack-up stack-status stack-down bench chaos mutants lock chart-schema dashboards clean

help: ## show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(CORE_SRC)
	@command -v cargo >/dev/null || { echo "make: cargo is required to build the Rust core (https://rustup.rs)"; exit 2; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip >/dev/null
	@$(BIN)/pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP) ## create .venv with vnbridge and its dev tools

demo: $(STAMP) ## bring the stack up, run the simulator and every component, print what it shows
	@bash deploy/local/stack.sh up
	@$(BIN)/python -m simulator demo

test: $(STAMP) lint ## lint, type-check, cargo test, unit tests, then integration tests on the real stack
	@cd core && out=$$(cargo test -q --no-default-features 2>&1) || { echo "$$out"; exit 1; }; \
		echo "$$out" | grep '^test result' | head -n 1
	@$(BIN)/pytest -q tests

unit: $(STAMP) ## unit tests only (no services)
	@$(BIN)/pytest -q tests/unit

integration: $(STAMP) ## integration tests only (starts the stack on demand)
	@$(BIN)/pytest -q tests/integration

lint: $(STAMP) ## ruff, mypy --strict, import-linter contracts, cargo fmt + clippy
	@cd core && cargo fmt --check && cargo clippy -q --no-default-features --all-targets -- -D warnings && cargo clippy -q --all-targets -- -D warnings
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

bench: $(STAMP) ## run the benchmarks (starts the stack; rsyslog from Debian); BENCH=peers: Vector, the OTel Collector, Filebeat beside logbridge; writes .bench/results.json
	@command -v rsyslogd >/dev/null && test -e /usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so || \
		{ apt-get update -qq && apt-get install -y -qq rsyslog rsyslog-kafka >/dev/null; } || \
		echo "bench: could not install rsyslog + rsyslog-kafka; the rsyslog comparison will be skipped"
	@bash deploy/local/stack.sh up >/dev/null
	@$(BIN)/python -m tests.bench $(BENCH)

chaos: $(STAMP) ## 1,000,000 records through 2 replicas while replicas, Elasticsearch and a broker die (CHAOS=n records); writes chaos_* to .bench/results.json
	@$(BIN)/python -m tests.chaos $(CHAOS)

mutants: $(STAMP) ## one-line mutations of the product, each in a copy of the tree: prints the survivors (not part of make test)
	@$(BIN)/python -m tests.mutants $(MUTANTS)

lock: $(STAMP) ## regenerate requirements.lock (the image's dependencies, versions and hashes) from pyproject.toml
	@$(BIN)/pip-compile -q --generate-hashes --strip-extras --allow-unsafe --no-emit-find-links \
		--no-emit-index-url -o requirements.lock pyproject.toml

chart-schema: $(STAMP) ## regenerate deploy/helm/vnbridge/values.schema.json from the services' settings models
	@$(BIN)/python deploy/helm/schema.py

dashboards: $(STAMP) ## regenerate grafana/*.json from grafana/generate.py (grafana-foundation-sdk)
	@$(BIN)/python grafana/generate.py

clean: stack-down ## stop the stack and remove .stack/ and .venv/
	rm -rf .stack $(VENV)
