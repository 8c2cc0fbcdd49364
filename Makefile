# Serverless Snacks. Quick start: `make demo` then `make test`. Everything installs into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# The template checkers live apart: checkov pins a boto3 the project cannot share.
LINT_VENV := $(VENV)/lint
LINT_INSTALLED := $(LINT_VENV)/.installed
NODE_INSTALLED := node_modules/.installed
# Installs come from the hash-locked requirements/*.lock (what CI tested), with uv (fast, and it
# checks every hash). --compile-bytecode writes the .pyc files at install, as pip does: uv does not by
# default, and with PYTHONDONTWRITEBYTECODE set no process would ever cache them, so every test
# worker and subprocess compiled aws_cdk's 2.4 MB __init__.py and ~200 other modules again (~3 s each). `make lock` re-resolves them after a change to pyproject.toml or lint.in.
UV_VERSION := 0.13.9
UV := $(BIN)/uv
CDK_OUT := cdk.out
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: setup test lint lint-templates lock demo local synth deploy diff destroy idle-cost bench bench-smoke soak mutate iam-mutate clean

$(INSTALLED): pyproject.toml requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes --compile-bytecode -r requirements/dev.lock
	# aws-cdk-lib and its dependency aws-cdk.cloud-assembly-schema both ship aws_cdk/cloud_assembly_schema/;
	# the library's copy must win (pip installs it last; uv's order differs): jsii otherwise fails with
	# "Unknown interface: aws-cdk-lib.cloud_assembly_schema.MetadataEntry" (tests/infra/test_nag.py's canary).
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes --compile-bytecode -r requirements/dev.lock --reinstall-package aws-cdk-lib
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

$(LINT_INSTALLED): requirements/lint.lock $(INSTALLED)
	$(UV) venv --quiet --allow-existing --python $(BIN)/python $(LINT_VENV)
	$(UV) pip install --quiet --python $(LINT_VENV)/bin/python --require-hashes --compile-bytecode -r requirements/lint.lock
	touch $@

# npm ci installs exactly package-lock.json (and fails if it disagrees with package.json).
$(NODE_INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## make lock: re-resolve the Python locks (after editing pyproject.toml or requirements/lint.in)
lock: $(INSTALLED)
	$(UV) pip compile pyproject.toml --extra dev --generate-hashes --universal --python-version 3.11 --quiet -o requirements/dev.lock
	$(UV) pip compile requirements/lint.in --generate-hashes --universal --python-version 3.11 --quiet -o requirements/lint.lock

setup: $(INSTALLED)

## make test: every offline test (unit, state machine, infra + cdk-nag, e2e on the local stack), on
## TEST_WORKERS processes (pytest-xdist; each module's tests stay together: tests/conftest.py)
# One worker more than cores: many tests wait on a subprocess or a poll, and a third worker fills
# those waits (2 cores, pytest -n N --dist loadgroup: N=2 131 s, N=3 116 s, N=4 136 s).
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
# The local stack takes its permissions from `cdk synth` (cached in .snacks-cache/): Node is needed.
test: $(INSTALLED) $(NODE_INSTALLED)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

lint: $(INSTALLED) $(LINT_INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(MAKE) --no-print-directory lint-templates

# The longest stage stacks/definitions.py allows (every name it suffixes at or under its limit).
LONGEST_STAGE = $(shell $(BIN)/python -c 'from stacks.definitions import MAX_STAGE_LENGTH; print("a" * MAX_STAGE_LENGTH)')

## make lint-templates: cfn-lint and checkov on the synthesized templates of the default and a named
## stage; cfn-lint also on the longest stage allowed (its names against the resource schemas' limits)
lint-templates: $(INSTALLED) $(LINT_INSTALLED) $(NODE_INSTALLED)
	rm -rf $(CDK_OUT)/lint
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk synth --quiet --output $(CDK_OUT)/lint/default
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk synth --quiet --output $(CDK_OUT)/lint/dev -c stage=dev
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk synth --quiet --output $(CDK_OUT)/lint/longest -c stage=$(LONGEST_STAGE)
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk synth --quiet --output $(CDK_OUT)/lint/storefront -c stage=store -c storefront=true
	$(LINT_VENV)/bin/cfn-lint --config-file .cfnlintrc.yaml -- $(CDK_OUT)/lint/default/*.template.json $(CDK_OUT)/lint/dev/*.template.json $(CDK_OUT)/lint/longest/*.template.json $(CDK_OUT)/lint/storefront/*.template.json
	$(LINT_VENV)/bin/checkov --quiet --compact --config-file .checkov.yaml -f $(CDK_OUT)/lint/default/ServerlessSnacks.template.json -f $(CDK_OUT)/lint/dev/ServerlessSnacks-dev.template.json -f $(CDK_OUT)/lint/storefront/ServerlessSnacks-store.template.json

## make demo: the order flow on the embedded local stack (no AWS account, no Docker)
demo: $(INSTALLED) $(NODE_INSTALLED)
	$(BIN)/snacks demo

## make local: serve the local stack on http://127.0.0.1:4566 until Ctrl-C
local: $(INSTALLED) $(NODE_INSTALLED)
	$(BIN)/snacks local

synth: $(INSTALLED) $(NODE_INSTALLED)
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk synth --quiet $(CDK_ARGS)

diff: $(INSTALLED) $(NODE_INSTALLED)
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk diff $(CDK_ARGS)

deploy: $(INSTALLED) $(NODE_INSTALLED)
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk deploy $(CDK_ARGS)

## make destroy [CDK_ARGS="-c stage=dev"]: delete the stage's stack (asks first); README "Tear down"
## lists what it keeps (Orders, Inventory) and how to remove that too
destroy: $(INSTALLED) $(NODE_INSTALLED)
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk destroy $(CDK_ARGS)

## make idle-cost [CDK_ARGS="-c stage=dev"]: the stage's monthly cost with no orders, counted from its template
idle-cost: $(INSTALLED) $(NODE_INSTALLED)
	rm -rf $(CDK_OUT)/idle-cost
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk synth --quiet --output $(CDK_OUT)/idle-cost $(CDK_ARGS)
	$(BIN)/python -m stacks.idle_cost $(CDK_OUT)/idle-cost/*.template.json

bench: $(INSTALLED) $(NODE_INSTALLED)
	$(BIN)/python -m benchmarks

soak: $(INSTALLED)
	$(BIN)/python -m pytest tests/e2e/test_soak.py --soak-orders=$${ORDERS:-10000} -s

## make mutate: mutation testing of lambdas/order_service/{domain,adapters} against tests/unit (docs/testing.md)
mutate: $(INSTALLED)
	rm -rf .mutate && mkdir .mutate
	cp -r lambdas .mutate/src
	cp -r tests stacks snacks statemachines pyproject.toml .mutate/
	cd .mutate && ../$(BIN)/mutmut run --max-children 2 && ../$(BIN)/mutmut results --all true | tee results.txt

## make iam-mutate: remove each policy statement of the synthesized template in turn, run the flows on it,
## require an access denial from a named test or a reason (docs/testing.md); not in CI: ~1 min per statement
iam-mutate: $(INSTALLED) $(NODE_INSTALLED)
	$(BIN)/python -m tests.iam_mutation $(ARGS)

clean:
	rm -rf .mutate .snacks-cache $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache .hypothesis
