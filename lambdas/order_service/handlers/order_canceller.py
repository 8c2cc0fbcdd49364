"""``order-canceller``: cancel an order, invoked like the creator.

    aws lambda invoke --function-name order-canceller --payload '{"orderId": "..."}' out.json

Replies with the creator's contract: 200 with the record when the order is CANCELLED (from NEW or FAILED,
and again for an order already CANCELLED), 409 for a PROCESSED or REJECTED order, 404 for an unknown
one, 400 for a malformed request; never a stack trace.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_service.adapters.clients import dynamodb_client, events_client
from order_service.adapters.deadline import bounded_by_invocation_deadline
from order_service.adapters.dynamodb_inventory import DynamoDbStockLedger
from order_service.adapters.dynamodb_orders import DynamoDbOrderRepository
from order_service.adapters.eventbridge_publisher import EventBridgePublisher
from order_service.adapters.stripe_payments import StripePayments
from order_service.domain.errors import CancelRequestInvalid, PaymentProviderUnavailable
from order_service.domain.order import utc_timestamp
from order_service.domain.order_cancellation import announce_cancellation, cancel_order, release_cancelled_payment
from order_service.domain.serialization import to_jsonable
from order_service.handlers.observability import traced_handler
from order_service.handlers.responses import contract_responses
from order_service.settings import CANCELLER_SERVICE, METRICS_NAMESPACE, Settings, service_name

settings = Settings.from_environment()
SERVICE = service_name(CANCELLER_SERVICE)
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)

_dynamodb = dynamodb_client()
orders = DynamoDbOrderRepository(_dynamodb, settings.orders_table_name)
stock = DynamoDbStockLedger(_dynamodb, settings.orders_table_name, settings.inventory_table_name)
status_events = EventBridgePublisher(events_client(), settings.event_bus_name)
payments = StripePayments.from_settings(settings)  # connects on the first card payment only

ORDER_ID_MAX_CHARS = 64
PAYMENT_RELEASE_METRICS = {"canceled": "PaymentsVoided", "refunded": "PaymentsRefunded"}


def _now() -> str:
    return utc_timestamp(datetime.now(UTC))


def order_id_of(event: Any) -> str:
    """``{"orderId": "<id>"}`` (as an object or as JSON text), nothing else."""
    if isinstance(event, (str, bytes)):
        try:
            event = json.loads(event)
        except ValueError as error:
            raise CancelRequestInvalid('the request must be a JSON object {"orderId": "..."}') from error
    if not isinstance(event, dict):
        raise CancelRequestInvalid('the request must be a JSON object {"orderId": "..."}')
    unknown = sorted(key for key in event if key != "orderId")
    if unknown:
        raise CancelRequestInvalid(f"unknown field(s): {', '.join(unknown)[:200]}")
    order_id = event.get("orderId")
    if not isinstance(order_id, str) or not 0 < len(order_id.strip()) <= ORDER_ID_MAX_CHARS:
        raise CancelRequestInvalid(f"orderId must be a non-empty string of at most {ORDER_ID_MAX_CHARS} characters")
    return order_id.strip()


@logger.inject_lambda_context(clear_state=True)
@traced_handler(SERVICE)  # the reply holds the customer's name
@metrics.log_metrics
@contract_responses(logger, metrics)
@bounded_by_invocation_deadline
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    order_id = order_id_of(event)
    logger.append_keys(orderId=order_id)
    result = cancel_order(order_id, orders, stock, _now)
    if result.changed:
        metrics.add_metric(name="OrdersCancelled", unit=MetricUnit.Count, value=1)
        compensated = (result.order.extra.get("cancellation") or {}).get("compensated") or []
        if compensated:
            metrics.add_metric(name="Compensations", unit=MetricUnit.Count, value=len(compensated))
    held_before = (result.order.payment or {}).get("status")
    # The payment is released before Order Cancelled is announced, so the storefront's pushed CANCELLED says
    # "voided"/"refunded" (its pusher reads the order on the event) rather than a hold about to go; the
    # announcement waits for one provider call. It is made whatever the release comes to (finally).
    try:
        result = release_cancelled_payment(result, orders, payments, _now)
    except PaymentProviderUnavailable:
        # The order stays CANCELLED holding its payment; the caller's retry of the cancel releases it (503).
        metrics.add_metric(name="PaymentProviderErrors", unit=MetricUnit.Count, value=1)
        raise
    finally:
        announced = announce_cancellation(result, status_events)
        if announced is False:
            # The order stays CANCELLED (the customer's answer is 200); only the notification is missing.
            metrics.add_metric(name="StatusEventsNotPublished", unit=MetricUnit.Count, value=1)
            logger.warning("Order Cancelled event not published")
    record = result.order
    released = (record.payment or {}).get("status")
    if released != held_before and released in PAYMENT_RELEASE_METRICS:
        metrics.add_metric(name=PAYMENT_RELEASE_METRICS[released], unit=MetricUnit.Count, value=1)
    logger.info("order cancelled", extra={"changed": result.changed, "announced": announced})
    return {
        "statusCode": 200,
        "orderId": record.order_id,
        "status": record.status.value,
        "changed": result.changed,
        "order": to_jsonable(record.as_item()),
    }
