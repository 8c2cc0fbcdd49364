"""The order-creator handler against moto: response contract, record format, event, failures, idempotency."""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st

from order_service.domain.events import ORDER_CREATED_DETAIL_TYPE, ORDER_EVENT_SOURCE
from order_service.domain.validation import MAX_PAYLOAD_BYTES
from stacks import definitions
from tests.unit.conftest import Aws, FakeLambdaContext, capture_stdout_logs, fresh_module

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CUSTOMER = "Zelda Quuxington"

ORDER: dict[str, Any] = {
    "customerName": CUSTOMER,
    "snackItems": [
        {"name": "Chips", "quantity": 2, "price": 1.99},
        {"name": "Soda", "quantity": 1, "price": 2.49},
    ],
    "totalAmount": 6.47,
}


def order(**changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(ORDER)
    result.update(changes)
    return result


@pytest.fixture
def creator(aws: Aws) -> ModuleType:
    return fresh_module("order_service.handlers.order_creator")


@pytest.fixture
def invoke(creator: ModuleType, lambda_context: FakeLambdaContext) -> Callable[[Any], dict[str, Any]]:
    def call(event: Any) -> dict[str, Any]:
        response = creator.handler(event, lambda_context)
        json.dumps(response)  # the reply must survive the Lambda runtime's JSON encoding
        return response  # type: ignore[no-any-return]

    return call


class Recorder:
    """Wraps a client method: records every call, then answers with ``respond``."""

    def __init__(self, respond: Callable[..., Any]) -> None:
        self.calls: list[dict[str, Any]] = []
        self._respond = respond

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self._respond(**kwargs)


def client_error(code: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


@pytest.fixture
def no_backoff(creator: ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    sleeps: list[float] = []
    monkeypatch.setattr(creator.events, "_sleep", sleeps.append)
    return sleeps


@pytest.fixture
def logs(creator: ModuleType, capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[str]]]:
    with capture_stdout_logs(creator.logger, capsys) as read:
        yield read


def idempotency_items(aws: Aws) -> list[dict[str, Any]]:
    return aws.dynamodb.scan(TableName=definitions.IDEMPOTENCY_TABLE)["Items"]  # type: ignore[no-any-return]


# --- created ---------------------------------------------------------------------------------


def test_created_order_response_record_and_event(aws: Aws, invoke: Callable[[Any], dict[str, Any]]) -> None:
    response = invoke(order())

    assert set(response) == {"statusCode", "orderId", "status", "eventPublished", "order"}
    assert response["statusCode"] == 201
    assert response["status"] == "NEW"
    assert response["eventPublished"] is True
    order_id = response["orderId"]
    assert str(uuid.UUID(order_id)) == order_id

    record = response["order"]
    assert set(record) == {"orderId", "status", "customerName", "snackItems", "totalAmount", "createdAt", "updatedAt"}
    assert record["orderId"] == order_id
    assert record["status"] == "NEW"
    assert record["customerName"] == CUSTOMER
    assert record["snackItems"] == ORDER["snackItems"]
    assert record["totalAmount"] == 6.47
    assert TIMESTAMP.match(record["createdAt"])
    assert record["updatedAt"] == record["createdAt"]

    # exactly one item, in the seed's record format with Decimal money
    [stored] = aws.scan_orders()
    assert stored == {
        "orderId": order_id,
        "status": "NEW",
        "customerName": CUSTOMER,
        "snackItems": [
            {"name": "Chips", "quantity": Decimal("2"), "price": Decimal("1.99")},
            {"name": "Soda", "quantity": Decimal("1"), "price": Decimal("2.49")},
        ],
        "totalAmount": Decimal("6.47"),
        "createdAt": record["createdAt"],
        "updatedAt": record["createdAt"],
    }
    raw = aws.dynamodb.get_item(TableName=definitions.ORDERS_TABLE, Key={"orderId": {"S": order_id}})["Item"]
    assert raw["totalAmount"] == {"N": "6.47"}
    assert raw["status"] == {"S": "NEW"}
    assert raw["snackItems"]["L"][0]["M"]["price"] == {"N": "1.99"}

    # exactly one Order Created event, with no personal data
    [event] = aws.published_events()
    assert event["source"] == ORDER_EVENT_SOURCE
    assert event["detail-type"] == ORDER_CREATED_DETAIL_TYPE == "Order Created"
    assert event["detail"] == {
        "orderId": order_id,
        "itemCount": 3,
        "totalAmount": "6.47",
        "createdAt": record["createdAt"],
    }
    assert CUSTOMER not in json.dumps(event)


def test_order_as_json_text_is_created(aws: Aws, invoke: Callable[[Any], dict[str, Any]]) -> None:
    response = invoke(json.dumps(order()))
    assert response["statusCode"] == 201
    [stored] = aws.scan_orders()
    assert stored["totalAmount"] == Decimal("6.47")
    assert len(aws.published_events()) == 1


def test_each_order_gets_its_own_id(aws: Aws, invoke: Callable[[Any], dict[str, Any]]) -> None:
    ids = {invoke(order())["orderId"] for _ in range(3)}
    assert len(ids) == 3
    assert {item["orderId"] for item in aws.scan_orders()} == ids
    assert {event["detail"]["orderId"] for event in aws.published_events()} == ids


# --- rejected: nothing written, nothing published ----------------------------------------------


@pytest.mark.parametrize(
    ("event", "details"),
    [
        pytest.param(
            order(totalAmount=6.48),
            [
                {
                    "field": "totalAmount",
                    "problem": "must equal the sum of quantity x price over snackItems (6.47), got 6.48",
                }
            ],
            id="total-off-by-a-cent",
        ),
        pytest.param(
            order(snackItems=[{"name": "Chips", "quantity": True, "price": 1.999}], totalAmount=1.99),
            [
                {"field": "snackItems[0].quantity", "problem": "must be a whole number, not a boolean"},
                {"field": "snackItems[0].price", "problem": "must have at most 2 decimal places"},
            ],
            id="item-errors",
        ),
        pytest.param(
            order(idempotencyKey="key-1", totalAmount=1),
            [
                {
                    "field": "totalAmount",
                    "problem": "must equal the sum of quantity x price over snackItems (6.47), got 1.00",
                }
            ],
            id="with-idempotency-key",
        ),
        pytest.param([ORDER], [{"field": "$", "problem": "the order must be a JSON object, not an array"}], id="list"),
        pytest.param(None, [{"field": "$", "problem": "the order must be a JSON object, not null"}], id="null"),
        pytest.param('{"a": NaN}', [{"field": "$", "problem": "NaN is not a number an order may contain"}], id="nan"),
    ],
)
def test_invalid_order_is_400_and_writes_and_publishes_nothing(
    aws: Aws,
    creator: ModuleType,
    invoke: Callable[[Any], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    event: Any,
    details: list[dict[str, str]],
) -> None:
    # every write the handler could make (Orders and the idempotency table share one client)
    writes: dict[str, Recorder] = {}
    for operation in ("put_item", "update_item", "delete_item"):
        writes[operation] = Recorder(getattr(creator._dynamodb, operation))
        monkeypatch.setattr(creator._dynamodb, operation, writes[operation])
    put_events = Recorder(creator.events._client.put_events)
    monkeypatch.setattr(creator.events._client, "put_events", put_events)

    response = invoke(event)

    assert response == {
        "statusCode": 400,
        "error": "ValidationError",
        "message": f"The order is invalid: {len(details)} problem(s).",
        "details": details,
    }
    assert aws.scan_orders() == []
    assert idempotency_items(aws) == []
    assert aws.published_events() == []
    assert {operation: recorder.calls for operation, recorder in writes.items()} == {
        "put_item": [],
        "update_item": [],
        "delete_item": [],
    }
    assert put_events.calls == []


def test_oversized_payload_is_413_and_writes_nothing(aws: Aws, invoke: Callable[[Any], dict[str, Any]]) -> None:
    response = invoke(json.dumps(order(customerName="x" * MAX_PAYLOAD_BYTES)))
    assert response["statusCode"] == 413
    assert response["error"] == "PayloadTooLarge"
    assert "message" in response
    assert aws.scan_orders() == []
    assert aws.published_events() == []


# --- PutEvents failures: the order is accepted and left NEW for the reconciler -----------------


@pytest.mark.parametrize(
    ("error_code", "expected_calls"),
    [
        pytest.param("InternalFailure", 3, id="retryable-entry-error"),
        pytest.param("ThrottlingException", 3, id="throttled-entry"),
        pytest.param("AccessDeniedException", 1, id="permanent-entry-error"),
    ],
)
def test_put_events_partial_failure_still_creates_the_order(
    aws: Aws,
    creator: ModuleType,
    invoke: Callable[[Any], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    no_backoff: list[float],
    error_code: str,
    expected_calls: int,
) -> None:
    put_events = Recorder(
        lambda **_: {
            "FailedEntryCount": 1,
            "Entries": [{"ErrorCode": error_code, "ErrorMessage": "injected"}],
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }
    )
    monkeypatch.setattr(creator.events._client, "put_events", put_events)

    response = invoke(order())

    assert response["statusCode"] == 201
    assert response["eventPublished"] is False
    assert response["status"] == "NEW"
    assert len(put_events.calls) == expected_calls
    assert len(no_backoff) == expected_calls - 1
    [entry] = put_events.calls[0]["Entries"]
    assert entry["DetailType"] == "Order Created"
    assert json.loads(entry["Detail"])["orderId"] == response["orderId"]
    [stored] = aws.scan_orders()
    assert stored["orderId"] == response["orderId"]
    assert stored["status"] == "NEW"
    assert aws.published_events() == []


def test_put_events_partial_failure_then_success_publishes_once(
    aws: Aws,
    creator: ModuleType,
    invoke: Callable[[Any], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    no_backoff: list[float],
) -> None:
    real_put_events = creator.events._client.put_events
    answers = iter(
        [{"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}]}]
    )
    put_events = Recorder(lambda **kwargs: next(answers, None) or real_put_events(**kwargs))
    monkeypatch.setattr(creator.events._client, "put_events", put_events)

    response = invoke(order())

    assert response["statusCode"] == 201
    assert response["eventPublished"] is True
    assert len(put_events.calls) == 2
    assert [event["detail"]["orderId"] for event in aws.published_events()] == [response["orderId"]]


@pytest.mark.parametrize(
    ("error", "expected_calls"),
    [
        pytest.param(client_error("ThrottlingException", "PutEvents"), 3, id="throttling-client-error"),
        pytest.param(client_error("InternalException", "PutEvents", 500), 3, id="internal-client-error"),
        pytest.param(EndpointConnectionError(endpoint_url="https://events"), 3, id="connection-error"),
        pytest.param(client_error("AccessDeniedException", "PutEvents"), 1, id="access-denied"),
        pytest.param(client_error("ResourceNotFoundException", "PutEvents"), 1, id="bus-missing"),
    ],
)
def test_put_events_raising_still_creates_the_order(
    aws: Aws,
    creator: ModuleType,
    invoke: Callable[[Any], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    no_backoff: list[float],
    error: Exception,
    expected_calls: int,
) -> None:
    def fail(**_: Any) -> Any:
        raise error

    put_events = Recorder(fail)
    monkeypatch.setattr(creator.events._client, "put_events", put_events)

    response = invoke(order())

    assert response["statusCode"] == 201
    assert response["eventPublished"] is False
    assert len(put_events.calls) == expected_calls
    [stored] = aws.scan_orders()
    assert stored["status"] == "NEW"


# --- DynamoDB failures ------------------------------------------------------------------------


def test_dynamodb_throttling_on_put_is_503_and_publishes_nothing(
    aws: Aws, creator: ModuleType, invoke: Callable[[Any], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(**_: Any) -> Any:
        raise client_error("ProvisionedThroughputExceededException", "PutItem")

    put_item = Recorder(throttled)
    monkeypatch.setattr(creator.orders._client, "put_item", put_item)
    put_events = Recorder(lambda **_: pytest.fail("nothing may be published when the write failed"))
    monkeypatch.setattr(creator.events._client, "put_events", put_events)

    response = invoke(order())

    assert response == {
        "statusCode": 503,
        "error": "ServiceUnavailable",
        "message": "A dependency is throttling or unavailable; nothing was created, retry shortly.",
    }
    assert len(put_item.calls) == 1
    assert put_item.calls[0]["ConditionExpression"] == "attribute_not_exists(orderId)"
    assert put_events.calls == []
    assert aws.scan_orders() == []


def test_unexpected_dynamodb_error_is_500_without_stack_trace(
    aws: Aws,
    creator: ModuleType,
    invoke: Callable[[Any], dict[str, Any]],
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def denied(**_: Any) -> Any:
        raise client_error("AccessDeniedException", "PutItem")

    monkeypatch.setattr(creator.orders._client, "put_item", denied)

    response = invoke(order())

    assert response == {
        "statusCode": 500,
        "error": "InternalError",
        "message": f"The order could not be processed; reference {lambda_context.aws_request_id}.",
    }
    assert aws.published_events() == []


# --- idempotency ------------------------------------------------------------------------------


def test_same_idempotency_key_and_order_returns_the_first_reply(
    aws: Aws, invoke: Callable[[Any], dict[str, Any]]
) -> None:
    first = invoke(order(idempotencyKey="client-retry-1"))
    second = invoke(order(idempotencyKey="client-retry-1"))

    assert first["statusCode"] == 201
    assert second == first
    assert [item["orderId"] for item in aws.scan_orders()] == [first["orderId"]]
    assert len(aws.published_events()) == 1
    assert len(idempotency_items(aws)) == 1


def test_same_idempotency_key_with_a_different_order_is_409(aws: Aws, invoke: Callable[[Any], dict[str, Any]]) -> None:
    first = invoke(order(idempotencyKey="client-retry-2"))
    changed = order(
        idempotencyKey="client-retry-2",
        snackItems=[{"name": "Chips", "quantity": 3, "price": 1.99}],
        totalAmount=5.97,
    )

    response = invoke(changed)

    assert response == {
        "statusCode": 409,
        "error": "IdempotencyKeyReused",
        "message": "This idempotencyKey was already used for a different order; use a new key.",
    }
    assert [item["orderId"] for item in aws.scan_orders()] == [first["orderId"]]
    assert len(aws.published_events()) == 1


def test_different_idempotency_keys_create_different_orders(aws: Aws, invoke: Callable[[Any], dict[str, Any]]) -> None:
    first = invoke(order(idempotencyKey="k-1"))
    second = invoke(order(idempotencyKey="k-2"))
    assert first["orderId"] != second["orderId"]
    assert len(aws.scan_orders()) == 2


def test_same_order_and_key_as_object_then_as_json_text_is_the_same_request(
    aws: Aws, invoke: Callable[[Any], dict[str, Any]]
) -> None:
    first = invoke(order(idempotencyKey="same-order-two-forms"))
    second = invoke(json.dumps(order(idempotencyKey="same-order-two-forms")))
    assert second == first
    assert len(aws.scan_orders()) == 1


def test_failed_attempt_does_not_burn_the_idempotency_key(
    aws: Aws, creator: ModuleType, invoke: Callable[[Any], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_put_item = creator.orders._client.put_item

    def throttled_once(**kwargs: Any) -> Any:
        if kwargs["TableName"] == definitions.ORDERS_TABLE and not throttled_once.done:  # type: ignore[attr-defined]
            throttled_once.done = True  # type: ignore[attr-defined]
            raise client_error("ProvisionedThroughputExceededException", "PutItem")
        return real_put_item(**kwargs)

    throttled_once.done = False  # type: ignore[attr-defined]
    monkeypatch.setattr(creator.orders._client, "put_item", throttled_once)

    assert invoke(order(idempotencyKey="retry-after-503"))["statusCode"] == 503
    assert aws.scan_orders() == []
    retried = invoke(order(idempotencyKey="retry-after-503"))
    assert retried["statusCode"] == 201
    assert [item["orderId"] for item in aws.scan_orders()] == [retried["orderId"]]


# --- logging: no personal data ----------------------------------------------------------------


def _assert_logs_clean(lines: list[str]) -> None:
    assert lines, "the handler logged nothing"
    for line in lines:
        json.loads(line)  # structured JSON, one document per line
        assert CUSTOMER not in line
        assert "Quuxington" not in line


def test_logs_carry_the_order_id_but_never_the_customer_name(
    invoke: Callable[[Any], dict[str, Any]], logs: Callable[[], list[str]]
) -> None:
    response = invoke(order())
    lines = logs()
    _assert_logs_clean(lines)
    created = [json.loads(line) for line in lines if '"order created"' in line]
    assert len(created) == 1
    assert created[0]["orderId"] == response["orderId"]
    assert created[0]["level"] == "INFO"


@pytest.mark.parametrize("scenario", ["invalid", "publish-deferred", "throttled", "unexpected", "idempotency-conflict"])
def test_failure_logs_never_carry_the_customer_name(
    aws: Aws,
    creator: ModuleType,
    invoke: Callable[[Any], dict[str, Any]],
    logs: Callable[[], list[str]],
    monkeypatch: pytest.MonkeyPatch,
    no_backoff: list[float],
    scenario: str,
) -> None:
    def raises(code: str, operation: str) -> Callable[..., Any]:
        def fail(**_: Any) -> Any:
            raise client_error(code, operation)

        return fail

    expected_status = {
        "invalid": 400,
        "publish-deferred": 201,
        "throttled": 503,
        "unexpected": 500,
        "idempotency-conflict": 409,
    }[scenario]
    event = order()
    if scenario == "invalid":
        event = order(totalAmount=1)
    elif scenario == "publish-deferred":
        monkeypatch.setattr(creator.events._client, "put_events", raises("AccessDeniedException", "PutEvents"))
    elif scenario == "throttled":
        monkeypatch.setattr(
            creator.orders._client, "put_item", raises("ProvisionedThroughputExceededException", "PutItem")
        )
    elif scenario == "unexpected":
        monkeypatch.setattr(creator.orders._client, "put_item", raises("ValidationException", "PutItem"))
    else:
        invoke(order(idempotencyKey="same"))
        event = order(idempotencyKey="same", customerName=CUSTOMER + " Jr")

    response = invoke(event)

    assert response["statusCode"] == expected_status
    lines = logs()
    _assert_logs_clean(lines)
    levels = {json.loads(line).get("level") for line in lines}
    if expected_status >= 500:
        assert "ERROR" in levels
    if scenario == "publish-deferred":
        warning = [json.loads(line) for line in lines if '"level":"WARNING"' in line]
        assert warning and warning[0]["orderId"] == response["orderId"]


# --- property: never a 5xx, and a rejection writes nothing ------------------------------------

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
near_orders = st.fixed_dictionaries(
    {},
    optional={
        "customerName": st.one_of(st.just(CUSTOMER), st.text(max_size=110), json_values),
        "snackItems": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "name": st.one_of(st.just("Chips"), st.text(max_size=5), json_values),
                        "quantity": st.one_of(st.integers(-2, 1002), st.booleans(), st.floats(), json_values),
                        "price": st.one_of(
                            st.decimals(min_value=-1, max_value=10001, places=3).map(float),
                            st.just(1.99),
                            json_values,
                        ),
                    },
                ),
                max_size=3,
            ),
            json_values,
        ),
        "totalAmount": st.one_of(st.just(3.98), st.floats(), st.integers(), json_values),
        "idempotencyKey": st.one_of(st.just("prop-key"), st.text(max_size=10), json_values),
        "extra": json_values,
    },
)


@st.composite
def one_field_changed(draw: st.DrawFn) -> dict[str, Any]:
    """A valid order (keys reused across examples), sometimes with one field replaced by any JSON value."""
    quantity = draw(st.integers(1, 3))
    result = order(
        customerName=draw(st.sampled_from([CUSTOMER, "Ann", "\u05d3\u05d5\u05d3"])),
        snackItems=[{"name": "Chips", "quantity": quantity, "price": 1.99}],
        totalAmount=float(Decimal("1.99") * quantity),
    )
    key = draw(st.sampled_from([None, "prop-key-1", "prop-key-2"]))
    if key is not None:
        result["idempotencyKey"] = key
    field = draw(st.sampled_from([None, None, None, "customerName", "snackItems", "totalAmount", "idempotencyKey"]))
    if field is not None:
        result[field] = draw(json_values)
    return result


def _as_event(value: Any, form: str) -> Any:
    if form == "object":
        return value
    try:
        return json.dumps(value)
    except (ValueError, TypeError):
        return repr(value)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    value=st.one_of(json_values, near_orders, one_field_changed(), one_field_changed()),
    form=st.sampled_from(["object", "text"]),
)
def test_property_arbitrary_payload_is_never_a_5xx_and_rejections_write_nothing(
    aws: Aws, invoke: Callable[[Any], dict[str, Any]], value: Any, form: str
) -> None:
    before = len(aws.scan_orders())

    response = invoke(_as_event(value, form))

    status = response["statusCode"]
    note_event(f"status {status}")
    after = len(aws.scan_orders())
    published = aws.published_events()
    assert status < 500, response
    if status >= 400:
        assert {"error", "message"} <= set(response)
        assert after == before
        assert published == []
    else:
        assert status == 201
        assert after - before in (0, 1)  # 0: the same idempotencyKey and order again
        assert len(published) == after - before


# --- the invocation's deadline ------------------------------------------------------------------
# Lambda stops a function at its timeout wherever it is ("Configure Lambda function timeout",
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html). The creator reads the
# time left from its context (``get_remaining_time_in_millis``, "Using the Lambda context object",
# https://docs.aws.amazon.com/lambda/latest/dg/python-context.html) and answers before the timeout.


def test_too_little_time_to_write_safely_is_503_and_writes_nothing(
    aws: Aws, invoke: Callable[[Any], dict[str, Any]], lambda_context: FakeLambdaContext
) -> None:
    from order_service.adapters.clients import ANSWER_MARGIN_SECONDS, call_worst_case_seconds

    needed_ms = int((2 * call_worst_case_seconds() + ANSWER_MARGIN_SECONDS) * 1000)
    lambda_context.remaining_ms = needed_ms - 1

    response = invoke(order())

    assert response["statusCode"] == 503
    assert response["error"] == "ServiceUnavailable"
    assert aws.scan_orders() == []
    assert aws.published_events() == []


def test_enough_time_to_write_but_not_to_publish_defers_the_event(
    aws: Aws, creator: ModuleType, invoke: Callable[[Any], dict[str, Any]], lambda_context: FakeLambdaContext
) -> None:
    """The write went through; the reply says the event is deferred (the reconciler publishes it)
    instead of the function being cut off during PutEvents with the caller left guessing."""
    from order_service.adapters.clients import ANSWER_MARGIN_SECONDS, call_worst_case_seconds

    # The PutItem "took" long enough that only one more call (the answer's) fits.
    left_after_write = int((call_worst_case_seconds() + ANSWER_MARGIN_SECONDS + 0.5) * 1000)
    creator.orders._client.meta.events.register(
        "after-call.dynamodb.PutItem", lambda **_: setattr(lambda_context, "remaining_ms", left_after_write)
    )

    response = invoke(order())

    assert response["statusCode"] == 201
    assert response["eventPublished"] is False
    [stored] = aws.scan_orders()
    assert stored["orderId"] == response["orderId"] and stored["status"] == "NEW"
    assert aws.published_events() == []


def test_every_aws_call_is_refused_when_it_could_outlast_the_invocation(
    aws: Aws, creator: ModuleType, lambda_context: FakeLambdaContext
) -> None:
    from order_service.adapters.clients import call_worst_case_seconds
    from order_service.adapters.deadline import INVOCATION_DEADLINE
    from order_service.domain.errors import DeadlineTooClose

    lambda_context.remaining_ms = int(call_worst_case_seconds() * 1000)
    INVOCATION_DEADLINE.context = lambda_context
    try:
        with pytest.raises(DeadlineTooClose):
            creator.orders._client.describe_table(TableName=definitions.ORDERS_TABLE)
    finally:
        INVOCATION_DEADLINE.context = None
    # Outside an invocation (no context bound) nothing is refused.
    assert creator.orders._client.describe_table(TableName=definitions.ORDERS_TABLE)["Table"]


def test_too_little_time_with_an_idempotency_key_is_503_and_leaves_no_record(
    aws: Aws, invoke: Callable[[Any], dict[str, Any]], lambda_context: FakeLambdaContext
) -> None:
    """The idempotency layer writes first; with too little time even for that write, the answer is still
    503 (not the idempotency layer's error), and the retry with the same key starts afresh."""
    from order_service.adapters.clients import ANSWER_MARGIN_SECONDS, call_worst_case_seconds

    lambda_context.remaining_ms = int((call_worst_case_seconds() + ANSWER_MARGIN_SECONDS) * 1000) - 1

    response = invoke(order(idempotencyKey="retry-me-later"))

    assert (response["statusCode"], response["error"]) == (503, "ServiceUnavailable")
    assert aws.scan_orders() == []
    assert aws.dynamodb.scan(TableName=definitions.IDEMPOTENCY_TABLE)["Items"] == []
    lambda_context.remaining_ms = definitions.CREATOR_TIMEOUT_SECONDS * 1000
    assert invoke(order(idempotencyKey="retry-me-later"))["statusCode"] == 201
