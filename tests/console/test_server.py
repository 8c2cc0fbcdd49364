"""The console's server under bad input: a clear 4xx page, never a traceback, nothing written.

Driven through Flask's test client against the real local stack (the console reads and writes
through the same boto3 code as the CLI).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from order_service.domain.order import OrderStatus
from snacks.aws import Aws
from snacks.console.app import MAX_BODY_BYTES, create_app
from tests.console.conftest import create_order, order_count, wait_for

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def app(aws: Aws) -> Flask:
    return create_app(aws)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_token(client: FlaskClient, path: str = "/orders/new") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def assert_error_page(response: Any, status: int, *phrases: str) -> str:
    body = str(response.get_data(as_text=True))
    assert response.status_code == status, body
    assert 'id="error"' in body and "Traceback" not in body and 'File "' not in body
    for phrase in phrases:
        assert phrase in body, body
    return body


def order_form(**fields: str) -> dict[str, str]:
    return {
        "customerName": "Ada Lovelace",
        "item-0-name": "Pretzels",
        "item-0-quantity": "2",
        "item-0-price": "2.99",
        "totalAmount": "",
        **fields,
    }


def test_unknown_and_malformed_order_ids_are_404_and_400(client: FlaskClient) -> None:
    assert_error_page(client.get(f"/orders/{UNKNOWN_ID}"), 404, f"No order {UNKNOWN_ID}")
    assert_error_page(client.get(f"/api/orders/{UNKNOWN_ID}"), 404)
    assert_error_page(client.get("/orders/not%20an%20id%21"), 400, "not an order id")
    assert_error_page(client.get("/orders/" + "a" * 65), 400)
    assert_error_page(client.get("/no-such-page"), 404)


def test_unknown_status_filter_is_400(client: FlaskClient) -> None:
    assert_error_page(client.get("/orders?status=SHIPPED"), 400, "Unknown status", "PROCESSED")
    assert_error_page(client.get("/api/orders?status=%00"), 400)


def test_a_post_without_csrf_token_is_refused_and_writes_nothing(client: FlaskClient, aws: Aws) -> None:
    before = order_count(aws)
    assert_error_page(client.post("/orders/new", data=order_form()), 400, "CSRF")
    assert_error_page(client.post("/orders/new", data=order_form(csrf_token="forged")), 400, "CSRF")
    assert_error_page(client.post("/dlq/replay", data={"scope": "all", "confirm": "yes"}), 400, "CSRF")
    assert order_count(aws) == before


def test_a_malformed_form_shows_the_creators_field_errors_next_to_the_fields_and_writes_nothing(
    client: FlaskClient, aws: Aws
) -> None:
    before = order_count(aws)
    form = order_form(
        csrf_token=csrf_token(client), customerName="", **{"item-0-quantity": "two", "item-0-price": "3.999"}
    )
    response = client.post("/orders/new", data=form)
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and "Traceback" not in body
    errors = dict(re.findall(r'<span class="field-error" data-field="([^"]+)">([^<]+)</span>', body))
    assert set(errors) >= {"customerName", "item-0-quantity", "item-0-price"}, errors
    assert "whole number" in errors["item-0-quantity"] and "2 decimal places" in errors["item-0-price"]
    assert 'value="two"' in body  # what was typed stays in the form
    assert order_count(aws) == before


def test_an_oversized_body_is_413_and_writes_nothing(client: FlaskClient, aws: Aws) -> None:
    before = order_count(aws)
    form = order_form(csrf_token=csrf_token(client), customerName="x" * (MAX_BODY_BYTES + 1))
    assert_error_page(client.post("/orders/new", data=form), 413)
    assert order_count(aws) == before


def test_replay_needs_a_scope_and_the_confirmation(client: FlaskClient) -> None:
    token = csrf_token(client)
    assert_error_page(client.post("/dlq/replay", data={"csrf_token": token, "scope": "some"}), 400, "scope")
    assert_error_page(client.post("/dlq/replay", data={"csrf_token": token, "scope": "one", "orderId": "../x"}), 400)
    assert_error_page(client.post("/dlq/replay", data={"csrf_token": token, "scope": "all"}), 400, "confirmation")
    assert_error_page(client.get(f"/dlq/replay?scope=one&orderId={UNKNOWN_ID}"), 404, "No dead letter")


def test_against_a_non_local_endpoint_the_console_is_read_only_unless_allowed() -> None:
    # Nothing is reached: the refusal comes before any AWS call (the host does not even resolve).
    remote = Aws(endpoint_url="https://console-test.invalid", region="us-east-1")
    client = create_app(remote).test_client()
    page = client.get("/orders/new").get_data(as_text=True)
    assert "read-only" in page and 'id="nav-new"' not in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    refused = client.post("/orders/new", data=order_form(csrf_token=token.group(1)))
    assert_error_page(refused, 403, "--allow-writes")
    assert_error_page(client.get("/dlq/replay?scope=all"), 403, "--allow-writes")
    assert_error_page(client.post("/dlq/replay", data={"csrf_token": token.group(1), "scope": "all"}), 403)

    allowed = create_app(remote, allow_writes=True).test_client().get("/orders/new").get_data(as_text=True)
    assert "read-only" not in allowed


def test_nothing_listening_is_a_503_page_that_says_to_start_the_local_stack() -> None:
    silent = Aws(endpoint_url="http://127.0.0.1:9", region="us-east-1")  # discard port: nothing listens
    body = assert_error_page(create_app(silent).test_client().get("/orders"), 503, "snacks local")
    assert "Nothing is answering at http://127.0.0.1:9" in body


def test_the_console_logs_no_customer_name(
    client: FlaskClient, aws: Aws, console: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Creating through the form, an order page, a failing POST: no log line names the customer."""
    name = "Zelda Quixotic-Nameprobe"
    caplog.set_level(logging.INFO)
    response = client.post("/orders/new", data=order_form(csrf_token=csrf_token(client), customerName=name))
    assert response.status_code == 303
    order_id = response.headers["Location"].rsplit("/", 1)[-1]
    wait_for(aws, order_id, OrderStatus.PROCESSED)
    assert name in client.get(f"/orders/{order_id}").get_data(as_text=True)  # shown on the page...
    client.post("/orders/new", data=order_form(customerName=name))  # ... and refused without CSRF
    assert any(order_id in record.getMessage() for record in caplog.records)  # the console does log
    assert not [record.getMessage() for record in caplog.records if name in record.getMessage()]


