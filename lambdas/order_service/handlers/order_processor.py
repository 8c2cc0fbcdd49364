"""``order-processor``: the fulfillment workflow's steps, one function with four entry points.

Unlike the creator, a step does not stop itself before its deadline: every step is idempotent, and
a step cut off by its timeout comes back to Step Functions as ``Lambda.Unknown``, which the ASL retries.

The state machine invokes it with ``{"step": ..., "orderId": ..., "executionArn": ...}``.
Errors propagate: their class name is the Step Functions error name that Retry/Catch match.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from order_service.adapters.clients import dynamodb_client, events_client
from order_service.adapters.dynamodb_inventory import DynamoDbStockLedger
from order_service.adapters.dynamodb_orders import DynamoDbOrderRepository
from order_service.adapters.eventbridge_publisher import EventBridgePublisher
from order_service.adapters.stripe_payments import StripePayments
from order_service.domain.errors import InvalidStepRequest, PaymentProviderUnavailable
from order_service.domain.fulfillment import parse_fault_plan
from order_service.domain.order import utc_timestamp
from order_service.domain.order_processing import (
    AUTHORIZED,
    DECLINED,
    PROCESS,
    REJECTED,
    OrderProcessor,
    StepContext,
)
from order_service.handlers.observability import traced_handler
from order_service.settings import METRICS_NAMESPACE, PROCESSOR_SERVICE, Settings, service_name

if TYPE_CHECKING:  # an annotation only: importing it costs the init a module
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Validate and fulfil record no metric of their own; Powertools would warn on every such step.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

settings = Settings.from_environment()
SERVICE = service_name(PROCESSOR_SERVICE)
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)

_dynamodb = dynamodb_client()
processor = OrderProcessor(
    orders=DynamoDbOrderRepository(_dynamodb, settings.orders_table_name),
    stock=DynamoDbStockLedger(_dynamodb, settings.orders_table_name, settings.inventory_table_name),
    fault_plan=parse_fault_plan(settings.fulfillment_faults),
    clock=lambda: utc_timestamp(datetime.now(UTC)),
    payments=StripePayments.from_settings(settings),  # connects on the first card payment only
    status_events=EventBridgePublisher(events_client(), settings.event_bus_name),  # markProcessed's announcement
)


@dataclass(frozen=True)
class StepRequest:
    step: str
    order_id: str
    execution_arn: str | None
    attempt: int
    failed_step: str
    error: str
    cause: str
    action: str = PROCESS  # fulfil: Validate's verdict (the ASL passes it; absent means process)

    @classmethod
    def from_event(cls, event: Any) -> StepRequest:
        if (
            not isinstance(event, dict)
            or not isinstance(event.get("step"), str)
            or not isinstance(event.get("orderId"), str)
        ):
            raise InvalidStepRequest("a step request needs string fields 'step' and 'orderId'")
        attempt = event.get("attempt", 0)
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
            raise InvalidStepRequest("'attempt' must be a non-negative integer ($$.State.RetryCount)")
        action = event.get("action", PROCESS)
        if not isinstance(action, str):
            raise InvalidStepRequest("'action' must be a string (Validate's verdict)")
        raw_failure = event.get("error")
        failure: dict[str, Any] = raw_failure if isinstance(raw_failure, dict) else {}
        return cls(
            step=event["step"],
            order_id=event["orderId"],
            execution_arn=event.get("executionArn"),
            attempt=attempt,
            failed_step=str(event.get("failedStep", "unknown")),
            error=str(failure.get("Error", "Unknown")),
            cause=str(failure.get("Cause", "")),
            action=action,
        )

    @property
    def context(self) -> StepContext:
        return StepContext(order_id=self.order_id, execution_arn=self.execution_arn, attempt=self.attempt)


def _validate(request: StepRequest) -> dict[str, Any]:
    return processor.validate(request.context)


def _fulfil(request: StepRequest) -> dict[str, Any]:
    result = processor.fulfil(request.context, request.action)
    if result["outcome"] == REJECTED and not result["repeated"]:
        metrics.add_metric(name="OrdersOutOfStock", unit=MetricUnit.Count, value=1)
    return result


def _authorize_payment(request: StepRequest) -> dict[str, Any]:
    result = processor.authorize_payment(request.context)
    if not result["repeated"] and result["outcome"] == AUTHORIZED:
        metrics.add_metric(name="PaymentsAuthorized", unit=MetricUnit.Count, value=1)
    if not result["repeated"] and result["outcome"] == DECLINED:
        metrics.add_metric(name="PaymentsDeclined", unit=MetricUnit.Count, value=1)
    return result


def _mark_processed(request: StepRequest) -> dict[str, Any]:
    result = processor.mark_processed(request.context)
    if result["changed"] and result.get("paymentCaptured"):
        metrics.add_metric(name="PaymentsCaptured", unit=MetricUnit.Count, value=1)
    if result["changed"]:
        metrics.add_metric(name="OrdersProcessed", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="ProcessingLatency", unit=MetricUnit.Milliseconds, value=result["latencyMs"])
    elif result["status"] == "PROCESSED":
        metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
    return result


def _record_failure(request: StepRequest) -> dict[str, Any]:
    result = processor.record_failure(request.context, request.failed_step, request.error, request.cause)
    for compensation in result["compensated"]:
        if compensation.get("kind") == "releasePayment":
            name = "PaymentsRefunded" if compensation["outcome"] == "refunded" else "PaymentsVoided"
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    if result["recorded"]:
        metrics.add_metric(name="OrdersFailed", unit=MetricUnit.Count, value=1)
        if result["compensated"]:
            metrics.add_metric(name="Compensations", unit=MetricUnit.Count, value=len(result["compensated"]))
    logger.warning("order failed", extra={"failedStep": request.failed_step, "error": request.error})
    return result


STEPS: dict[str, Callable[[StepRequest], dict[str, Any]]] = {
    "validate": _validate,
    "fulfil": _fulfil,
    "authorizePayment": _authorize_payment,
    "markProcessed": _mark_processed,
    "recordFailure": _record_failure,
}


@logger.inject_lambda_context(correlation_id_path="eventId", clear_state=True)
@traced_handler(SERVICE)
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    request = StepRequest.from_event(event)
    logger.append_keys(orderId=request.order_id, step=request.step, attempt=request.attempt)
    step = STEPS.get(request.step)
    if step is None:
        raise InvalidStepRequest(f"unknown step {request.step!r}; expected one of {sorted(STEPS)}")
    try:
        result = step(request)
    except PaymentProviderUnavailable:
        # Retried by the workflow; counted for the provider-errors alarm.
        metrics.add_metric(name="PaymentProviderErrors", unit=MetricUnit.Count, value=1)
        raise
    logger.info(
        "step done", extra={"result": {k: v for k, v in result.items() if k not in ("fulfillment", "rejection")}}
    )
    return result
