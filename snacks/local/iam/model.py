"""The value types of the IAM engine: principals, requests, statement references, decisions.

Free of moto and HTTP: the local stack builds an ``AuthorizationRequest`` per call and asks a
``PolicyStore`` (snacks.local.iam.store) for a ``Decision``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

ContextValue = str | bool | int | Sequence[str]


class PolicyError(ValueError):
    """A template policy AWS would refuse or that we cannot evaluate: malformed document, unknown
    condition operator, an action AWS does not have. str() is ONE line naming the resource's logical
    id, the policy and the statement (index and Sid)."""


@dataclass(frozen=True)
class Principal:
    """Who makes the request.

    ``arn``: "arn:aws:iam::123456789012:role/NAME", a service principal "events.amazonaws.com", or
    the account root "arn:aws:iam::123456789012:root".
    """

    arn: str
    kind: Literal["role", "service", "account"]


@dataclass(frozen=True)
class AuthorizationRequest:
    """One authorization: principal, IAM action ("dynamodb:UpdateItem"), resource ARN, context keys."""

    principal: Principal
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class StatementRef:
    """Where a statement lives in the template."""

    logical_id: str
    resource_type: str
    policy: str
    index: int
    sid: str | None
    construct_path: str

    def describe(self) -> str:
        sid = f" (Sid {self.sid})" if self.sid else ""
        return f"{self.logical_id} {self.resource_type} {self.policy} statement {self.index}{sid}"


@dataclass(frozen=True)
class Decision:
    """The verdict of AWS's policy evaluation logic for one request."""

    allowed: bool
    reason: Literal["allowed", "explicit-deny", "implicit-deny"]
    request: AuthorizationRequest
    matched: tuple[StatementRef, ...] = ()
    missing: tuple[str, ...] = ()
    near_misses: tuple[tuple[StatementRef, str], ...] = ()

    def explain(self) -> str:
        """Multi-line: principal, action, resource, context, verdict, deciding statement(s) with
        construct paths, and for each near-miss statement the condition that failed."""
        request = self.request
        verdict = {
            "allowed": "ALLOWED",
            "explicit-deny": "DENIED (explicit deny)",
            "implicit-deny": "DENIED (implicit deny)",
        }
        lines = [
            f"{verdict[self.reason]}: {request.principal.arn} ({request.principal.kind}) -> {request.action}",
            f"  resource: {request.resource}",
        ]
        if request.context:
            shown = ", ".join(f"{key}={value!r}" for key, value in sorted(request.context.items()))
            lines.append(f"  context:  {shown}")
        else:
            lines.append("  context:  (none)")
        label = "allowed by" if self.allowed else "denied by"
        if self.allowed and request.principal.kind == "account" and not self.matched:
            lines.append("  allowed by: the account's root user (complete access; no policy denies it)")
        for ref in self.matched:
            lines.append(f"  {label}: {ref.describe()} [{ref.construct_path}]")
        for words in self.missing:
            lines.append(f"  missing:  {words}")
        for ref, failure in self.near_misses:
            lines.append(f"  near miss: {ref.describe()} [{ref.construct_path}]: {failure}")
        return "\n".join(lines)

    def to_log_record(self) -> dict[str, Any]:
        """The decision as one structured log record (JSON-ready)."""
        request = self.request
        return {
            "verdict": self.reason,
            "principal": request.principal.arn,
            "action": request.action,
            "resource": request.resource,
            "context": {
                key: value if isinstance(value, str | bool | int) else list(value)
                for key, value in request.context.items()
            },
            "statements": [ref.describe() for ref in self.matched],
            "constructs": [ref.construct_path for ref in self.matched],
            "missing": list(self.missing),
            "near_misses": [f"{ref.describe()}: {failure}" for ref, failure in self.near_misses],
        }


@dataclass(frozen=True)
class TemplateResource:
    """A template resource with its physical ARN and resolved properties."""

    logical_id: str
    type: str
    arn: str
    properties: Mapping[str, Any]
    construct_path: str


@dataclass(frozen=True)
class ActionRequest:
    """What one AWS API call needs authorized, principal-free."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    def as_principal(self, principal: Principal) -> AuthorizationRequest:
        return AuthorizationRequest(
            principal=principal, action=self.action, resource=self.resource, context=self.context
        )
