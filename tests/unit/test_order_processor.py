"""The order-processor steps against moto: through the handler, and the domain on the real adapter."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest

from order_service.adapters.dynamodb_inventory import DynamoDbStockLedger
from order_service.adapters.dynamodb_orders import DynamoDbOrderRepository
from order_service.domain import errors
from order_service.domain.errors import (
    PERMANENT_STEP_ERRORS,
    TRANSIENT_STEP_ERRORS,
    DependencyThrottled,
    FulfillmentRejected,
    FulfillmentUnavailable,
    InvalidStepRequest,
    OrderInvalid,
    OrderNotFound,
    OrderStateConflict,
)
from order_service.domain.fulfillment import FaultRule, parse_fault_plan, tracking_id
from order_service.domain.order import MAX_ITEMS, OrderRecord, OrderRequest, OrderStatus, SnackItem, utc_timestamp
from order_service.domain.order_processing import (
    CARD,
    MAX_CAUSE_CHARS,
    PICKUP,
    PROCESS,
    SETTLED,
    SKIP,
    OrderProcessor,
    StepContext,
)
from order_service.settings import FULFILLMENT_FAULTS
from stacks import definitions
from tests.support.handler_calls import recorded_calls
from tests.unit.conftest import (
    Aws,
    FakeLambdaContext,
    aws_client,
    capture_stdout_logs,
    fresh_module,
    status_event_publisher,
)

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CUSTOMER = "Quentin Privatename"
EXECUTION = "arn:aws:states:us-east-1:123456789012:express:order-fulfillment:exec-1:run-1"
OTHER_EXECUTION = EXECUTION.replace("exec-1", "exec-2")
CREATED = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def request(*items: tuple[str, int, str]) -> OrderRequest:
    snack_items = tuple(SnackItem(name, quantity, Decimal(price)) for name, quantity, price in items)
    total = sum((item.line_total for item in snack_items), Decimal("0.00"))
    return OrderRequest(customer_name=CUSTOMER, snack_items=snack_items, total_amount=total)


SEED_REQUEST = request(("Chips", 2, "1.99"), ("Soda", 1, "2.49"))


# --- handler against moto -----------------------------------------------------------------------


@pytest.fixture
def repository(aws: Aws) -> DynamoDbOrderRepository:
    return DynamoDbOrderRepository(aws_client("dynamodb"), definitions.ORDERS_TABLE)


@pytest.fixture
def load_processor(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ModuleType]:
    def load(faults: str = "") -> ModuleType:
        monkeypatch.setenv(FULFILLMENT_FAULTS, faults)
        return fresh_module("order_service.handlers.order_processor")

    return load


@pytest.fixture
def processor(load_processor: Callable[[str], ModuleType]) -> ModuleType:
    return load_processor("")


@pytest.fixture
def step(processor: ModuleType, lambda_context: FakeLambdaContext) -> Callable[..., dict[str, Any]]:
    return make_step(processor, lambda_context)


def make_step(module: ModuleType, context: FakeLambdaContext) -> Callable[..., dict[str, Any]]:
    def call(name: str, order_id: str, attempt: int = 0, **extra: Any) -> dict[str, Any]:
        event = {
            "step": name,
            "orderId": order_id,
            "eventId": "event-1",
            "executionArn": EXECUTION,
            "attempt": attempt,
            **extra,
        }
        return module.handler(event, context)  # type: ignore[no-any-return]

    return call


def put_order(repository: DynamoDbOrderRepository, order_id: str, req: OrderRequest = SEED_REQUEST) -> OrderRecord:
    record = OrderRecord.new(order_id, req, CREATED)
    repository.create(record)
    return record


def stored(repository: DynamoDbOrderRepository, order_id: str) -> OrderRecord:
    record = repository.get(order_id)
    assert record is not None
    return record


def test_happy_path_takes_the_order_from_new_to_processed(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]]
) -> None:
    put_order(repository, "o-1")

    validation = step("validate", "o-1")
    assert validation == {"action": PROCESS, "orderId": "o-1", "status": "NEW", "itemCount": 3, "paidBy": "pickup"}
    assert stored(repository, "o-1").status is OrderStatus.NEW

    fulfilled = step("fulfil", "o-1")
    assert fulfilled["repeated"] is False
    assert fulfilled["orderId"] == "o-1"
    fulfillment = fulfilled["fulfillment"]
    assert fulfillment["trackingId"] == tracking_id("o-1")
    assert fulfillment["attempt"] == 1
    assert [s["step"] for s in fulfillment["steps"]] == ["reserve-stock", "pack", "hand-to-courier"]
    assert all(s["units"] == 3 for s in fulfillment["steps"])
    after_fulfil = stored(repository, "o-1")
    assert after_fulfil.status is OrderStatus.NEW
    assert after_fulfil.fulfillment is not None
    assert after_fulfil.fulfillment["trackingId"] == tracking_id("o-1")
    assert after_fulfil.execution_arn == EXECUTION

    done = step("markProcessed", "o-1")
    assert done["status"] == "PROCESSED"
    assert done["changed"] is True
    assert TIMESTAMP.match(done["processedAt"])
    assert done["latencyMs"] >= 0

    final = stored(repository, "o-1")
    assert final.status is OrderStatus.PROCESSED
    assert final.processed_at == done["processedAt"]
    assert final.updated_at == done["processedAt"]
    assert final.created_at == utc_timestamp(CREATED)
    assert final.customer_name == CUSTOMER
    assert final.total_amount == Decimal("6.47")
    assert final.execution_arn == EXECUTION
    assert final.failure is None


def test_each_step_names_its_order_and_the_finishing_execution_is_recorded(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]]
) -> None:
    """Results name the order (the ASL passes them on); PROCESSED and FAILED record the execution
    that wrote them, not only the one that fulfilled."""
    put_order(repository, "o-arn")
    step("fulfil", "o-arn", executionArn=EXECUTION + "-first")
    assert step("fulfil", "o-arn")["orderId"] == "o-arn"  # the repeat, too
    assert step("markProcessed", "o-arn", executionArn=EXECUTION + "-last")["orderId"] == "o-arn"
    assert stored(repository, "o-arn").execution_arn == EXECUTION + "-last"
    put_order(repository, "o-arn-failed")
    step("recordFailure", "o-arn-failed", executionArn=EXECUTION + "-failed", failedStep="Fulfil", error={"Error": "X"})
    failed = stored(repository, "o-arn-failed")
    assert failed.execution_arn == EXECUTION + "-failed" and failed.failure is not None
    assert failed.failure["executionArn"] == EXECUTION + "-failed"


@pytest.mark.parametrize("count", [1, MAX_ITEMS])
def test_validate_processes_an_order_with_the_fewest_and_the_most_items(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]], count: int
) -> None:
    put_order(repository, f"o-items-{count}", request(*[(f"Snack {i}", 1, "1.00") for i in range(count)]))
    assert step("validate", f"o-items-{count}")["action"] == PROCESS


def test_a_record_survives_the_round_trip_through_its_item_under_the_seed_names() -> None:
    record = dataclasses.replace(
        OrderRecord.new("o-rt", SEED_REQUEST, CREATED),
        status=OrderStatus.PROCESSED,
        processed_at="2024-01-02T03:04:09.000Z",
        execution_arn=EXECUTION,
        fulfillment={"trackingId": "SNK-1"},
        failure={"step": "Fulfil"},
        replay_count=2,
    )
    item = record.as_item()
    assert set(item) == {
        "orderId", "status", "customerName", "snackItems", "totalAmount", "createdAt", "updatedAt",
        "processedAt", "executionArn", "fulfillment", "failure", "replayCount",
    }  # fmt: skip
    assert OrderRecord.from_item(item) == record and OrderRecord.from_item(item).extra == {}


def test_tracking_ids_are_snk_and_twelve_upper_case_hex_digits() -> None:
    assert re.fullmatch(r"SNK-[0-9A-F]{12}", tracking_id("o-1"))
    assert tracking_id("o-1") == tracking_id("o-1") != tracking_id("o-2")


def test_step_results_survive_json_encoding(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]]
) -> None:
    """Step Functions passes a Task's result on as JSON: each result must round-trip unchanged."""
    put_order(repository, "o-json")
    for name in ("validate", "fulfil", "markProcessed"):
        result = step(name, "o-json")
        assert json.loads(json.dumps(result)) == result, name


