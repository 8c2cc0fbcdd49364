# Serverless Snacks. Quick start: `make demo` then `make test`. Everything installs into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: setup test lint demo local synth deploy diff bench bench-smoke soak mutate clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(NODE_INSTALLED): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

setup: $(INSTALLED)

## make test: every offline test (unit, state machine, infra + cdk-nag, e2e on the local stack)
test: $(INSTALLED)
	$(BIN)/python -m pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## make demo: the order flow on the embedded local stack (no AWS account, no Docker)
demo: $(INSTALLED)
	$(BIN)/snacks demo

## make local: serve the local stack on http://127.0.0.1:4566 until Ctrl-C
local: $(INSTALLED)
	$(BIN)/snacks local

synth: $(INSTALLED) $(NODE_INSTALLED)
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk synth --quiet

diff: $(INSTALLED) $(NODE_INSTALLED)
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk diff

deploy: $(INSTALLED) $(NODE_INSTALLED)
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk deploy

bench: $(INSTALLED)
	$(BIN)/python -m benchmarks

soak: $(INSTALLED)
	$(BIN)/python -m pytest tests/e2e/test_soak.py --soak-orders=$${ORDERS:-10000} -s

## make mutate: mutation testing of lambdas/order_service/{domain,adapters} against tests/unit (docs/testing.md)
mutate: $(INSTALLED)
	rm -rf .mutate && mkdir .mutate
	cp -r lambdas .mutate/src
	cp -r tests stacks snacks statemachines pyproject.toml .mutate/
	cd .mutate && ../$(BIN)/mutmut run --max-children 2 && ../$(BIN)/mutmut results --all true | tee results.txt

clean:
	rm -rf .mutate $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache .hypothesis
