"""Small builders for the IAM engine tests (no local stack, no moto)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snacks.local.iam import AuthorizationRequest, ContextValue, Principal
from snacks.local.iam.evaluation import Policy, PolicyKind, parse_document

ACCOUNT = "123456789012"
ROLE = Principal(f"arn:aws:iam::{ACCOUNT}:role/order-creator-role", "role")
ROOT = Principal(f"arn:aws:iam::{ACCOUNT}:root", "account")
EVENTS = Principal("events.amazonaws.com", "service")


def policy(kind: PolicyKind, *statements: Mapping[str, Any], owner: str = "role order-creator-role") -> Policy:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    parsed = parse_document(
        document,
        kind=kind,
        logical_id="Logical",
        resource_type="AWS::IAM::Policy",
        policy="PolicyDocument",
        construct_path="Test/Logical/Resource",
    )
    return Policy(kind, owner, parsed)


def request(
    action: str, resource: str, context: Mapping[str, ContextValue] | None = None, principal: Principal = ROLE
) -> AuthorizationRequest:
    return AuthorizationRequest(principal=principal, action=action, resource=resource, context=dict(context or {}))
