"""Create the pipeline's resources on the local stack through the AWS APIs, from ``stacks.definitions``.

The CDK stack deploys from the same values, and tests/local compares the two (names, keys, GSI,
TTL, rule pattern, target retry policy and input transformer, queue retention, state machine definition).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from order_service import settings as env
from stacks import definitions

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
STATES_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
EVENTS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@dataclass(frozen=True)
class Provisioned:
    state_machine_arn: str
    dead_letter_queue_url: str
    dead_letter_queue_arn: str
    function_arns: dict[str, str]


def lambda_asset_zip() -> bytes:
    """The ``lambdas/`` asset, zipped as CDK packages it (sources only)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(definitions.LAMBDA_ASSET_DIR.rglob("*.py")):
            archive.write(path, path.relative_to(definitions.LAMBDA_ASSET_DIR).as_posix())
    return buffer.getvalue()


def function_environment(
    definition: definitions.FunctionDefinition,
    fulfillment_faults: str,
    service_name: str,
    stripe_api_base: str | None = None,
) -> dict[str, str]:
    environment = {
        **definition.environment,
        "POWERTOOLS_SERVICE_NAME": service_name,
        "POWERTOOLS_METRICS_NAMESPACE": env.METRICS_NAMESPACE,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "LOG_LEVEL": "INFO",
    }
    if env.FULFILLMENT_FAULTS in environment:
        environment[env.FULFILLMENT_FAULTS] = fulfillment_faults
    if stripe_api_base and env.STRIPE_SECRET_NAME in environment:
        # Local only (the CDK stack never sets it): the payment callers talk to the Stripe emulator.
        environment[env.STRIPE_API_BASE] = stripe_api_base
    return environment


def provision(
    client: Any,
    *,
    fulfillment_faults: str,
    names: definitions.ResourceNames = definitions.NAMES,
    workflow_logging: definitions.WorkflowLogging | None = None,
    stripe_api_base: str | None = None,
    stripe_secret_key: str | None = None,
) -> Provisioned:
    """Create every resource of stage ``names``; ``client(service)`` returns a boto3 client for the local stack.
    ``workflow_logging`` is the state machine's log level, as ``-c workflowLogLevel`` sets it (ALL by default)."""
    create_tables(client("dynamodb"), names)
    queue_url, queue_arn = _create_dead_letter_queue(client("sqs"), names)
    iam = client("iam")
    create_payment_secret(client("secretsmanager"), names, stripe_secret_key)
    function_arns = _create_functions(client("lambda"), client("logs"), iam, fulfillment_faults, names, stripe_api_base)
    state_machine_arn = _create_state_machine(
        client("stepfunctions"),
        client("logs"),
        iam,
        function_arns[definitions.PROCESSOR],
        queue_url,
        names,
        workflow_logging or definitions.workflow_logging(),
    )
    _create_bus_and_rule(client("events"), iam, state_machine_arn, queue_arn, names)
    _create_notifications(client("events"), client("sns"), client("sqs"), names)
    return Provisioned(state_machine_arn, queue_url, queue_arn, function_arns)


def create_tables(dynamodb: Any, names: definitions.ResourceNames = definitions.NAMES) -> None:
    """``Orders`` (with its status index), ``Inventory`` and ``OrdersIdempotency``, as the stack defines them."""
    dynamodb.create_table(
        TableName=names.orders_table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": definitions.ORDERS_PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": definitions.STATUS_INDEX_PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": definitions.STATUS_INDEX_SORT_KEY, "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": definitions.ORDERS_PARTITION_KEY, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": definitions.STATUS_INDEX,
                "KeySchema": [
                    {"AttributeName": definitions.STATUS_INDEX_PARTITION_KEY, "KeyType": "HASH"},
                    {"AttributeName": definitions.STATUS_INDEX_SORT_KEY, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        SSESpecification={"Enabled": True, "SSEType": "KMS"},
    )
    dynamodb.create_table(
        TableName=names.idempotency_table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": definitions.IDEMPOTENCY_PARTITION_KEY, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": definitions.IDEMPOTENCY_PARTITION_KEY, "KeyType": "HASH"}],
        SSESpecification={"Enabled": True, "SSEType": "KMS"},
    )
    dynamodb.create_table(
        TableName=names.inventory_table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": definitions.INVENTORY_PARTITION_KEY, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": definitions.INVENTORY_PARTITION_KEY, "KeyType": "HASH"}],
        SSESpecification={"Enabled": True, "SSEType": "KMS"},
    )
    for table in (names.orders_table, names.inventory_table, names.idempotency_table):
        dynamodb.update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    dynamodb.update_time_to_live(
        TableName=names.idempotency_table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": definitions.IDEMPOTENCY_TTL_ATTRIBUTE},
    )


def create_payment_secret(secretsmanager: Any, names: definitions.ResourceNames, secret_key: str | None) -> None:
    """The Stripe secret key's secret, named as the stack names it; locally it holds the emulator's test key
    (the stack's holds a generated placeholder until an operator puts the real key in)."""
    secretsmanager.create_secret(
        Name=names.stripe_secret,
        Description="Stripe secret key (sk_...) for card payments",
        SecretString=secret_key or "placeholder: put your Stripe secret key here",
    )


def _create_dead_letter_queue(sqs: Any, names: definitions.ResourceNames) -> tuple[str, str]:
    return _create_queue(sqs, names.dead_letter_queue)


def _create_queue(sqs: Any, name: str) -> tuple[str, str]:
    """A dead-letter queue as the stack defines them (storage.dead_letter_queue): retention and SSE-SQS."""
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "MessageRetentionPeriod": str(definitions.DLQ_RETENTION_DAYS * 24 * 3600),
            "SqsManagedSseEnabled": "true",
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return str(url), str(arn)


