"""Recovery against moto: reconcile stale NEW orders, parse dead letters, replay the DLQ."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from order_service.adapters.dynamodb_orders import DynamoDbOrderRepository
from order_service.adapters.eventbridge_publisher import EventBridgePublisher
from order_service.adapters.sqs_dead_letters import SqsDeadLetterQueue
from order_service.domain.events import ORDER_CREATED_DETAIL_TYPE, ORDER_EVENT_SOURCE, OrderCreated
from order_service.domain.order import OrderRecord, OrderRequest, OrderStatus, SnackItem, utc_timestamp
from order_service.domain.order_recovery import (
    ALREADY_PROCESSED,
    DELIVERY_FAILURE,
    KEPT,
    REPLAYED,
    WORKFLOW_FAILURE,
    WOULD_REPLAY,
    DeadLetter,
    DeadLetterReplayer,
    reconcile_stale_orders,
)
from order_service.settings import STALE_AFTER_SECONDS
from stacks import definitions
from tests.unit.conftest import Aws, FakeLambdaContext, aws_client, fresh_module

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
STALE_AFTER = timedelta(minutes=5)
REQUEST = OrderRequest(
    customer_name="Ophelia Hiddenname",
    snack_items=(SnackItem("Chips", 2, Decimal("1.99")), SnackItem("Soda", 1, Decimal("2.49"))),
    total_amount=Decimal("6.47"),
)


class SpyPublisher:
    """Records what is published, then hands it to the real publisher (moto)."""

    def __init__(self, inner: EventBridgePublisher) -> None:
        self.inner = inner
        self.published: list[OrderCreated] = []

    def publish_order_created(self, event: OrderCreated) -> str:
        self.published.append(event)
        return self.inner.publish_order_created(event)


@pytest.fixture
def repository(aws: Aws) -> DynamoDbOrderRepository:
    return DynamoDbOrderRepository(aws_client("dynamodb"), definitions.ORDERS_TABLE)


@pytest.fixture
def publisher(aws: Aws) -> SpyPublisher:
    return SpyPublisher(EventBridgePublisher(aws_client("events"), definitions.EVENT_BUS, sleep=lambda _: None))


def add_order(
    repository: DynamoDbOrderRepository,
    order_id: str,
    age: timedelta,
    status: OrderStatus = OrderStatus.NEW,
    updated_age: timedelta | None = None,
    **changes: Any,
) -> OrderRecord:
    record = OrderRecord.new(order_id, REQUEST, NOW - age)
    record = dataclasses.replace(record, status=status, **changes)
    if updated_age is not None:
        record = dataclasses.replace(record, updated_at=utc_timestamp(NOW - updated_age))
    repository.create(record)
    return record


def get(repository: DynamoDbOrderRepository, order_id: str) -> OrderRecord:
    record = repository.get(order_id)
    assert record is not None
    return record


# --- reconcile ---------------------------------------------------------------------------------


def test_stale_new_orders_are_republished_and_fresh_ones_skipped(
    aws: Aws, repository: DynamoDbOrderRepository, publisher: SpyPublisher
) -> None:
    add_order(repository, "stale-old", timedelta(hours=2))
    add_order(repository, "stale", timedelta(minutes=6))
    add_order(repository, "fresh", timedelta(minutes=4))
    add_order(repository, "just-replayed", timedelta(hours=3), updated_age=timedelta(minutes=1))
    add_order(repository, "processed", timedelta(hours=1), status=OrderStatus.PROCESSED)
    add_order(repository, "failed", timedelta(hours=1), status=OrderStatus.FAILED)

    report = reconcile_stale_orders(repository, publisher, now=NOW, stale_after=STALE_AFTER)

    assert report.stale_found == 2
    assert report.republished == 2
    assert report.publish_failures == 0
    assert report.order_ids == ["stale-old", "stale"]  # oldest first
    assert report.oldest_created_at == utc_timestamp(NOW - timedelta(hours=2))
    events = aws.published_events()
    assert sorted(e["detail"]["orderId"] for e in events) == ["stale", "stale-old"]
    assert {e["detail-type"] for e in events} == {ORDER_CREATED_DETAIL_TYPE}
    assert {e["source"] for e in events} == {ORDER_EVENT_SOURCE}
    assert all("Hiddenname" not in json.dumps(e) for e in events)
    # re-publishing does not touch the orders
    assert get(repository, "stale").status is OrderStatus.NEW


@pytest.mark.parametrize(
    "settled", [OrderStatus.PROCESSED, OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.FAILED]
)
def test_only_new_orders_are_republished_never_a_settled_or_failed_one(
    aws: Aws, repository: DynamoDbOrderRepository, publisher: SpyPublisher, settled: OrderStatus
) -> None:
    """However stale: a REJECTED or CANCELLED order re-published would start a workflow for an order that
    is over (FAILED ones go round again only through a DLQ replay). Before this test only the soak caught
    a reconciler that also re-published REJECTED/CANCELLED orders (issue 17, item 19)."""
    add_order(repository, "stale-new", timedelta(hours=2))
    add_order(repository, "stale-other", timedelta(hours=3), status=settled, updated_age=timedelta(hours=3))

    report = reconcile_stale_orders(repository, publisher, now=NOW, stale_after=STALE_AFTER)

    assert report.order_ids == ["stale-new"]
    assert [event.order_id for event in publisher.published] == ["stale-new"]
    assert [event["detail"]["orderId"] for event in aws.published_events()] == ["stale-new"]


def test_dry_run_publishes_nothing(aws: Aws, repository: DynamoDbOrderRepository, publisher: SpyPublisher) -> None:
    add_order(repository, "stale-1", timedelta(hours=1))
    add_order(repository, "stale-2", timedelta(hours=2))

    report = reconcile_stale_orders(repository, publisher, now=NOW, stale_after=STALE_AFTER, dry_run=True)

    assert report.stale_found == 2
    assert report.republished == 0
    assert report.order_ids == ["stale-2", "stale-1"]
    assert publisher.published == []
    assert aws.published_events() == []


@pytest.mark.parametrize("limit", [0, 1, 3])
def test_limit_is_respected_oldest_first(
    aws: Aws, repository: DynamoDbOrderRepository, publisher: SpyPublisher, limit: int
) -> None:
    for minutes in (10, 40, 20, 30, 50):
        add_order(repository, f"stale-{minutes}", timedelta(minutes=minutes))

    report = reconcile_stale_orders(repository, publisher, now=NOW, stale_after=STALE_AFTER, limit=limit)

    expected = ["stale-50", "stale-40", "stale-30", "stale-20", "stale-10"][:limit]
    assert report.stale_found == limit
    assert report.order_ids == expected
    assert [event.order_id for event in publisher.published] == expected
    assert len(aws.published_events()) == limit


def test_nothing_stale_is_an_empty_report(repository: DynamoDbOrderRepository, publisher: SpyPublisher) -> None:
    add_order(repository, "fresh", timedelta(seconds=10))
    report = reconcile_stale_orders(repository, publisher, now=NOW, stale_after=STALE_AFTER)
    assert (report.stale_found, report.republished, report.oldest_created_at, report.order_ids) == (0, 0, None, [])
    assert publisher.published == []


def test_publish_failures_are_counted_not_raised(
    repository: DynamoDbOrderRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_order(repository, "stale-1", timedelta(hours=1))
    add_order(repository, "stale-2", timedelta(hours=2))
    client = aws_client("events")
    events = EventBridgePublisher(client, definitions.EVENT_BUS, sleep=lambda _: None)

    def denied(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "x"}}, "PutEvents")

    monkeypatch.setattr(client, "put_events", denied)

    report = reconcile_stale_orders(repository, events, now=NOW, stale_after=STALE_AFTER)

    assert report.stale_found == 2
    assert report.republished == 0
    assert report.publish_failures == 2


def test_replayed_orders_carry_the_replay_count(
    aws: Aws, repository: DynamoDbOrderRepository, publisher: SpyPublisher
) -> None:
    add_order(repository, "replayed", timedelta(hours=1), replay_count=2)
    reconcile_stale_orders(repository, publisher, now=NOW, stale_after=STALE_AFTER)
    [event] = aws.published_events()
    assert event["detail"]["replay"] == 2


def test_reconciler_handler_reports_and_republishes(
    aws: Aws,
    repository: DynamoDbOrderRepository,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(STALE_AFTER_SECONDS, "60")
    now = datetime.now(UTC)
    old = OrderRecord.new("handler-stale", REQUEST, now - timedelta(minutes=10))
    young = OrderRecord.new("handler-fresh", REQUEST, now - timedelta(seconds=5))
    repository.create(old)
    repository.create(young)
    module = fresh_module("order_service.handlers.order_reconciler")

    result = module.handler({}, lambda_context)

    assert result == {
        "staleFound": 1,
        "republished": 1,
        "publishFailures": 0,
        "oldestCreatedAt": old.created_at,
    }
    assert [e["detail"]["orderId"] for e in aws.published_events()] == ["handler-stale"]


# --- dead letters: parsing -----------------------------------------------------------------------

ORIGINAL_EVENT = {
    "version": "0",
    "id": "event-1",
    "detail-type": ORDER_CREATED_DETAIL_TYPE,
    "source": ORDER_EVENT_SOURCE,
    "time": "2024-06-01T11:00:00Z",
    "detail": {"orderId": "o-1", "itemCount": 3, "totalAmount": "6.47", "createdAt": "2024-06-01T11:00:00.000Z"},
}


def workflow_failure(order_id: Any = "o-1", **changes: Any) -> dict[str, Any]:
    """The message body the state machine's SendToDLQ state builds."""
    body = {
        "kind": WORKFLOW_FAILURE,
        "orderId": order_id,
        "failedStep": "Fulfil",
        "error": "FulfillmentRejected",
        "cause": '{"errorMessage": "cannot be supplied"}',
        "executionArn": "arn:aws:states:us-east-1:123456789012:express:order-fulfillment:e1:r1",
        "failedAt": "2024-06-01T11:00:01.000Z",
        # $$.Execution.Input: what the order-created rule's input transformer makes of the event.
        "originalEvent": {"id": ORIGINAL_EVENT["id"], "detail": ORIGINAL_EVENT["detail"]},
    }
    body.update(changes)
    return body


