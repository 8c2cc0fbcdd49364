"""Test-wide environment: no test can reach a real AWS account unless explicitly opted in."""

from __future__ import annotations

import os
from typing import Any

import pytest

from order_service import settings as env
from stacks import definitions

DEPLOYED = bool(os.environ.get("SNACKS_DEPLOYED_STACK"))

if not DEPLOYED:
    for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(variable, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
    )

# What the Lambda environment gives the handlers (names from the one place they are defined).
os.environ.setdefault(env.ORDERS_TABLE_NAME, definitions.ORDERS_TABLE)
os.environ.setdefault(env.EVENT_BUS_NAME, definitions.EVENT_BUS)
os.environ.setdefault(env.IDEMPOTENCY_TABLE_NAME, definitions.IDEMPOTENCY_TABLE)
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", env.METRICS_NAMESPACE)
# jsii (under aws-cdk-lib) prints a Node deprecation / end-of-life banner on every start otherwise
# (the second variable takes the list of major versions to keep quiet about).
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


# `make test` runs the suite on pytest-xdist workers with `--dist loadgroup`. A module's tests stay on
# one worker (they share its module-scoped local stack: one per process, moto's backends are
# process-wide), and every module that synthesizes the CDK app joins one group, so the app is
# synthesized once per run rather than once per worker (tests/support/synth.py caches per process).
_SYNTH_GROUP = "cdk-synth"
_SYNTHESIZING = ("tests/infra/", "tests/local/test_drift.py", "tests/iam/test_template_synth.py")


# The groups that take longest, longest first (per-group sums of `pytest -n 2 --dist loadgroup
# --durations=0`): xdist hands groups out in collection order, so a long group dispatched last would
# leave the other worker idle at the end (longest-processing-time-first scheduling).
_LONGEST_FIRST = (
    "tests/e2e/test_soak.py",
    "tests/bench/",
    _SYNTH_GROUP,
    "tests/statemachine/",
    "tests/e2e/",
    "tests/local/test_cli.py",
    "tests/local/test_lifecycle.py",
    "tests/console/",
)


def _group_of(item: pytest.Item) -> str:
    path = item.nodeid.split("::", 1)[0]
    return _SYNTH_GROUP if path.startswith(_SYNTHESIZING) else path


def _dispatch_rank(item: pytest.Item) -> int:
    group = _group_of(item)
    return next((rank for rank, prefix in enumerate(_LONGEST_FIRST) if group.startswith(prefix)), len(_LONGEST_FIRST))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_dispatch_rank)  # stable: within a rank, collection order
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(_group_of(item)))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print what the soak measured (captured otherwise, and on another process under xdist)."""
    lines = [
        line
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if getattr(report, "when", None) == "call" and "soak" in getattr(report, "keywords", {})
        for line in report.capstdout.splitlines()
        if line.strip()
    ]
    if lines:
        terminalreporter.write_sep("-", "soak figures")
        for line in lines:
            terminalreporter.write_line(line)
