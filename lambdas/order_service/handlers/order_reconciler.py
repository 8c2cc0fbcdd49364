"""``order-reconciler``: on a schedule, re-publish NEW orders that were never processed.

The creator writes the order before it publishes; if publishing failed (or EventBridge could not
start the workflow), the order would sit in NEW forever. This closes that gap, and its
``OrdersStuckNew`` metric drives an alarm.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_service.adapters import clock
from order_service.adapters.clients import dynamodb_client, events_client
from order_service.adapters.deadline import bounded_by_invocation_deadline
from order_service.adapters.dynamodb_orders import DynamoDbOrderRepository
from order_service.adapters.eventbridge_publisher import EventBridgePublisher
from order_service.domain.order_recovery import reconcile_stale_orders
from order_service.handlers.observability import traced_handler
from order_service.settings import METRICS_NAMESPACE, RECONCILER_SERVICE, Settings, service_name

settings = Settings.from_environment()
SERVICE = service_name(RECONCILER_SERVICE)
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)

orders = DynamoDbOrderRepository(dynamodb_client(), settings.orders_table_name)
events = EventBridgePublisher(events_client(), settings.event_bus_name)


@logger.inject_lambda_context(clear_state=True)
@traced_handler(SERVICE)
@metrics.log_metrics
@bounded_by_invocation_deadline
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    report = reconcile_stale_orders(
        orders, events, now=clock.utc_now(), stale_after=timedelta(seconds=settings.stale_after_seconds)
    )
    metrics.add_metric(name="OrdersStuckNew", unit=MetricUnit.Count, value=report.stale_found)
    metrics.add_metric(name="OrdersRepublished", unit=MetricUnit.Count, value=report.republished)
    if report.stale_found:
        logger.warning(
            "re-published stale NEW orders",
            extra={"stale": report.stale_found, "republished": report.republished, "orderIds": report.order_ids[:50]},
        )
    return {
        "staleFound": report.stale_found,
        "republished": report.republished,
        "publishFailures": report.publish_failures,
        "oldestCreatedAt": report.oldest_created_at,
    }
