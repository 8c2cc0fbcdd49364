"""The access-denied error each service answers, as AWS shapes it (code, HTTP status, message).

The message is IAM's: "User: PRINCIPAL is not authorized to perform: ACTION on resource: RESOURCE
because no POLICY_TYPE policy allows the ACTION action" for an implicit deny, "... with an explicit
deny in a POLICY_TYPE policy" for an explicit one (IAM User Guide, "Troubleshoot access denied error
messages", https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
PRINCIPAL is the caller's identity: for a role, its assumed-role session
``arn:aws:sts::ACCOUNT:assumed-role/ROLE_NAME/SESSION`` (Lambda names the session after the
function), while policies match the role's ARN (``aws:PrincipalArn``).

Per service, code and status as the services answer (each seen in real answers):
- DynamoDB, EventBridge, Step Functions, KMS, CloudWatch Logs: ``AccessDeniedException``, 400;
- Lambda: ``AccessDeniedException``, 403;
- SQS: ``AccessDenied``, 403, the action lower-cased in the message ("sqs:sendmessage", as
  in aws/serverless-application-model#3633 and microsoft/aspire#3333);
- SNS: ``AuthorizationError``, 403, the action as "SNS:Publish"
  (aws-ia/terraform-aws-control_tower_account_factory#151);
- CloudWatch: ``AccessDenied``, 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from snacks.local.iam import Decision

# botocore service name -> (error code, HTTP status)
_SHAPES: dict[str, tuple[str, int]] = {
    "dynamodb": ("AccessDeniedException", 400),
    "events": ("AccessDeniedException", 400),
    "stepfunctions": ("AccessDeniedException", 400),
    "kms": ("AccessDeniedException", 400),
    "logs": ("AccessDeniedException", 400),
    "lambda": ("AccessDeniedException", 403),
    "sqs": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "cloudwatch": ("AccessDenied", 403),
}
_IDENTITY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role")


@dataclass(frozen=True)
class DeniedError:
    code: str
    status: int
    message: str


def caller_arn(principal_arn: str, session: str | None) -> str:
    """The identity AWS names in a denial: a role's assumed-role session, else the principal itself."""
    if ":role/" in principal_arn and session:
        account = principal_arn.split(":")[4]
        role_name = principal_arn.rsplit("/", 1)[-1]
        return f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}"
    return principal_arn


def _action_as_written(service: str, action: str) -> str:
    prefix, _, name = action.partition(":")
    if service == "sqs":
        return action.lower()
    if service == "sns":
        return f"SNS:{name}"
    return f"{prefix}:{name}"


def _policy_type(service: str, decision: Decision) -> str:
    if decision.reason == "explicit-deny":
        kinds = {ref.resource_type for ref in decision.matched}
        return "an identity-based" if kinds and kinds <= set(_IDENTITY_TYPES) else "a resource-based"
    # A service principal has no identity policy, and a KMS key's policy is the root of its access.
    if decision.request.principal.kind == "service" or service == "kms":
        return "resource-based"
    return "identity-based"


def denied_error(service: str, decision: Decision, session: str | None) -> DeniedError:
    code, status = _SHAPES.get(service, ("AccessDeniedException", 400))
    request = decision.request
    action = _action_as_written(service, request.action)
    user = caller_arn(request.principal.arn, session)
    policy_type = _policy_type(service, decision)
    if decision.reason == "explicit-deny":
        why = f"with an explicit deny in {policy_type} policy"
    else:
        why = f"because no {policy_type} policy allows the {action} action"
    return DeniedError(
        code, status, f"User: {user} is not authorized to perform: {action} on resource: {request.resource} {why}"
    )
