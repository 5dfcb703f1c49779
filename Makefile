# GovChain — the two commands a newcomer needs: `make up` and `make test`.
# Both create the virtual environment and install on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= .govchain
STAMP  := $(VENV)/.installed

.PHONY: help install browser up lint test test-fast demo bench bench-chains crash clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install GovChain with its test tools

BROWSER_PACKAGES = $(if $(shell command -v chromium),,chromium) \
	$(if $(shell fc-list :lang=zh 2>/dev/null),,fonts-wqy-zenhei)

browser:  ## install Debian's chromium and a CJK font for the browser tests, each if missing and possible
	@missing="$(strip $(BROWSER_PACKAGES))"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $$missing for the browser tests (Debian packages)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "note: $$missing not installed; browser tests are skipped without chromium, Chinese shows as boxes without the font"; fi

up: $(STAMP)  ## run the platform on this machine (embedded NATS + SQLite in $(DATA)/)
	$(BIN)/govchain up --data $(DATA)

lint: $(STAMP)  ## the gate: ruff (format and lint), mypy on the kernel and the services (strict on protocol, crypto, transparency)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/python .ci/typecheck

test: $(STAMP) browser lint  ## lint, then the whole test suite against real NATS (and PostgreSQL where it answers)
	$(BIN)/python -m pytest

test-fast: $(STAMP)  ## unit tests only
	$(BIN)/python -m pytest tests/unit -q

demo: $(STAMP)  ## run the scripted demo on a throw-away platform and print its summary
	$(BIN)/govchain demo

bench: $(STAMP)  ## benchmark the ledger against raw JetStream (table + JSON line; BENCH_ARGS=--quick for a smoke run)
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-chains: $(STAMP)  ## aggregate rate of 1, 2 and 4 chains on a 3-node NATS cluster (CHAINS_ARGS=--chains 1,2 --duration 5)
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	$(BIN)/python -m bench.chains $(CHAINS_ARGS)

CRASH_KILLS ?= 20
CRASH_CRYPTO ?= intl

crash: $(STAMP)  ## crash injection, long run: kill -9 under load CRASH_KILLS times per mode (CRASH_CRYPTO=gm: a 国密 chain; GOVCHAIN_CRASH_SEED=<seed> replays)
	GOVCHAIN_CRASH_KILLS=$(CRASH_KILLS) GOVCHAIN_CRASH_CRYPTO=$(CRASH_CRYPTO) $(BIN)/python -m pytest tests/crash -s

clean:  ## remove the virtual environment and local data
	rm -rf $(VENV) $(DATA) .pytest_cache .hypothesis