def delivery_failure(order_id: str = "o-1") -> dict[str, Any]:
    """What EventBridge's target DLQ receives: the event itself."""
    return {**ORIGINAL_EVENT, "detail": {**ORIGINAL_EVENT["detail"], "orderId": order_id}}


DELIVERY_ATTRIBUTES = {
    "ERROR_CODE": "SDK_CLIENT_ERROR",
    "ERROR_MESSAGE": "Unable to start execution",
    "RULE_ARN": "arn:aws:events:us-east-1:123456789012:rule/serverless-snacks-orders/x",
}


def test_parse_workflow_failure() -> None:
    body = json.dumps(workflow_failure())
    letter = DeadLetter.parse("m-1", "r-1", body, {})
    assert letter == DeadLetter(
        message_id="m-1",
        receipt_handle="r-1",
        kind=WORKFLOW_FAILURE,
        order_id="o-1",
        failed_step="Fulfil",
        error="FulfillmentRejected",
        cause='{"errorMessage": "cannot be supplied"}',
        execution_arn="arn:aws:states:us-east-1:123456789012:express:order-fulfillment:e1:r1",
        failed_at="2024-06-01T11:00:01.000Z",
        body=body,
    )


def test_the_parsed_workflow_failure_matches_what_the_state_machine_sends() -> None:
    """Every field DeadLetter.parse reads is one the ASL's SendToDLQ state writes."""
    message = definitions.load_asl()["States"]["SendToDLQ"]["Parameters"]["MessageBody"]
    assert message["kind"] == WORKFLOW_FAILURE
    written = {key.removesuffix(".$") for key in message}
    assert {"kind", "orderId", "failedStep", "error", "cause", "executionArn", "failedAt"} <= written