def test_mark_processed_twice_is_a_successful_no_op(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]]
) -> None:
    put_order(repository, "o-2")
    step("fulfil", "o-2")
    first = step("markProcessed", "o-2")
    before = stored(repository, "o-2")

    second = step("markProcessed", "o-2", executionArn=EXECUTION + "-duplicate")

    assert second == {
        "orderId": "o-2",
        "status": "PROCESSED",
        "processedAt": first["processedAt"],
        "changed": False,
        "announced": False,  # the first execution announced it
    }
    assert stored(repository, "o-2") == before  # nothing rewritten, not even the execution ARN


def test_fulfil_twice_returns_the_recorded_fulfillment(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]]
) -> None:
    put_order(repository, "o-3")
    first = step("fulfil", "o-3")
    second = step("fulfil", "o-3", attempt=1)
    assert second["repeated"] is True
    assert second["fulfillment"]["trackingId"] == first["fulfillment"]["trackingId"]
    assert second["fulfillment"]["fulfilledAt"] == first["fulfillment"]["fulfilledAt"]


@pytest.mark.parametrize("status", [OrderStatus.PROCESSED, OrderStatus.FAILED])
def test_validate_on_a_settled_order_skips_it(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]], status: OrderStatus
) -> None:
    put_order(repository, "o-4")
    assert repository.transition("o-4", OrderStatus.NEW, status, utc_timestamp(CREATED)) is not None
    before = stored(repository, "o-4")

    result = step("validate", "o-4")

    assert result == {"action": SKIP, "orderId": "o-4", "status": status.value, "paidBy": "pickup"}
    assert stored(repository, "o-4") == before


