"""Checkov findings we accept, recorded on the resource with the reason (as cdk-nag suppressions are).

Checkov reads ``Metadata.checkov.skip`` of each template resource
(https://www.checkov.io/2.Basics/Suppressing%20and%20Skipping%20Policies.html).
"""

from __future__ import annotations

from aws_cdk import CfnResource
from constructs import IConstruct

# Reasons shared by several resources, written once.
LOGS_ENCRYPTED_BY_DEFAULT = (
    "CloudWatch Logs encrypts every log group at rest by default; our logs hold ids and outcomes, never "
    "personal data, so a customer managed key would add cost and a key policy without protecting more."
)
AWS_MANAGED_KEY = (
    "Encrypted at rest with the AWS managed KMS key (SSESpecification AWS_MANAGED); a customer managed key "
    "adds cost and key-policy upkeep with no requirement behind it."
)


def skip_checkov(construct: IConstruct, checks: dict[str, str]) -> None:
    """Skip checkov ``checks`` (id -> reason) on the construct's CloudFormation resource."""
    resource = construct.node.default_child if not isinstance(construct, CfnResource) else construct
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to annotate")
    existing = resource.get_metadata("checkov") or {"skip": []}
    existing["skip"].extend({"id": check, "comment": reason} for check, reason in sorted(checks.items()))
    resource.add_metadata("checkov", existing)