def test_parse_workflow_failure_with_missing_or_odd_fields() -> None:
    letter = DeadLetter.parse("m", "r", json.dumps({"kind": WORKFLOW_FAILURE, "orderId": 42}), {})
    assert letter.kind == WORKFLOW_FAILURE
    assert letter.order_id is None
    assert (letter.failed_step, letter.error, letter.cause) == ("unknown", "", "")
    assert letter.execution_arn is None
    assert DeadLetter.parse("m", "r", json.dumps(workflow_failure(order_id="")), {}).order_id is None


def test_parse_eventbridge_delivery_failure() -> None:
    body = json.dumps(delivery_failure("o-2"))
    letter = DeadLetter.parse("m-2", "r-2", body, DELIVERY_ATTRIBUTES)
    assert letter.kind == DELIVERY_FAILURE
    assert letter.order_id == "o-2"
    assert letter.failed_step == "StartExecution"
    assert letter.error == "SDK_CLIENT_ERROR"
    assert letter.cause == "Unable to start execution"
    assert letter.execution_arn is None
    assert letter.failed_at == "2024-06-01T11:00:00Z"
    assert letter.body == body


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("not json", id="not-json"),
        pytest.param("[1, 2]", id="array"),
        pytest.param('"text"', id="string"),
        pytest.param('{"detail": "o-1"}', id="detail-not-object"),
        pytest.param('{"detail": {"orderId": 7}}', id="order-id-not-string"),
        pytest.param("", id="empty"),
    ],
)
def test_parse_unrecognisable_message_names_no_order(body: str) -> None:
    letter = DeadLetter.parse("m", "r", body, {})
    assert letter.kind == DELIVERY_FAILURE
    assert letter.order_id is None
    assert letter.error == "unknown"
    assert letter.body == body