def test_the_state_machine_fulfils_only_on_the_process_action() -> None:
    """Validate's verdict goes to Fulfil as ``action``; a ``skip`` comes back ``settled`` and the Choice after Fulfil
    ends the execution in AlreadySettled before any other route (its result has no stock, no card)."""
    states = definitions.load_asl()["States"]
    assert states["Validate"]["Next"] == "Fulfil"
    assert states["Fulfil"]["Parameters"]["action.$"] == "$.action"
    first = states["InStock"]["Choices"][0]
    assert first == {"Variable": "$.outcome", "StringEquals": SETTLED, "Next": "AlreadySettled"}
    assert states["AlreadySettled"]["Type"] == "Succeed"
    # Validate's ResultSelector keeps what Fulfil reads from its result; Fulfil's becomes the state's data.
    assert states["Validate"]["ResultSelector"] == {"action.$": "$.action"}
    assert states["Fulfil"]["ResultSelector"] == {
        "outcome.$": "$.outcome",
        "paidBy.$": "$.paidBy",
        "repeated.$": "$.repeated",
        "rejection.$": "$.rejection",
    }
    assert states["Fulfil"]["ResultPath"] == "$"


def test_fulfil_of_a_skipped_order_answers_settled_and_touches_nothing(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]]
) -> None:
    """A duplicate event for an order that Validate found settled: no read, no write, no stock (planted: fulfil
    ignoring the verdict -> this test fails, the order's fulfillment written)."""
    put_order(repository, "o-skip")
    before = stored(repository, "o-skip")
    with recorded_calls() as calls:
        result = step("fulfil", "o-skip", action=SKIP)
    assert (result["outcome"], result["repeated"], result["rejection"]) == (SETTLED, True, None)
    assert calls == [] and stored(repository, "o-skip") == before
    with pytest.raises(InvalidStepRequest):
        step("fulfil", "o-skip", action="maybe")


def test_only_an_order_paid_at_pickup_skips_authorize_payment() -> None:
    """validate's paidBy matches InStock's rule: pickup goes straight to MarkProcessed; a card order, or any
    other value, takes the Default through AuthorizePayment (which passes an order paid at pickup anyway)."""
    states = definitions.load_asl()["States"]
    skip = [rule for rule in states["InStock"]["Choices"] if rule.get("Variable") == "$.paidBy"]
    assert skip == [{"Variable": "$.paidBy", "StringEquals": PICKUP, "Next": "MarkProcessed"}]
    assert states["InStock"]["Default"] == "AuthorizePayment" and CARD != PICKUP


