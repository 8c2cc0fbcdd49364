"""``order-creator``: validate a JSON order, store it as NEW, publish ``Order Created``.

Invoked directly (``aws lambda invoke --function-name order-creator --payload ...``); the reply
is the response contract of DESIGN.md §3 in every case, never a stack trace.
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
from order_service.adapters.dynamodb_orders import DynamoDbOrderRepository
from order_service.adapters.eventbridge_publisher import EventBridgePublisher
from order_service.domain.order_creation import create_order
from order_service.domain.serialization import to_jsonable
from order_service.domain.validation import canonical_numbers, decode_payload, validate_order
from order_service.handlers.observability import traced_handler
from order_service.handlers.responses import contract_responses
from order_service.settings import CREATOR_SERVICE, METRICS_NAMESPACE, Settings, service_name

settings = Settings.from_environment()
SERVICE = service_name(CREATOR_SERVICE)
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)

_dynamodb = dynamodb_client()
orders = DynamoDbOrderRepository(_dynamodb, settings.orders_table_name)
# Publishing keeps time for the one call after it (completing the idempotency record).
events = EventBridgePublisher(events_client(), settings.event_bus_name, calls_kept_after=1)

# A client retry with the same idempotencyKey gets the first reply instead of a second order;
# the same key with a different order is refused (payload validation).
idempotency_config = IdempotencyConfig(
    event_key_jmespath="idempotencyKey",
    payload_validation_jmespath="[customerName, snackItems, totalAmount]",
    raise_on_no_idempotency_key=False,
    expires_after_seconds=24 * 3600,
)
idempotency_store = DynamoDBPersistenceLayer(table_name=settings.idempotency_table_name, boto3_client=_dynamodb)


def _new_order_id() -> str:
    return str(uuid.uuid4())


def _now() -> datetime:
    return datetime.now(UTC)


def _create(order: dict[str, Any]) -> dict[str, Any]:
    # Start the write only with time for it and for completing the idempotency record after it;
    # otherwise answer 503 now (nothing written) rather than be cut off by the timeout mid-write.
    require_time_for_calls(2)
    created = create_order(validate_order(order), orders, events, _new_order_id, _now)
    record = created.record
    logger.append_keys(orderId=record.order_id)
    metrics.add_metric(name="OrdersCreated", unit=MetricUnit.Count, value=1)
    if not created.published:
        # Accepted and stored; the reconciler publishes it. Visible as a metric and an alarm.
        metrics.add_metric(name="OrderPublishDeferred", unit=MetricUnit.Count, value=1)
        logger.warning("order stored but Order Created not published; left for the reconciler")
    logger.info("order created", extra={"itemCount": len(record.snack_items), "eventId": created.event_id})
    return {
        "statusCode": 201,
        "orderId": record.order_id,
        "status": record.status.value,
        "eventPublished": created.published,
        "order": to_jsonable(record.as_item()),
    }


@logger.inject_lambda_context(clear_state=True)
@traced_handler(SERVICE)  # the reply holds the customer's name
@metrics.log_metrics
@contract_responses(logger, metrics)
@bounded_by_invocation_deadline
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    order = decode_payload(event)
    validate_order(order)  # reject before the idempotency layer writes anything
    # Before the idempotency layer's first write too: a refusal there would surface as its own error.
    require_time_for_calls(2)
    if "idempotencyKey" not in order:
        return _create(order)
    idempotency_config.register_lambda_context(context)
    # The idempotency record hashes ``fingerprint``: the same order sent as a JSON object (floats)
    # or as JSON text (Decimals) must count as the same request.
    return _create_once(fingerprint=canonical_numbers(order), order=order)  # type: ignore[no-any-return]


@idempotent_function(  # type: ignore[untyped-decorator]
    data_keyword_argument="fingerprint", persistence_store=idempotency_store, config=idempotency_config
)
def _create_once(fingerprint: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    return _create(order)
