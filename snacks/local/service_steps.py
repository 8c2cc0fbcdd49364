"""Service-to-service steps authorized as AWS authorizes them: who asks, for what, with which context.

- EventBridge → a Step Functions target: EventBridge assumes the target's role, which must allow
  ``states:StartExecution`` on the state machine (Amazon EventBridge User Guide, "Using resource-based
  policies for Amazon EventBridge" / "Permissions for targets": "For ... Step Functions state
  machines ... EventBridge uses IAM roles that you specify in the RoleArn parameter",
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html).
- EventBridge → an SNS target: ``events.amazonaws.com`` needs ``sns:Publish`` in the topic policy,
  with ``aws:SourceArn`` (the rule) and ``aws:SourceAccount`` in the request (same page, "Amazon SNS
  permissions"); an encrypted topic's key policy must allow ``kms:GenerateDataKey*`` and
  ``kms:Decrypt`` to ``events.amazonaws.com``, and for that KMS call "the aws:SourceAccount and
  aws:SourceArn condition keys are not supported" (Amazon SNS Developer Guide, "Compatibility between
  event sources from AWS services and encrypted topics",
  https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services):
  the KMS request carries neither key, so a key-policy statement conditioned on them never applies.
- EventBridge → the target's dead-letter queue: ``events.amazonaws.com`` needs ``sqs:SendMessage`` in
  the queue policy with ``aws:SourceArn`` = the rule ARN ("Granting permissions to the dead-letter
  queue", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html); errors "that
  result from missing permissions to a target" are not retried and go straight to the DLQ (same page),
  with ``ERROR_CODE`` ``NO_PERMISSIONS``; a failed delivery counts in the rule's ``FailedInvocations``
  (Amazon EventBridge User Guide, "Monitoring Amazon EventBridge": metrics, dimension ``RuleName``).
"""

from __future__ import annotations

from typing import Any

from snacks.local.access_denied import DeniedError
from snacks.local.iam import ActionRequest
from snacks.local.iam_enforcement import AccessDenied, Caller, Enforcer

EVENTS_PRINCIPAL = "events.amazonaws.com"
NO_PERMISSIONS = "NO_PERMISSIONS"


def _rule_parts(rule_arn: str) -> tuple[str, str]:
    """(bus, rule name) of a rule ARN (``rule/NAME`` on the default bus, ``rule/BUS/NAME`` otherwise)."""
    path = rule_arn.split(":", 5)[5].split("/")[1:]
    return (path[0], path[1]) if len(path) == 2 else ("default", path[0])


def _kms_requests(enforcer: Enforcer, resource_arn: str, context: dict[str, Any]) -> list[ActionRequest]:
    key_arn = enforcer.store.key_arn_for(resource_arn)
    if key_arn is None:
        return []
    return [ActionRequest("kms:GenerateDataKey", key_arn, context), ActionRequest("kms:Decrypt", key_arn, context)]


def template_target(enforcer: Enforcer, rule_arn: str, target_arn: str) -> dict[str, Any] | None:
    """The template's (resolved) target of this rule with this ARN, if the template has it."""
    rule = enforcer.store.resource(rule_arn)
    if rule is None:
        return None
    targets = rule.properties.get("Targets") or []
    assert isinstance(targets, list)
    return next((dict(t) for t in targets if isinstance(t, dict) and t.get("Arn") == target_arn), None)


def authorize_target(enforcer: Enforcer, rule_arn: str, target: dict[str, Any]) -> None:
    """Raise ``AccessDenied`` if EventBridge may not deliver to this target (see the module doc)."""
    service, _, account = target["Arn"].split(":")[2:5]
    bus, rule = _rule_parts(rule_arn)
    if service == "states":
        # The template's target for this ARN names the role (the local rule's target Ids are its own).
        deployed = template_target(enforcer, rule_arn, target["Arn"]) or {}
        role = enforcer.store.role_arn_of(rule=rule, target_id=deployed.get("Id", target.get("Id")), bus=bus)
        if role is None:
            role = f"arn:aws:iam::{account}:role/no-role-in-template-for-{rule}-{target.get('Id')}"
        caller = Caller(enforcer.role(role), session=None)
        enforcer.authorize(caller, [ActionRequest("states:StartExecution", target["Arn"], {})], "stepfunctions")
    elif service in ("sns", "sqs"):
        caller = Caller(enforcer.service(EVENTS_PRINCIPAL))
        action = "sns:Publish" if service == "sns" else "sqs:SendMessage"
        source = {"aws:SourceArn": rule_arn, "aws:SourceAccount": account}
        enforcer.authorize(caller, [ActionRequest(action, target["Arn"], source)], service)
        # The KMS request EventBridge's delivery makes: no aws:SourceArn / aws:SourceAccount.
        enforcer.authorize(caller, _kms_requests(enforcer, target["Arn"], {}), "kms")