@pytest.mark.parametrize("name", ["validate", "fulfil", "markProcessed"])
def test_unknown_order_raises_order_not_found(step: Callable[..., dict[str, Any]], name: str) -> None:
    with pytest.raises(OrderNotFound) as caught:
        step(name, "missing")
    # The class name is the Step Functions error name; the state that ran this step never retries it.
    error = type(caught.value).__name__
    state = {"validate": "Validate", "fulfil": "Fulfil", "markProcessed": "MarkProcessed"}[name]
    retried = {e for retry in definitions.load_asl()["States"][state]["Retry"] for e in retry["ErrorEquals"]}
    assert error == "OrderNotFound" and error not in retried and "States.ALL" not in retried


def test_permanent_errors_are_not_retried_and_transient_ones_are() -> None:
    asl = definitions.load_asl()["States"]
    for state in ("Validate", "Fulfil", "MarkProcessed", "RecordFailure"):
        retry = asl[state]["Retry"][0]
        assert set(TRANSIENT_STEP_ERRORS) <= set(retry["ErrorEquals"]), state
        assert not set(PERMANENT_STEP_ERRORS) & set(retry["ErrorEquals"]), state
        assert retry["MaxAttempts"] == 2
    for name in (*TRANSIENT_STEP_ERRORS, *PERMANENT_STEP_ERRORS):
        assert issubclass(getattr(errors, name), errors.OrderServiceError)


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(None, id="null"),
        pytest.param([], id="list"),
        pytest.param("validate", id="string"),
        pytest.param({"orderId": "o-1"}, id="no-step"),
        pytest.param({"step": "validate"}, id="no-order-id"),
        pytest.param({"step": "validate", "orderId": 42}, id="numeric-order-id"),
        pytest.param({"step": ["validate"], "orderId": "o-1"}, id="list-step"),
        pytest.param({"step": "explode", "orderId": "o-1"}, id="unknown-step"),
        pytest.param({"step": "Validate", "orderId": "o-1"}, id="wrong-case-step"),
    ],
)
def test_invalid_step_request_raises_invalid_step_request(
    repository: DynamoDbOrderRepository, processor: ModuleType, lambda_context: FakeLambdaContext, event: Any
) -> None:
    put_order(repository, "o-1")
    with pytest.raises(InvalidStepRequest):
        processor.handler(event, lambda_context)
    assert stored(repository, "o-1").status is OrderStatus.NEW


@pytest.mark.parametrize("attempt", ["soon", {"n": 1}])
def test_step_request_with_a_non_numeric_attempt_is_an_invalid_step_request(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]], attempt: Any
) -> None:
    put_order(repository, "o-1")
    with pytest.raises(InvalidStepRequest):
        step("validate", "o-1", attempt=attempt)


def test_transient_fault_fails_on_attempt_zero_then_passes(
    repository: DynamoDbOrderRepository,
    load_processor: Callable[[str], ModuleType],
    lambda_context: FakeLambdaContext,
) -> None:
    module = load_processor("Chaos Chips=transient:1")
    call = make_step(module, lambda_context)
    put_order(repository, "o-5", request(("Chaos Chips", 1, "2.50")))

    with pytest.raises(FulfillmentUnavailable) as caught:
        call("fulfil", "o-5", attempt=0)
    assert isinstance(caught.value, errors.TransientStepError)
    assert type(caught.value).__name__ in TRANSIENT_STEP_ERRORS
    assert stored(repository, "o-5").fulfillment is None

    result = call("fulfil", "o-5", attempt=1)
    assert result["repeated"] is False
    assert result["fulfillment"]["attempt"] == 2
    assert stored(repository, "o-5").fulfillment is not None
    assert call("markProcessed", "o-5")["changed"] is True


def test_permanent_fault_rejects_on_every_attempt(
    repository: DynamoDbOrderRepository,
    load_processor: Callable[[str], ModuleType],
    lambda_context: FakeLambdaContext,
) -> None:
    module = load_processor("Chaos Chips=transient:1; doom donut=permanent")
    call = make_step(module, lambda_context)
    put_order(repository, "o-6", request(("Chips", 1, "1.00"), ("Doom Donut", 2, "3.00")))

    for attempt in range(3):
        with pytest.raises(FulfillmentRejected) as caught:
            call("fulfil", "o-6", attempt=attempt)
        assert type(caught.value).__name__ in PERMANENT_STEP_ERRORS
    assert stored(repository, "o-6").status is OrderStatus.NEW
    assert stored(repository, "o-6").fulfillment is None