def test_api_shows_each_states_outcome_attempts_and_errors(client: FlaskClient, aws: Aws) -> None:
    """Flaky Fries fails its first fulfilment (demo fault plan), then succeeds on the retry."""
    order_id = create_order(aws, "Retry Tester", ("Flaky Fries", 1, "2.50"))
    wait_for(aws, order_id, OrderStatus.PROCESSED)
    (execution,) = client.get(f"/api/orders/{order_id}").get_json()["executions"]
    states = {state["name"]: state for state in execution["states"]}
    assert execution["status"] == "SUCCEEDED"
    assert [tuple(pair) for pair in execution["path"]] == [
        ("Validate", "Fulfil"),
        ("Fulfil", "InStock"),
        ("InStock", "MarkProcessed"),  # paid at pickup: no AuthorizePayment
    ]  # MarkProcessed ends the execution (it announces Order Processed itself)
    assert states["Fulfil"]["outcome"] == "retried" and states["Fulfil"]["attempts"] == 2
    assert [failure["error"] for failure in states["Fulfil"]["failures"]] == ["FulfillmentUnavailable"]
    assert states["Validate"]["outcome"] == "succeeded" and states["Validate"]["attempts"] == 1
    assert states["MarkProcessed"]["output"] and states["Fulfil"]["input"]


def test_api_shows_a_caught_failure_and_the_fail_state(client: FlaskClient, aws: Aws) -> None:
    order_id = create_order(aws, "Catch Tester", ("Doom Donut", 1, "1.00"))
    wait_for(aws, order_id, OrderStatus.FAILED)
    (execution,) = client.get(f"/api/orders/{order_id}").get_json()["executions"]
    outcomes = {state["name"]: state["outcome"] for state in execution["states"]}
    assert execution["status"] == "FAILED"
    assert outcomes == {
        "Validate": "succeeded",
        "Fulfil": "caught",
        "FulfilFailed": "succeeded",
        "RecordFailure": "succeeded",
        "FailedOrCancelled": "succeeded",
        "PublishFailed": "succeeded",
        "SendToDLQ": "succeeded",
        "OrderFailed": "failed",
    }
    # A permanent error is not retried (the ASL retries only transient errors).
    assert next(state for state in execution["states"] if state["name"] == "Fulfil")["attempts"] == 1


def test_replay_all_lists_what_it_will_replay_then_replays_each_and_shows_the_outcomes(
    client: FlaskClient, aws: Aws
) -> None:
    order_ids = [create_order(aws, f"Replay All {n}", ("Doom Donut", 1, "1.00")) for n in range(2)]
    for order_id in order_ids:
        wait_for(aws, order_id, OrderStatus.FAILED)
    confirm = client.get("/dlq/replay?scope=all").get_data(as_text=True)
    assert all(order_id in confirm for order_id in order_ids) and 'name="scope" value="all"' in confirm
    token = re.search(r'name="csrf_token" value="([^"]+)"', confirm)
    assert token is not None
    done = client.post("/dlq/replay", data={"csrf_token": token.group(1), "scope": "all", "confirm": "yes"})
    outcomes = dict(
        re.findall(
            r'<tr data-order-id="([^"]*)">.*?<td class="outcome">([^<]+)</td>', done.get_data(as_text=True), re.S
        )
    )
    assert done.status_code == 200 and {outcomes.get(order_id) for order_id in order_ids} == {"replayed"}


