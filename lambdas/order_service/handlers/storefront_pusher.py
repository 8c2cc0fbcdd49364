"""``storefront-pusher``: each status event (``Order Processed|Rejected|Failed|Cancelled``, from an
EventBridge rule on the order bus) posted to every WebSocket connection following that order.

A failed post other than 410 fails the invocation, and EventBridge retries the event (at least once,
so clients de-duplicate by ``sequence``); a 410 forgets the connection.

The message carries the order's payment as a customer may see it (customer_view.payment_view). The
event does not say it, so the pusher reads the order once per event (one strongly consistent GetItem,
whatever the number of subscribers), after the write that published the event: an order still in the
event's status has its payment as that status left it (captured with PROCESSED, declined with REJECTED,
given back with FAILED and CANCELLED, or "releasing" if that is not yet recorded). An order that has
moved on since gets the event's status alone; the later status's own event carries the payment.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_service.adapters.clients import dynamodb_client
from order_service.adapters.deadline import bounded_by_invocation_deadline
from order_service.adapters.dynamodb_connections import DynamoDbConnectionRegistry
from order_service.adapters.dynamodb_orders import DynamoDbOrderRepository
from order_service.adapters.websocket_connections import ManagementApiPoster
from order_service.domain.customer_view import status_message
from order_service.domain.live_status import push
from order_service.handlers.observability import traced_handler
from order_service.settings import METRICS_NAMESPACE, STOREFRONT_PUSHER_SERVICE, Settings, service_name

settings = Settings.from_environment()
SERVICE = service_name(STOREFRONT_PUSHER_SERVICE)
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)

_dynamodb = dynamodb_client()
orders = DynamoDbOrderRepository(_dynamodb, settings.orders_table_name)
connections = DynamoDbConnectionRegistry(_dynamodb, settings.connections_table_name)
poster = ManagementApiPoster(settings.websocket_callback_url)


@logger.inject_lambda_context(clear_state=True)
@traced_handler(SERVICE)
@metrics.log_metrics
@bounded_by_invocation_deadline
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = event.get("detail") or {}
    order_id, status, timestamp = str(detail["orderId"]), str(detail["status"]), str(detail["timestamp"])
    logger.append_keys(orderId=order_id)
    message = status_message(order_id, status, timestamp, orders.get(order_id))
    fan_out = push(order_id, message, connections, poster)
    metrics.add_metric(name="LiveStatusPushed", unit=MetricUnit.Count, value=fan_out.delivered)
    if fan_out.gone:
        metrics.add_metric(name="LiveConnectionsGone", unit=MetricUnit.Count, value=fan_out.gone)
    payment_state = (message.get("payment") or {}).get("state")
    logger.info(
        "status pushed",
        extra={"status": status, "payment": payment_state, "delivered": fan_out.delivered, "gone": fan_out.gone},
    )
    return {"orderId": order_id, "status": status, "delivered": fan_out.delivered, "gone": fan_out.gone}
