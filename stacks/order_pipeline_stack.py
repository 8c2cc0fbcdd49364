"""The ``ServerlessSnacks`` stack: storage, events, functions, workflow and monitoring."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct, Node

from stacks import definitions as d
from stacks.constructs.events import OrderEvents
from stacks.constructs.functions import DEFAULT_POWERTOOLS_LAYER_VERSION, FunctionOptions, Functions
from stacks.constructs.monitoring import Monitoring
from stacks.constructs.notifications import OrderNotifications
from stacks.constructs.storage import Storage
from stacks.constructs.workflow import FulfillmentWorkflow

STACK_NAME = d.NAMES.stack

# CDK context (`cdk deploy -c key=value`), documented in README and docs/infrastructure.md.
CONTEXT_ALARM_EMAIL = "alarmEmail"
CONTEXT_NOTIFY_EMAIL = "notifyEmail"
CONTEXT_FULFILLMENT_FAULTS = "fulfillmentFaults"
CONTEXT_SDK_TRACING = "sdkTracing"
CONTEXT_POWERTOOLS_LAYER_VERSION = "powertoolsLayerVersion"
CONTEXT_STAGE = "stage"
CONTEXT_WORKFLOW_LOG_LEVEL = "workflowLogLevel"
CONTEXT_STOREFRONT = "storefront"  # true: deploy the storefront APIs (stacks/constructs/storefront.py)
CONTEXT_STOREFRONT_ORIGIN = "storefrontOrigin"  # the page origin the HTTP API's CORS allows

_TRUE = {"1", "true", "yes", "on"}


def stage_names(node: Node) -> d.ResourceNames:
    """The physical names of the stage chosen with ``-c stage=NAME`` (the seed's names by default)."""
    return d.resource_names(_text(node.try_get_context(CONTEXT_STAGE)))


@dataclass(frozen=True)
class PipelineOptions:
    names: d.ResourceNames = d.NAMES
    alarm_email: str | None = None
    notify_email: str | None = None
    workflow_logging: d.WorkflowLogging = field(default_factory=d.workflow_logging)
    functions: FunctionOptions = field(default_factory=FunctionOptions)

    @classmethod
    def from_context(cls, node: Node) -> PipelineOptions:
        """Context arrives as strings from ``-c`` and as JSON values from cdk.json; accept both."""
        alarm_email = _text(node.try_get_context(CONTEXT_ALARM_EMAIL)).strip() or None
        if alarm_email is not None and "@" not in alarm_email:
            raise ValueError(f"context {CONTEXT_ALARM_EMAIL} must be an e-mail address")
        notify_email = _text(node.try_get_context(CONTEXT_NOTIFY_EMAIL)).strip() or None
        if notify_email is not None and "@" not in notify_email:
            raise ValueError(f"context {CONTEXT_NOTIFY_EMAIL} must be an e-mail address")
        layer_version = node.try_get_context(CONTEXT_POWERTOOLS_LAYER_VERSION)
        try:
            version = DEFAULT_POWERTOOLS_LAYER_VERSION if layer_version in (None, "") else int(layer_version)
        except (TypeError, ValueError) as error:
            raise ValueError(f"context {CONTEXT_POWERTOOLS_LAYER_VERSION} must be a layer version number") from error
        if version is not None and version < 1:
            raise ValueError(f"context {CONTEXT_POWERTOOLS_LAYER_VERSION} must be a layer version number")
        try:
            workflow_logging = d.workflow_logging(_text(node.try_get_context(CONTEXT_WORKFLOW_LOG_LEVEL)))
        except ValueError as error:
            raise ValueError(f"context {CONTEXT_WORKFLOW_LOG_LEVEL}: {error}") from None
        return cls(
            names=stage_names(node),
            alarm_email=alarm_email,
            notify_email=notify_email,
            workflow_logging=workflow_logging,
            functions=FunctionOptions(
                powertools_layer_version=version,
                sdk_tracing=_text(node.try_get_context(CONTEXT_SDK_TRACING)).strip().lower() in _TRUE,
                fulfillment_faults=_text(node.try_get_context(CONTEXT_FULFILLMENT_FAULTS)),
            ),
        )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class OrderPipelineStack(Stack):
    """One stage of the pipeline; ``construct_id`` should be ``stage_names(app.node).stack``."""

    def __init__(self, scope: Construct, construct_id: str = STACK_NAME, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        options = PipelineOptions.from_context(self.node)
        names = self.names = options.names

        self.storage = Storage(self, "Storage", names=names)
        self.events = OrderEvents(self, "Events", names=names)
        self.functions = Functions(
            self,
            "Functions",
            names=names,
            orders=self.storage.orders,
            idempotency=self.storage.idempotency,
            inventory=self.storage.inventory,
            bus=self.events.bus,
            options=options.functions,
        )
        self.workflow = FulfillmentWorkflow(
            self,
            "Workflow",
            names=names,
            processor=self.functions.processor,
            dead_letter_queue=self.storage.dead_letter_queue,
            bus=self.events.bus,
            logging=options.workflow_logging,
        )
        self.order_created_rule = self.events.start_fulfillment(
            self.workflow.state_machine, self.storage.dead_letter_queue
        )
        self.notifications = OrderNotifications(
            self, "Notifications", names=names, bus=self.events.bus, notify_email=options.notify_email
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            names=names,
            functions=self.functions.all,
            state_machine=self.workflow.state_machine,
            workflow_logs=self.workflow.log_group,
            dead_letter_queue=self.storage.dead_letter_queue,
            status_dead_letter_queue=self.notifications.dead_letter_queue,
            alarm_email=options.alarm_email,
        )

        if _text(self.node.try_get_context(CONTEXT_STOREFRONT)).strip().lower() in _TRUE:
            from stacks import storefront_definitions
            from stacks.constructs.storefront import Storefront

            origin = _text(self.node.try_get_context(CONTEXT_STOREFRONT_ORIGIN)).strip()
            self.storefront = Storefront(
                self,
                "Storefront",
                names=names,
                functions=self.functions,
                orders=self.storage.orders,
                idempotency=self.storage.idempotency,
                inventory=self.storage.inventory,
                bus=self.events.bus,
                monitoring=self.monitoring,
                allowed_origin=origin or storefront_definitions.DEFAULT_ALLOWED_ORIGIN,
            )
            CfnOutput(self, "StorefrontHttpApiUrl", value=self.storefront.http_api.api_endpoint)
            CfnOutput(self, "StorefrontWebSocketUrl", value=self.storefront.websocket_stage.url)
            CfnOutput(
                self,
                "StorefrontDistributionUrl",
                value=f"https://{self.storefront.distribution.distribution_domain_name}",
                description="The HTTP API through CloudFront (GET /orders/{id} cached a second per token)",
            )

        CfnOutput(self, "Stage", value=names.stage)
        CfnOutput(self, "OrdersTableName", value=self.storage.orders.table_name)
        CfnOutput(self, "InventoryTableName", value=self.storage.inventory.table_name)
        CfnOutput(self, "EventBusName", value=self.events.bus.event_bus_name)
        CfnOutput(self, "StateMachineArn", value=self.workflow.state_machine.state_machine_arn)
        CfnOutput(self, "DeadLetterQueueUrl", value=self.storage.dead_letter_queue.queue_url)
        CfnOutput(self, "OrderStatusTopicArn", value=self.notifications.topic.topic_arn)
        CfnOutput(self, "OrderStatusDeadLetterQueueUrl", value=self.notifications.dead_letter_queue.queue_url)
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)
        CfnOutput(self, "DashboardName", value=self.monitoring.dashboard.dashboard_name)
