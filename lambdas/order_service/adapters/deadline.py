"""The running invocation's deadline, so that no AWS call starts that could outlast it.

Lambda stops a function at its timeout wherever it is; a write cut off half-way leaves the
caller without an answer (and, for the creator, unsure whether the order exists). The handler
binds its Lambda context here; the AWS clients ask before every call (see ``clients``).
Per thread, because the local stack runs several invocations in one process.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from order_service.domain.errors import DeadlineTooClose

Handler = TypeVar("Handler", bound=Callable[..., Any])


class RemainingTime(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class InvocationDeadline(threading.local):
    context: RemainingTime | None = None

    def remaining_seconds(self) -> float | None:
        """Seconds left in the bound invocation; None outside one (tests, scripts, the CLI)."""
        if self.context is None:
            return None
        return self.context.get_remaining_time_in_millis() / 1000

    def require(self, seconds: float) -> None:
        """Raise ``DeadlineTooClose`` unless the invocation has at least ``seconds`` left."""
        remaining = self.remaining_seconds()
        if remaining is not None and remaining < seconds:
            raise DeadlineTooClose(
                f"{remaining:.1f} s left in this invocation, {seconds:.1f} s needed; stopped before the call"
            )


INVOCATION_DEADLINE = InvocationDeadline()


def bounded_by_invocation_deadline(handler: Handler) -> Handler:
    """Bind the Lambda context's remaining time for the duration of one invocation."""

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        INVOCATION_DEADLINE.context = context if hasattr(context, "get_remaining_time_in_millis") else None
        try:
            return handler(event, context)
        finally:
            INVOCATION_DEADLINE.context = None

    return wrapper  # type: ignore[return-value]
