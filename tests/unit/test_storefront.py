"""storefront-api, storefront-sockets and storefront-pusher against moto: the HTTP contract (API Gateway
HTTP API payload format 2.0, https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html),
who may see an order (the per-order token), and the live-status fan-out."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber

from order_service.adapters.dynamodb_connections import DynamoDbConnectionRegistry
from order_service.adapters.websocket_connections import ManagementApiPoster
from order_service.domain.order import OrderRecord
from order_service.domain.order_access import TOKEN_HASH_ATTRIBUTE, may_access, token_hash
from snacks.local.api_gateway_events import http_api_event, websocket_event
from snacks.local.storefront_tables import create_connections_table
from stacks import definitions
from stacks import storefront_definitions as sf
from tests.unit.conftest import Aws, FakeLambdaContext, aws_client, fresh_module

ORDER = {
    "customerName": "Stella Storefront",
    "snackItems": [{"name": "Chips", "quantity": 2, "price": 1.25}],
    "totalAmount": 2.5,
}
MODULES = (
    "order_service.handlers.storefront_api",
    "order_service.handlers.storefront_sockets",
    "order_service.handlers.storefront_pusher",
)


@pytest.fixture
def store(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, ModuleType]]:
    monkeypatch.setenv("CONNECTIONS_TABLE_NAME", sf.STOREFRONT.connections_table)
    monkeypatch.setenv("INVENTORY_TABLE_NAME", definitions.INVENTORY_TABLE)
    monkeypatch.setenv("WEBSOCKET_CALLBACK_URL", "https://abc.execute-api.us-east-1.amazonaws.com/live")
    create_connections_table(aws_client("dynamodb"))
    saved = {name: sys.modules.get(name) for name in MODULES}
    try:
        yield {name.rsplit(".", 1)[1]: fresh_module(name) for name in MODULES}
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def request(
    module: ModuleType,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    parts = path.strip("/").split("/")
    params = {"id": parts[1]} if len(parts) > 1 else {}
    route = f"{method} /orders" + ("/{id}" if len(parts) > 1 else "") + ("/cancel" if len(parts) > 2 else "")
    event = http_api_event(
        method=method, raw_path=path, raw_query="", headers=list((headers or {}).items()), body=body,
        route_key=route, path_parameters=params, api_id="abc", domain_name="abc.execute-api.us-east-1.amazonaws.com",
        stage="$default", account_id="123456789012", source_ip="127.0.0.1",
    )  # fmt: skip
    answer = module.handler(event, FakeLambdaContext())
    assert set(answer) == {"statusCode", "headers", "body", "isBase64Encoded"}
    return answer["statusCode"], answer["headers"], json.loads(answer["body"])


def place(api: ModuleType, order: dict[str, Any] = ORDER, **headers: str) -> dict[str, Any]:
    status, _, body = request(
        api, "POST", "/orders", json.dumps(order).encode(), {"Content-Type": "application/json", **headers}
    )
    assert status == 201, body
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_placing_an_order_returns_a_token_whose_hash_alone_is_stored(store: dict[str, ModuleType], aws: Aws) -> None:
    placed = place(store["storefront_api"])
    token = placed["orderToken"]
    assert len(token) >= 43 and placed["status"] == "NEW"
    (item,) = aws.scan_orders()
    assert item[TOKEN_HASH_ATTRIBUTE] == token_hash(token)
    assert token not in json.dumps(item, default=str)
    assert TOKEN_HASH_ATTRIBUTE not in placed["order"]  # the customer's view is an allow-list


def test_reading_with_the_token_shows_the_customer_view_only(store: dict[str, ModuleType]) -> None:
    api = store["storefront_api"]
    placed = place(api)
    status, headers, body = request(api, "GET", f"/orders/{placed['orderId']}", headers=bearer(placed["orderToken"]))
    assert status == 200
    assert headers["cache-control"] == "max-age=1"
    assert set(body["order"]) == {
        "orderId", "status", "snackItems", "totalAmount", "createdAt", "updatedAt", "history", "payment"
    }  # fmt: skip
    assert body["order"]["history"] == [{"status": "NEW", "at": body["order"]["createdAt"]}]
    assert body["order"]["payment"] == {
        "method": "pay_at_pickup", "state": "due_at_pickup", "amount": 2.5, "currency": "usd"
    }  # fmt: skip
    assert "Stella" not in json.dumps(body)


def test_no_token_is_401_and_a_wrong_token_or_unknown_order_the_same_404(store: dict[str, ModuleType]) -> None:
    api = store["storefront_api"]
    mine, other = place(api), place(api)
    path = f"/orders/{mine['orderId']}"
    no_token = request(api, "GET", path)
    assert no_token[0] == 401 and no_token[1]["www-authenticate"] == "Bearer"
    assert request(api, "GET", path, headers={"Authorization": "Basic abc"})[0] == 401
    wrong = request(api, "GET", path, headers=bearer(other["orderToken"]))
    unknown = request(api, "GET", "/orders/does-not-exist", headers=bearer(other["orderToken"]))
    assert wrong[0] == unknown[0] == 404
    assert wrong[2] == unknown[2]  # the same answer: nothing tells which order ids exist
    cancel = request(api, "POST", f"{path}/cancel", headers=bearer(other["orderToken"]))
    assert cancel[0] == 404
    assert request(api, "GET", path, headers=bearer(mine["orderToken"]))[2]["order"]["status"] == "NEW"


def test_cancel_with_the_token_cancels_and_shows_the_history(store: dict[str, ModuleType]) -> None:
    api = store["storefront_api"]
    placed = place(api)
    status, _, body = request(api, "POST", f"/orders/{placed['orderId']}/cancel", headers=bearer(placed["orderToken"]))
    assert (status, body["status"], body["changed"]) == (200, "CANCELLED", True)
    assert [step["status"] for step in body["order"]["history"]] == ["NEW", "CANCELLED"]


def test_idempotency_key_header_replays_the_first_reply_token_included(store: dict[str, ModuleType], aws: Aws) -> None:
    api = store["storefront_api"]
    first = place(api, **{"Idempotency-Key": "page-42"})
    again = place(api, **{"Idempotency-Key": "page-42"})
    assert again["orderId"] == first["orderId"] and again["orderToken"] == first["orderToken"]
    assert len(aws.scan_orders()) == 1
    changed = {**ORDER, "totalAmount": 2.5, "snackItems": [{"name": "Chips", "quantity": 1, "price": 2.5}]}
    status, _, body = request(
        api, "POST", "/orders", json.dumps(changed).encode(),
        {"content-type": "application/json", "idempotency-key": "page-42"},
    )  # fmt: skip
    assert (status, body["error"]) == (409, "IdempotencyKeyReused")


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [
        (b"{not json", {"content-type": "application/json"}, 400, "ValidationError"),
        (json.dumps(ORDER).encode(), {"content-type": "text/plain"}, 415, "UnsupportedMediaType"),
        (json.dumps(ORDER).encode(), {}, 415, "UnsupportedMediaType"),
        (b'{"customerName": "' + b"x" * 70_000 + b'"}', {"content-type": "application/json"}, 413, "PayloadTooLarge"),
        (
            json.dumps({**ORDER, "totalAmount": 3}).encode(),
            {"content-type": "application/json"},
            400,
            "ValidationError",
        ),
    ],
)
def test_bad_requests_are_answered_in_the_contract_and_write_nothing(
    store: dict[str, ModuleType], aws: Aws, body: bytes, headers: dict[str, str], status: int, error: str
) -> None:
    answer = request(store["storefront_api"], "POST", "/orders", body, headers)
    assert (answer[0], answer[2]["error"], answer[2]["statusCode"]) == (status, error, status)
    assert "Traceback" not in json.dumps(answer[2])
    assert aws.scan_orders() == []


def test_may_access_needs_the_stored_hash_and_the_right_token() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    from order_service.domain.order import OrderRequest, SnackItem

    item = SnackItem("Chips", 1, Decimal("1.00"))
    bare = OrderRecord.new("o-1", OrderRequest("A", (item,), Decimal("1.00")), datetime(2026, 1, 1, tzinfo=UTC))
    assert not may_access(bare, "anything")  # operator-created orders have no token: never visible
    assert not may_access(None, "anything")
    from dataclasses import replace

    locked = replace(bare, extra={TOKEN_HASH_ATTRIBUTE: token_hash("right")})
    assert may_access(locked, "right") and not may_access(locked, "wrong") and not may_access(locked, "")


def ws(store: dict[str, ModuleType], event_type: str, route: str, connection: str, **extra: Any) -> dict[str, Any]:
    event = websocket_event(
        event_type=event_type, route_key=route, connection_id=connection, connected_at=0, api_id="abc",
        domain_name="abc.execute-api.us-east-1.amazonaws.com", stage="live", source_ip="127.0.0.1", **extra,
    )  # fmt: skip
    return store["storefront_sockets"].handler(event, FakeLambdaContext())  # type: ignore[no-any-return]


def test_connect_needs_the_orders_token_and_disconnect_forgets(store: dict[str, ModuleType]) -> None:
    api = store["storefront_api"]
    mine, other = place(api), place(api)
    registry = DynamoDbConnectionRegistry(aws_client("dynamodb"), sf.STOREFRONT.connections_table)
    query = {"orderId": mine["orderId"], "token": mine["orderToken"]}
    assert ws(store, "CONNECT", "$connect", "c-1", query=query)["statusCode"] == 200
    assert ws(store, "CONNECT", "$connect", "c-2", query={**query, "token": other["orderToken"]})["statusCode"] == 404
    assert ws(store, "CONNECT", "$connect", "c-3", query={"orderId": "nope", "token": "x"})["statusCode"] == 404
    assert ws(store, "CONNECT", "$connect", "c-4", query={"orderId": mine["orderId"]})["statusCode"] == 401
    assert list(registry.connections_of(mine["orderId"])) == ["c-1"]
    ws(store, "DISCONNECT", "$disconnect", "c-1")
    assert list(registry.connections_of(mine["orderId"])) == [] and registry.order_of("c-1") is None


class RecordingPoster:
    def __init__(self, gone: set[str]) -> None:
        self.gone, self.sent = gone, []  # type: ignore[var-annotated]

    def post(self, connection_id: str, data: bytes) -> bool:
        if connection_id in self.gone:
            return False
        self.sent.append((connection_id, json.loads(data)))
        return True


def test_the_pusher_posts_to_every_subscriber_and_forgets_gone_ones(store: dict[str, ModuleType]) -> None:
    placed = place(store["storefront_api"])
    order_id = placed["orderId"]
    for connection in ("c-1", "c-2", "c-gone"):
        ws(store, "CONNECT", "$connect", connection, query={"orderId": order_id, "token": placed["orderToken"]})
    pusher = store["storefront_pusher"]
    pusher.poster = RecordingPoster(gone={"c-gone"})
    detail = {
        "orderId": order_id,
        "status": "PROCESSED",
        "reason": "Fulfilled",
        "timestamp": "2026-12-07T00:00:01.500Z",
    }
    result = pusher.handler({"detail-type": "Order Processed", "detail": detail}, FakeLambdaContext())
    assert (result["delivered"], result["gone"]) == (2, 1)
    message = {"orderId": order_id, "status": "PROCESSED", "timestamp": detail["timestamp"], "sequence": 1796601601500}
    assert sorted(pusher.poster.sent, key=lambda sent: sent[0]) == [("c-1", message), ("c-2", message)]
    registry = DynamoDbConnectionRegistry(aws_client("dynamodb"), sf.STOREFRONT.connections_table)
    assert sorted(registry.connections_of(order_id)) == ["c-1", "c-2"]


def test_post_to_a_closed_connection_is_gone_not_an_error() -> None:
    """PostToConnection answers 410 GoneException for a closed connection ("Use @connections commands in your
    backend service", API Gateway Developer Guide)."""
    client = aws_client("apigatewaymanagementapi")
    poster = ManagementApiPoster("unused", client=client)
    with Stubber(client) as stub:
        stub.add_client_error("post_to_connection", service_error_code="GoneException", http_status_code=410)
        stub.add_response("post_to_connection", {})
        stub.add_client_error("post_to_connection", service_error_code="ForbiddenException", http_status_code=403)
        assert poster.post("gone", b"{}") is False
        assert poster.post("open", b"{}") is True
        with pytest.raises(Exception, match="ForbiddenException"):
            poster.post("other", b"{}")


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-12-07T00:51:00.123Z",  # the record's format (processedAt, cancelledAt)
        # $$.State.EnteredTime, the Order Failed timestamp ("Context object", Step Functions Developer Guide,
        # shows "2019-03-26T20:14:13.192Z"); other precisions and offsets parse to the same millisecond
        "2026-12-07T00:51:00.123456Z",
        "2026-12-07T00:51:00.123456+00:00",
    ],
)
def test_every_status_timestamp_gives_its_millisecond_as_sequence(timestamp: str) -> None:
    from order_service.domain.customer_view import sequence_of

    assert sequence_of(timestamp) == 1796604660123
