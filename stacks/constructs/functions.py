"""The Lambda functions, one shared code asset, and a hand-written role for each.

Every role holds exactly the AWS actions its handler calls (see ``lambdas/order_service/adapters``),
each on its one resource ARN, plus writing to its own log group. Lambda active tracing adds the
X-Ray write actions itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, CfnDynamicReference, CfnDynamicReferenceService, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from order_service import settings as env
from stacks import definitions as d
from stacks.checkov import LOGS_ENCRYPTED_BY_DEFAULT, skip_checkov
from stacks.constructs.payments import Payments

# The newest Python runtime this aws-cdk-lib offers (cdk-nag AwsSolutions-L1 checks the same list).
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64

# Public Powertools for AWS Lambda (Python) v3 layer, published by AWS in this account for the
# commercial regions Powertools lists in its docs (not necessarily every region).
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
# The release the functions are tested with (pyproject pins the same; tests/infra checks both).
POWERTOOLS_VERSION = "3.37.0"
# None: resolve the layer ARN of POWERTOOLS_VERSION at deploy time from the public SSM parameter
# Powertools publishes per region. Such a parameter can be missing (not yet published in a region,
# or gone, as in aws-powertools/powertools-lambda-python#7689); the deploy then fails on the dynamic
# reference before creating anything. README "Deploy" shows the check (`aws ssm get-parameter`) and the
# fallback: -c powertoolsLayerVersion=N pins layer version N instead.
DEFAULT_POWERTOOLS_LAYER_VERSION: int | None = None

# Nothing but the package source goes into the asset.
ASSET_EXCLUDE = [
    "**/__pycache__",
    "**/*.pyc",
    "**/*.pyo",
    "**/.mypy_cache",
    "**/.pytest_cache",
    "**/.ruff_cache",
    "**/*.egg-info",
]

LOG_RETENTION = logs.RetentionDays.ONE_MONTH
DEFAULT_LOG_LEVEL = "INFO"

# Powertools reads these; the names are Powertools', the values ours.
POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
POWERTOOLS_TRACE_DISABLED = "POWERTOOLS_TRACE_DISABLED"
LOG_LEVEL = "LOG_LEVEL"

LAMBDA_PRINCIPAL = "lambda.amazonaws.com"

# Conditions that pin every PutEvents to the one event this service publishes.
PUT_ORDER_CREATED_CONDITIONS = {
    "StringEquals": {"events:source": d.RULE_EVENT_SOURCE, "events:detail-type": d.RULE_DETAIL_TYPE}
}
PUT_ORDER_PROCESSED_CONDITIONS = {
    "StringEquals": {"events:source": d.RULE_EVENT_SOURCE, "events:detail-type": d.ORDER_PROCESSED_DETAIL_TYPE_NAME}
}
PUT_ORDER_CANCELLED_CONDITIONS = {
    "StringEquals": {"events:source": d.RULE_EVENT_SOURCE, "events:detail-type": d.ORDER_CANCELLED_DETAIL_TYPE_NAME}
}


@dataclass(frozen=True)
class FunctionOptions:
    """Deploy-time choices (CDK context) that shape the functions."""

    powertools_layer_version: int | None = DEFAULT_POWERTOOLS_LAYER_VERSION
    sdk_tracing: bool = False
    fulfillment_faults: str = ""
    log_level: str = DEFAULT_LOG_LEVEL


def powertools_layer_name(runtime: lambda_.Runtime = RUNTIME) -> str:
    """``AWSLambdaPowertoolsPythonV3-python314-arm64`` for python3.14 on arm64."""
    python = runtime.name.replace(".", "")
    return f"AWSLambdaPowertoolsPythonV3-{python}-arm64"


def powertools_layer_parameter(runtime: lambda_.Runtime = RUNTIME) -> str:
    """The public SSM parameter holding the layer ARN of POWERTOOLS_VERSION in the deploy region."""
    return f"/aws/service/powertools/python/arm64/{runtime.name}/{POWERTOOLS_VERSION}"


def powertools_layer_arn(version: int | None, region: str = Aws.REGION, partition: str = Aws.PARTITION) -> str:
    if version is None:
        return CfnDynamicReference(CfnDynamicReferenceService.SSM, powertools_layer_parameter()).to_string()
    return f"arn:{partition}:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:{powertools_layer_name()}:{version}"


class Functions(Construct):
    """``order-creator``, ``order-processor``, ``order-reconciler`` (+ its schedule) and ``order-canceller``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: d.ResourceNames,
        orders: dynamodb.ITable,
        idempotency: dynamodb.ITable,
        inventory: dynamodb.ITable,
        bus: events.IEventBus,
        options: FunctionOptions,
    ) -> None:
        super().__init__(scope, construct_id)
        self._options = options
        # The Stripe secret and SDK layer: only the functions that call Stripe read the one or load the other.
        self.payments = Payments(self, "Payments", names=names, runtime=RUNTIME, architecture=ARCHITECTURE)
        read_stripe_key = iam.PolicyStatement(
            sid="ReadStripeSecretKey",  # Powertools SecretsProvider: GetSecretValue on the one secret
            actions=["secretsmanager:GetSecretValue"],
            resources=[self.payments.secret.secret_arn],
        )
        self.definitions = d.function_definitions(names)
        self._code = lambda_.Code.from_asset(str(d.LAMBDA_ASSET_DIR), exclude=ASSET_EXCLUDE)
        self._layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "PowertoolsLayer", powertools_layer_arn(options.powertools_layer_version)
        )

        put_order_created = iam.PolicyStatement(
            sid="PublishOrderCreated",
            actions=["events:PutEvents"],
            resources=[bus.event_bus_arn],
            conditions=PUT_ORDER_CREATED_CONDITIONS,
        )

        self.creator = self._function(
            "Creator",
            self.definitions[d.CREATOR],
            [
                iam.PolicyStatement(
                    sid="CreateOrder",  # conditional PutItem (attribute_not_exists(orderId))
                    actions=["dynamodb:PutItem"],
                    resources=[orders.table_arn],
                ),
                iam.PolicyStatement(
                    sid="IdempotencyRecords",  # Powertools DynamoDBPersistenceLayer
                    actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                    resources=[idempotency.table_arn],
                ),
                put_order_created,
            ],
        )
        self.processor = self._function(
            "Processor",
            self.definitions[d.PROCESSOR],
            [
                iam.PolicyStatement(
                    sid="ReadAndTransitionOrders",  # GetItem; conditional UpdateItem, alone or in a transaction
                    actions=["dynamodb:GetItem", "dynamodb:UpdateItem"],
                    resources=[orders.table_arn],
                ),
                # TransactGetItems/TransactWriteItems are authorized per item by the underlying actions:
                # GetItem, UpdateItem, and ConditionCheckItem for a ConditionCheck (DynamoDB developer guide,
                # "Using IAM with DynamoDB transactions").
                iam.PolicyStatement(
                    sid="ReserveStock",
                    actions=["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"],
                    resources=[inventory.table_arn],
                ),
                read_stripe_key,
                iam.PolicyStatement(
                    sid="AnnounceProcessed",  # markProcessed's Order Processed, once the order is PROCESSED
                    actions=["events:PutEvents"],
                    resources=[bus.event_bus_arn],
                    conditions=PUT_ORDER_PROCESSED_CONDITIONS,
                ),
            ],
        )
        self.reconciler = self._function(
            "Reconciler",
            self.definitions[d.RECONCILER],
            [
                iam.PolicyStatement(
                    sid="ListOrdersByStatus",  # Query on the status index only, never the table
                    actions=["dynamodb:Query"],
                    resources=[f"{orders.table_arn}/index/{d.STATUS_INDEX}"],
                ),
                put_order_created,
            ],
        )

        self.canceller = self._function(
            "Canceller",
            self.definitions[d.CANCELLER],
            [
                iam.PolicyStatement(
                    sid="ReadAndCancelOrders",  # GetItem; the conditional cancel, inside a transaction
                    actions=["dynamodb:GetItem", "dynamodb:UpdateItem"],
                    resources=[orders.table_arn],
                ),
                iam.PolicyStatement(
                    sid="GiveStockBack",  # ADD the cancelled order's units, in the same transaction
                    actions=["dynamodb:UpdateItem"],
                    resources=[inventory.table_arn],
                ),
                iam.PolicyStatement(
                    sid="AnnounceCancellation",
                    actions=["events:PutEvents"],
                    resources=[bus.event_bus_arn],
                    conditions=PUT_ORDER_CANCELLED_CONDITIONS,
                ),
                read_stripe_key,
            ],
        )

        self.schedule = events.Rule(
            self,
            "ReconcileSchedule",
            rule_name=names.reconcile_schedule_rule,
            description=f"Runs {names.order_reconciler} every {d.RECONCILE_EVERY_MINUTES} minutes",
            schedule=events.Schedule.rate(Duration.minutes(d.RECONCILE_EVERY_MINUTES)),
            targets=[targets.LambdaFunction(self.reconciler, retry_attempts=2)],
        )

    @property
    def all(self) -> dict[str, lambda_.Function]:
        """Role (``d.CREATOR`` …) -> function."""
        return {
            d.CREATOR: self.creator,
            d.PROCESSOR: self.processor,
            d.RECONCILER: self.reconciler,
            d.CANCELLER: self.canceller,
        }

    def environment(self, definition: d.FunctionDefinition) -> dict[str, str]:
        options = self._options
        environment = {
            **definition.environment,
            POWERTOOLS_SERVICE_NAME: definition.name,
            POWERTOOLS_METRICS_NAMESPACE: env.METRICS_NAMESPACE,
            POWERTOOLS_TRACE_DISABLED: "false" if options.sdk_tracing else "true",
            LOG_LEVEL: options.log_level,
        }
        if env.FULFILLMENT_FAULTS in environment:
            environment[env.FULFILLMENT_FAULTS] = options.fulfillment_faults
        return environment

    def _function(
        self, construct_id: str, definition: d.FunctionDefinition, statements: list[iam.PolicyStatement]
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            log_group_name=d.ResourceNames.function_log_group(definition.name),
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        write_logs = iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
        role = iam.Role(
            self,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal(LAMBDA_PRINCIPAL),
            description=f"{definition.name}: only the calls its handler makes",
            inline_policies={"least-privilege": iam.PolicyDocument(statements=[*statements, write_logs])},
        )
        layers: list[lambda_.ILayerVersion] = [self._layer]
        if env.STRIPE_SECRET_NAME in definition.environment:
            layers.append(self.payments.stripe_layer)
        function = lambda_.Function(
            self,
            construct_id,
            function_name=definition.name,
            description=definition.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=definition.handler,
            code=self._code,
            layers=layers,
            memory_size=definition.memory_mb,
            timeout=Duration.seconds(definition.timeout_seconds),
            environment=self.environment(definition),
            tracing=lambda_.Tracing.ACTIVE,
            role=role,
            log_group=log_group,
        )
        # Tracing.ACTIVE adds the X-Ray statement to the role's default policy. Lambda checks
        # xray:PutTraceSegments when it *creates* a traced function, so the function must depend on that
        # policy: CDK makes it depend on its role and everything under it, as long as the feature flag
        # @aws-cdk/aws-lambda:createNewPoliciesWithAddToRolePolicy stays off (it puts the statement in a
        # separate policy nothing waits for: aws/aws-cdk#33688). tests/infra/test_aws_rules.py checks it.
        skip_checkov(log_group, {"CKV_AWS_158": LOGS_ENCRYPTED_BY_DEFAULT})
        skip_checkov(
            function,
            {
                "CKV_AWS_116": "No asynchronous failure to catch: order-creator and order-canceller are invoked "
                "synchronously, "
                "order-processor by Step Functions (whose Catch sends failures to the pipeline's DLQ), and "
                "order-reconciler by a 5-minute schedule whose next run redoes a lost one.",
                "CKV_AWS_117": "The functions call only public endpoints over TLS (DynamoDB, EventBridge, Secrets "
                "Manager, Stripe); a "
                "VPC would add NAT or endpoint cost without reducing what they can reach.",
                "CKV_AWS_115": "Reserved concurrency would cap order intake, and on new accounts (10 concurrent "
                "executions) Lambda rejects any reservation that leaves less than 10 unreserved, failing the "
                "deploy; throttles are alarmed instead.",
                "CKV_AWS_173": "Lambda encrypts environment variables at rest with an AWS managed key; ours hold "
                "resource names and settings, no secrets (the Stripe key is read from Secrets Manager).",
            },
        )
        NagSuppressions.add_resource_suppressions(
            role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Lambda active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, "
                    "which support no resource-level permissions (Resource '*' is the only valid value).",
                    applies_to=["Resource::*"],
                )
            ],
            apply_to_children=True,
        )
        return function
