"""Card payment inside the saga, on the local stack with its Stripe emulator (localstripe, stateful).

Every verdict about money comes from the provider's own state, listed through the official ``stripe`` SDK
against the emulator (intents, their charge: captured or not, amount refunded), never from our record:
"no double charge" is a count of captures at the provider.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import stripe

from order_service.domain.order import OrderRecord, OrderRequest, OrderStatus, SnackItem
from snacks import operations
from snacks.aws import Aws
from tests.statemachine.test_fulfillment_workflow import (
    announced,
    assert_status_event,
    dead_letters_for,
    entered,
    order_created_event,
    run,
    status_events,  # noqa: F401 (a fixture)
    task_attempts,
)

PRICE, QUANTITY = Decimal("2.50"), 2  # 5.00 USD: 500 cents


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    from snacks.local import LocalStack

    with LocalStack(port=0, virtual_time=True) as local:
        yield local


@pytest.fixture(scope="module")
def aws(stack: Any) -> Aws:
    return Aws(endpoint_url=stack.endpoint_url, region=stack.region)


@pytest.fixture(scope="module")
def sfn(aws: Aws) -> Any:
    return aws.client("stepfunctions")


@pytest.fixture
def emulator(stack: Any) -> Iterator[Any]:
    yield stack.stripe
    stack.stripe.clear_faults()


@pytest.fixture(scope="module")
def provider(stack: Any) -> stripe.StripeClient:
    """The test's own view of the provider: the official SDK against the emulator."""
    return stripe.StripeClient(stack.stripe.secret_key, base_addresses={"api": stack.stripe.url})


def card_order(aws: Aws, payment_method: str = "pm_card_visa", snack: str | None = None) -> tuple[str, str]:
    """A NEW card order stored directly (no creator: the test starts its execution); (order id, snack)."""
    snack = snack or f"Paid Pretzel {uuid.uuid4().hex[:8]}"
    order_id = str(uuid.uuid4())
    request = OrderRequest(
        customer_name="Payment Test",
        snack_items=(SnackItem(name=snack, quantity=QUANTITY, price=PRICE),),
        total_amount=PRICE * QUANTITY,
        payment_method=payment_method,
    )
    operations.repository(aws).create(OrderRecord.new(order_id, request, datetime.now(UTC)))
    return order_id, snack


def intents(provider: stripe.StripeClient, order_id: str) -> list[Any]:
    return [
        intent
        for intent in provider.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
        if intent.metadata.to_dict().get("orderId") == order_id
    ]


def captured_cents(intent: Any) -> int:
    charge = intent.latest_charge
    return int(charge.amount) if charge is not None and charge.status == "succeeded" and charge.captured else 0


def refunded_cents(intent: Any) -> int:
    charge = intent.latest_charge
    return int(charge.amount_refunded) if charge is not None else 0


def held_cents(intent: Any) -> int:
    """An authorization still held: authorized, neither captured nor voided."""
    return int(intent.amount) if intent.status == "requires_capture" else 0


def record(aws: Aws, order_id: str) -> OrderRecord:
    found = operations.get_order(aws, order_id)
    assert found is not None
    return found


def test_a_card_order_is_authorized_then_captured_once(sfn: Any, aws: Aws, provider: Any) -> None:
    order_id, _ = card_order(aws)
    execution, history = run(sfn, aws, order_created_event(order_id))

    assert execution["status"] == "SUCCEEDED"
    assert entered(history)[1:] == ["Fulfil", "InStock", "AuthorizePayment", "Paid", "MarkProcessed"]
    order = record(aws, order_id)
    assert order.status is OrderStatus.PROCESSED
    assert order.payment is not None and order.payment["status"] == "captured"
    (intent,) = intents(provider, order_id)
    assert intent.id == order.payment["paymentIntentId"]
    assert (intent.status, intent.amount, intent.currency, intent.capture_method) == ("succeeded", 500, "usd", "manual")
    assert (captured_cents(intent), refunded_cents(intent)) == (500, 0)


