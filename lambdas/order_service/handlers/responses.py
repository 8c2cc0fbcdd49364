"""The creator's response contract, and the one place that maps errors to it.

Errors map by class (most specific first in the MRO), never by message; anything unexpected is
a 500 with the request id and no stack trace. Messages never echo input values, so no personal
data leaks into responses or logs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from order_service.domain.errors import (
    CancelRequestInvalid,
    DeadlineTooClose,
    DependencyThrottled,
    OrderNotCancellable,
    OrderValidationError,
    PayloadTooLargeError,
    PaymentFailed,
    PaymentProviderUnavailable,
    UnknownOrder,
)

ERROR_RESPONSES: dict[type[Exception], tuple[int, str]] = {
    OrderValidationError: (400, "ValidationError"),
    PayloadTooLargeError: (413, "PayloadTooLarge"),
    IdempotencyValidationError: (409, "IdempotencyKeyReused"),
    IdempotencyAlreadyInProgressError: (409, "RequestInProgress"),
    DependencyThrottled: (503, "ServiceUnavailable"),
    DeadlineTooClose: (503, "ServiceUnavailable"),
    # order-canceller
    CancelRequestInvalid: (400, "ValidationError"),
    UnknownOrder: (404, "OrderNotFound"),
    OrderNotCancellable: (409, "OrderNotCancellable"),
    # order-canceller: the order is CANCELLED, its card payment not yet released
    PaymentProviderUnavailable: (503, "PaymentReleasePending"),
    PaymentFailed: (502, "PaymentReleaseRefused"),
}

# Fixed wording where the exception's own text would say too little or too much.
MESSAGES = {
    "IdempotencyKeyReused": "This idempotencyKey was already used for a different order; use a new key.",
    "RequestInProgress": "An order with this idempotencyKey is being created right now; retry shortly.",
    "ServiceUnavailable": "A dependency is throttling or unavailable; nothing was created, retry shortly.",
    "PaymentReleasePending": "The order is CANCELLED, but the payment provider is unavailable and its card "
    "payment is not released yet; repeat the cancel to release it.",
    "PaymentReleaseRefused": "The order is CANCELLED, but the payment provider refused to release its card "
    "payment; see the order's payment and the function's logs.",
}

Handler = Callable[[Any, Any], dict[str, Any]]


def error_response(error: Exception, request_id: str | None = None) -> dict[str, Any]:
    for cls in type(error).__mro__:
        if cls in ERROR_RESPONSES:
            status, name = ERROR_RESPONSES[cls]
            response: dict[str, Any] = {
                "statusCode": status,
                "error": name,
                "message": MESSAGES.get(name) or str(error),
            }
            if isinstance(error, OrderValidationError):
                response["message"] = f"The order is invalid: {len(error.problems)} problem(s)."
                response["details"] = [problem.as_dict() for problem in error.problems]
            return response
    return {
        "statusCode": 500,
        "error": "InternalError",
        "message": f"The order could not be processed; reference {request_id or 'unknown'}.",
    }


def contract_responses(logger: Logger, metrics: Metrics) -> Callable[[Handler], Handler]:
    """Decorate a handler so every outcome is a contract response, logged without personal data."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapper(event: Any, context: Any) -> dict[str, Any]:
            try:
                return handler(event, context)
            except Exception as error:
                request_id = getattr(context, "aws_request_id", None)
                response = error_response(error, request_id)
                if response["statusCode"] >= 500:
                    metrics.add_metric(name="OrderRequestErrors", unit=MetricUnit.Count, value=1)
                    logger.exception("order request failed", extra={"error": response["error"]})
                else:
                    metrics.add_metric(name="OrdersRejected", unit=MetricUnit.Count, value=1)
                    logger.info(
                        "order request rejected",
                        extra={"error": response["error"], "statusCode": response["statusCode"]},
                    )
                return response

        return wrapper

    return decorate
