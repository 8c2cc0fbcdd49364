"""The storefront pusher reads the order once per status event (its payment state for the message) only as
its role allows: the template's ``dynamodb:GetItem`` on the Orders table.

Without that grant DynamoDB answers AccessDeniedException to the pusher's GetItem ("Using identity-based
policies with DynamoDB", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/using-identity-based-policies.html;
the message format: IAM User Guide, "Troubleshoot access denied error messages",
https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html): the pusher fails, so
EventBridge retries the event and the subscribers get no PROCESSED (the pusher's errors alarm says why).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from websockets.sync.client import ClientConnection, connect

from snacks.local import LocalStack
from tests.support import iam_templates as t

ORDER = {
    "customerName": "Ada",
    "snackItems": [{"name": "Chips", "quantity": 1, "price": 2.5}],
    "totalAmount": 2.5,
    "paymentMethod": "pm_card_visa",
}
WAIT_SECONDS = 20.0  # a bound: the push comes in milliseconds


def _pusher_reads_orders(logical_id: str, resource_type: str, statement: t.Statement) -> bool:
    return (
        resource_type in t.IDENTITY_TYPES
        and "StorefrontPusher" in logical_id
        and t.actions(statement) == ["dynamodb:GetItem"]
    )


def place_and_subscribe(stack: LocalStack) -> tuple[str, ClientConnection]:
    request = urllib.request.Request(
        stack.storefront.http_api_url + "/orders",
        data=json.dumps(ORDER).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        placed = json.loads(response.read())
    query = urlencode({"orderId": placed["orderId"], "token": placed["orderToken"]})
    socket = connect(f"{stack.storefront.websocket_url}/?{query}", open_timeout=30, legacy=True)
    socket.send("{}")
    return placed["orderId"], socket


def messages_until(socket: ClientConnection, status: str, seconds: float) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while not seen or seen[-1]["status"] != status:
        try:
            seen.append(json.loads(socket.recv(timeout=max(0.01, deadline - time.monotonic()))))
        except TimeoutError:
            break
    return seen


def test_the_pusher_reads_the_orders_payment_with_its_grant(
    synthesized: dict[str, Any], stack_on: Callable[[dict[str, Any]], LocalStack]
) -> None:
    stack = stack_on(synthesized)
    _, socket = place_and_subscribe(stack)
    with socket:
        seen = messages_until(socket, "PROCESSED", WAIT_SECONDS)
    assert seen[-1]["status"] == "PROCESSED" and seen[-1]["payment"]["state"] == "captured", seen
    assert stack.iam is not None and not stack.iam.denials


def test_without_its_grant_the_pushers_read_is_denied_and_nothing_is_pushed(
    synthesized: dict[str, Any], stack_on: Callable[[dict[str, Any]], LocalStack]
) -> None:
    stack = stack_on(t.removed(synthesized, _pusher_reads_orders))
    assert stack.iam is not None
    order_id, socket = place_and_subscribe(stack)
    with socket:
        deadline = time.monotonic() + WAIT_SECONDS
        while not stack.iam.denials and time.monotonic() < deadline:
            time.sleep(0.05)
        seen = messages_until(socket, "PROCESSED", 2.0)
    denial = stack.iam.denials[0]
    assert denial.request.action == "dynamodb:GetItem"
    assert denial.request.resource.endswith(":table/Orders") or "table/" in denial.request.resource
    pusher_role = stack.iam.store.role_arn_of(function=stack.storefront.store.pusher_function)
    assert pusher_role is not None and pusher_role.rsplit("/", 1)[-1] in denial.request.principal.arn
    # The current status came (storefront-sockets has its own read); the pusher's PROCESSED never did.
    assert [message["status"] for message in seen] in (["NEW"], [])
    assert all(denial.request.action == "dynamodb:GetItem" for denial in stack.iam.denials), order_id
