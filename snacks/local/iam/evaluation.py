"""AWS's policy evaluation logic for requests within one account.

IAM User Guide, "Policy evaluation logic" and "Determining whether a request is allowed or denied
within an account"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html):

1. By default every request is implicitly denied.
2. An explicit ``Deny`` in any applicable policy (identity, resource, key) overrides any allow.
3. Otherwise an ``Allow`` in the principal's identity-based policies OR in the resource-based
   policy allows the request ("within the same account, either can grant access").
4. Otherwise: implicit deny.

KMS is the exception, AWS KMS Developer Guide, "Key policies in AWS KMS"
(https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html): "Every KMS key must have
exactly one key policy ... Unless the key policy explicitly allows it, you cannot use IAM policies
to allow access to a KMS key." A key-policy statement whose principal is the account
(``arn:aws:iam::ACCOUNT:root``) "enables IAM policies": only then does an identity policy count.

Principals, IAM User Guide "AWS JSON policy elements: Principal": an account principal in a
resource policy "delegates authority to the account": it does not by itself allow a role of that
account, the role's identity policy must (the same delegation as for KMS). Service principals
("events.amazonaws.com") have no identity policy: only resource and key policies can allow them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from snacks.local.iam.conditions import Condition, ConditionSyntaxError, Context, evaluate_all, parse_conditions
from snacks.local.iam.model import AuthorizationRequest, Decision, PolicyError, Principal, StatementRef
from snacks.local.iam.patterns import arn_match, glob_match, substitute

PolicyKind = Literal["identity", "resource", "key", "trust"]
_STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}
_VERSIONS = ("2012-10-17", "2008-10-17")


@dataclass(frozen=True)
class Statement:
    """One parsed statement: effect, action / resource / principal patterns, conditions."""

    ref: StatementRef
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...] | None  # None: the element is absent (trust / key policies may omit it)
    not_resource: bool
    principals: Mapping[str, tuple[str, ...]] | None  # {"AWS": (...), "Service": (...)}; "*" as {"*": ("*",)}
    not_principal: bool
    conditions: tuple[Condition, ...]
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class Policy:
    """A policy document in the words Decision uses: whose it is and what kind."""

    kind: PolicyKind
    owner: str  # "role order-creator-role", "key OrderStatusTopicKey", "topic order-status"
    statements: tuple[Statement, ...]


def _strings(value: object, what: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) and item for item in items):
        raise ValueError(f"{what} must be a non-empty string or list of strings")
    return tuple(str(item) for item in items)


def _principals(value: object) -> Mapping[str, tuple[str, ...]]:
    if value == "*":
        return {"*": ("*",)}
    if not isinstance(value, Mapping) or not value:
        raise ValueError('Principal must be "*" or an object like {"AWS": ...} / {"Service": ...}')
    kinds = {"AWS", "Service", "Federated", "CanonicalUser"}
    unknown = set(value) - kinds
    if unknown:
        raise ValueError(f"Principal has unknown kind(s) {sorted(unknown)}")
    return {str(kind): _strings(names, f"Principal {kind}") for kind, names in value.items()}


def parse_statement(raw: object, ref: StatementRef, *, kind: PolicyKind) -> Statement:
    """Validate one statement as IAM's grammar ("IAM JSON policy grammar") requires; PolicyError
    (one line naming the statement) otherwise."""
    try:
        if not isinstance(raw, Mapping):
            raise ValueError("statement must be an object")
        unknown = set(raw) - _STATEMENT_KEYS
        if unknown:
            raise ValueError(f"unknown element(s) {sorted(unknown)}")
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise ValueError(f"Effect must be Allow or Deny, not {effect!r}")
        if ("Action" in raw) == ("NotAction" in raw):
            raise ValueError("exactly one of Action / NotAction is required")
        if "Resource" in raw and "NotResource" in raw:
            raise ValueError("Resource and NotResource are exclusive")
        if "Principal" in raw and "NotPrincipal" in raw:
            raise ValueError("Principal and NotPrincipal are exclusive")
        has_principal = "Principal" in raw or "NotPrincipal" in raw
        if kind == "identity" and has_principal:
            raise ValueError("an identity-based policy cannot name a Principal")
        if kind in ("resource", "key", "trust") and not has_principal:
            raise ValueError("a resource-based policy statement needs a Principal")
        if kind == "identity" and "Resource" not in raw and "NotResource" not in raw:
            raise ValueError("an identity-based policy statement needs Resource or NotResource")
        not_action = "NotAction" in raw
        actions = _strings(raw["NotAction" if not_action else "Action"], "Action")
        for action in actions:
            if action != "*" and ":" not in action:
                raise ValueError(f"action {action!r} is not service:action")
        not_resource = "NotResource" in raw
        resources = (
            _strings(raw["NotResource" if not_resource else "Resource"], "Resource")
            if ("Resource" in raw or not_resource)
            else None
        )
        not_principal = "NotPrincipal" in raw
        principals = _principals(raw["NotPrincipal" if not_principal else "Principal"]) if has_principal else None
        conditions = parse_conditions(raw.get("Condition"))
    except (ValueError, ConditionSyntaxError) as error:
        raise PolicyError(f"{ref.describe()}: {error}") from None
    return Statement(
        ref=ref,
        effect=effect,
        actions=actions,
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        principals=principals,
        not_principal=not_principal,
        conditions=conditions,
        raw=raw,
    )


def parse_document(
    document: object, *, kind: PolicyKind, logical_id: str, resource_type: str, policy: str, construct_path: str
) -> tuple[Statement, ...]:
    """A whole policy document (Version, Statement as object or list)."""
    where = StatementRef(logical_id, resource_type, policy, -1, None, construct_path)
    if not isinstance(document, Mapping):
        raise PolicyError(f"{logical_id} {resource_type} {policy}: policy document must be an object")
    version = document.get("Version")
    if version is not None and version not in _VERSIONS:
        raise PolicyError(f"{logical_id} {resource_type} {policy}: unknown policy Version {version!r}")
    unknown = set(document) - {"Version", "Id", "Statement"}
    if unknown:
        raise PolicyError(f"{logical_id} {resource_type} {policy}: unknown element(s) {sorted(unknown)}")
    raw = document.get("Statement")
    items = raw if isinstance(raw, list) else [raw]
    if raw is None or not items:
        raise PolicyError(f"{where.logical_id} {resource_type} {policy}: policy has no Statement")
    statements = []
    for index, item in enumerate(items):
        sid = item.get("Sid") if isinstance(item, Mapping) and isinstance(item.get("Sid"), str) else None
        ref = StatementRef(logical_id, resource_type, policy, index, sid, construct_path)
        statements.append(parse_statement(item, ref, kind=kind))
    return tuple(statements)


# --- matching --------------------------------------------------------------------------------------


def action_matches(statement: Statement, action: str) -> bool:
    """Action / NotAction, case-insensitive, ``*`` and ``?`` wildcards."""
    hit = any(glob_match(pattern, action, ignore_case=True) for pattern in statement.actions)
    return hit != statement.not_action


def resource_matches(statement: Statement, resource: str, context: Context) -> bool:
    """Resource / NotResource, case-sensitive ARN match with wildcards and policy variables."""
    if statement.resources is None:
        return True
    hit = False
    for pattern in statement.resources:
        resolved = substitute(pattern, context.single)
        if resolved is not None and arn_match(resolved, resource):
            hit = True
            break
    return hit != statement.not_resource


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" else None


def _role_of_session(arn: str) -> str | None:
    """arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION -> arn:aws:iam::ACCOUNT:role/NAME: a policy
    naming the role matches its sessions (IAM User Guide, "AWS JSON policy elements: Principal",
    IAM role principals / role session principals)."""
    if ":assumed-role/" not in arn:
        return None
    head, _, rest = arn.partition(":assumed-role/")
    partition, account = head.split(":")[1], head.split(":")[4]
    return f"arn:{partition}:iam::{account}:role/{rest.split('/', 1)[0]}"


def _principal_hit(
    principals: Mapping[str, tuple[str, ...]], principal: Principal
) -> Literal["direct", "account", None]:
    """How a Principal element names the requester: directly, only via its account, or not at all."""
    # "Principal": "*" and {"AWS": "*"} are equivalent: every principal (IAM User Guide, "AWS JSON
    # policy elements: Principal", All principals), service principals included.
    if "*" in principals or "*" in principals.get("AWS", ()):
        return "direct"
    if principal.kind == "service":
        return "direct" if principal.arn in principals.get("Service", ()) else None
    delegated = False
    role_arn = _role_of_session(principal.arn)
    for name in principals.get("AWS", ()):
        if name == "*" or name in (principal.arn, role_arn):
            return "direct"
        account = (
            name if name.isdigit() else (name[: -len(":root")].rsplit(":", 1)[-1] if name.endswith(":root") else None)
        )
        if account is not None and account == _account_of(principal.arn):
            if principal.kind == "account":
                return "direct"
            delegated = True
    return "account" if delegated else None


def principal_matches(statement: Statement, principal: Principal) -> Literal["direct", "account", None]:
    """Principal / NotPrincipal of a resource, key or trust policy; identity policies match their own."""
    if statement.principals is None:
        return "direct"
    hit = _principal_hit(statement.principals, principal)
    if statement.not_principal:
        return None if hit is not None else "direct"
    return hit


@dataclass(frozen=True)
class _Match:
    statement: Statement
    via: Literal["direct", "account"]


def _scan(
    policy: Policy, request: AuthorizationRequest, context: Context, near: list[tuple[StatementRef, str]]
) -> tuple[list[_Match], list[_Match], list[str]]:
    """(allows, denies, failed conditions) of one policy for the request."""
    allows: list[_Match] = []
    denies: list[_Match] = []
    failures: list[str] = []
    for statement in policy.statements:
        if not action_matches(statement, request.action):
            continue
        if not resource_matches(statement, request.resource, context):
            continue
        via = principal_matches(statement, request.principal)
        if via is None:
            continue
        failure = evaluate_all(statement.conditions, context)
        if failure is not None:
            if statement.effect == "Allow":  # a near miss: it would have allowed but for this condition
                near.append((statement.ref, failure))
                failures.append(failure)
            continue
        (allows if statement.effect == "Allow" else denies).append(_Match(statement, via))
    return allows, denies, failures


def _lacks(policy: Policy, failures: Sequence[str], what: str) -> str:
    if failures:
        return f"the {what} of {policy.owner} allows no statement whose conditions hold ({'; '.join(failures)})"
    return f"the {what} of {policy.owner} has no statement allowing it"


def decide(
    request: AuthorizationRequest,
    *,
    identity: Sequence[Policy] = (),
    resource_policy: Policy | None = None,
    key_policy: Policy | None = None,
    principal_label: str | None = None,
) -> Decision:
    """AWS's evaluation for one request: ``identity`` the principal's identity-based policies (none
    for a service principal), ``resource_policy`` the resource's policy (or None), ``key_policy``
    the KMS key policy when the resource is a KMS key (it then replaces the resource policy)."""
    context = Context(request.context)
    near: list[tuple[StatementRef, str]] = []
    label = principal_label or request.principal.arn
    identity_allows: list[_Match] = []
    denies: list[_Match] = []
    identity_failures: list[str] = []
    applicable_identity = identity if request.principal.kind != "service" else ()
    for policy in applicable_identity:
        allows, policy_denies, failures = _scan(policy, request, context, near)
        identity_allows += allows
        denies += policy_denies
        identity_failures += failures
    # The account's root user "has complete access to all AWS services and resources in the
    # account" (IAM User Guide, "AWS account root user"): an allow without any identity policy,
    # still subject to explicit denies and, for KMS, to the key policy.
    root = request.principal.kind == "account"
    gate = key_policy or resource_policy
    gate_allows: list[_Match] = []
    gate_failures: list[str] = []
    if gate is not None:
        gate_allows, gate_denies, gate_failures = _scan(gate, request, context, near)
        denies += gate_denies
    if denies:
        return Decision(
            allowed=False,
            reason="explicit-deny",
            request=request,
            matched=tuple(match.statement.ref for match in denies),
            near_misses=tuple(near),
        )
    direct = [match for match in gate_allows if match.via == "direct"]
    delegated = [match for match in gate_allows if match.via == "account"]
    if key_policy is not None:
        # The key policy must allow: the principal directly, or the account (then IAM policies count).
        if direct:
            return _allow(request, direct, near)
        if delegated and (identity_allows or root):
            return _allow(request, [*delegated, *identity_allows], near)
        missing = []
        if not delegated:
            missing.append(_lacks(key_policy, gate_failures, "key policy"))
        if request.principal.kind == "service":
            missing.append(f"{label} is a service principal: only the key policy can allow it")
        elif not identity_allows:
            missing.append(_no_identity(label, identity_failures))
        return _deny(request, missing, near)
    if identity_allows:
        return _allow(request, [*identity_allows, *direct], near)
    if root:
        return _allow(request, direct, near)
    if direct:
        return _allow(request, direct, near)
    missing = []
    if request.principal.kind == "service":
        missing.append(f"{label} is a service principal: only a resource policy can allow it")
    else:
        missing.append(_no_identity(label, identity_failures))
    if resource_policy is not None:
        if delegated:
            missing.append(
                f"the resource policy of {resource_policy.owner} allows only the account, which delegates "
                "to identity policies"
            )
        else:
            missing.append(_lacks(resource_policy, gate_failures, "resource policy"))
    elif request.principal.kind == "service":
        missing.append("the resource has no resource policy")
    return _deny(request, missing, near)


def _no_identity(label: str, failures: Sequence[str]) -> str:
    if failures:
        return f"no identity policy of {label} allows it with its conditions ({'; '.join(failures)})"
    return f"no identity policy of {label} allows it"


def _allow(request: AuthorizationRequest, matches: Sequence[_Match], near: list[tuple[StatementRef, str]]) -> Decision:
    return Decision(
        allowed=True,
        reason="allowed",
        request=request,
        matched=tuple(match.statement.ref for match in matches),
        near_misses=tuple(near),
    )


def _deny(request: AuthorizationRequest, missing: Sequence[str], near: list[tuple[StatementRef, str]]) -> Decision:
    return Decision(
        allowed=False, reason="implicit-deny", request=request, missing=tuple(missing), near_misses=tuple(near)
    )
