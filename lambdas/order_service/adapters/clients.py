"""AWS clients, created once per execution environment and reused across invocations.

Endpoints follow the standard configuration chain (``AWS_ENDPOINT_URL`` included), so the same
code talks to AWS or to the local stack without a branch.

Every client refuses to *start* a call that could outlast the invocation (``DeadlineTooClose``,
a transient error): a function answers, or its step is retried, instead of being killed by its
timeout half-way through a write. The worst case of one call is computed from the SDK settings
below, the same way botocore's standard retry mode bounds its attempts and backoff.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from order_service.adapters.deadline import INVOCATION_DEADLINE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

# DynamoDB and EventBridge answer in milliseconds; a second to connect and one to answer are
# generous, and short enough that three attempts fit well inside the functions' timeouts (and the
# workflow, with its AuthorizePayment step, inside Express's five minutes: tests/infra/test_time_budget.py).
CONNECT_TIMEOUT_SECONDS = 1
READ_TIMEOUT_SECONDS = 1
MAX_ATTEMPTS = 3
# botocore standard mode: the n-th retry waits random() x min(20, 2 ** (n - 1)) seconds at most.
SDK_MAX_BACKOFF_SECONDS = 20


def retry_backoff_ceiling_seconds(attempts: int = MAX_ATTEMPTS) -> float:
    """The longest total backoff botocore's standard mode can sleep between ``attempts`` tries."""
    return float(sum(min(SDK_MAX_BACKOFF_SECONDS, 2 ** (retry - 1)) for retry in range(1, attempts)))


def call_worst_case_seconds() -> float:
    """The longest one AWS call can take: every attempt timing out, with the longest backoffs."""
    per_attempt = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS
    return MAX_ATTEMPTS * per_attempt + retry_backoff_ceiling_seconds()


# Time kept back after the last call to answer (serialise the reply, flush logs and metrics).
ANSWER_MARGIN_SECONDS = 1.0

CLIENT_CONFIG = Config(
    # total_max_attempts counts the first try; botocore's max_attempts would count retries only.
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
)


_session: boto3.session.Session | None = None


def require_time_for_calls(calls: int) -> None:
    """Raise ``DeadlineTooClose`` unless ``calls`` more AWS calls, each at its worst, and the answer fit."""
    INVOCATION_DEADLINE.require(calls * call_worst_case_seconds() + ANSWER_MARGIN_SECONDS)


def _refuse_calls_past_the_deadline(**_: Any) -> None:
    require_time_for_calls(1)


def _shared_session() -> boto3.session.Session:
    # One session for all clients: a session caches the loaded endpoint and service models, and a
    # second session would load them again (~50 ms of cold start, measured in benchmarks/).
    global _session
    if _session is None:
        _freeze_what_init_imported()
        _session = boto3.session.Session()
    return _session


def _freeze_what_init_imported() -> None:
    """Move every object alive now out of the cyclic collector's reach (``gc.freeze``).

    The first client is created once the handler module's imports are done: what exists then (modules,
    classes, Powertools' and our module-level objects) lives as long as the execution environment.
    Loading the first service model allocates enough to start CPython's first full collection, which
    walks every tracked object (~60,000) to free next to nothing: about 25 ms of CPU in the processor's
    init (``python -m benchmarks.init_gc``). Frozen, that collection and every later one, during init or
    an invocation, walk only what came after. The price: cyclic garbage already unreachable at this
    moment is never collected (reference counting still frees everything else), a few dozen objects.
    """
    gc.freeze()


def _client(service: str) -> Any:
    client = _shared_session().client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]
    client.meta.events.register("before-call", _refuse_calls_past_the_deadline)
    return client


def dynamodb_client() -> DynamoDBClient:
    return _client("dynamodb")  # type: ignore[no-any-return]


def events_client() -> EventBridgeClient:
    return _client("events")  # type: ignore[no-any-return]


def secretsmanager_client() -> SecretsManagerClient:
    return _client("secretsmanager")  # type: ignore[no-any-return]


def management_client(endpoint_url: str) -> Any:
    """API Gateway's Management API of one WebSocket stage (its callback URL is the endpoint)."""
    client = _shared_session().client("apigatewaymanagementapi", endpoint_url=endpoint_url, config=CLIENT_CONFIG)
    client.meta.events.register("before-call", _refuse_calls_past_the_deadline)
    return client