def test_a_decline_rejects_the_order_and_leaves_the_stock_as_it_was(
    sfn: Any,
    aws: Aws,
    provider: Any,
    status_events: str,  # noqa: F811 (the fixture imported above)
) -> None:
    """A decline is a business outcome: REJECTED PaymentDeclined, stock given back in the same transaction,
    Order Rejected announced, no retry, nothing in the DLQ."""
    order_id, snack = card_order(aws, "pm_card_chargeDeclined")
    operations.set_stock(aws, snack, 7)
    execution, history = run(sfn, aws, order_created_event(order_id))

    assert execution["status"] == "SUCCEEDED"
    assert entered(history)[-4:] == ["AuthorizePayment", "Paid", "PublishPaymentDeclined", "OrderRejected"]
    assert task_attempts(history)["AuthorizePayment"] == 1
    order = record(aws, order_id)
    assert order.status is OrderStatus.REJECTED
    assert order.rejection is not None and order.rejection["reason"] == "PaymentDeclined"
    assert order.reservation is None and order.payment is not None and order.payment["status"] == "declined"
    assert dict(operations.list_stock(aws))[snack] == 7
    assert dead_letters_for(aws, order_id) == []
    (event,) = announced(aws, status_events, order_id)
    assert_status_event(event, order_id, "Order Rejected", "REJECTED", "PaymentDeclined")
    (intent,) = intents(provider, order_id)
    assert (captured_cents(intent), held_cents(intent)) == (0, 0)


def test_a_provider_failing_every_capture_fails_the_order_releases_stock_and_voids(
    sfn: Any, aws: Aws, provider: Any, emulator: Any
) -> None:
    """A provider error is transient: MarkProcessed is retried (2 retries), then the catch path marks the order
    FAILED, gives its stock back and voids the authorization (the void itself gets through), and the DLQ has it."""
    order_id, snack = card_order(aws)
    operations.set_stock(aws, snack, 4)
    emulator.fail("capture")
    execution, history = run(sfn, aws, order_created_event(order_id))

    assert execution["status"] == "FAILED"
    assert task_attempts(history)["MarkProcessed"] == 3
    order = record(aws, order_id)
    assert order.status is OrderStatus.FAILED
    assert order.failure is not None and order.failure["error"] == "PaymentProviderUnavailable"
    assert order.payment is not None and order.payment["status"] == "canceled"
    assert dict(operations.list_stock(aws))[snack] == 4
    (letter,) = dead_letters_for(aws, order_id)
    assert (letter.failed_step, letter.error) == ("MarkProcessed", "PaymentProviderUnavailable")
    (intent,) = intents(provider, order_id)
    assert (intent.status, captured_cents(intent), held_cents(intent)) == ("canceled", 0, 0)


def test_an_authorization_whose_answer_was_lost_is_still_voided(
    sfn: Any, aws: Aws, provider: Any, emulator: Any
) -> None:
    """The provider authorizes the card but every answer is lost (503 after the work): the order never learns
    it was authorized, fails after the retries, and the release still voids it, because the intent was
    recorded on the order before it was confirmed."""
    order_id, _ = card_order(aws)
    emulator.fail("confirm", after_processing=True)
    execution, history = run(sfn, aws, order_created_event(order_id))

    assert execution["status"] == "FAILED"
    assert task_attempts(history)["AuthorizePayment"] == 3
    order = record(aws, order_id)
    assert order.status is OrderStatus.FAILED and order.payment is not None
    assert order.payment["status"] == "canceled"
    (intent,) = intents(provider, order_id)
    assert intent.latest_charge is not None and intent.latest_charge.status == "succeeded"  # it was authorized
    assert (intent.status, captured_cents(intent), held_cents(intent)) == ("canceled", 0, 0)


