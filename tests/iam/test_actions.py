"""requests_for: what each API call needs authorized, as AWS's Service Authorization Reference and
the service guides say (each test cites its page)."""

from __future__ import annotations

from typing import Any

import pytest

from snacks.local.iam import ActionRequest, requests_for

ACCOUNT = "123456789012"
REGION = "us-east-1"
ORDERS = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Orders"
INVENTORY = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Inventory"
SAR = "https://docs.aws.amazon.com/service-authorization/latest/reference/"


def needs(service: str, operation: str, **params: Any) -> list[ActionRequest]:
    return requests_for(service, operation, params, region=REGION, account=ACCOUNT)


def one(service: str, operation: str, **params: Any) -> tuple[str, str, dict[str, Any]]:
    (request,) = needs(service, operation, **params)
    return request.action, request.resource, dict(request.context)


@pytest.mark.parametrize("operation", ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "DescribeTable"])
def test_dynamodb_item_operations_are_their_own_action_on_the_table(operation: str) -> None:
    """SAR list_amazondynamodb.html: each of these actions takes resource type "table"."""
    assert one("dynamodb", operation, TableName="Orders", Key={}) == (f"dynamodb:{operation}", ORDERS, {})


def test_dynamodb_return_values_is_a_condition_key_of_update_item() -> None:
    """SAR list_amazondynamodb.html: UpdateItem's condition keys include dynamodb:ReturnValues."""
    _, _, context = one("dynamodb", "UpdateItem", TableName="Orders", Key={}, ReturnValues="ALL_NEW")
    assert context == {"dynamodb:ReturnValues": "ALL_NEW"}


def test_transact_write_items_is_authorized_per_item_action_on_each_table() -> None:
    """DynamoDB "Using IAM with DynamoDB transactions"
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html):
    Put/Update/Delete are governed by PutItem/UpdateItem/DeleteItem, ConditionCheck by
    dynamodb:ConditionCheckItem; dynamodb:EnclosingOperation names the transaction (Example 2)."""
    requests = needs(
        "dynamodb",
        "TransactWriteItems",
        TransactItems=[
            {"Update": {"TableName": "Orders", "Key": {}, "UpdateExpression": "SET x = :x"}},
            {"ConditionCheck": {"TableName": "Inventory", "Key": {}, "ConditionExpression": "y > :y"}},
            {"Put": {"TableName": "Inventory", "Item": {}}},
            {"Delete": {"TableName": "Orders", "Key": {}}},
        ],
    )
    assert [(r.action, r.resource) for r in requests] == [
        ("dynamodb:UpdateItem", ORDERS),
        ("dynamodb:ConditionCheckItem", INVENTORY),
        ("dynamodb:PutItem", INVENTORY),
        ("dynamodb:DeleteItem", ORDERS),
    ]
    assert {r.context["dynamodb:EnclosingOperation"] for r in requests} == {"TransactWriteItems"}


def test_transact_get_items_is_get_item_per_item() -> None:
    """The same page: Get actions are governed by GetItem."""
    requests = needs("dynamodb", "TransactGetItems", TransactItems=[{"Get": {"TableName": "Orders", "Key": {}}}])
    assert [(r.action, r.resource, r.context["dynamodb:EnclosingOperation"]) for r in requests] == [
        ("dynamodb:GetItem", ORDERS, "TransactGetItems")
    ]


def test_batch_operations_are_authorized_once_per_table() -> None:
    """SAR list_amazondynamodb.html: BatchWriteItem / BatchGetItem take resource type "table"."""
    requests = needs("dynamodb", "BatchWriteItem", RequestItems={"Orders": [], "Inventory": []})
    assert [(r.action, r.resource) for r in requests] == [
        ("dynamodb:BatchWriteItem", ORDERS),
        ("dynamodb:BatchWriteItem", INVENTORY),
    ]
    assert [r.action for r in needs("dynamodb", "BatchGetItem", RequestItems={"Orders": {}})] == [
        "dynamodb:BatchGetItem"
    ]


