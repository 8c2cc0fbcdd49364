"""Which AWS failures are worth another attempt. One place, decided by error code, never by message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from order_service.domain.errors import DependencyThrottled

RETRYABLE_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "InternalServerError",
        "InternalFailure",
        "InternalException",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_retryable(error: Exception) -> bool:
    if isinstance(error, ClientError):
        return error_code(error) in RETRYABLE_ERROR_CODES
    return isinstance(error, (ConnectionError, ReadTimeoutError))


@contextmanager
def transient_errors_as(service: str) -> Iterator[None]:
    """Re-raise throttling/unavailability (left after the SDK's own retries) as ``DependencyThrottled``."""
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        if is_retryable(error):
            raise DependencyThrottled(f"{service} unavailable: {type(error).__name__}") from error
        raise
