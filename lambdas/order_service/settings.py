"""The environment contract between the stack and the functions: variable names live here only."""

from __future__ import annotations

import os
from dataclasses import dataclass

ORDERS_TABLE_NAME = "ORDERS_TABLE_NAME"
EVENT_BUS_NAME = "EVENT_BUS_NAME"
IDEMPOTENCY_TABLE_NAME = "IDEMPOTENCY_TABLE_NAME"
INVENTORY_TABLE_NAME = "INVENTORY_TABLE_NAME"
FULFILLMENT_FAULTS = "FULFILLMENT_FAULTS"
STALE_AFTER_SECONDS = "STALE_AFTER_SECONDS"
# The Secrets Manager secret holding the Stripe secret key (its name; the key itself is never in the environment).
STRIPE_SECRET_NAME = "STRIPE_SECRET_NAME"
# Where the Stripe SDK sends its calls; set by the local stack only (its Stripe emulator). Unset: Stripe itself.
STRIPE_API_BASE = "STRIPE_API_BASE"
# Storefront: the WebSocket connections table and the WebSocket stage's callback (Management API) URL.
CONNECTIONS_TABLE_NAME = "CONNECTIONS_TABLE_NAME"
WEBSOCKET_CALLBACK_URL = "WEBSOCKET_CALLBACK_URL"

METRICS_NAMESPACE = "ServerlessSnacks"
CREATOR_SERVICE = "order-creator"
PROCESSOR_SERVICE = "order-processor"
RECONCILER_SERVICE = "order-reconciler"
CANCELLER_SERVICE = "order-canceller"
STOREFRONT_API_SERVICE = "storefront-api"
STOREFRONT_SOCKETS_SERVICE = "storefront-sockets"
STOREFRONT_PUSHER_SERVICE = "storefront-pusher"
# Set by the stack to the function's (stage-specific) name, so two stages' metrics never mix.
POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"


def service_name(default: str) -> str:
    """The Powertools service name the stack gave this function, or the default stage's."""
    return os.environ.get(POWERTOOLS_SERVICE_NAME) or default


@dataclass(frozen=True)
class Settings:
    orders_table_name: str
    event_bus_name: str
    idempotency_table_name: str
    inventory_table_name: str
    fulfillment_faults: str
    stale_after_seconds: int
    stripe_secret_name: str = ""
    stripe_api_base: str | None = None
    connections_table_name: str = ""
    websocket_callback_url: str = ""

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(
            orders_table_name=os.environ.get(ORDERS_TABLE_NAME, "Orders"),
            event_bus_name=os.environ.get(EVENT_BUS_NAME, "serverless-snacks-orders"),
            idempotency_table_name=os.environ.get(IDEMPOTENCY_TABLE_NAME, ""),
            inventory_table_name=os.environ.get(INVENTORY_TABLE_NAME, "Inventory"),
            fulfillment_faults=os.environ.get(FULFILLMENT_FAULTS, ""),
            stale_after_seconds=int(os.environ.get(STALE_AFTER_SECONDS, "300")),
            stripe_secret_name=os.environ.get(STRIPE_SECRET_NAME, ""),
            stripe_api_base=os.environ.get(STRIPE_API_BASE) or None,
            connections_table_name=os.environ.get(CONNECTIONS_TABLE_NAME, ""),
            websocket_callback_url=os.environ.get(WEBSOCKET_CALLBACK_URL, ""),
        )