def test_the_status_filter_lists_only_that_status_newest_first(client: FlaskClient, aws: Aws) -> None:
    failed = create_order(aws, "Filter Failed", ("Doom Donut", 1, "1.00"))
    processed = create_order(aws, "Filter Processed", ("Nuts", 2, "1.00"))
    wait_for(aws, failed, OrderStatus.FAILED)
    wait_for(aws, processed, OrderStatus.PROCESSED)
    rows = client.get("/api/orders?status=FAILED").get_json()
    assert {row["status"] for row in rows} == {"FAILED"} and failed in {row["orderId"] for row in rows}
    assert processed not in {row["orderId"] for row in rows}
    everything = client.get("/api/orders").get_json()
    created = [row["createdAt"] for row in everything]
    assert created == sorted(created, reverse=True) and {failed, processed} <= {row["orderId"] for row in everything}
    page = client.get("/orders?status=FAILED").get_data(as_text=True)
    assert '<option value="FAILED" selected>' in page and failed in page and processed not in page


def failed_then_cancelled_then_run_again(aws: Aws, customer: str) -> str:
    """An order whose executions end differently: FAILED (Doom Donut), then cancelled, then its event
    comes again (a late duplicate) and the second execution meets the cancel: SUCCEEDED (AlreadySettled)."""
    from order_service.adapters.eventbridge_publisher import EventBridgePublisher
    from order_service.domain.events import OrderCreated
    from snacks import operations
    from snacks.console.executions import ExecutionFinder

    order_id = create_order(aws, customer, ("Doom Donut", 1, "1.00"))
    wait_for(aws, order_id, OrderStatus.FAILED)
    assert operations.invoke_canceller(aws, order_id)["statusCode"] == 200
    record = wait_for(aws, order_id, OrderStatus.CANCELLED)
    EventBridgePublisher(aws.client("events"), aws.names.event_bus).publish_order_created(
        OrderCreated.from_record(record)
    )
    finder, deadline = ExecutionFinder(aws), time.monotonic() + 30
    while [e["status"] for e in finder.for_order(order_id)] != ["FAILED", "SUCCEEDED"]:
        assert time.monotonic() < deadline, finder.for_order(order_id)
        time.sleep(0.1)
    return order_id


def test_each_execution_wears_its_own_status_badge(client: FlaskClient, aws: Aws) -> None:
    """Not the first execution's status on every one (issue 17, item 19: a planted bug that survived)."""
    order_id = failed_then_cancelled_then_run_again(aws, "Badge Tester")
    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    badges = re.findall(
        r'<section class="execution"[^>]*>\s*<h3>#\d+ <code>[^<]+</code> <span class="status (\w+)">(\w+)<', page
    )
    assert badges == [("FAILED", "FAILED"), ("SUCCEEDED", "SUCCEEDED")], page


def test_a_cancelled_orders_dead_letter_is_apart_from_the_failures_and_offers_no_replay(
    client: FlaskClient, aws: Aws
) -> None:
    cancelled = failed_then_cancelled_then_run_again(aws, "Settled Letter")
    page = client.get("/dlq").get_data(as_text=True)
    failures, _, settled = page.partition('id="dlq-settled"')
    assert cancelled not in failures
    row = re.search(rf'<tr data-order-id="{cancelled}">(.*?)</tr>', settled, re.S)
    assert row is not None and '<span class="status CANCELLED">CANCELLED</span>' in row.group(1)
    assert "Fulfil · <code>FulfillmentRejected</code>" in row.group(1) and "replay" not in row.group(1).lower()
    assert_error_page(client.get(f"/dlq/replay?scope=one&orderId={cancelled}"), 409, "is CANCELLED: nothing to replay")


@pytest.mark.parametrize("status", ["REJECTED", "CANCELLED"])
def test_rejected_and_cancelled_orders_show_why_in_a_summary_row(client: FlaskClient, aws: Aws, status: str) -> None:
    """As FAILED shows its failure: the reason without opening the folded record."""
    from snacks import operations

    if status == "REJECTED":
        operations.set_stock(aws, "Summary Scones", 1)
        order_id = create_order(aws, "Summary Tester", ("Summary Scones", 2, "1.00"), ("Summary Scones", 1, "1.00"))
        wait_for(aws, order_id, OrderStatus.REJECTED)
        says = "OutOfStock · Summary Scones: 3 asked, 1 available"
    else:
        order_id = create_order(aws, "Summary Tester", ("Doom Donut", 1, "1.00"))
        wait_for(aws, order_id, OrderStatus.FAILED)
        assert operations.invoke_canceller(aws, order_id)["statusCode"] == 200
        wait_for(aws, order_id, OrderStatus.CANCELLED)
        says = ", when it was FAILED"
    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    row = re.search(
        rf'<dt>{status.title()}</dt><dd class="{status.lower()}" id="summary-{status.lower()}">([^<]+)</dd>', page
    )
    assert row is not None and says in row.group(1), page
    assert f'<span class="status {status}" id="order-status">{status}</span>' in page