def _role(iam: Any, name: str, trust: dict[str, Any]) -> str:
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])


def _create_functions(
    lambda_: Any,
    logs: Any,
    iam: Any,
    fulfillment_faults: str,
    names: definitions.ResourceNames,
    stripe_api_base: str | None = None,
) -> dict[str, str]:
    """The functions of stage ``names``; the ARNs keyed by role (``definitions.CREATOR`` …)."""
    code = lambda_asset_zip()
    arns: dict[str, str] = {}
    for role, definition in definitions.function_definitions(names).items():
        name = definition.name
        logs.create_log_group(logGroupName=names.function_log_group(name))
        logs.put_retention_policy(
            logGroupName=names.function_log_group(name), retentionInDays=definitions.LOG_RETENTION_DAYS
        )
        created = lambda_.create_function(
            FunctionName=name,
            Runtime=definitions.LAMBDA_RUNTIME,
            Architectures=[definitions.LAMBDA_ARCHITECTURE],
            Role=_role(iam, f"{name}-role", LAMBDA_TRUST),
            Handler=definition.handler,
            Description=definition.description,
            MemorySize=definition.memory_mb,
            Timeout=definition.timeout_seconds,
            Code={"ZipFile": code},
            Environment={
                "Variables": function_environment(definition, fulfillment_faults, definition.name, stripe_api_base)
            },
            TracingConfig={"Mode": "Active"},
        )
        arns[role] = str(created["FunctionArn"])
    return arns


def _create_state_machine(
    sfn: Any,
    logs: Any,
    iam: Any,
    processor_arn: str,
    dlq_url: str,
    names: definitions.ResourceNames,
    workflow_logging: definitions.WorkflowLogging,
) -> str:
    logs.create_log_group(logGroupName=names.state_machine_log_group)
    logs.put_retention_policy(
        logGroupName=names.state_machine_log_group, retentionInDays=definitions.LOG_RETENTION_DAYS
    )
    log_group_arn = logs.describe_log_groups(logGroupNamePrefix=names.state_machine_log_group)["logGroups"][0]["arn"]
    created = sfn.create_state_machine(
        name=names.state_machine,
        type="EXPRESS",
        definition=definitions.render_asl(processor_arn, dlq_url, names.event_bus),
        roleArn=_role(iam, f"{names.state_machine}-role", STATES_TRUST),
        loggingConfiguration=logging_configuration(workflow_logging, log_group_arn),
        tracingConfiguration={"enabled": True},
    )
    return str(created["stateMachineArn"])


def logging_configuration(workflow_logging: definitions.WorkflowLogging, log_group_arn: str) -> dict[str, Any]:
    """The CreateStateMachine ``loggingConfiguration`` the CDK stack deploys for this level (the log group
    exists at every level, as in the stack; OFF names no destination)."""
    if not workflow_logging.has_destination:
        return {"level": workflow_logging.level, "includeExecutionData": False}
    return {
        "level": workflow_logging.level,
        "includeExecutionData": workflow_logging.include_execution_data,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group_arn}}],
    }


def _create_bus_and_rule(
    events: Any, iam: Any, state_machine_arn: str, dlq_arn: str, names: definitions.ResourceNames
) -> None:
    events.create_event_bus(Name=names.event_bus)
    events.put_rule(
        Name=names.order_created_rule,
        EventBusName=names.event_bus,
        EventPattern=json.dumps(definitions.RULE_EVENT_PATTERN),
        State="ENABLED",
    )
    events.put_targets(
        Rule=names.order_created_rule,
        EventBusName=names.event_bus,
        Targets=[
            {
                "Id": names.state_machine,
                "Arn": state_machine_arn,
                "RoleArn": _role(iam, f"{names.order_created_rule}-role", EVENTS_TRUST),
                "InputTransformer": {
                    "InputPathsMap": dict(definitions.RULE_TARGET_INPUT_PATHS),
                    "InputTemplate": definitions.RULE_TARGET_INPUT_TEMPLATE,
                },
                "RetryPolicy": {
                    "MaximumRetryAttempts": definitions.RULE_TARGET_RETRY_ATTEMPTS,
                    "MaximumEventAgeInSeconds": definitions.RULE_TARGET_MAX_EVENT_AGE_SECONDS,
                },
                "DeadLetterConfig": {"Arn": dlq_arn},
            }
        ],
    )


def _create_notifications(events: Any, sns: Any, sqs: Any, names: definitions.ResourceNames) -> None:
    """The order-status topic, its dead-letter queue and the rule that sends the topic the status events
    (the CDK stack's OrderNotifications; the local topic has no KMS key or policy: moto enforces neither)."""
    topic_arn = sns.create_topic(Name=names.order_status_topic)["TopicArn"]
    _, dead_letter_arn = _create_queue(sqs, names.order_status_dlq)
    events.put_rule(
        Name=names.order_status_rule,
        EventBusName=names.event_bus,
        EventPattern=json.dumps(definitions.STATUS_EVENT_PATTERN),
        State="ENABLED",
    )
    events.put_targets(
        Rule=names.order_status_rule,
        EventBusName=names.event_bus,
        Targets=[
            {
                "Id": names.order_status_topic,
                "Arn": topic_arn,
                "RetryPolicy": {
                    "MaximumRetryAttempts": definitions.RULE_TARGET_RETRY_ATTEMPTS,
                    "MaximumEventAgeInSeconds": definitions.RULE_TARGET_MAX_EVENT_AGE_SECONDS,
                },
                "DeadLetterConfig": {"Arn": dead_letter_arn},
            }
        ],
    )