# --- dead letters: replay against moto SQS -----------------------------------------------------


def send(aws: Aws, body: dict[str, Any] | str, attributes: dict[str, str] | None = None) -> str:
    message_attributes = {
        name: {"DataType": "String", "StringValue": value} for name, value in (attributes or {}).items()
    }
    response = aws.sqs.send_message(
        QueueUrl=aws.dlq_url,
        MessageBody=body if isinstance(body, str) else json.dumps(body),
        MessageAttributes=message_attributes,
    )
    return str(response["MessageId"])


def visible_message_ids(aws: Aws) -> set[str]:
    """Ids of the messages visible in the DLQ now (each received once, then hidden)."""
    ids: set[str] = set()
    while True:
        messages = aws.sqs.receive_message(
            QueueUrl=aws.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return ids
        ids.update(message["MessageId"] for message in messages)


@pytest.fixture
def dlq(aws: Aws) -> SqsDeadLetterQueue:
    return SqsDeadLetterQueue(aws_client("sqs"), aws.dlq_url)


@pytest.fixture
def replayer(repository: DynamoDbOrderRepository, publisher: SpyPublisher) -> DeadLetterReplayer:
    return DeadLetterReplayer(repository, publisher, clock=lambda: utc_timestamp(NOW))


FAILURE = {
    "step": "Fulfil",
    "error": "FulfillmentRejected",
    "cause": "cannot be supplied",
    "executionArn": None,
    "failedAt": "2024-06-01T11:00:01.000Z",
}


@pytest.fixture
def mixed_queue(aws: Aws, repository: DynamoDbOrderRepository) -> dict[str, str]:
    """One message of each kind; returns message ids by case."""
    add_order(repository, "failed", timedelta(hours=1), status=OrderStatus.FAILED, failure=FAILURE)
    add_order(repository, "stuck-new", timedelta(hours=1))
    add_order(repository, "processed", timedelta(hours=1), status=OrderStatus.PROCESSED)
    return {
        "failed": send(aws, workflow_failure("failed")),
        "stuck-new": send(aws, delivery_failure("stuck-new"), DELIVERY_ATTRIBUTES),
        "processed": send(aws, workflow_failure("processed")),
        "missing": send(aws, workflow_failure("missing")),
        "garbage": send(aws, "not json at all"),
    }


def test_receive_all_parses_every_message(aws: Aws, dlq: SqsDeadLetterQueue, mixed_queue: dict[str, str]) -> None:
    letters = {letter.message_id: letter for letter in dlq.receive_all()}
    assert set(letters) == set(mixed_queue.values())
    assert letters[mixed_queue["failed"]].kind == WORKFLOW_FAILURE
    assert letters[mixed_queue["stuck-new"]].kind == DELIVERY_FAILURE
    assert letters[mixed_queue["stuck-new"]].error == "SDK_CLIENT_ERROR"
    assert letters[mixed_queue["garbage"]].order_id is None
    assert visible_message_ids(aws) == set()  # hidden while working


def test_replay_reopens_failed_orders_and_deletes_only_accepted_messages(
    aws: Aws,
    repository: DynamoDbOrderRepository,
    publisher: SpyPublisher,
    dlq: SqsDeadLetterQueue,
    replayer: DeadLetterReplayer,
    mixed_queue: dict[str, str],
) -> None:
    outcomes = {outcome.letter.message_id: outcome.outcome for outcome in replayer.replay(dlq)}

    assert outcomes == {
        mixed_queue["failed"]: REPLAYED,
        mixed_queue["stuck-new"]: REPLAYED,
        mixed_queue["processed"]: ALREADY_PROCESSED,
        mixed_queue["missing"]: KEPT,
        mixed_queue["garbage"]: KEPT,
    }

    reopened = get(repository, "failed")
    assert reopened.status is OrderStatus.NEW
    assert reopened.replay_count == 1
    assert reopened.failure is None
    assert reopened.extra["lastFailure"] == FAILURE
    assert reopened.updated_at == utc_timestamp(NOW)
    assert get(repository, "stuck-new").replay_count == 0
    assert get(repository, "processed").status is OrderStatus.PROCESSED

    details = {e["detail"]["orderId"]: e["detail"] for e in aws.published_events()}
    assert set(details) == {"failed", "stuck-new"}
    assert details["failed"]["replay"] == 1
    assert "replay" not in details["stuck-new"]

    # only the kept messages are left, and they are visible again right away
    assert visible_message_ids(aws) == {mixed_queue["missing"], mixed_queue["garbage"]}


def test_dry_run_changes_and_deletes_nothing(
    aws: Aws,
    repository: DynamoDbOrderRepository,
    publisher: SpyPublisher,
    dlq: SqsDeadLetterQueue,
    replayer: DeadLetterReplayer,
    mixed_queue: dict[str, str],
) -> None:
    before = {order_id: get(repository, order_id) for order_id in ("failed", "stuck-new", "processed")}

    outcomes = {o.letter.message_id: o.outcome for o in replayer.replay(dlq, dry_run=True)}

    assert outcomes == {
        mixed_queue["failed"]: WOULD_REPLAY,
        mixed_queue["stuck-new"]: WOULD_REPLAY,
        mixed_queue["processed"]: ALREADY_PROCESSED,
        mixed_queue["missing"]: KEPT,
        mixed_queue["garbage"]: KEPT,
    }
    assert {order_id: get(repository, order_id) for order_id in before} == before
    assert publisher.published == []
    assert aws.published_events() == []
    assert visible_message_ids(aws) == set(mixed_queue.values())


def test_replay_of_one_order_leaves_the_other_messages(
    aws: Aws,
    repository: DynamoDbOrderRepository,
    dlq: SqsDeadLetterQueue,
    replayer: DeadLetterReplayer,
    mixed_queue: dict[str, str],
) -> None:
    outcomes = replayer.replay(dlq, order_id="failed")

    assert [(o.letter.order_id, o.outcome) for o in outcomes] == [("failed", REPLAYED)]
    assert get(repository, "stuck-new").status is OrderStatus.NEW
    assert [e["detail"]["orderId"] for e in aws.published_events()] == ["failed"]
    assert visible_message_ids(aws) == set(mixed_queue.values()) - {mixed_queue["failed"]}


def test_replay_keeps_the_message_when_publishing_fails(
    aws: Aws,
    repository: DynamoDbOrderRepository,
    dlq: SqsDeadLetterQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_order(repository, "failed", timedelta(hours=1), status=OrderStatus.FAILED, failure=FAILURE)
    message_id = send(aws, workflow_failure("failed"))
    client = aws_client("events")

    def denied(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "x"}}, "PutEvents")

    monkeypatch.setattr(client, "put_events", denied)
    replayer = DeadLetterReplayer(
        repository, EventBridgePublisher(client, definitions.EVENT_BUS), clock=lambda: utc_timestamp(NOW)
    )

    [outcome] = replayer.replay(dlq)

    assert outcome.outcome == KEPT
    assert "reconciler" in outcome.detail
    # the order is NEW again (so the reconciler picks it up), the message stays for another replay
    assert get(repository, "failed").status is OrderStatus.NEW
    assert get(repository, "failed").replay_count == 1
    assert visible_message_ids(aws) == {message_id}