def test_a_provider_outage_leaves_nothing_held_after_a_cancel(sfn: Any, aws: Aws, provider: Any, emulator: Any) -> None:
    """The whole provider down (connection refused) once the card is authorized: MarkProcessed and then the
    release in RecordFailure fail; the order is FAILED with its stock back, still holding the authorization,
    and in the DLQ. Nothing is lost: once the provider is back, cancelling the order voids it."""
    order_id, snack = card_order(aws)
    operations.set_stock(aws, snack, 3)
    fault = emulator.hold("confirm")  # authorized at the provider; the answer held back
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(run(sfn, aws, order_created_event(order_id))))
    worker.start()
    try:
        assert fault.reached.wait(30), "never reached the confirm"
        emulator.outage()  # from now on every call is refused; the held answer still goes out
    finally:
        emulator.release("confirm")
        worker.join(60)
    try:
        ((execution, history),) = result
        assert execution["status"] == "FAILED"
        assert task_attempts(history)["MarkProcessed"] == 3
        order = record(aws, order_id)
        assert order.status is OrderStatus.FAILED
        assert dict(operations.list_stock(aws))[snack] == 3
        assert order.payment is not None and order.payment["status"] == "authorized"  # could not be released
        assert len(dead_letters_for(aws, order_id)) == 1
    finally:
        emulator.recover()
    (intent,) = intents(provider, order_id)
    assert held_cents(intent) == 500

    reply = operations.invoke_canceller(aws, order_id)
    assert (reply["statusCode"], reply["status"]) == (200, "CANCELLED")
    assert reply["order"]["payment"]["status"] == "canceled"
    (intent,) = intents(provider, order_id)
    assert (intent.status, captured_cents(intent), held_cents(intent)) == ("canceled", 0, 0)