def test_faults_only_hit_the_named_snack(
    repository: DynamoDbOrderRepository,
    load_processor: Callable[[str], ModuleType],
    lambda_context: FakeLambdaContext,
) -> None:
    call = make_step(load_processor("Doom Donut=permanent"), lambda_context)
    put_order(repository, "o-7")
    assert call("fulfil", "o-7")["repeated"] is False


def test_malformed_fault_plan_fails_at_start_up(load_processor: Callable[[str], ModuleType]) -> None:
    with pytest.raises(ValueError, match="bad FULFILLMENT_FAULTS rule"):
        load_processor("Chaos Chips=sometimes")


def test_record_failure_sets_failed_with_the_reason(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]]
) -> None:
    put_order(repository, "o-8")
    error = {"Error": "FulfillmentRejected", "Cause": '{"errorMessage": "cannot be supplied"}'}

    result = step("recordFailure", "o-8", failedStep="Fulfil", error=error)

    assert result == {"orderId": "o-8", "status": "FAILED", "recorded": True, "compensated": []}
    record = stored(repository, "o-8")
    assert record.status is OrderStatus.FAILED
    assert record.failure is not None
    assert record.failure["step"] == "Fulfil"
    assert record.failure["error"] == "FulfillmentRejected"
    assert record.failure["cause"] == error["Cause"]
    assert record.failure["executionArn"] == EXECUTION
    assert TIMESTAMP.match(record.failure["failedAt"])
    assert record.updated_at == record.failure["failedAt"]
    assert record.processed_at is None

    # a duplicate is reported, not re-recorded
    # A duplicate execution's RecordFailure: it did not write the failure, so it announces nothing.
    again = step("recordFailure", "o-8", failedStep="Validate", error={"Error": "Other"}, executionArn=OTHER_EXECUTION)
    assert again == {"orderId": "o-8", "status": "FAILED", "recorded": False, "compensated": []}
    assert stored(repository, "o-8").failure == record.failure


def test_record_failure_truncates_a_long_cause(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]]
) -> None:
    put_order(repository, "o-9")
    step("recordFailure", "o-9", failedStep="Fulfil", error={"Error": "X", "Cause": "c" * (MAX_CAUSE_CHARS * 3)})
    failure = stored(repository, "o-9").failure
    assert failure is not None
    assert failure["cause"] == "c" * MAX_CAUSE_CHARS


def test_record_failure_never_overwrites_a_processed_order(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]]
) -> None:
    put_order(repository, "o-10")
    step("fulfil", "o-10")
    step("markProcessed", "o-10")
    before = stored(repository, "o-10")

    result = step("recordFailure", "o-10", failedStep="MarkProcessed", error={"Error": "States.Timeout"})

    assert result == {"orderId": "o-10", "status": "PROCESSED", "recorded": False, "compensated": []}
    assert stored(repository, "o-10") == before


def test_record_failure_for_a_missing_order_does_not_raise(step: Callable[..., dict[str, Any]]) -> None:
    result = step("recordFailure", "nope", failedStep="Validate", error={"Error": "OrderNotFound"})
    assert result == {"orderId": "nope", "status": "MISSING", "recorded": False, "compensated": []}


def test_record_failure_without_error_details(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]]
) -> None:
    put_order(repository, "o-11")
    assert step("recordFailure", "o-11")["recorded"] is True
    failure = stored(repository, "o-11").failure
    assert failure is not None
    assert (failure["step"], failure["error"], failure["cause"]) == ("unknown", "Unknown", "")


def test_mark_processed_on_a_failed_order_is_a_state_conflict(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]]
) -> None:
    put_order(repository, "o-12")
    step("recordFailure", "o-12", failedStep="Fulfil", error={"Error": "X"})
    with pytest.raises(OrderStateConflict):
        step("markProcessed", "o-12")
    assert stored(repository, "o-12").status is OrderStatus.FAILED


