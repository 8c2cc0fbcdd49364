"""Tracing that costs nothing unless it is switched on.

Constructing Powertools' ``Tracer`` imports the X-Ray SDK, even when tracing is disabled, and that
import alone adds ~90 ms to every cold start (more than half of a bare boto3 handler's init; see
benchmarks/results.md). Lambda's active tracing already records each invocation and links it to
the Step Functions trace; the SDK adds subsegments for each AWS call. So the SDK is loaded only
when ``POWERTOOLS_TRACE_DISABLED`` is false (CDK context ``sdkTracing=true``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

Handler = TypeVar("Handler", bound=Callable[..., Any])

_DISABLED_VALUES = {"1", "true", "yes", "on"}


def sdk_tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").strip().lower() not in _DISABLED_VALUES


def traced_handler(service: str, capture_response: bool = False) -> Callable[[Handler], Handler]:
    """``Tracer.capture_lambda_handler`` when SDK tracing is on; otherwise the handler unchanged."""
    if not sdk_tracing_enabled():
        return lambda handler: handler
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service=service)
    return tracer.capture_lambda_handler(capture_response=capture_response)  # type: ignore[return-value]
