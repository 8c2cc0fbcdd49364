"""The storefront's names and settings (HTTP API, WebSocket API, their functions and table).

Kept beside ``stacks.definitions`` (whose names they extend, stage suffix and all) so the pipeline's
own definitions stay as they are; the CDK construct and the local stack both build from these.
Plain Python only, like ``stacks.definitions``.
"""

from __future__ import annotations

from dataclasses import dataclass

from order_service import settings as env
from order_service.adapters import dynamodb_connections
from stacks import definitions as d

# Functions' time budgets: one request each, a few AWS calls (see definitions' time budgets).
API_TIMEOUT_SECONDS = 30  # API Gateway's HTTP API integration timeout is 30 s at most
SOCKETS_TIMEOUT_SECONDS = 29  # WebSocket API integration timeout: 29 s
PUSHER_TIMEOUT_SECONDS = 60

CONNECTIONS_PARTITION_KEY = dynamodb_connections.PARTITION_KEY
CONNECTIONS_SORT_KEY = dynamodb_connections.SORT_KEY
CONNECTIONS_TTL_ATTRIBUTE = dynamodb_connections.TTL_ATTRIBUTE

# HTTP API routes (the handler's route keys) and the WebSocket routes.
HTTP_ROUTES = ("POST /orders", "GET /orders/{id}", "POST /orders/{id}/cancel")
WEBSOCKET_ROUTES = ("$connect", "$disconnect", "$default")
STAGE_NAME = "live"  # both APIs' stage (a single stage; the deployment stage is in the names)

# Throttling (per stage): a shop's page places an order and reads it; bursts are short.
THROTTLE_RATE_PER_SECOND = 50
THROTTLE_BURST = 100
# The body limit is the creator's (validation.MAX_PAYLOAD_BYTES); API Gateway's own is 10 MB.
# CORS: the storefront page's origin, `cdk deploy -c storefrontOrigin=https://shop.example`.
DEFAULT_ALLOWED_ORIGIN = "http://localhost:8765"
# Cached read: CloudFront keeps GET /orders/{id} this long per cache key (path + the headers below).
# The origin's Cache-Control (max-age=ORDER_READ_CACHE_SECONDS) is honoured between MIN and MAX.
ORDER_READ_CACHE_SECONDS = 1
ORDER_READ_CACHE_MIN_SECONDS = 0
ORDER_READ_CACHE_MAX_SECONDS = 5
ORDER_READ_CACHE_PATH = "/orders/*"
# Authorization: one order's token never serves another's view. Origin: the HTTP API answers CORS
# (Access-Control-Allow-Origin) per request Origin, so a response without it must not serve a page's.
ORDER_READ_CACHE_HEADERS = ("Authorization", "Origin")


@dataclass(frozen=True)
class StorefrontNames:
    stage: str
    api_function: str
    sockets_function: str
    pusher_function: str
    connections_table: str
    http_api: str
    websocket_api: str
    status_push_rule: str

    @property
    def functions(self) -> tuple[str, str, str]:
        return (self.api_function, self.sockets_function, self.pusher_function)


def storefront_names(names: d.ResourceNames = d.NAMES) -> StorefrontNames:
    suffix = "" if names.stage == d.DEFAULT_STAGE else f"-{names.stage}"
    return StorefrontNames(
        stage=names.stage,
        api_function=f"storefront-api{suffix}",
        sockets_function=f"storefront-sockets{suffix}",
        pusher_function=f"storefront-pusher{suffix}",
        connections_table=f"StorefrontConnections{suffix}",
        http_api=f"serverless-snacks-storefront{suffix}",
        websocket_api=f"serverless-snacks-live{suffix}",
        status_push_rule=f"order-status-pushes-live{suffix}",
    )


STOREFRONT = storefront_names()
API = "storefront-api"
SOCKETS = "storefront-sockets"
PUSHER = "storefront-pusher"


def function_definitions(names: d.ResourceNames = d.NAMES, callback_url: str = "") -> dict[str, d.FunctionDefinition]:
    """The storefront's functions, keyed by role (API, SOCKETS, PUSHER); ``callback_url`` is the
    WebSocket stage's Management API URL (the pusher's; on AWS the sockets function reads it from
    its events)."""
    store = storefront_names(names)
    return {
        API: d.FunctionDefinition(
            name=store.api_function,
            handler="order_service.handlers.storefront_api.handler",
            description="Storefront HTTP API: place, read and cancel an order with its access token",
            memory_mb=256,
            timeout_seconds=API_TIMEOUT_SECONDS - 1,
            environment={
                env.ORDERS_TABLE_NAME: names.orders_table,
                env.INVENTORY_TABLE_NAME: names.inventory_table,
                env.EVENT_BUS_NAME: names.event_bus,
                env.IDEMPOTENCY_TABLE_NAME: names.idempotency_table,
                # A cancel gives a card payment back, as order-canceller does (the SDK layer comes with it).
                env.STRIPE_SECRET_NAME: names.stripe_secret,
            },
        ),
        SOCKETS: d.FunctionDefinition(
            name=store.sockets_function,
            handler="order_service.handlers.storefront_sockets.handler",
            description="Storefront WebSocket routes: subscribe to an order's status with its token",
            memory_mb=256,
            timeout_seconds=SOCKETS_TIMEOUT_SECONDS - 1,
            environment={
                env.ORDERS_TABLE_NAME: names.orders_table,
                env.CONNECTIONS_TABLE_NAME: store.connections_table,
            },
        ),
        PUSHER: d.FunctionDefinition(
            name=store.pusher_function,
            handler="order_service.handlers.storefront_pusher.handler",
            description="Pushes each order status event to the order's WebSocket subscribers",
            memory_mb=256,
            timeout_seconds=PUSHER_TIMEOUT_SECONDS,
            environment={
                env.ORDERS_TABLE_NAME: names.orders_table,  # one GetItem per event: the payment state
                env.CONNECTIONS_TABLE_NAME: store.connections_table,
                env.WEBSOCKET_CALLBACK_URL: callback_url,
            },
        ),
    }
