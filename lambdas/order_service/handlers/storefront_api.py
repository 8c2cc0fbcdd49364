"""``storefront-api``: the shop's HTTP API (API Gateway HTTP API, payload format 2.0).

    POST /orders               the creator's contract and validation; ``Idempotency-Key`` honoured;
                               201 with ``orderToken``, the order's access token (shown once)
    GET  /orders/{id}          the customer's view of the order   (Authorization: Bearer <orderToken>)
    POST /orders/{id}/cancel   the canceller's domain             (Authorization: Bearer <orderToken>)

No token: 401. A wrong token and an unknown order get the same 404, so the API never tells which
order ids exist (domain/order_access.py). Operators keep ``aws lambda invoke`` on the creator and
canceller; this function only serves customers.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_service.adapters.clients import dynamodb_client, events_client, require_time_for_calls
from order_service.adapters.deadline import bounded_by_invocation_deadline
from order_service.adapters.dynamodb_inventory import DynamoDbStockLedger
from order_service.adapters.dynamodb_orders import DynamoDbOrderRepository
from order_service.adapters.eventbridge_publisher import EventBridgePublisher
from order_service.adapters.stripe_payments import StripePayments
from order_service.domain.customer_view import customer_view
from order_service.domain.errors import FieldProblem, OrderValidationError, PaymentProviderUnavailable
from order_service.domain.order import OrderRecord, utc_timestamp
from order_service.domain.order_access import TOKEN_HASH_ATTRIBUTE, bearer_token, may_access, new_token, token_hash
from order_service.domain.order_cancellation import announce_cancellation, cancel_order, release_cancelled_payment
from order_service.domain.order_creation import create_order
from order_service.domain.validation import canonical_numbers, decode_payload, validate_order
from order_service.handlers.http_api import contract, header, http_responses, json_body, path_parameter
from order_service.handlers.observability import traced_handler
from order_service.settings import METRICS_NAMESPACE, STOREFRONT_API_SERVICE, Settings, service_name

settings = Settings.from_environment()
SERVICE = service_name(STOREFRONT_API_SERVICE)
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)

_dynamodb = dynamodb_client()
_events = events_client()
orders = DynamoDbOrderRepository(_dynamodb, settings.orders_table_name)
stock = DynamoDbStockLedger(_dynamodb, settings.orders_table_name, settings.inventory_table_name)
created_events = EventBridgePublisher(_events, settings.event_bus_name, calls_kept_after=1)
status_events = EventBridgePublisher(_events, settings.event_bus_name)
payments = StripePayments.from_settings(settings)  # connects on the first card payment only

ROUTE_CREATE = "POST /orders"
ROUTE_READ = "GET /orders/{id}"
ROUTE_CANCEL = "POST /orders/{id}/cancel"
ROUTES = (ROUTE_CREATE, ROUTE_READ, ROUTE_CANCEL)
IDEMPOTENCY_HEADER = "Idempotency-Key"
ORDER_ID_MAX_CHARS = 64

# As the creator's: a retry with the same key gets the first reply (its orderToken included: the
# idempotency record, encrypted and expiring after a day, is the only other place that token lives).
idempotency_config = IdempotencyConfig(
    event_key_jmespath="idempotencyKey",
    payload_validation_jmespath="[customerName, snackItems, totalAmount]",
    raise_on_no_idempotency_key=False,
    expires_after_seconds=24 * 3600,
)
idempotency_store = DynamoDBPersistenceLayer(table_name=settings.idempotency_table_name, boto3_client=_dynamodb)

UNAUTHORIZED = {
    "error": "Unauthorized",
    "message": "Send the order's token as 'Authorization: Bearer <orderToken>'.",
}
NOT_FOUND = {"error": "OrderNotFound", "message": "No such order for this token."}


def _now() -> datetime:
    return datetime.now(UTC)


def _create(order: dict[str, Any]) -> dict[str, Any]:
    require_time_for_calls(2)
    token = new_token()
    created = create_order(
        validate_order(order),
        orders,
        created_events,
        lambda: str(uuid.uuid4()),
        _now,
        annotations={TOKEN_HASH_ATTRIBUTE: token_hash(token)},
    )
    record = created.record
    logger.append_keys(orderId=record.order_id)
    metrics.add_metric(name="OrdersCreated", unit=MetricUnit.Count, value=1)
    if not created.published:
        metrics.add_metric(name="OrderPublishDeferred", unit=MetricUnit.Count, value=1)
        logger.warning("order stored but Order Created not published; left for the reconciler")
    logger.info("order created", extra={"itemCount": len(record.snack_items)})
    return {
        "orderId": record.order_id,
        "status": record.status.value,
        "orderToken": token,
        "order": customer_view(record),
    }


@idempotent_function(  # type: ignore[untyped-decorator]
    data_keyword_argument="fingerprint", persistence_store=idempotency_store, config=idempotency_config
)
def _create_once(fingerprint: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    return _create(order)


def place_order(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    order = decode_payload(json_body(event))
    key = header(event, IDEMPOTENCY_HEADER)
    if key is not None:
        if "idempotencyKey" in order and order["idempotencyKey"] != key:
            raise OrderValidationError(
                [FieldProblem(IDEMPOTENCY_HEADER, "differs from the body's idempotencyKey; send one of them")]
            )
        order["idempotencyKey"] = key
    validate_order(order)  # before the idempotency layer writes anything
    require_time_for_calls(2)
    if "idempotencyKey" in order:
        idempotency_config.register_lambda_context(context)
        reply = _create_once(fingerprint=canonical_numbers(order), order=order)
    else:
        reply = _create(order)
    return contract(201, reply, {"location": f"/orders/{reply['orderId']}"})


def _visible_order(event: dict[str, Any]) -> tuple[OrderRecord | None, dict[str, Any] | None]:
    """The order the request's token opens, or the refusal to answer with."""
    token = bearer_token(header(event, "authorization"))
    if token is None:
        return None, contract(401, UNAUTHORIZED, {"www-authenticate": "Bearer"})
    order_id = path_parameter(event, "id")
    record = orders.get(order_id) if 0 < len(order_id) <= ORDER_ID_MAX_CHARS else None
    if not may_access(record, token):
        metrics.add_metric(name="StorefrontAccessRefused", unit=MetricUnit.Count, value=1)
        return None, contract(404, NOT_FOUND)
    logger.append_keys(orderId=order_id)
    return record, None