def test_fulfil_on_a_settled_order_without_fulfillment_is_a_state_conflict(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]]
) -> None:
    put_order(repository, "o-13")
    repository.transition("o-13", OrderStatus.NEW, OrderStatus.PROCESSED, utc_timestamp(CREATED))
    with pytest.raises(OrderStateConflict):
        step("fulfil", "o-13")


def test_validate_rejects_a_stored_order_whose_total_does_not_add_up(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]]
) -> None:
    record = dataclasses.replace(OrderRecord.new("o-14", SEED_REQUEST, CREATED), total_amount=Decimal("6.48"))
    repository.create(record)
    with pytest.raises(OrderInvalid):
        step("validate", "o-14")


def test_dynamodb_throttling_is_a_transient_step_error(
    repository: DynamoDbOrderRepository,
    processor: ModuleType,
    step: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from botocore.exceptions import ClientError

    put_order(repository, "o-15")

    def throttled(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, "GetItem")

    monkeypatch.setattr(processor.processor._orders._client, "get_item", throttled)
    with pytest.raises(DependencyThrottled) as caught:
        step("validate", "o-15")
    assert type(caught.value).__name__ in TRANSIENT_STEP_ERRORS


def test_processor_logs_never_carry_the_customer_name(
    repository: DynamoDbOrderRepository,
    processor: ModuleType,
    step: Callable[..., dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    put_order(repository, "o-16")
    with capture_stdout_logs(processor.logger, capsys) as read:
        for name in ("validate", "fulfil", "markProcessed"):
            step(name, "o-16")
        step("recordFailure", "o-16", failedStep="Fulfil", error={"Error": "X"})
        lines = read()
    assert any('"orderId":"o-16"' in line for line in lines)
    assert not [line for line in lines if "Privatename" in line]


# --- domain on moto's DynamoDB: the conditions are DynamoDB's, never a fake's ---------------------


@pytest.fixture
def ledger(aws: Aws) -> DynamoDbStockLedger:
    """The real stock ledger on moto (no stock records: every snack unlimited)."""
    return DynamoDbStockLedger(aws_client("dynamodb"), definitions.ORDERS_TABLE, definitions.INVENTORY_TABLE)


def clock(start: datetime = CREATED + timedelta(seconds=2)) -> Callable[[], str]:
    ticks = iter(range(10_000))
    return lambda: utc_timestamp(start + timedelta(milliseconds=next(ticks)))


def test_domain_mark_processed_reports_latency_from_creation(
    repository: DynamoDbOrderRepository, ledger: DynamoDbStockLedger
) -> None:
    repository.create(dataclasses.replace(OrderRecord.new("d-1", SEED_REQUEST, CREATED), reservation={"lines": []}))
    result = OrderProcessor(repository, ledger, {}, clock(), status_events=status_event_publisher()).mark_processed(
        StepContext("d-1")
    )
    assert result["latencyMs"] == 2000
    assert result["processedAt"] == "2024-01-02T03:04:07.678Z"


class RaceBeforeFulfilmentWrite:
    """The real repository, except that just before this execution's conditional fulfilment write a
    duplicate execution of the same order (at-least-once delivery) runs its whole Fulfil step.

    Both executions read the order NEW and unfulfilled; DynamoDB's condition decides the winner.
    """

    def __init__(self, inner: DynamoDbOrderRepository, rival: Callable[[], dict[str, Any]]) -> None:
        self.inner, self.rival = inner, rival
        self.rival_result: dict[str, Any] | None = None

    def get(self, order_id: str) -> OrderRecord | None:
        return self.inner.get(order_id)

    def record_fulfillment(
        self, order_id: str, fulfillment: dict[str, Any], execution_arn: str | None, now: str
    ) -> bool:
        if self.rival_result is None:
            self.rival_result = self.rival()
        return self.inner.record_fulfillment(order_id, fulfillment, execution_arn, now)


def test_fulfil_that_loses_the_race_on_dynamodb_returns_the_winners_fulfillment(
    repository: DynamoDbOrderRepository, ledger: DynamoDbStockLedger
) -> None:
    """Express workflows are at-least-once ("Standard vs. Express Workflows", AWS Step Functions
    Developer Guide): two executions may fulfil one order at once. The write is conditional on
    ``attribute_not_exists(fulfillment)`` (DynamoDB Developer Guide, "Condition expressions"), so the
    loser's write fails, it keeps the winner's record and reports a repeat."""
    repository.create(OrderRecord.new("d-2", SEED_REQUEST, CREATED))
    winner = OrderProcessor(
        repository, ledger, {}, clock(CREATED + timedelta(seconds=1)), status_events=status_event_publisher()
    )
    loser_view = RaceBeforeFulfilmentWrite(
        repository, lambda: winner.fulfil(StepContext("d-2", execution_arn=EXECUTION + "-winner"))
    )
    loser = OrderProcessor(
        loser_view,  # type: ignore[arg-type]
        ledger,
        {},
        clock(CREATED + timedelta(seconds=5)),
        status_events=status_event_publisher(),
    )

    result = loser.fulfil(StepContext("d-2", execution_arn=EXECUTION + "-loser"))

    assert loser_view.rival_result is not None and loser_view.rival_result["repeated"] is False
    won = loser_view.rival_result["fulfillment"]
    assert result == {
        "orderId": "d-2",
        "outcome": "fulfilled",
        "fulfillment": won,
        "repeated": True,
        "rejection": None,
        "paidBy": "pickup",
    }
    stored = repository.get("d-2")
    assert stored is not None and stored.fulfillment == won and stored.execution_arn == EXECUTION + "-winner"


def test_record_fulfillment_writes_once_and_only_on_a_new_order(repository: DynamoDbOrderRepository) -> None:
    """Both halves of the condition, as DynamoDB evaluates them: a second write and a write to a
    settled order fail and leave the stored item as it was."""
    repository.create(OrderRecord.new("d-4", SEED_REQUEST, CREATED))
    first, second = {"trackingId": "SNK-1", "attempt": 1}, {"trackingId": "SNK-2", "attempt": 1}
    fulfilled_at = utc_timestamp(CREATED + timedelta(seconds=1))
    assert repository.record_fulfillment("d-4", first, "arn-1", fulfilled_at) is True
    assert repository.record_fulfillment("d-4", second, "arn-2", utc_timestamp(CREATED + timedelta(seconds=2))) is False
    stored = repository.get("d-4")
    assert stored is not None and stored.fulfillment == first and stored.execution_arn == "arn-1"
    assert stored.updated_at == fulfilled_at and stored.as_item().keys() == {
        *OrderRecord.new("d-4", SEED_REQUEST, CREATED).as_item(),
        "fulfillment",
        "executionArn",
    }  # the seed's fields, written under their exact names

    repository.create(OrderRecord.new("d-5", SEED_REQUEST, CREATED))
    assert repository.transition("d-5", OrderStatus.NEW, OrderStatus.FAILED, utc_timestamp(CREATED)) is not None
    assert repository.record_fulfillment("d-5", first, "arn-1", utc_timestamp(CREATED)) is False
    settled = repository.get("d-5")
    assert settled is not None and settled.fulfillment is None and settled.status is OrderStatus.FAILED


def test_get_reads_strongly_consistent(repository: DynamoDbOrderRepository) -> None:
    """GetItem is eventually consistent unless ConsistentRead is true ("Read consistency", DynamoDB
    Developer Guide): a step that read a stale item could redo work. moto is always consistent, so
    the request itself is checked."""
    repository.create(OrderRecord.new("d-7", SEED_REQUEST, CREATED))
    with recorded_calls() as calls:
        assert repository.get("d-7") is not None
    (call,) = calls
    assert call.operation == "GetItem" and json.loads(call.params)["ConsistentRead"] is True


def test_transition_is_conditional_on_the_current_status(repository: DynamoDbOrderRepository) -> None:
    repository.create(OrderRecord.new("d-6", SEED_REQUEST, CREATED))
    later = utc_timestamp(CREATED + timedelta(seconds=3))
    done = repository.transition("d-6", OrderStatus.NEW, OrderStatus.PROCESSED, later, {"processedAt": later})
    assert done is not None and done.status is OrderStatus.PROCESSED and done.processed_at == later
    # A duplicate NEW -> PROCESSED (or NEW -> FAILED) finds PROCESSED: refused, the item unchanged.
    assert repository.transition("d-6", OrderStatus.NEW, OrderStatus.PROCESSED, "2030-01-01T00:00:00.000Z") is None
    assert repository.transition("d-6", OrderStatus.NEW, OrderStatus.FAILED, "2030-01-01T00:00:00.000Z") is None
    assert repository.get("d-6") == done


def test_domain_validate_rejects_an_order_without_items(
    repository: DynamoDbOrderRepository, ledger: DynamoDbStockLedger
) -> None:
    repository.create(
        dataclasses.replace(OrderRecord.new("d-3", SEED_REQUEST, CREATED), snack_items=(), total_amount=Decimal("0.00"))
    )
    with pytest.raises(OrderInvalid):
        OrderProcessor(repository, ledger, {}, clock()).validate(StepContext("d-3"))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", {}),
        ("  ;  ", {}),
        ("Chaos Chips=transient:1", {"chaos chips": FaultRule("transient", 1)}),
        ("A=transient; B = permanent ;", {"a": FaultRule("transient", None), "b": FaultRule("permanent", None)}),
        ("A=transient; ; B=permanent", {"a": FaultRule("transient", None), "b": FaultRule("permanent", None)}),
        ("Sad Soda=transient:0", {"sad soda": FaultRule("transient", 0)}),
    ],
)
def test_parse_fault_plan(spec: str, expected: dict[str, FaultRule]) -> None:
    assert parse_fault_plan(spec) == expected


@pytest.mark.parametrize("spec", ["Chips", "=permanent", "Chips=flaky", "Chips=permanent:2", "Chips=transient:x"])
def test_parse_fault_plan_rejects_malformed_rules(spec: str) -> None:
    with pytest.raises(ValueError, match="bad FULFILLMENT_FAULTS rule"):
        parse_fault_plan(spec)


def test_fault_rule_attempts() -> None:
    assert [FaultRule("transient", 2).fails_on(a) for a in range(4)] == [True, True, False, False]
    assert all(FaultRule("transient").fails_on(a) for a in range(10))


def test_fulfil_stamps_the_fulfillment_and_the_order_with_the_same_clock_reading(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]]
) -> None:
    put_order(repository, "o-clock")
    fulfilled_at = step("fulfil", "o-clock")["fulfillment"]["fulfilledAt"]
    assert TIMESTAMP.match(fulfilled_at)
    after = stored(repository, "o-clock")
    assert after.fulfillment is not None and after.fulfillment["fulfilledAt"] == fulfilled_at
    assert after.updated_at == fulfilled_at


