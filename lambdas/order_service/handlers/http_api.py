"""API Gateway HTTP API, payload format 2.0: reading the request, writing the response.

Fields as the API Gateway Developer Guide documents them ("Working with AWS Lambda proxy integrations
for HTTP APIs", payload format version 2.0): ``routeKey`` ("POST /orders"), ``headers`` with
lower-case names (repeated headers joined with commas), ``pathParameters``, ``body`` (a string, base64
when ``isBase64Encoded``). The response is ``{statusCode, headers, body, isBase64Encoded}``; the body is
the creator's JSON contract (DESIGN.md §3), errors included, and never a stack trace.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from order_service.domain.errors import FieldProblem, OrderValidationError
from order_service.domain.serialization import to_jsonable
from order_service.handlers.responses import error_response

JSON = "application/json"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class UnsupportedMediaType(Exception):
    """The body is not declared as JSON."""


def header(event: dict[str, Any], name: str) -> str | None:
    value = (event.get("headers") or {}).get(name.lower())
    return str(value) if value is not None else None


def path_parameter(event: dict[str, Any], name: str) -> str:
    return str((event.get("pathParameters") or {}).get(name) or "")


def json_body(event: dict[str, Any]) -> bytes:
    """The raw request body of a JSON request (decoded from base64 if API Gateway encoded it)."""
    content_type = (header(event, "content-type") or "").split(";", 1)[0].strip().lower()
    if content_type != JSON:
        raise UnsupportedMediaType()
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise OrderValidationError([FieldProblem("$", "body is not valid base64")]) from None
    return body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)


def response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": JSON, **(headers or {})},
        "body": json.dumps(to_jsonable(body), separators=(",", ":"), ensure_ascii=False),
        "isBase64Encoded": False,
    }


def contract(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The creator's contract object (``statusCode`` inside too) as an HTTP response."""
    return response(status, {"statusCode": status, **payload}, headers)


def http_responses(logger: Logger, metrics: Metrics) -> Callable[[Handler], Handler]:
    """Every outcome an HTTP response in the error contract; 5xx logged with the request id only."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapper(event: dict[str, Any], context: Any) -> dict[str, Any]:
            try:
                return handler(event, context)
            except UnsupportedMediaType:
                metrics.add_metric(name="StorefrontRequestsRejected", unit=MetricUnit.Count, value=1)
                return contract(
                    415,
                    {"error": "UnsupportedMediaType", "message": f"Send the order as {JSON}."},
                )
            except Exception as error:
                answer = error_response(error, getattr(context, "aws_request_id", None))
                status = int(answer.pop("statusCode"))
                if status >= 500:
                    metrics.add_metric(name="StorefrontRequestErrors", unit=MetricUnit.Count, value=1)
                    logger.exception("storefront request failed", extra={"error": answer["error"]})
                else:
                    metrics.add_metric(name="StorefrontRequestsRejected", unit=MetricUnit.Count, value=1)
                    logger.info("storefront request rejected", extra={"error": answer["error"], "statusCode": status})
                return contract(status, answer)

        return wrapper

    return decorate
