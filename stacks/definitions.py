"""One place for the pipeline's names and settings.

The CDK stack deploys from these values and the local stack builds its resources from the same
values, so the two cannot drift apart without a test noticing. Plain Python only: the local
stack and the ``snacks`` CLI import this without aws-cdk-lib.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from order_service import settings as env
from order_service.adapters.dynamodb_inventory import INVENTORY_PARTITION_KEY as _INVENTORY_KEY
from order_service.adapters.dynamodb_orders import STATUS_INDEX_NAME
from order_service.domain.events import (
    ORDER_CANCELLED_DETAIL_TYPE,
    ORDER_CREATED_DETAIL_TYPE,
    ORDER_EVENT_SOURCE,
    ORDER_FAILED_DETAIL_TYPE,
    ORDER_PROCESSED_DETAIL_TYPE,
    ORDER_REJECTED_DETAIL_TYPE,
    STATUS_DETAIL_TYPES,
    order_created_pattern,
    order_status_pattern,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_ASSET_DIR = REPO_ROOT / "lambdas"
ASL_PATH = REPO_ROOT / "statemachines" / "order-fulfillment.asl.json"

# Stages: the default stage keeps the seed's physical names exactly (its commands work verbatim);
# any other stage (`cdk deploy -c stage=dev`, `snacks --stage dev`) suffixes every physical name,
# so several copies of the pipeline share one account and region without colliding.
DEFAULT_STAGE = "default"
# Lower-case and DNS-like (every service's name rules allow a-z 0-9 '-'), readable in alarm names; how
# long it may be is derived from the names it suffixes (MAX_STAGE_LENGTH, below ResourceNames).
STAGE_CHARACTERS = re.compile(r"[a-z](?:[a-z0-9-]*[a-z0-9])?")
STACK_BASE_NAME = "ServerlessSnacks"


def normalise_stage(stage: str | None) -> str:
    """``None``/empty is the default stage; anything else is a-z 0-9 '-' and at most MAX_STAGE_LENGTH long."""
    stage = (stage or "").strip() or DEFAULT_STAGE
    if stage == DEFAULT_STAGE:
        return stage
    if not STAGE_CHARACTERS.fullmatch(stage):
        raise ValueError(f"stage {stage!r} must be a-z, 0-9 and '-', starting with a letter and not ending with '-'")
    if len(stage) > MAX_STAGE_LENGTH:
        field, limit = STAGE_LENGTH_BOUND_BY
        longest = resource_names().physical()[field]
        raise ValueError(
            f"stage {stage!r} is {len(stage)} characters; a stage is at most {MAX_STAGE_LENGTH}: it suffixes "
            f"every name, and {longest!r} + '-{stage}' would exceed the {limit} characters AWS allows there"
        )
    return stage


@dataclass(frozen=True)
class ResourceNames:
    """Every physical name of one stage of the pipeline (the seed's names for the default stage)."""

    stage: str
    stack: str
    orders_table: str
    idempotency_table: str
    inventory_table: str
    order_creator: str
    order_processor: str
    order_reconciler: str
    order_canceller: str
    event_bus: str
    order_created_rule: str
    reconcile_schedule_rule: str
    state_machine: str
    dead_letter_queue: str
    alarm_topic: str
    order_status_topic: str
    order_status_rule: str
    dashboard: str
    event_archive: str
    order_status_dlq: str
    stripe_secret: str

    @property
    def state_machine_log_group(self) -> str:
        return f"/aws/vendedlogs/states/{self.state_machine}"

    @staticmethod
    def function_log_group(function_name: str) -> str:
        return f"/aws/lambda/{function_name}"

    @property
    def functions(self) -> tuple[str, str, str, str]:
        return (self.order_creator, self.order_processor, self.order_reconciler, self.order_canceller)

    def physical(self) -> dict[str, str]:
        """Field -> physical name, for checks that two stages share none."""
        names = {key: value for key, value in vars(self).items() if key != "stage"}
        names["state_machine_log_group"] = self.state_machine_log_group
        names.update({f"log_group:{name}": self.function_log_group(name) for name in self.functions})
        return names


def resource_names(stage: str | None = None) -> ResourceNames:
    stage = normalise_stage(stage)
    suffix = "" if stage == DEFAULT_STAGE else f"-{stage}"
    return ResourceNames(
        stage=stage,
        stack=f"{STACK_BASE_NAME}{suffix}",
        orders_table=f"Orders{suffix}",
        idempotency_table=f"OrdersIdempotency{suffix}",
        inventory_table=f"Inventory{suffix}",
        order_creator=f"order-creator{suffix}",
        order_processor=f"order-processor{suffix}",
        order_reconciler=f"order-reconciler{suffix}",
        order_canceller=f"order-canceller{suffix}",
        event_bus=f"serverless-snacks-orders{suffix}",
        order_created_rule=f"order-created-starts-fulfillment{suffix}",
        reconcile_schedule_rule=f"order-reconciler-schedule{suffix}",
        state_machine=f"order-fulfillment{suffix}",
        dead_letter_queue=f"serverless-snacks-dlq{suffix}",
        alarm_topic=f"serverless-snacks-alarms{suffix}",
        order_status_topic=f"serverless-snacks-order-status{suffix}",
        order_status_rule=f"order-status-notifies-customers{suffix}",
        dashboard=f"{STACK_BASE_NAME}{suffix}",
        event_archive=f"serverless-snacks-orders-archive{suffix}",
        order_status_dlq=f"serverless-snacks-order-status-dlq{suffix}",
        # Secrets Manager secret holding the Stripe secret key (the stack creates it with a placeholder).
        stripe_secret=f"serverless-snacks/stripe-secret-key{suffix}",
    )


# The longest value AWS accepts for each physical name, by kind of resource; a stage's suffix must fit
# every one of them. Sources: CloudFormation CreateStack "StackName" (128); DynamoDB "Supported data
# types and naming rules in Amazon DynamoDB" (table 3-255); Lambda CreateFunction "FunctionName" (64 for
# a bare name); EventBridge CreateEventBus "Name" (256), PutRule "Name" (64), CreateArchive "ArchiveName"
# (48, cfn-lint E3033 from the AWS::Events::Archive schema); Step Functions CreateStateMachine "name"
# (80); SQS CreateQueue "QueueName" (80); SNS CreateTopic "Name" (256); CloudWatch PutDashboard
# "DashboardName" (255); CloudWatch Logs CreateLogGroup "logGroupName" (512).
NAME_LENGTH_LIMITS: dict[str, int] = {
    "stack": 128,
    "orders_table": 255,
    "idempotency_table": 255,
    "inventory_table": 255,
    "order_creator": 64,
    "order_processor": 64,
    "order_reconciler": 64,
    "order_canceller": 64,
    "event_bus": 256,
    "order_created_rule": 64,
    "reconcile_schedule_rule": 64,
    "state_machine": 80,
    "dead_letter_queue": 80,
    "alarm_topic": 256,
    "order_status_topic": 256,
    "order_status_rule": 64,
    "dashboard": 255,
    "event_archive": 48,
    "order_status_dlq": 80,
    # Secrets Manager CreateSecret "Name": 1-512 characters.
    "stripe_secret": 512,
}
LOG_GROUP_NAME_LIMIT = 512


def name_length_limit(field: str) -> int:
    """The limit of one ``ResourceNames.physical()`` entry; a name without a known limit is an error."""
    if field == "state_machine_log_group" or field.startswith("log_group:"):
        return LOG_GROUP_NAME_LIMIT
    if field not in NAME_LENGTH_LIMITS:
        raise KeyError(f"ResourceNames.{field} has no length limit in NAME_LENGTH_LIMITS: add the service's limit")
    return NAME_LENGTH_LIMITS[field]


def _longest_stage() -> tuple[int, tuple[str, int]]:
    """How long a stage may be: the tightest (limit - default name - '-') over every name it suffixes."""
    room = {
        field: name_length_limit(field) - len(name) - 1
        for field, name in resource_names(DEFAULT_STAGE).physical().items()
    }
    field = min(room, key=lambda key: room[key])
    return room[field], (field, name_length_limit(field))


# 15 today: "serverless-snacks-orders-archive" (32) + "-" + stage must fit the archive's 48.
MAX_STAGE_LENGTH, STAGE_LENGTH_BOUND_BY = _longest_stage()


# The default stage's names (the seed's), for code that serves one stage only.
NAMES = resource_names()
ORDERS_TABLE = NAMES.orders_table
IDEMPOTENCY_TABLE = NAMES.idempotency_table
INVENTORY_TABLE = NAMES.inventory_table
ORDER_CREATOR = NAMES.order_creator
ORDER_PROCESSOR = NAMES.order_processor
ORDER_RECONCILER = NAMES.order_reconciler
ORDER_CANCELLER = NAMES.order_canceller
EVENT_BUS = NAMES.event_bus
ORDER_CREATED_RULE = NAMES.order_created_rule
STATE_MACHINE = NAMES.state_machine
DEAD_LETTER_QUEUE = NAMES.dead_letter_queue
STATE_MACHINE_LOG_GROUP = NAMES.state_machine_log_group
ORDER_STATUS_TOPIC = NAMES.order_status_topic
ORDER_STATUS_RULE = NAMES.order_status_rule
ORDER_STATUS_DLQ = NAMES.order_status_dlq

# Function roles: FUNCTIONS is keyed by these (the default stage's function names).
CREATOR = ORDER_CREATOR
PROCESSOR = ORDER_PROCESSOR
RECONCILER = ORDER_RECONCILER
CANCELLER = ORDER_CANCELLER

# Table layout.
ORDERS_PARTITION_KEY = "orderId"
STATUS_INDEX = STATUS_INDEX_NAME
STATUS_INDEX_PARTITION_KEY = "status"
STATUS_INDEX_SORT_KEY = "createdAt"
IDEMPOTENCY_PARTITION_KEY = "id"
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"
INVENTORY_PARTITION_KEY = _INVENTORY_KEY  # snack name -> available units

# Execution-log level of the EXPRESS workflow: `cdk deploy -c workflowLogLevel=ERROR`,
# `snacks local --workflow-log-level ERROR`. Step Functions Developer Guide, "Log levels"
# (cloudwatch-log-level.html): ALL logs every history event; ERROR only the failure events
# (ExecutionFailed/Aborted/TimedOut, FailStateEntered, TaskFailed, LambdaFunctionFailed, ...); OFF
# logs nothing and needs no destination. FATAL (execution-level failures only) is not offered: it
# drops the TaskFailed records the failed-publish metric filter counts and adds no saving over ERROR
# for an order pipeline whose successful executions log nothing at ERROR anyway.
WORKFLOW_LOG_LEVELS = ("ALL", "ERROR", "OFF")
DEFAULT_WORKFLOW_LOG_LEVEL = "ALL"


@dataclass(frozen=True)
class WorkflowLogging:
    """The state machine's LoggingConfiguration for one level, on AWS and on the local stack."""

    level: str
    # ALL: the console trace shows each state's input and output. ERROR: only failure events are
    # logged, and with their data FailStateEntered carries the order id (how the console finds a
    # failed order's execution) and the error it ends with. OFF: nothing is logged.
    include_execution_data: bool

    @property
    def has_destination(self) -> bool:
        """OFF needs no log group destination (LoggingConfiguration.destinations is optional then)."""
        return self.level != "OFF"


def normalise_workflow_log_level(level: str | None) -> str:
    """``None``/empty is ALL; otherwise one of WORKFLOW_LOG_LEVELS, in any letter case."""
    text = (level or "").strip().upper() or DEFAULT_WORKFLOW_LOG_LEVEL
    if text not in WORKFLOW_LOG_LEVELS:
        raise ValueError(
            f"workflow log level {level!r} must be one of {', '.join(WORKFLOW_LOG_LEVELS)} "
            "(ALL: full execution traces; ERROR: failed steps only; OFF: no execution logs)"
        )
    return text


def workflow_logging(level: str | None = None) -> WorkflowLogging:
    level = normalise_workflow_log_level(level)
    return WorkflowLogging(level=level, include_execution_data=level != "OFF")


# Lambda platform (the CDK stack picks the newest Python runtime aws-cdk-lib offers; tests/local
# checks that the local stack creates its functions with the same one).
LAMBDA_RUNTIME = "python3.14"
LAMBDA_ARCHITECTURE = "arm64"
LOG_RETENTION_DAYS = 30

# Time budgets, from the outside in (tests/infra/test_time_budget.py checks every inequality):
#   one AWS call at worst (SDK attempts x (connect + read) + the SDK's backoff between them)
#   + time to answer  <=  function timeout  <  task TimeoutSeconds in the ASL,
#   and the longest path through the workflow, every state at its worst, <= WORKFLOW_TIME_BUDGET_SECONDS.
# The SDK settings live in the asset (order_service.adapters.clients); the functions refuse to start
# a call they could not finish (DeadlineTooClose) instead of being killed half-way through it.
CREATOR_TIMEOUT_SECONDS = 30
PROCESSOR_TIMEOUT_SECONDS = 10
RECONCILER_TIMEOUT_SECONDS = 120
CANCELLER_TIMEOUT_SECONDS = 30
EXPRESS_MAX_DURATION_SECONDS = 300
# The longest path through the workflow, every state at its worst, stays within this: 60 s of
# Express's 300 s are kept for state transitions, Lambda's own overheads (a cold start's init runs
# before the function's timeout starts) and a state added later (228 s as of the ASL's timeouts of
# 16 s per Lambda step, 2 s per status publish, 4 s for SendToDLQ).
WORKFLOW_TIME_BUDGET_SECONDS = 240

# Functions that call the payment provider: only their roles may read the Stripe secret.
PAYMENT_CALLERS = (PROCESSOR, CANCELLER)

# Delivery and retention.
DLQ_RETENTION_DAYS = 14
RULE_TARGET_RETRY_ATTEMPTS = 8
RULE_TARGET_MAX_EVENT_AGE_SECONDS = 3600
RECONCILE_EVERY_MINUTES = 5
STALE_NEW_ORDER_SECONDS = 300

# ASL substitutions: placeholder name -> what CDK puts there.
ASL_PROCESSOR_ARN = "OrderProcessorFunctionArn"
ASL_DLQ_URL = "DeadLetterQueueUrl"
ASL_EVENT_BUS = "OrderEventBusName"

RULE_EVENT_PATTERN: dict[str, Any] = {**order_created_pattern(), "detail": {"orderId": [{"exists": True}]}}
RULE_EVENT_SOURCE = ORDER_EVENT_SOURCE
# What the rule hands the workflow as its execution input: only what the ASL reads
# ($$.Execution.Input.id, $$.Execution.Input.detail.orderId), not the whole envelope, which an Express
# execution log at level ALL carries twice (ExecutionStarted, the first TaskStateEntered). The target's
# InputTransformer, as CDK synthesizes it from RuleTargetInput.from_object (stacks/constructs/events.py):
# unquoted variables, so EventBridge inserts the id as a JSON string and the detail as a JSON object
# (EventBridge User Guide, eb-transform-target-input.html, "Input transform examples": Simple JSON).
RULE_TARGET_INPUT_PATHS: dict[str, str] = {"id": "$.id", "detail": "$.detail"}
RULE_TARGET_INPUT_TEMPLATE = '{"id":<id>,"detail":<detail>}'
RULE_DETAIL_TYPE = ORDER_CREATED_DETAIL_TYPE
# Status events (Order Processed|Rejected|Failed|Cancelled): order-processor's markProcessed step announces
# PROCESSED, the workflow's Publish* states REJECTED and FAILED, order-canceller CANCELLED.
STATUS_EVENT_PATTERN: dict[str, Any] = order_status_pattern()
STATUS_EVENT_DETAIL_TYPES: tuple[str, ...] = STATUS_DETAIL_TYPES
WORKFLOW_STATUS_DETAIL_TYPES: tuple[str, ...] = (ORDER_REJECTED_DETAIL_TYPE, ORDER_FAILED_DETAIL_TYPE)
ORDER_PROCESSED_DETAIL_TYPE_NAME = ORDER_PROCESSED_DETAIL_TYPE
ORDER_CANCELLED_DETAIL_TYPE_NAME = ORDER_CANCELLED_DETAIL_TYPE


@dataclass(frozen=True)
class FunctionDefinition:
    name: str
    handler: str
    description: str
    memory_mb: int
    timeout_seconds: int
    environment: dict[str, str] = field(default_factory=dict)


def function_definitions(names: ResourceNames = NAMES) -> dict[str, FunctionDefinition]:
    """The functions of one stage, keyed by role (CREATOR, PROCESSOR, RECONCILER, CANCELLER)."""
    return {
        CREATOR: FunctionDefinition(
            name=names.order_creator,
            handler="order_service.handlers.order_creator.handler",
            description="Validates a snack order, stores it as NEW and publishes Order Created",
            memory_mb=256,
            timeout_seconds=CREATOR_TIMEOUT_SECONDS,
            environment={
                env.ORDERS_TABLE_NAME: names.orders_table,
                env.EVENT_BUS_NAME: names.event_bus,
                env.IDEMPOTENCY_TABLE_NAME: names.idempotency_table,
            },
        ),
        PROCESSOR: FunctionDefinition(
            name=names.order_processor,
            handler="order_service.handlers.order_processor.handler",
            description="Fulfillment workflow steps: validate, fulfil (reserve stock), authorizePayment, markProcessed "
            "(capture), recordFailure",
            memory_mb=256,
            timeout_seconds=PROCESSOR_TIMEOUT_SECONDS,
            environment={
                env.ORDERS_TABLE_NAME: names.orders_table,
                env.INVENTORY_TABLE_NAME: names.inventory_table,
                env.FULFILLMENT_FAULTS: "",
                env.STRIPE_SECRET_NAME: names.stripe_secret,
                env.EVENT_BUS_NAME: names.event_bus,  # markProcessed announces Order Processed
            },
        ),
        RECONCILER: FunctionDefinition(
            name=names.order_reconciler,
            handler="order_service.handlers.order_reconciler.handler",
            description="Re-publishes NEW orders that were never processed (dual-write safety net)",
            memory_mb=256,
            timeout_seconds=RECONCILER_TIMEOUT_SECONDS,
            environment={
                env.ORDERS_TABLE_NAME: names.orders_table,
                env.EVENT_BUS_NAME: names.event_bus,
                env.STALE_AFTER_SECONDS: str(STALE_NEW_ORDER_SECONDS),
            },
        ),
        CANCELLER: FunctionDefinition(
            name=names.order_canceller,
            handler="order_service.handlers.order_canceller.handler",
            description="Cancels a NEW or FAILED order and gives back the stock and card payment it holds",
            memory_mb=256,
            timeout_seconds=CANCELLER_TIMEOUT_SECONDS,
            environment={
                env.ORDERS_TABLE_NAME: names.orders_table,
                env.INVENTORY_TABLE_NAME: names.inventory_table,
                env.EVENT_BUS_NAME: names.event_bus,
                env.STRIPE_SECRET_NAME: names.stripe_secret,
            },
        ),
    }


FUNCTIONS = function_definitions()


def load_asl() -> dict[str, Any]:
    return json.loads(ASL_PATH.read_text())  # type: ignore[no-any-return]


def render_asl(processor_arn: str, dlq_url: str, event_bus: str) -> str:
    """The ASL with its substitutions applied, as Step Functions receives it from CloudFormation."""
    text = ASL_PATH.read_text()
    substitutions = ((ASL_PROCESSOR_ARN, processor_arn), (ASL_DLQ_URL, dlq_url), (ASL_EVENT_BUS, event_bus))
    for placeholder, value in substitutions:
        text = text.replace("${" + placeholder + "}", value)
    return text
