"""Test-wide environment: no test can reach a real AWS account unless explicitly opted in."""

from __future__ import annotations

import os

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