def test_duplicate_executions_authorize_and_capture_once(
    sfn: Any, aws: Aws, provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two executions of one order (at-least-once delivery) meet before AuthorizePayment and again before
    MarkProcessed and go on together: one intent, one capture, at the provider."""
    from snacks.local.lambda_runtime import DirectInvokeClient

    order_id, _ = card_order(aws)
    barriers = {"authorizePayment": threading.Barrier(2, timeout=30), "markProcessed": threading.Barrier(2, timeout=30)}
    real_invoke = DirectInvokeClient.invoke

    def invoke(client: Any, **parameters: Any) -> Any:
        request = json.loads(parameters.get("Payload") or b"{}")
        barrier = barriers.get(request.get("step"))
        if request.get("orderId") == order_id and barrier is not None and request.get("attempt") == 0:
            barrier.wait()
        return real_invoke(client, **parameters)

    monkeypatch.setattr(DirectInvokeClient, "invoke", invoke)
    event = order_created_event(order_id)
    results: list[Any] = []
    workers = [threading.Thread(target=lambda: results.append(run(sfn, aws, event))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)

    assert len(results) == 2 and not any(barrier.broken for barrier in barriers.values())
    assert all(execution["status"] == "SUCCEEDED" for execution, _ in results)
    assert record(aws, order_id).status is OrderStatus.PROCESSED
    (intent,) = intents(provider, order_id)
    assert (intent.status, captured_cents(intent), refunded_cents(intent)) == ("succeeded", 500, 0)


def race_cancel_with_capture(
    sfn: Any, aws: Aws, emulator: Any, work_first: bool
) -> tuple[str, str, Any, dict[str, Any]]:
    """Hold the capture (after doing it, or before), cancel meanwhile, then let the capture answer."""
    order_id, snack = card_order(aws)
    operations.set_stock(aws, snack, 6)
    fault = emulator.hold("capture", work_first=work_first)
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(run(sfn, aws, order_created_event(order_id))))
    worker.start()
    try:
        assert fault.reached.wait(30), "never reached the capture"
        reply = operations.invoke_canceller(aws, order_id)
    finally:
        emulator.release("capture")
        worker.join(60)
    ((execution, history),) = result
    assert execution["status"] == "SUCCEEDED"
    assert entered(history)[-1] == "MarkProcessed" and json.loads(execution["output"])["status"] == "CANCELLED"
    assert dict(operations.list_stock(aws))[snack] == 6
    return order_id, snack, reply, execution


def test_a_cancel_racing_a_capture_that_went_through_refunds_it(
    sfn: Any, aws: Aws, provider: Any, emulator: Any
) -> None:
    """The capture is done at the provider but its answer not yet back when the cancel writes CANCELLED: the
    cancel finds the intent captured and refunds it; MarkProcessed's write then fails and it ends Cancelled."""
    order_id, _, reply, _ = race_cancel_with_capture(sfn, aws, emulator, work_first=True)
    assert (reply["statusCode"], reply["status"]) == (200, "CANCELLED")
    assert reply["order"]["payment"]["status"] == "refunded"
    (intent,) = intents(provider, order_id)
    assert (captured_cents(intent), refunded_cents(intent)) == (500, 500)  # captured once, given back in full


def test_a_cancel_before_the_capture_voids_and_the_capture_finds_it_voided(
    sfn: Any, aws: Aws, provider: Any, emulator: Any
) -> None:
    order_id, _, reply, _ = race_cancel_with_capture(sfn, aws, emulator, work_first=False)
    assert reply["order"]["payment"]["status"] == "canceled"
    (intent,) = intents(provider, order_id)
    assert (intent.status, captured_cents(intent), held_cents(intent)) == ("canceled", 0, 0)
    assert record(aws, order_id).status is OrderStatus.CANCELLED


def test_a_replay_after_a_void_authorizes_afresh(sfn: Any, aws: Aws, provider: Any, emulator: Any) -> None:
    """Payment generations: the replayed order (replay 1) gets new idempotency keys, so a new intent is
    authorized and captured; the first stays voided."""
    order_id, _ = card_order(aws)
    emulator.fail("capture")
    run(sfn, aws, order_created_event(order_id))
    emulator.clear_faults()
    assert record(aws, order_id).status is OrderStatus.FAILED

    outcomes = operations.replay_dead_letters(aws, order_id, dry_run=False)
    assert [outcome.outcome for outcome in outcomes] == ["replayed"]
    final = operations.wait_for_final(aws, order_id, timeout=30)
    assert final is not None and final.status is OrderStatus.PROCESSED
    first, second = sorted(intents(provider, order_id), key=lambda intent: intent.created)
    assert (first.status, captured_cents(first)) == ("canceled", 0)
    assert (second.status, captured_cents(second)) == ("succeeded", 500)
    assert final.payment is not None and final.payment["paymentIntentId"] == second.id


def test_a_retried_create_whose_first_answer_was_lost_makes_one_intent(
    sfn: Any, aws: Aws, provider: Any, emulator: Any
) -> None:
    """The first create is done at the provider but its answer lost (503 after the work): the retried step
    sends the same idempotency key and gets the same intent back, not a second one ("Idempotent requests",
    https://docs.stripe.com/api/idempotent_requests)."""
    order_id, _ = card_order(aws)
    emulator.fail("create", after_processing=True, times=1)
    execution, history = run(sfn, aws, order_created_event(order_id))

    assert execution["status"] == "SUCCEEDED"
    assert task_attempts(history)["AuthorizePayment"] == 2
    (intent,) = intents(provider, order_id)
    assert (intent.status, captured_cents(intent)) == ("succeeded", 500)


def test_a_cancel_while_the_provider_is_down_answers_503_and_its_repeat_releases(
    sfn: Any, aws: Aws, provider: Any, emulator: Any
) -> None:
    """The cancel's write comes first (CANCELLED, stock back); the void cannot reach the provider: the answer
    is 503 PaymentReleasePending, not a lost payment. Meanwhile the held capture goes through (the intent was
    still authorized) and MarkProcessed finds the order CANCELLED. The same cancel, repeated once the provider
    is back, gives the captured money back: refunded in full, at the provider."""
    order_id, _ = card_order(aws)
    fault = emulator.hold("capture", work_first=False)
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(run(sfn, aws, order_created_event(order_id))))
    worker.start()
    try:
        assert fault.reached.wait(30), "never reached the capture"
        emulator.fail("cancel")
        reply = operations.invoke_canceller(aws, order_id)
    finally:
        emulator.release("capture")
        worker.join(60)
    assert (reply["statusCode"], reply["error"]) == (503, "PaymentReleasePending")
    assert record(aws, order_id).status is OrderStatus.CANCELLED
    emulator.clear_faults()
    again = operations.invoke_canceller(aws, order_id)
    assert (again["statusCode"], again["changed"], again["order"]["payment"]["status"]) == (200, False, "refunded")
    (intent,) = intents(provider, order_id)
    assert (captured_cents(intent), refunded_cents(intent), held_cents(intent)) == (500, 500, 0)
