"""The error vocabulary of the order service.

Errors are told apart by class, never by message. The class name of an error raised by a
workflow step becomes its Step Functions error name (the Lambda ``errorType``), so the ASL's
Retry and Catch blocks refer to these names; ``TRANSIENT_STEP_ERRORS`` and
``PERMANENT_STEP_ERRORS`` are what the ASL test checks the state machine against.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """One violated rule of an input, named by a JSON-path-like field (``snackItems[1].price``)."""

    field: str
    problem: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "problem": self.problem}


class OrderServiceError(Exception):
    """Base class of every error the service raises on purpose."""


class OrderValidationError(OrderServiceError):
    """The input order breaks one or more rules. Nothing was written or published."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.problem}" for p in problems))


class PayloadTooLargeError(OrderServiceError):
    """The raw payload is larger than any valid order can be."""


class CancelRequestInvalid(OrderServiceError):
    """The cancel request is not ``{"orderId": "<id>"}``."""


class UnknownOrder(OrderServiceError):
    """A request (not a workflow step) names an order that does not exist."""


class OrderNotCancellable(OrderServiceError):
    """The order is settled (PROCESSED or REJECTED): there is nothing left to cancel."""


# --- workflow step errors: names are part of the ASL contract -------------------------------


class OrderNotFound(OrderServiceError):
    """Permanent: the event names an order that is not in the table."""


class OrderInvalid(OrderServiceError):
    """Permanent: the stored order breaks the order rules (e.g. its total no longer adds up)."""


class FulfillmentRejected(OrderServiceError):
    """Permanent: fulfillment refused the order (simulated, see ``FULFILLMENT_FAULTS``)."""


class OrderStateConflict(OrderServiceError):
    """Permanent: the order is in a state that does not allow the requested transition."""


class InvalidStepRequest(OrderServiceError):
    """Permanent: the workflow sent a step request the processor does not understand."""


class TransientStepError(OrderServiceError):
    """Retryable: a dependency failed in a way that may pass on a later attempt."""


class FulfillmentUnavailable(TransientStepError):
    """Retryable: fulfillment is temporarily unavailable (simulated, see ``FULFILLMENT_FAULTS``)."""


class DependencyThrottled(TransientStepError):
    """Retryable: an AWS dependency throttled us or was unavailable after the SDK's own retries."""


class PaymentProviderUnavailable(TransientStepError):
    """Retryable: the payment provider did not answer, or answered with a server error or a rate limit (every
    provider call carries an idempotency key, so trying again never charges twice)."""


class PaymentFailed(OrderServiceError):
    """Permanent: the provider refused the request itself (bad key, not configured, invalid request); not a
    decline, which is a business outcome (the order is REJECTED ``PaymentDeclined``)."""


class DeadlineTooClose(TransientStepError):
    """Retryable: too little of the invocation was left to finish the next AWS call, so it was not started."""


TRANSIENT_STEP_ERRORS: tuple[str, ...] = tuple(
    cls.__name__
    for cls in (
        TransientStepError,
        FulfillmentUnavailable,
        DependencyThrottled,
        DeadlineTooClose,
        PaymentProviderUnavailable,
    )
)
PERMANENT_STEP_ERRORS: tuple[str, ...] = tuple(
    cls.__name__
    for cls in (OrderNotFound, OrderInvalid, FulfillmentRejected, OrderStateConflict, InvalidStepRequest, PaymentFailed)
)