def test_replay_twice_does_not_reopen_twice(
    aws: Aws,
    repository: DynamoDbOrderRepository,
    dlq: SqsDeadLetterQueue,
    replayer: DeadLetterReplayer,
) -> None:
    add_order(repository, "failed", timedelta(hours=1), status=OrderStatus.FAILED, failure=FAILURE)
    send(aws, workflow_failure("failed"))
    send(aws, delivery_failure("failed"), DELIVERY_ATTRIBUTES)  # the same order in two messages

    outcomes = replayer.replay(dlq)

    assert [o.outcome for o in outcomes] == [REPLAYED, REPLAYED]
    assert get(repository, "failed").replay_count == 1
    assert visible_message_ids(aws) == set()


def test_replay_keeps_a_message_whose_order_changed_meanwhile(repository: DynamoDbOrderRepository) -> None:
    """FAILED -> NEW is conditional: if the order is no longer FAILED when reopened, the message stays."""

    class RacingOrders:
        def __init__(self) -> None:
            self.inner = repository

        def get(self, order_id: str) -> OrderRecord | None:
            return self.inner.get(order_id)

        def transition(self, *args: Any, **kwargs: Any) -> OrderRecord | None:
            # a concurrent replay got there first
            self.inner.transition("failed", OrderStatus.FAILED, OrderStatus.NEW, utc_timestamp(NOW))
            return self.inner.transition(*args, **kwargs)

    add_order(repository, "failed", timedelta(hours=1), status=OrderStatus.FAILED, failure=FAILURE)
    published: list[OrderCreated] = []

    class Events:
        def publish_order_created(self, event: OrderCreated) -> str:
            published.append(event)
            return "id"

    letter = DeadLetter.parse("m", "r", json.dumps(workflow_failure("failed")), {})
    outcome = DeadLetterReplayer(RacingOrders(), Events(), clock=lambda: utc_timestamp(NOW)).replay_one(  # type: ignore[arg-type]
        letter, dry_run=False
    )

    assert outcome.outcome == KEPT
    assert published == []