def read_order(event: dict[str, Any]) -> dict[str, Any]:
    record, refusal = _visible_order(event)
    if refusal is not None:
        return refusal
    assert record is not None
    # A page polling its order is the high-frequency read: a one-second freshness lets the cache in
    # front of the API (CloudFront, keyed on path and Authorization) answer the storm.
    return contract(200, {"order": customer_view(record)}, {"cache-control": "max-age=1"})


def cancel(event: dict[str, Any]) -> dict[str, Any]:
    record, refusal = _visible_order(event)
    if refusal is not None:
        return refusal
    assert record is not None
    result = cancel_order(record.order_id, orders, stock, lambda: utc_timestamp(_now()))
    if result.changed:
        metrics.add_metric(name="OrdersCancelled", unit=MetricUnit.Count, value=1)
    # As order-canceller: give the card payment back, then announce (whatever the release comes to), so the
    # pushed CANCELLED carries the released payment. Provider down: 503 PaymentReleasePending, the order stays
    # CANCELLED holding its payment, and repeating the cancel releases it.
    try:
        result = release_cancelled_payment(result, orders, payments, lambda: utc_timestamp(_now()))
    except PaymentProviderUnavailable:
        metrics.add_metric(name="PaymentProviderErrors", unit=MetricUnit.Count, value=1)
        raise
    finally:
        if announce_cancellation(result, status_events) is False:
            metrics.add_metric(name="StatusEventsNotPublished", unit=MetricUnit.Count, value=1)
            logger.warning("Order Cancelled event not published")
    current = result.order
    return contract(
        200,
        {
            "orderId": current.order_id,
            "status": current.status.value,
            "changed": result.changed,
            "order": customer_view(current),
        },
    )


@logger.inject_lambda_context(clear_state=True)
@traced_handler(SERVICE)
@metrics.log_metrics
@http_responses(logger, metrics)
@bounded_by_invocation_deadline
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    route = event.get("routeKey")
    if route == ROUTE_CREATE:
        return place_order(event, context)
    if route == ROUTE_READ:
        return read_order(event)
    if route == ROUTE_CANCEL:
        return cancel(event)
    # API Gateway routes only the three routes here; anything else is a misconfiguration.
    return contract(404, {"error": "NotFound", "message": "No such route."})
