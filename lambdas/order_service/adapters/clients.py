"""AWS clients, created once per execution environment and reused across invocations.

Endpoints follow the standard configuration chain (``AWS_ENDPOINT_URL`` included), so the same
code talks to AWS or to the local stack without a branch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient

# Standard retry mode: bounded, jittered retries on throttling, well inside a step's timeout.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


_session: boto3.session.Session | None = None


def _client(service: str) -> Any:
    # One session for all clients: a session caches the loaded endpoint and service models, and a
    # second session would load them again (~50 ms of cold start, measured in benchmarks/).
    global _session
    if _session is None:
        _session = boto3.session.Session()
    return _session.client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]


def dynamodb_client() -> DynamoDBClient:
    return _client("dynamodb")  # type: ignore[no-any-return]


def events_client() -> EventBridgeClient:
    return _client("events")  # type: ignore[no-any-return]
