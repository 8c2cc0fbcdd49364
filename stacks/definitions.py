"""One place for the pipeline's names and settings.

The CDK stack deploys from these values and the local stack builds its resources from the same
values, so the two cannot drift apart without a test noticing. Plain Python only: the local
stack and the ``snacks`` CLI import this without aws-cdk-lib.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from order_service import settings as env
from order_service.adapters.dynamodb_orders import STATUS_INDEX_NAME
from order_service.domain.events import ORDER_CREATED_DETAIL_TYPE, ORDER_EVENT_SOURCE, order_created_pattern

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_ASSET_DIR = REPO_ROOT / "lambdas"
ASL_PATH = REPO_ROOT / "statemachines" / "order-fulfillment.asl.json"

# Physical names (the seed's where it names them).
ORDERS_TABLE = "Orders"
IDEMPOTENCY_TABLE = "OrdersIdempotency"
ORDER_CREATOR = "order-creator"
ORDER_PROCESSOR = "order-processor"
ORDER_RECONCILER = "order-reconciler"
EVENT_BUS = "serverless-snacks-orders"
ORDER_CREATED_RULE = "order-created-starts-fulfillment"
STATE_MACHINE = "order-fulfillment"
DEAD_LETTER_QUEUE = "serverless-snacks-dlq"
STATE_MACHINE_LOG_GROUP = f"/aws/vendedlogs/states/{STATE_MACHINE}"

# Table layout.
ORDERS_PARTITION_KEY = "orderId"
STATUS_INDEX = STATUS_INDEX_NAME
STATUS_INDEX_PARTITION_KEY = "status"
STATUS_INDEX_SORT_KEY = "createdAt"
IDEMPOTENCY_PARTITION_KEY = "id"
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"

# Lambda platform (the CDK stack picks the newest Python runtime aws-cdk-lib offers; tests/local
# checks that the local stack creates its functions with the same one).
LAMBDA_RUNTIME = "python3.14"
LAMBDA_ARCHITECTURE = "arm64"
LOG_RETENTION_DAYS = 30

# Delivery and retention.
DLQ_RETENTION_DAYS = 14
RULE_TARGET_RETRY_ATTEMPTS = 8
RULE_TARGET_MAX_EVENT_AGE_SECONDS = 3600
RECONCILE_EVERY_MINUTES = 5
STALE_NEW_ORDER_SECONDS = 300

# ASL substitutions: placeholder name -> what CDK puts there.
ASL_PROCESSOR_ARN = "OrderProcessorFunctionArn"
ASL_DLQ_URL = "DeadLetterQueueUrl"

RULE_EVENT_PATTERN: dict[str, Any] = {**order_created_pattern(), "detail": {"orderId": [{"exists": True}]}}
RULE_EVENT_SOURCE = ORDER_EVENT_SOURCE
RULE_DETAIL_TYPE = ORDER_CREATED_DETAIL_TYPE


@dataclass(frozen=True)
class FunctionDefinition:
    name: str
    handler: str
    description: str
    memory_mb: int
    timeout_seconds: int
    environment: dict[str, str] = field(default_factory=dict)


FUNCTIONS: dict[str, FunctionDefinition] = {
    ORDER_CREATOR: FunctionDefinition(
        name=ORDER_CREATOR,
        handler="order_service.handlers.order_creator.handler",
        description="Validates a snack order, stores it as NEW and publishes Order Created",
        memory_mb=256,
        timeout_seconds=10,
        environment={
            env.ORDERS_TABLE_NAME: ORDERS_TABLE,
            env.EVENT_BUS_NAME: EVENT_BUS,
            env.IDEMPOTENCY_TABLE_NAME: IDEMPOTENCY_TABLE,
        },
    ),
    ORDER_PROCESSOR: FunctionDefinition(
        name=ORDER_PROCESSOR,
        handler="order_service.handlers.order_processor.handler",
        description="Fulfillment workflow steps: validate, fulfil, markProcessed, recordFailure",
        memory_mb=256,
        timeout_seconds=20,
        environment={env.ORDERS_TABLE_NAME: ORDERS_TABLE, env.FULFILLMENT_FAULTS: ""},
    ),
    ORDER_RECONCILER: FunctionDefinition(
        name=ORDER_RECONCILER,
        handler="order_service.handlers.order_reconciler.handler",
        description="Re-publishes NEW orders that were never processed (dual-write safety net)",
        memory_mb=256,
        timeout_seconds=120,
        environment={
            env.ORDERS_TABLE_NAME: ORDERS_TABLE,
            env.EVENT_BUS_NAME: EVENT_BUS,
            env.STALE_AFTER_SECONDS: str(STALE_NEW_ORDER_SECONDS),
        },
    ),
}


def load_asl() -> dict[str, Any]:
    return json.loads(ASL_PATH.read_text())  # type: ignore[no-any-return]


def render_asl(processor_arn: str, dlq_url: str) -> str:
    """The ASL with its substitutions applied, as Step Functions receives it from CloudFormation."""
    text = ASL_PATH.read_text()
    for placeholder, value in ((ASL_PROCESSOR_ARN, processor_arn), (ASL_DLQ_URL, dlq_url)):
        text = text.replace("${" + placeholder + "}", value)
    return text
