"""The creator's error contract: error class -> status code, and the decorator that applies it."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyItemAlreadyExistsError,
    IdempotencyValidationError,
)

from order_service.domain import errors
from order_service.domain.errors import FieldProblem
from order_service.domain.ports import EventPublishFailed, OrderAlreadyExists
from order_service.handlers.responses import ERROR_RESPONSES, contract_responses, error_response


class SubclassedValidationError(errors.OrderValidationError):
    pass


class SubclassedThrottle(errors.DependencyThrottled):
    pass


@pytest.mark.parametrize(
    ("error", "status", "name"),
    [
        pytest.param(errors.OrderValidationError([FieldProblem("x", "bad")]), 400, "ValidationError", id="validation"),
        pytest.param(SubclassedValidationError([FieldProblem("x", "bad")]), 400, "ValidationError", id="subclass"),
        pytest.param(errors.PayloadTooLargeError("too big"), 413, "PayloadTooLarge", id="too-large"),
        pytest.param(IdempotencyValidationError("hash differs"), 409, "IdempotencyKeyReused", id="key-reused"),
        pytest.param(IdempotencyAlreadyInProgressError("busy"), 409, "RequestInProgress", id="in-progress"),
        pytest.param(errors.DependencyThrottled("DynamoDB unavailable"), 503, "ServiceUnavailable", id="throttled"),
        pytest.param(SubclassedThrottle("x"), 503, "ServiceUnavailable", id="throttled-subclass"),
        # everything else is a 500, including the service's own workflow errors
        pytest.param(errors.OrderNotFound("o-1"), 500, "InternalError", id="order-not-found"),
        pytest.param(errors.TransientStepError("x"), 500, "InternalError", id="transient-step-error"),
        pytest.param(errors.FulfillmentUnavailable("x"), 500, "InternalError", id="fulfillment-unavailable"),
        pytest.param(errors.OrderServiceError("x"), 500, "InternalError", id="base-error"),
        pytest.param(OrderAlreadyExists("o-1"), 500, "InternalError", id="order-exists"),
        pytest.param(EventPublishFailed("x"), 500, "InternalError", id="publish-failed"),
        pytest.param(IdempotencyItemAlreadyExistsError("x"), 500, "InternalError", id="other-idempotency-error"),
        pytest.param(KeyError("customerName"), 500, "InternalError", id="key-error"),
        pytest.param(RuntimeError("boom"), 500, "InternalError", id="runtime-error"),
    ],
)
def test_error_class_maps_to_status(error: Exception, status: int, name: str) -> None:
    response = error_response(error, "req-1")
    assert response["statusCode"] == status
    assert response["error"] == name
    assert isinstance(response["message"], str) and response["message"]


def test_every_mapped_status_is_a_client_or_server_error() -> None:
    # 404: order-canceller; 502: the payment provider refused to release a cancelled order's payment
    assert {status for status, _ in ERROR_RESPONSES.values()} == {400, 404, 409, 413, 502, 503}


def test_validation_error_lists_every_problem() -> None:
    problems = [FieldProblem("customerName", "is required"), FieldProblem("snackItems[0].price", "must be a number")]
    assert error_response(errors.OrderValidationError(problems)) == {
        "statusCode": 400,
        "error": "ValidationError",
        "message": "The order is invalid: 2 problem(s).",
        "details": [
            {"field": "customerName", "problem": "is required"},
            {"field": "snackItems[0].price", "problem": "must be a number"},
        ],
    }


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            IdempotencyValidationError("internal hash detail"),
            "This idempotencyKey was already used for a different order; use a new key.",
        ),
        (
            IdempotencyAlreadyInProgressError("internal detail"),
            "An order with this idempotencyKey is being created right now; retry shortly.",
        ),
        (
            errors.DependencyThrottled("DynamoDB unavailable: ClientError"),
            "A dependency is throttling or unavailable; nothing was created, retry shortly.",
        ),
    ],
)
def test_fixed_messages_replace_the_exception_text(error: Exception, message: str) -> None:
    response = error_response(error)
    assert response == {"statusCode": response["statusCode"], "error": response["error"], "message": message}


def test_payload_too_large_keeps_its_own_message() -> None:
    assert error_response(errors.PayloadTooLargeError("payload is 70000 bytes"))["message"] == "payload is 70000 bytes"


def test_unexpected_error_is_a_500_with_the_request_id_and_no_detail() -> None:
    error = ValueError("customer Ivy Secretsurname broke it\nTraceback (most recent call last):")
    assert error_response(error, "req-42") == {
        "statusCode": 500,
        "error": "InternalError",
        "message": "The order could not be processed; reference req-42.",
    }
    assert error_response(error)["message"] == "The order could not be processed; reference unknown."


# --- the decorator -------------------------------------------------------------------------------


class Context:
    aws_request_id = "req-7"


def decorated(behaviour: Any) -> tuple[Any, mock.Mock, mock.Mock]:
    logger, metrics = mock.Mock(), mock.Mock()

    @contract_responses(logger, metrics)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        if isinstance(behaviour, Exception):
            raise behaviour
        return behaviour  # type: ignore[no-any-return]

    return handler, logger, metrics


def test_decorator_passes_success_through_untouched() -> None:
    handler, logger, metrics = decorated({"statusCode": 201, "orderId": "o-1"})
    assert handler({}, Context()) == {"statusCode": 201, "orderId": "o-1"}
    metrics.add_metric.assert_not_called()
    logger.exception.assert_not_called()


def test_decorator_turns_a_client_error_into_a_4xx_and_logs_it_as_info() -> None:
    handler, logger, metrics = decorated(errors.OrderValidationError([FieldProblem("x", "bad")]))

    response = handler({}, Context())

    assert response["statusCode"] == 400
    metrics.add_metric.assert_called_once()
    assert metrics.add_metric.call_args.kwargs["name"] == "OrdersRejected"
    logger.info.assert_called_once()
    assert logger.info.call_args.kwargs["extra"] == {"error": "ValidationError", "statusCode": 400}
    logger.exception.assert_not_called()


def test_decorator_turns_an_unexpected_error_into_a_500_and_logs_it_as_error() -> None:
    handler, logger, metrics = decorated(RuntimeError("boom"))

    response = handler({}, Context())

    assert response == {
        "statusCode": 500,
        "error": "InternalError",
        "message": "The order could not be processed; reference req-7.",
    }
    assert metrics.add_metric.call_args.kwargs["name"] == "OrderRequestErrors"
    logger.exception.assert_called_once()
    assert logger.exception.call_args.kwargs["extra"] == {"error": "InternalError"}


def test_decorator_503_counts_as_a_server_error() -> None:
    handler, logger, metrics = decorated(errors.DependencyThrottled("x"))
    assert handler({}, Context())["statusCode"] == 503
    assert metrics.add_metric.call_args.kwargs["name"] == "OrderRequestErrors"
    logger.exception.assert_called_once()


def test_decorator_works_without_a_request_id() -> None:
    handler, _, _ = decorated(RuntimeError("boom"))
    assert handler({}, None)["message"].endswith("reference unknown.")


def test_decorator_keeps_the_handler_name() -> None:
    handler, _, _ = decorated({})
    assert handler.__name__ == "handler"