@pytest.mark.parametrize("settled", [OrderStatus.CANCELLED, OrderStatus.REJECTED])
def test_a_letter_of_a_cancelled_or_rejected_order_goes_without_a_replay(
    aws: Aws,
    repository: DynamoDbOrderRepository,
    dlq: SqsDeadLetterQueue,
    replayer: DeadLetterReplayer,
    settled: OrderStatus,
) -> None:
    """A cancelled order failed before it was cancelled: its letter is stale, and re-publishing would
    only start a workflow that skips it."""
    add_order(repository, "settled", timedelta(hours=1), status=settled)
    send(aws, workflow_failure("settled"))

    (outcome,) = replayer.replay(dlq)

    assert outcome.outcome == "already-settled"
    assert aws.published_events() == []
    assert visible_message_ids(aws) == set()
    assert get(repository, "settled").status is settled


# --- boundaries the mutation run found unguarded (docs/mutation-survivors.md) -------------------


def test_an_order_updated_exactly_at_the_cutoff_is_not_stale(
    aws: Aws, repository: DynamoDbOrderRepository, publisher: SpyPublisher
) -> None:
    add_order(repository, "at-cutoff", timedelta(hours=2), updated_age=STALE_AFTER)
    add_order(repository, "just-before", timedelta(hours=2), updated_age=STALE_AFTER + timedelta(milliseconds=1))
    report = reconcile_stale_orders(repository, publisher, now=NOW, stale_after=STALE_AFTER)
    assert report.order_ids == ["just-before"]


def test_a_delivery_failure_without_an_error_message_has_an_empty_cause() -> None:
    letter = DeadLetter.parse("m", "r", json.dumps(delivery_failure("o-3")), {"ERROR_CODE": "SDK_CLIENT_ERROR"})
    assert letter.cause == ""
    assert letter.order_id == "o-3"


def test_a_binary_message_attribute_reads_as_empty_text(aws: Aws, dlq: SqsDeadLetterQueue) -> None:
    """A Binary attribute carries ``BinaryValue`` and no ``StringValue`` (Amazon SQS Developer Guide,
    "Amazon SQS message attributes"): the letter reads it as empty text, not None."""
    aws.sqs.send_message(
        QueueUrl=aws.dlq_url,
        MessageBody=json.dumps(delivery_failure("o-4")),
        MessageAttributes={
            "ERROR_CODE": {"DataType": "String", "StringValue": "SDK_CLIENT_ERROR"},
            "ERROR_MESSAGE": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    [letter] = dlq.receive_all()
    assert letter.cause == ""
    assert letter.error == "SDK_CLIENT_ERROR"


def test_receive_all_hides_for_the_time_asked(aws: Aws, dlq: SqsDeadLetterQueue) -> None:
    """ReceiveMessage's VisibilityTimeout overrides the queue's for the messages returned (Amazon SQS
    API Reference, ReceiveMessage): asked for 0 s, they are visible again at once."""
    sent = {send(aws, delivery_failure("o-5")), send(aws, delivery_failure("o-6"))}
    assert {letter.message_id for letter in dlq.receive_all(hide_for_seconds=0)} == sent
    assert visible_message_ids(aws) == sent
