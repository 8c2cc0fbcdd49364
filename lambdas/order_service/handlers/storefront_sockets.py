"""``storefront-sockets``: the routes of the storefront's WebSocket API.

    $connect     ?orderId=<id>&token=<orderToken>  (browsers cannot set headers on a WebSocket)
                 verified like the HTTP API's Bearer token; the connection is remembered per order
    $disconnect  the connection is forgotten
    $default     any message: the order's current status is sent back to that connection

Why the current status comes on the client's first message and not on connect: API Gateway opens the
connection only after the $connect integration has answered, so a post from inside $connect finds no
connection yet ("Use $connect and $disconnect routes", API Gateway Developer Guide). The storefront page
sends one message as soon as the socket opens; every later change is pushed by ``storefront-pusher``.

Event fields (API Gateway Developer Guide, "Setting up WebSocket API integrations" / the
``requestContext`` of WebSocket events): ``requestContext.routeKey``, ``eventType``, ``connectionId``,
``domainName``, ``stage``, ``connectedAt``; ``queryStringParameters`` on $connect only.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_service.adapters.clients import dynamodb_client
from order_service.adapters.deadline import bounded_by_invocation_deadline
from order_service.adapters.dynamodb_connections import DynamoDbConnectionRegistry
from order_service.adapters.dynamodb_orders import DynamoDbOrderRepository
from order_service.adapters.websocket_connections import ManagementApiPoster, management_endpoint
from order_service.domain.customer_view import current_status_message
from order_service.domain.live_status import encode
from order_service.domain.order_access import may_access
from order_service.handlers.observability import traced_handler
from order_service.settings import METRICS_NAMESPACE, STOREFRONT_SOCKETS_SERVICE, Settings, service_name

settings = Settings.from_environment()
SERVICE = service_name(STOREFRONT_SOCKETS_SERVICE)
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)

_dynamodb = dynamodb_client()
orders = DynamoDbOrderRepository(_dynamodb, settings.orders_table_name)
connections = DynamoDbConnectionRegistry(_dynamodb, settings.connections_table_name)
_posters: dict[str, ManagementApiPoster] = {}

ORDER_ID_MAX_CHARS = 64
# The handshake is refused with these (the client sees the HTTP status of its upgrade request);
# a wrong token and an unknown order get the same answer.
UNAUTHORIZED = {"statusCode": 401}
NOT_FOUND = {"statusCode": 404}
OK = {"statusCode": 200}


def _poster(context: dict[str, Any]) -> ManagementApiPoster:
    # On AWS the callback URL comes from the event (the stage cannot be in the function's
    # environment: the API's integration depends on the function); a local stack may set it.
    endpoint = settings.websocket_callback_url or management_endpoint(
        str(context.get("domainName")), str(context.get("stage"))
    )
    if endpoint not in _posters:
        _posters[endpoint] = ManagementApiPoster(endpoint)
    return _posters[endpoint]


def connect(event: dict[str, Any], connection_id: str) -> dict[str, Any]:
    query = event.get("queryStringParameters") or {}
    order_id, token = str(query.get("orderId") or ""), query.get("token")
    if not token or not order_id:
        return UNAUTHORIZED
    record = orders.get(order_id) if len(order_id) <= ORDER_ID_MAX_CHARS else None
    if not may_access(record, str(token)):
        metrics.add_metric(name="StorefrontAccessRefused", unit=MetricUnit.Count, value=1)
        return NOT_FOUND
    logger.append_keys(orderId=order_id)
    connections.add(connection_id, order_id, int(time.time()))
    metrics.add_metric(name="LiveConnections", unit=MetricUnit.Count, value=1)
    return OK


def send_current_status(event: dict[str, Any], connection_id: str) -> dict[str, Any]:
    order_id = connections.order_of(connection_id)
    record = orders.get(order_id) if order_id else None
    if record is None:
        return OK
    logger.append_keys(orderId=order_id)
    if not _poster(event.get("requestContext") or {}).post(connection_id, encode(current_status_message(record))):
        connections.remove(connection_id, order_id)
    return OK


@logger.inject_lambda_context(clear_state=True)
@traced_handler(SERVICE)
@metrics.log_metrics
@bounded_by_invocation_deadline
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = event.get("requestContext") or {}
    route, connection_id = request.get("routeKey"), str(request.get("connectionId") or "")
    if route == "$connect":
        return connect(event, connection_id)
    if route == "$disconnect":
        connections.remove(connection_id)
        return OK
    return send_current_status(event, connection_id)
