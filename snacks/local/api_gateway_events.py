"""The events API Gateway hands a Lambda integration, built as AWS documents them.

HTTP API, payload format version 2.0 (API Gateway Developer Guide, "Create AWS Lambda proxy
integrations for HTTP APIs in API Gateway", https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html,
"Payload format structure"): ``version`` "2.0", ``routeKey`` ("POST /orders"), ``rawPath``,
``rawQueryString``, ``cookies`` (Cookie headers, split), ``headers`` (names lower-case; duplicate headers
joined with commas), ``queryStringParameters`` (duplicates joined with commas), ``requestContext``
(accountId, apiId, domainName, domainPrefix, http{method, path, protocol, sourceIp, userAgent},
requestId, routeKey, stage, time, timeEpoch), ``body``, ``pathParameters``, ``isBase64Encoded``;
absent fields are left out, as API Gateway leaves them out.

WebSocket API (API Gateway Developer Guide, "Setting up WebSocket API integrations" and the
``$context`` variables for WebSocket APIs): ``requestContext`` with routeKey, eventType (CONNECT,
MESSAGE, DISCONNECT), messageDirection "IN", connectionId, connectedAt, domainName, stage, apiId,
requestId, requestTimeEpoch, identity{sourceIp}; ``headers`` and ``queryStringParameters`` on $connect,
``body`` and ``isBase64Encoded`` on messages.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

TEXT_TYPES = ("application/json", "text/", "application/xml", "application/javascript")


def _joined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def _clf_time(moment: datetime) -> str:
    return moment.strftime("%d/%b/%Y:%H:%M:%S +0000")


def is_text(content_type: str) -> bool:
    """Whether API Gateway would hand the body over as text (else base64, ``isBase64Encoded``)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return not kind or any(kind.startswith(text) for text in TEXT_TYPES)


def http_api_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    route_key: str,
    path_parameters: dict[str, str],
    api_id: str,
    domain_name: str,
    stage: str,
    account_id: str,
    source_ip: str,
) -> dict[str, Any]:
    lowered = [(name.lower(), value) for name, value in headers]
    cookies = [part.strip() for name, value in lowered if name == "cookie" for part in value.split(";") if part.strip()]
    header_map = _joined([(name, value) for name, value in lowered if name != "cookie"])
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": header_map,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".", 1)[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": header_map.get("user-agent", ""),
            },
            "requestId": base64.b32encode(uuid.uuid4().bytes)[:16].decode("ascii"),
            "routeKey": route_key,
            "stage": stage,
            "time": _clf_time(now),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if raw_query:
        event["queryStringParameters"] = _joined(parse_qsl(raw_query, keep_blank_values=True))
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body:
        if is_text(header_map.get("content-type", "")):
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
        else:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
    return event


def websocket_event(
    *,
    event_type: str,
    route_key: str,
    connection_id: str,
    connected_at: int,
    api_id: str,
    domain_name: str,
    stage: str,
    source_ip: str,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: str | None = None,
) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    event: dict[str, Any] = {
        "requestContext": {
            "routeKey": route_key,
            "eventType": event_type,
            "messageDirection": "IN",
            "connectionId": connection_id,
            "connectedAt": connected_at,
            "requestTimeEpoch": now_ms,
            "requestId": base64.b32encode(uuid.uuid4().bytes)[:16].decode("ascii"),
            "extendedRequestId": base64.b32encode(uuid.uuid4().bytes)[:16].decode("ascii"),
            "domainName": domain_name,
            "stage": stage,
            "apiId": api_id,
            "identity": {"sourceIp": source_ip},
        },
        "isBase64Encoded": False,
    }
    if event_type == "CONNECT":
        event["headers"] = dict(headers or {})
        if query:
            event["queryStringParameters"] = dict(query)
    if event_type == "MESSAGE":
        event["requestContext"]["messageId"] = base64.b32encode(uuid.uuid4().bytes)[:16].decode("ascii")
        event["body"] = body or ""
    if event_type == "DISCONNECT":
        event["requestContext"]["disconnectStatusCode"] = 1000
        event["requestContext"]["disconnectReason"] = ""
    return event