@pytest.mark.parametrize("operation", ["Query", "Scan"])
def test_query_and_scan_on_an_index_need_the_index_arn(operation: str) -> None:
    """SAR list_amazondynamodb.html resource type "index": table/${TableName}/index/${IndexName};
    DynamoDB "Using IAM policy conditions for fine-grained access control" grants index access by it."""
    assert one("dynamodb", operation, TableName="Orders", IndexName="status-createdAt-index")[1] == (
        f"{ORDERS}/index/status-createdAt-index"
    )
    assert one("dynamodb", operation, TableName="Orders")[1] == ORDERS


def test_put_events_is_authorized_per_entry_with_source_and_detail_type() -> None:
    """EventBridge User Guide, "Using IAM policy conditions in Amazon EventBridge": events:source and
    events:detail-type are checked for PutEvents; an entry without EventBusName goes to the default bus."""
    custom = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/serverless-snacks-orders"
    requests = needs(
        "events",
        "PutEvents",
        Entries=[
            {
                "Source": "serverless-snacks.orders",
                "DetailType": "Order Created",
                "EventBusName": "serverless-snacks-orders",
            },
            {"Source": "serverless-snacks.orders", "DetailType": "Order Cancelled", "EventBusName": custom},
            {"Source": "other", "DetailType": "X"},
        ],
    )
    assert [(r.resource, r.context["events:detail-type"]) for r in requests] == [
        (custom, "Order Created"),
        (custom, "Order Cancelled"),
        (f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default", "X"),
    ]
    assert requests[0].context["events:source"] == "serverless-snacks.orders"


def test_sqs_queue_url_becomes_the_queue_arn() -> None:
    """SAR list_amazonsqs.html resource type "queue": arn:${Partition}:sqs:${Region}:${Account}:${QueueName}."""
    dlq = f"arn:aws:sqs:{REGION}:{ACCOUNT}:serverless-snacks-dlq"
    for url in (
        f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/serverless-snacks-dlq",
        f"http://localhost:4566/{ACCOUNT}/serverless-snacks-dlq",
    ):
        for operation in (
            "SendMessage",
            "ReceiveMessage",
            "DeleteMessage",
            "GetQueueAttributes",
            "ChangeMessageVisibility",
        ):
            assert one("sqs", operation, QueueUrl=url)[:2] == (f"sqs:{operation}", dlq)
    assert one("sqs", "GetQueueUrl", QueueName="serverless-snacks-dlq")[:2] == ("sqs:GetQueueUrl", dlq)


def test_sns_publish_on_the_topic() -> None:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:serverless-snacks-order-status"
    assert one("sns", "Publish", TopicArn=topic, Message="m")[:2] == ("sns:Publish", topic)


@pytest.mark.parametrize(
    ("name", "qualifier", "resource"),
    [
        ("order-processor", None, "function:order-processor"),
        (f"{ACCOUNT}:function:order-processor", None, "function:order-processor"),
        (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:order-processor", None, "function:order-processor"),
        ("order-processor", "live", "function:order-processor:live"),
        (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:order-processor:live", None, "function:order-processor:live"),
    ],
)
def test_lambda_invoke_is_invoke_function_on_the_qualified_function_arn(
    name: str, qualifier: str | None, resource: str
) -> None:
    """Lambda Developer Guide, "Resources and conditions for Lambda actions": Invoke needs
    lambda:InvokeFunction; a qualified ARN (version or alias) is a different resource than the
    unqualified one. Invoke's FunctionName takes a name, a partial ARN or an ARN."""
    params: dict[str, Any] = {"FunctionName": name}
    if qualifier:
        params["Qualifier"] = qualifier
    assert one("lambda", "Invoke", **params)[:2] == (
        "lambda:InvokeFunction",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:{resource}",
    )


def test_step_functions_operations_on_their_arns() -> None:
    """SAR list_awsstepfunctions.html: StartExecution / StartSyncExecution / ListExecutions on the
    stateMachine, DescribeExecution / GetExecutionHistory on the execution."""
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:order-fulfillment"
    execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:order-fulfillment:e1"
    assert one("stepfunctions", "StartExecution", stateMachineArn=machine)[:2] == ("states:StartExecution", machine)
    assert one("stepfunctions", "StartSyncExecution", stateMachineArn=machine)[:2] == (
        "states:StartSyncExecution",
        machine,
    )
    assert one("stepfunctions", "ListExecutions", stateMachineArn=machine)[:2] == ("states:ListExecutions", machine)
    assert one("stepfunctions", "DescribeExecution", executionArn=execution)[:2] == (
        "states:DescribeExecution",
        execution,
    )
    assert one("stepfunctions", "GetExecutionHistory", executionArn=execution)[:2] == (
        "states:GetExecutionHistory",
        execution,
    )
    assert one("stepfunctions", "ListStateMachines")[:2] == ("states:ListStateMachines", "*")


def test_logs_operations_on_log_group_and_stream_arns() -> None:
    """CloudWatch Logs User Guide, "Overview of managing access permissions to your CloudWatch Logs
    resources": log-group permissions use the ARN with the trailing :* (all but tagging); SAR
    list_amazoncloudwatchlogs.html: CreateLogStream / PutLogEvents / GetLogEvents on log-stream;
    CreateLogDelivery and DescribeLogGroups take no resource type (Resource "*")."""
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/order-creator"
    stream = dict(logGroupName="/aws/lambda/order-creator", logStreamName="2026/12/06/[$LATEST]abc")
    for operation in ("CreateLogStream", "PutLogEvents", "GetLogEvents"):
        assert one("logs", operation, **stream)[:2] == (
            f"logs:{operation}",
            f"{group}:log-stream:{stream['logStreamName']}",
        )
    assert one("logs", "FilterLogEvents", logGroupName="/aws/lambda/order-creator")[1] == f"{group}:*"
    assert one("logs", "CreateLogDelivery")[1] == "*"
    assert one("logs", "DescribeLogGroups")[1] == "*"
    assert one("logs", "TagResource", resourceArn=group, tags={})[1] == group


def test_kms_operations_on_the_key_with_the_callers_account() -> None:
    """SAR list_awskeymanagementservice.html: GenerateDataKey / Decrypt on resource type key, with
    kms:EncryptionContext:${EncryptionContextKey} and kms:CallerAccount."""
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    action, resource, context = one("kms", "GenerateDataKey", KeyId=key, EncryptionContext={"aws:sns:topicArn": "t"})
    assert (action, resource) == ("kms:GenerateDataKey", key)
    assert context["kms:EncryptionContext:aws:sns:topicArn"] == "t"
    assert context["kms:CallerAccount"] == ACCOUNT
    assert one("kms", "Decrypt", KeyId="1234abcd-12ab-34cd-56ef-1234567890ab")[1] == key


def test_secrets_manager_get_secret_value() -> None:
    secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:stripe-api-key-AbCdEf"
    assert one("secretsmanager", "GetSecretValue", SecretId=secret)[:2] == ("secretsmanager:GetSecretValue", secret)


def test_put_metric_data_is_resource_star_with_the_namespace_key() -> None:
    """SAR list_amazoncloudwatch.html: PutMetricData has no resource type; condition key cloudwatch:namespace."""
    assert one("cloudwatch", "PutMetricData", Namespace="ServerlessSnacks", MetricData=[]) == (
        "cloudwatch:PutMetricData",
        "*",
        {"cloudwatch:namespace": "ServerlessSnacks"},
    )


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        ("dynamodb", "ExecuteStatement", {"Statement": "SELECT"}),  # PartiQL: no IAM action of that name
        ("dynamodb", "GetItem", {}),  # no table: cannot say which resource
        ("s3", "GetObject", {"Bucket": "b", "Key": "k"}),  # a service not mapped
        ("sns", "Publish", {"PhoneNumber": "+15555550100"}),
    ],
)
def test_an_operation_it_cannot_map_is_a_value_error(service: str, operation: str, params: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        requests_for(service, operation, params, region=REGION, account=ACCOUNT)


def test_every_mapped_action_is_one_aws_has() -> None:
    """Every action requests_for names exists in the reference data (e.g. Invoke -> InvokeFunction)."""
    from snacks.local.iam import action_data

    calls = [
        ("lambda", "Invoke", {"FunctionName": "f"}),
        ("logs", "PutLogEvents", {"logGroupName": "g", "logStreamName": "s"}),
        ("dynamodb", "TransactWriteItems", {"TransactItems": [{"ConditionCheck": {"TableName": "T"}}]}),
    ]
    for service, operation, params in calls:
        for request in requests_for(service, operation, params, region=REGION, account=ACCOUNT):
            assert action_data.action(request.action) is not None, request.action


_QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/serverless-snacks-dlq"
_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:order-fulfillment"
_EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:express:order-fulfillment:e1:x1"
_GROUP = {"logGroupName": "/aws/lambda/order-creator"}

# Every call our functions, the workflow, the CLI/console and the local stack's deliveries make
# (grep of lambdas/ and snacks/ for client calls, and the ASL's Task resources).
EVERY_CALL: list[tuple[str, str, dict[str, Any]]] = [
    *[
        ("dynamodb", op, {"TableName": "Orders", "Key": {}})
        for op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")
    ],
    ("dynamodb", "Query", {"TableName": "Orders", "IndexName": "status-createdAt-index"}),
    ("dynamodb", "Scan", {"TableName": "Orders"}),
    ("dynamodb", "DescribeTable", {"TableName": "Orders"}),
    ("dynamodb", "TransactWriteItems", {"TransactItems": [{"Update": {"TableName": "Orders"}}]}),
    ("dynamodb", "TransactGetItems", {"TransactItems": [{"Get": {"TableName": "Orders"}}]}),
    ("dynamodb", "BatchGetItem", {"RequestItems": {"Orders": {}}}),
    ("dynamodb", "BatchWriteItem", {"RequestItems": {"Orders": []}}),
    ("events", "PutEvents", {"Entries": [{"Source": "s", "DetailType": "d"}]}),
    *[
        ("sqs", op, {"QueueUrl": _QUEUE_URL})
        for op in ("SendMessage", "ReceiveMessage", "DeleteMessage", "GetQueueAttributes", "ChangeMessageVisibility")
    ],
    ("sqs", "GetQueueUrl", {"QueueName": "serverless-snacks-dlq"}),
    ("sns", "Publish", {"TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:t"}),
    ("lambda", "Invoke", {"FunctionName": "order-creator"}),
    ("lambda", "GetFunctionConfiguration", {"FunctionName": "order-creator"}),
    ("stepfunctions", "StartExecution", {"stateMachineArn": _MACHINE}),
    ("stepfunctions", "StartSyncExecution", {"stateMachineArn": _MACHINE}),
    ("stepfunctions", "DescribeStateMachine", {"stateMachineArn": _MACHINE}),
    ("stepfunctions", "ListExecutions", {"stateMachineArn": _MACHINE}),
    ("stepfunctions", "ListStateMachines", {}),
    ("stepfunctions", "DescribeExecution", {"executionArn": _EXECUTION}),
    ("stepfunctions", "GetExecutionHistory", {"executionArn": _EXECUTION}),
    ("logs", "CreateLogStream", {**_GROUP, "logStreamName": "s"}),
    ("logs", "PutLogEvents", {**_GROUP, "logStreamName": "s"}),
    ("logs", "GetLogEvents", {**_GROUP, "logStreamName": "s"}),
    ("logs", "FilterLogEvents", _GROUP),
    ("logs", "DescribeLogStreams", _GROUP),
    ("logs", "DescribeLogGroups", {}),
    *[
        ("logs", op, {})
        for op in (
            "CreateLogDelivery",
            "GetLogDelivery",
            "UpdateLogDelivery",
            "DeleteLogDelivery",
            "ListLogDeliveries",
            "PutResourcePolicy",
            "DescribeResourcePolicies",
        )
    ],
    ("kms", "GenerateDataKey", {"KeyId": "k"}),
    ("kms", "Decrypt", {"KeyId": "k"}),
    ("secretsmanager", "GetSecretValue", {"SecretId": "stripe"}),
    ("cloudwatch", "PutMetricData", {"Namespace": "ServerlessSnacks"}),
]


@pytest.mark.parametrize(("service", "operation", "params"), EVERY_CALL, ids=lambda v: v if isinstance(v, str) else "")
def test_every_call_the_pipeline_makes_is_mapped_to_actions_aws_has(
    service: str, operation: str, params: dict[str, Any]
) -> None:
    from snacks.local.iam import action_data

    requests = requests_for(service, operation, params, region=REGION, account=ACCOUNT)
    assert requests
    for request in requests:
        info = action_data.action(request.action)
        assert info is not None and info.action == request.action  # exact spelling, as the reference has it
        assert request.resource == "*" or request.resource.startswith(f"arn:aws:{request.action.split(':')[0]}:")
