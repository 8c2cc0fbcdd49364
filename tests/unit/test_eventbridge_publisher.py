"""EventBridgePublisher on its own: what it returns, how it backs off, what it raises.

Successful publishing goes to moto's EventBridge. moto never fails an entry of a valid request,
so PutEvents' partial failures are canned answers in the documented shape: HTTP 200 with
``FailedEntryCount`` and, for each failed entry, an ``ErrorCode`` and ``ErrorMessage`` instead of
an ``EventId`` (Amazon EventBridge API Reference, PutEvents / PutEventsResultEntry).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from order_service.adapters import eventbridge_publisher
from order_service.adapters.eventbridge_publisher import BASE_BACKOFF_SECONDS, EventBridgePublisher
from order_service.domain.events import OrderCreated
from order_service.domain.order import OrderRecord, OrderRequest, SnackItem
from order_service.domain.ports import EventPublishFailed
from stacks import definitions
from tests.unit.conftest import Aws, aws_client

EVENT = OrderCreated.from_record(
    OrderRecord.new(
        "o-1",
        OrderRequest(
            customer_name="A", snack_items=(SnackItem("Chips", 1, Decimal("1.99")),), total_amount=Decimal("1.99")
        ),
        datetime(2024, 1, 2, tzinfo=UTC),
    )
)


def rejected(code: str) -> dict[str, Any]:
    return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": code, "ErrorMessage": "injected"}]}


class Answers:
    """put_events that gives the canned answers in turn, then the real (moto) call."""

    def __init__(self, client: Any, *answers: dict[str, Any] | Exception) -> None:
        self._real = client.put_events
        self._answers = list(answers)
        self.results: list[Any] = []

    def __call__(self, **kwargs: Any) -> Any:
        if self._answers:
            answer = self._answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        result = self._real(**kwargs)
        self.results.append(result)
        return result


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    monkeypatch.setattr(eventbridge_publisher.random, "random", lambda: 0.5)
    return []


def publisher(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, sleeps: list[float], *answers: Any, attempts: int = 3
) -> tuple[EventBridgePublisher, Answers]:
    client = aws_client("events")
    put_events = Answers(client, *answers)
    monkeypatch.setattr(client, "put_events", put_events)
    return EventBridgePublisher(client, definitions.EVENT_BUS, attempts=attempts, sleep=sleeps.append), put_events


def test_returns_the_event_id_eventbridge_assigned(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    events, put_events = publisher(aws, monkeypatch, sleeps)
    event_id = events.publish_order_created(EVENT)
    assert event_id == put_events.results[0]["Entries"][0]["EventId"]
    assert sleeps == []


def test_backs_off_exponentially_with_jitter_between_attempts(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    events, _ = publisher(aws, monkeypatch, sleeps, rejected("ThrottlingException"), rejected("InternalFailure"))
    events.publish_order_created(EVENT)
    # base x 2^(attempt-1) x (1 + jitter), jitter fixed at 0.5
    assert sleeps == pytest.approx([BASE_BACKOFF_SECONDS * 1.5, BASE_BACKOFF_SECONDS * 2 * 1.5])


def test_a_permanently_rejected_entry_raises_at_once_naming_the_code(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    events, put_events = publisher(aws, monkeypatch, sleeps, rejected("AccessDeniedException"))
    with pytest.raises(EventPublishFailed, match=r"^entry rejected: AccessDeniedException$"):
        events.publish_order_created(EVENT)
    assert put_events.results == []  # no second attempt


def test_retryable_errors_until_the_last_attempt_raise_naming_the_service_error(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "PutEvents")
    events, put_events = publisher(aws, monkeypatch, sleeps, throttled, throttled, attempts=2)
    # The service's code and message (an IAM denial explains itself there), not botocore's class name.
    with pytest.raises(EventPublishFailed, match=r"^ThrottlingException: slow$"):
        events.publish_order_created(EVENT)
    assert put_events.results == []


def test_no_attempts_raise_saying_so(aws: Aws, monkeypatch: pytest.MonkeyPatch, sleeps: list[float]) -> None:
    events, _ = publisher(aws, monkeypatch, sleeps, attempts=0)
    with pytest.raises(EventPublishFailed, match=r"^no attempt made$"):
        events.publish_order_created(EVENT)


def test_a_failed_entry_without_an_error_code_is_an_unknown_error(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    events, put_events = publisher(aws, monkeypatch, sleeps, {"FailedEntryCount": 1, "Entries": [{}]})
    with pytest.raises(EventPublishFailed, match=r"^entry rejected: UnknownError$"):
        events.publish_order_created(EVENT)
    assert put_events.results == []