def authorize_dead_letter(enforcer: Enforcer, rule_arn: str, queue_arn: str) -> None:
    account = queue_arn.split(":")[4]
    caller = Caller(enforcer.service(EVENTS_PRINCIPAL))
    source = {"aws:SourceArn": rule_arn, "aws:SourceAccount": account}
    enforcer.authorize(caller, [ActionRequest("sqs:SendMessage", queue_arn, source)], "sqs")
    enforcer.authorize(caller, _kms_requests(enforcer, queue_arn, {}), "kms")


def count_rule_metric(rule_arn: str, metric: str) -> None:
    """One data point in ``AWS/Events`` for the rule (``FailedInvocations``, ``InvocationsSentToDLQ``…)."""
    from moto.cloudwatch.models import cloudwatch_backends

    _, region, account = rule_arn.split(":")[2:5]
    _, rule = _rule_parts(rule_arn)
    cloudwatch_backends[account][region].put_metric_data(
        namespace="AWS/Events",
        metric_data=[
            {"MetricName": metric, "Value": 1.0, "Unit": "Count", "Dimensions": [{"Name": "RuleName", "Value": rule}]}
        ],
    )


# -- steps the local stack does not run itself, authorized as AWS would (tests call them) ----------

# Step Functions logging to CloudWatch Logs: "the IAM role ... must have the following permissions"
# (AWS Step Functions Developer Guide, "Logging Step Functions using CloudWatch Logs", IAM policies
# for logging: https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html); these actions
# do not support resource-level permissions, hence "*". Without them CreateStateMachine fails with
# "The state machine IAM Role is not authorized to access the Log Destination".
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
LOG_DESTINATION_REFUSED = "The state machine IAM Role is not authorized to access the Log Destination"


def authorize_log_delivery(enforcer: Enforcer, state_machine_arn: str) -> None:
    """Raise ``AccessDenied`` (with Step Functions' message) if the state machine's role cannot set
    up its log delivery, as CreateStateMachine / UpdateStateMachine would refuse it."""
    caller = enforcer.state_machine_caller(state_machine_arn, None)
    try:
        enforcer.authorize(caller, [ActionRequest(action, "*", {}) for action in LOG_DELIVERY_ACTIONS], "logs")
    except AccessDenied as denied:
        refused = DeniedError("AccessDeniedException", 400, LOG_DESTINATION_REFUSED)
        raise AccessDenied(refused, denied.decision) from None


def authorize_schedule(enforcer: Enforcer, rule_arn: str, function_arn: str) -> None:
    """A schedule rule invoking a function: ``events.amazonaws.com`` ``lambda:InvokeFunction`` in the
    function's resource policy, with ``aws:SourceArn`` the rule (Amazon EventBridge User Guide,
    "Using resource-based policies for Amazon EventBridge", Lambda permissions;
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-lambda-permissions).
    The local stack runs no schedule (`snacks reconcile` stands in): this is the authorization
    EventBridge's invocation would need."""
    account = function_arn.split(":")[4]
    caller = Caller(enforcer.service(EVENTS_PRINCIPAL))
    context = {"aws:SourceArn": rule_arn, "aws:SourceAccount": account}
    enforcer.authorize(caller, [ActionRequest("lambda:InvokeFunction", function_arn, context)], "lambda")


CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"


def authorize_alarm_action(enforcer: Enforcer, alarm_arn: str, topic_arn: str) -> None:
    """An alarm's SNS action: ``cloudwatch.amazonaws.com`` ``sns:Publish`` in the topic policy with
    ``aws:SourceArn`` the alarm, and the topic's key usable by CloudWatch (Amazon CloudWatch User Guide,
    "Using Amazon SNS topics", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html:
    an encrypted topic's key policy must allow cloudwatch.amazonaws.com kms:Decrypt and
    kms:GenerateDataKey*). Unlike EventBridge's, CloudWatch's KMS request is modelled with the alarm as
    ``aws:SourceArn`` and the account as ``aws:SourceAccount``, as the stack's alarm key statement
    assumes; that assumption is not proven by a page here (see docs/local-stack.md). moto evaluates no
    alarm: this is the publish an alarm in ALARM would make."""
    account = topic_arn.split(":")[4]
    caller = Caller(enforcer.service(CLOUDWATCH_PRINCIPAL))
    context = {"aws:SourceArn": alarm_arn, "aws:SourceAccount": account}
    enforcer.authorize(caller, [ActionRequest("sns:Publish", topic_arn, context)], "sns")
    enforcer.authorize(caller, _kms_requests(enforcer, topic_arn, context), "kms")