def test_a_fault_rule_with_two_equals_signs_is_malformed() -> None:
    # The snack name ends at the first '=': "Chips=Dip=transient" asks for a fault kind "Dip=transient".
    with pytest.raises(ValueError, match="bad FULFILLMENT_FAULTS rule"):
        parse_fault_plan("Chips=Dip=transient")


def test_a_transition_removes_every_attribute_it_names(repository: DynamoDbOrderRepository) -> None:
    put_order(repository, "o-rm")
    repository.transition(
        "o-rm", OrderStatus.NEW, OrderStatus.FAILED, "2024-01-02T03:04:06.000Z", updates={"failure": {"error": "X"}}
    )
    repository.transition(
        "o-rm", OrderStatus.FAILED, OrderStatus.NEW, "2024-01-02T03:04:07.000Z", removals=("failure", "executionArn")
    )
    after = stored(repository, "o-rm")
    assert after.status is OrderStatus.NEW
    assert after.failure is None


def test_record_failure_retried_in_its_own_execution_still_announces(
    repository: DynamoDbOrderRepository, step: Callable[..., dict[str, Any]]
) -> None:
    """Step Functions retries a step only when its attempt failed, so no result of the first RecordFailure
    reached the workflow (e.g. the payment's release after the write failed): the retry of the execution that
    wrote FAILED reports it recorded, and the workflow still announces Order Failed once."""
    put_order(repository, "o-9")
    error = {"Error": "FulfillmentRejected", "Cause": "x"}
    step("recordFailure", "o-9", failedStep="Fulfil", error=error)
    retried = step("recordFailure", "o-9", attempt=1, failedStep="Fulfil", error=error)
    assert retried["recorded"] is True
