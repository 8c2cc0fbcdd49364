"""The storefront on the local stack: HTTP API and WebSocket API served with API Gateway's event formats,
driving the real handlers (snacks/local/storefront.py).

API Gateway's own answers pinned here: no matching route -> 404 {"message":"Not Found"}, a body over the
10 MB payload quota -> 413 (Developer Guide, "Quotas for configuring and running an HTTP API in API
Gateway"); a $connect integration answering non-2xx refuses the handshake with that status (Developer
Guide, "Use $connect and $disconnect routes"); PostToConnection to a closed connection -> 410 GoneException.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from snacks.aws import Aws

DOOM = "Doom Donut"  # fails permanently under this module's fault plan: FAILED, then cancellable
WAIT_SECONDS = 20.0  # a bound, not an expectation: the events arrive in milliseconds


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    from snacks.local import LocalStack

    with LocalStack(port=0, virtual_time=True, fulfillment_faults=f"{DOOM}=permanent") as local:
        yield local


def call(
    stack: Any, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(
        stack.storefront.http_api_url + path, data=body, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def place(stack: Any, snack: str = "Chips", payment_method: str | None = None) -> dict[str, Any]:
    order: dict[str, Any] = {
        "customerName": "Wendy Websocket",
        "snackItems": [{"name": snack, "quantity": 1, "price": 2.0}],
        "totalAmount": 2.0,
    }
    if payment_method:
        order["paymentMethod"] = payment_method  # one of Stripe's test PaymentMethods (the local emulator's)
    status, headers, body = call(
        stack, "POST", "/orders", json.dumps(order).encode(), {"content-type": "application/json"}
    )
    assert status == 201, body
    assert headers["location"] == f"/orders/{body['orderId']}"
    return body  # type: ignore[no-any-return]


def subscribe(stack: Any, order_id: str, token: str) -> ClientConnection:
    socket = connect(
        f"{stack.storefront.websocket_url}/?{urlencode({'orderId': order_id, 'token': token})}",
        open_timeout=30,
        legacy=True,
    )
    socket.send("{}")  # any message: the current status comes back
    return socket


def until(socket: ClientConnection, status: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + WAIT_SECONDS
    while not seen or seen[-1]["status"] != status:
        seen.append(json.loads(socket.recv(timeout=max(0.01, deadline - time.monotonic()))))
    return seen


def test_health_reports_both_apis(aws: Aws, stack: Any) -> None:
    health = json.loads(urllib.request.urlopen(f"{stack.endpoint_url}/_snacks/health", timeout=10).read())
    assert health["httpApi"].startswith("http://127.0.0.1:") and health["webSocketApi"].startswith("ws://127.0.0.1:")


def test_an_order_placed_over_http_is_seen_processed_over_the_websocket(stack: Any) -> None:
    placed_at = time.perf_counter()
    placed = place(stack)
    with subscribe(stack, placed["orderId"], placed["orderToken"]) as socket:
        messages = until(socket, "PROCESSED")
    print(f"\nPOST /orders -> PROCESSED on the socket: {(time.perf_counter() - placed_at) * 1000:.0f} ms")
    assert messages[-1]["orderId"] == placed["orderId"] and isinstance(messages[-1]["sequence"], int)
    assert all(set(message) == {"orderId", "status", "timestamp", "sequence", "payment"} for message in messages)
    assert messages[-1]["payment"] == {
        "method": "pay_at_pickup",
        "state": "due_at_pickup",
        "amount": 2,
        "currency": "usd",
    }
    status, _, body = call(
        stack, "GET", f"/orders/{placed['orderId']}", headers={"authorization": f"Bearer {placed['orderToken']}"}
    )
    assert (status, body["order"]["status"]) == (200, "PROCESSED")
    assert [step["status"] for step in body["order"]["history"]] == ["NEW", "PROCESSED"]


def test_another_orders_token_is_refused_at_the_handshake(stack: Any) -> None:
    mine, other = place(stack), place(stack)
    for order_id, token, status in (
        (mine["orderId"], other["orderToken"], 404),
        ("no-such-order", other["orderToken"], 404),
        (mine["orderId"], "", 401),
    ):
        with pytest.raises(InvalidStatus) as refused:
            connect(
                f"{stack.storefront.websocket_url}/?{urlencode({'orderId': order_id, 'token': token})}", open_timeout=30
            )
        assert refused.value.response.status_code == status


def test_a_cancelled_orders_subscribers_all_see_cancelled(stack: Any) -> None:
    placed = place(stack, DOOM)
    sockets = [subscribe(stack, placed["orderId"], placed["orderToken"]) for _ in range(3)]
    try:
        failed = [until(socket, "FAILED")[-1]["sequence"] for socket in sockets]
        status, _, body = call(
            stack,
            "POST",
            f"/orders/{placed['orderId']}/cancel",
            headers={"authorization": f"Bearer {placed['orderToken']}"},
        )
        assert (status, body["status"]) == (200, "CANCELLED")
        for socket in sockets:
            messages = until(socket, "CANCELLED")
            assert messages[-1]["orderId"] == placed["orderId"]
            # A client keeps the highest sequence: each change must carry a higher one than the last.
            assert messages[-1]["sequence"] > failed[0] > 0
    finally:
        for socket in sockets:
            socket.close()


def read(stack: Any, placed: dict[str, Any]) -> dict[str, Any]:
    status, _, body = call(
        stack, "GET", f"/orders/{placed['orderId']}", headers={"authorization": f"Bearer {placed['orderToken']}"}
    )
    assert status == 200, body
    return body["order"]  # type: ignore[no-any-return]


PROVIDER_SECRETS = ("pi_", "pm_card", "stripe", "snacks-", "secret", "generation", "declineCode")


def test_a_card_orders_subscribers_see_processed_with_the_payment_captured(stack: Any) -> None:
    placed = place(stack, payment_method="pm_card_visa")
    with subscribe(stack, placed["orderId"], placed["orderToken"]) as socket:
        messages = until(socket, "PROCESSED")
    # The first message is the current status (NEW: awaiting authorization or authorized, or already PROCESSED).
    assert all(message["payment"]["method"] == "card" for message in messages)
    assert messages[-1]["payment"]["state"] == "captured"
    assert (messages[-1]["payment"]["amount"], messages[-1]["payment"]["currency"]) == (2, "usd")
    view = read(stack, placed)
    assert view["payment"]["state"] == "captured" and view["payment"]["since"] <= view["processedAt"]
    assert [step.get("status") or step["payment"] for step in view["history"]] == [
        "NEW", "authorized", "captured", "PROCESSED"
    ]  # fmt: skip
    for secret in PROVIDER_SECRETS:
        assert secret not in json.dumps(messages) + json.dumps(view), secret


def test_a_declined_card_is_pushed_rejected_with_a_customer_safe_reason(stack: Any) -> None:
    placed = place(stack, payment_method="pm_card_chargeDeclined")
    with subscribe(stack, placed["orderId"], placed["orderToken"]) as socket:
        rejected = until(socket, "REJECTED")[-1]
    assert rejected["payment"] == {
        "method": "card", "state": "declined", "amount": 2, "currency": "usd",
        "since": rejected["payment"]["since"], "reason": "card_declined",
    }  # fmt: skip


def test_a_card_order_failed_before_authorization_is_pushed_not_charged_then_cancelled(stack: Any) -> None:
    """Doom Donut fails in the reservation, before AuthorizePayment: nothing was held. A cancel of the FAILED
    order over the HTTP API pushes CANCELLED, still not charged, with a higher sequence."""
    placed = place(stack, DOOM, payment_method="pm_card_visa")
    with subscribe(stack, placed["orderId"], placed["orderToken"]) as socket:
        failed = until(socket, "FAILED")[-1]
        assert failed["payment"] == {"method": "card", "state": "not_charged", "amount": 2, "currency": "usd"}
        bearer = {"authorization": f"Bearer {placed['orderToken']}"}
        assert call(stack, "POST", f"/orders/{placed['orderId']}/cancel", headers=bearer)[0] == 200
        cancelled = until(socket, "CANCELLED")[-1]
    assert cancelled["payment"]["state"] == "not_charged" and cancelled["sequence"] > failed["sequence"]


@pytest.mark.parametrize("canceller", ["order-canceller", "storefront"])
def test_cancelling_an_authorized_card_order_pushes_cancelled_with_the_payment_voided(
    stack: Any, canceller: str
) -> None:
    """The order is NEW holding an authorization (its capture held at the provider); order-canceller (an
    operator) or the storefront's POST /orders/{id}/cancel (the customer) cancels it, voids the authorization,
    then announces Order Cancelled: the pushed CANCELLED says voided, not a hold."""
    from snacks import operations

    fault = stack.stripe.hold("capture", work_first=False)
    try:
        placed = place(stack, payment_method="pm_card_visa")
        assert fault.reached.wait(WAIT_SECONDS), "never reached the capture"
        with subscribe(stack, placed["orderId"], placed["orderToken"]) as socket:
            current = json.loads(socket.recv(timeout=WAIT_SECONDS))
            assert (current["status"], current["payment"]["state"]) == ("NEW", "authorized")
            if canceller == "order-canceller":
                aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
                reply = operations.invoke_canceller(aws, placed["orderId"])
            else:
                bearer = {"authorization": f"Bearer {placed['orderToken']}"}
                reply = call(stack, "POST", f"/orders/{placed['orderId']}/cancel", headers=bearer)[2]
                assert reply["order"]["payment"]["state"] == "voided"
            assert (reply["statusCode"], reply["status"]) == (200, "CANCELLED")
            cancelled = until(socket, "CANCELLED")[-1]
    finally:
        stack.stripe.release("capture")
    assert cancelled["payment"]["state"] == "voided" and cancelled["sequence"] > current["sequence"]
    assert read(stack, placed)["payment"]["state"] == "voided"


def test_api_gateways_own_answers(stack: Any) -> None:
    status, _, body = call(stack, "GET", "/nowhere")
    assert (status, body) == (404, {"message": "Not Found"})
    status, _, body = call(stack, "DELETE", "/orders")
    assert (status, body) == (404, {"message": "Not Found"})
    status, _, body = call(stack, "POST", "/orders", b"{oops", {"content-type": "application/json"})
    assert (status, body["error"]) == (400, "ValidationError")
    status, _, body = call(stack, "POST", "/orders", b"{}", {"content-type": "text/plain"})
    assert (status, body["error"]) == (415, "UnsupportedMediaType")
    status, _, body = call(stack, "GET", "/orders/x")
    assert (status, body["error"]) == (401, "Unauthorized")


def test_a_body_over_the_payload_quota_is_refused_before_the_function(stack: Any) -> None:
    import socket as sockets

    host, port = stack.storefront.http_api_url.removeprefix("http://").split(":")
    with sockets.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(
            b"POST /orders HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 10485761\r\n\r\n"
        )
        chunks = []
        while chunk := raw.recv(4096):  # the answer, then the close (API Gateway does not read the rest)
            chunks.append(chunk)
        answer = b"".join(chunks).decode()
    assert answer.startswith("HTTP/1.1 413") and '{"message": "Request Entity Too Large"}' in answer


def test_a_client_that_never_reads_is_dropped_not_leaked(stack: Any) -> None:
    placed = place(stack)
    before = stack.storefront.open_connections
    socket = subscribe(stack, placed["orderId"], placed["orderToken"])
    connection_id = next(reversed(stack.storefront._connections))
    from snacks.local.storefront import OUTBOUND_QUEUE_LIMIT, GoneException

    payload = b"x" * 100_000
    with pytest.raises(GoneException):
        for _ in range(OUTBOUND_QUEUE_LIMIT * 20):  # the client reads nothing: TCP buffers fill, then the queue
            stack.storefront.post(connection_id, payload)
    assert stack.storefront.open_connections == before
    socket.close()


def test_the_emulated_cloudfront_cache_serves_a_token_its_own_order_and_never_caches_the_cancel(stack: Any) -> None:
    """snacks/local/edge_cache.py in front of the local HTTP API (SNACKS_EDGE_CACHE=1 turns it on for a stack);
    a frozen clock keeps every entry fresh, so only the cache key decides what is served."""
    from snacks.local.edge_cache import EdgeCache

    mine, other = place(stack, DOOM), place(stack)
    frozen = time.monotonic()
    previous, stack.storefront.edge_cache = stack.storefront.edge_cache, EdgeCache(lambda: frozen)
    try:
        path = f"/orders/{mine['orderId']}"
        bearer = {"authorization": f"Bearer {mine['orderToken']}"}
        first = call(stack, "GET", path, headers=bearer)
        second = call(stack, "GET", path, headers=bearer)
        assert first[0] == second[0] == 200 and first[2] == second[2]
        assert (first[1]["x-cache"], second[1]["x-cache"]) == ("Miss from cloudfront", "Hit from cloudfront")
        # Another order's token on the same path: its own answer from the function, not the cached view.
        status, headers, _ = call(stack, "GET", path, headers={"authorization": f"Bearer {other['orderToken']}"})
        assert (status, headers["x-cache"]) == (404, "Miss from cloudfront")
        # The cancel (a POST under /orders/*) always reaches the function; the doomed order is cancellable once FAILED.
        with subscribe(stack, mine["orderId"], mine["orderToken"]) as socket:
            until(socket, "FAILED")
        status, headers, body = call(stack, "POST", f"{path}/cancel", headers=bearer)
        assert (status, body["status"]) == (200, "CANCELLED") and "x-cache" not in headers
    finally:
        stack.storefront.edge_cache = previous
