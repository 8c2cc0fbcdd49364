"""The synthesized template, and single-statement changes to it, for the IAM enforcement tests.

Statements are found by what they do (principal, action, condition key), never by their text, so
the tests follow the stack as it changes (`stacks/`).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from snacks.local.stack import TEMPLATE_VARIABLE, LocalStack
from snacks.local.template_source import synthesized_template

Statement = dict[str, Any]
IDENTITY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::ManagedPolicy")


def template(stage: str | None = None) -> dict[str, Any]:
    """The template `cdk synth` makes for the stage (cached: snacks/local/template_source.py), or the
    one SNACKS_TEMPLATE names (`make iam-mutate` runs the tests on a mutated template)."""
    chosen = os.environ.get(TEMPLATE_VARIABLE)
    path = Path(chosen) if chosen and stage is None else synthesized_template(stage)
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def write(directory: Path, changed: dict[str, Any], name: str = "changed.template.json") -> Path:
    path = directory / name
    path.write_text(json.dumps(changed))
    return path


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def documents(tpl: dict[str, Any]) -> Iterator[tuple[str, str, list[Statement]]]:
    """(logical id, resource type, statement list) of every policy document in the template."""
    for logical_id, resource in tpl["Resources"].items():
        props = resource.get("Properties", {})
        for key in ("PolicyDocument", "KeyPolicy"):
            if isinstance(props.get(key), dict):
                yield logical_id, resource["Type"], props[key]["Statement"]
        for policy in props.get("Policies", []) or []:
            yield logical_id, resource["Type"], policy["PolicyDocument"]["Statement"]


def service_principals(statement: Statement) -> list[str]:
    principal = statement.get("Principal")
    if not isinstance(principal, dict):
        return []
    return [str(p) for p in _listify(principal.get("Service", []))]


def actions(statement: Statement) -> list[str]:
    return [str(a) for a in _listify(statement.get("Action", []))]


def changed(
    tpl: dict[str, Any], match: Callable[[str, str, Statement], bool], change: Callable[[Statement], Statement | None]
) -> dict[str, Any]:
    """A copy of the template where every statement that ``match``es is changed (None: removed).
    Fails if nothing matched: the test would prove nothing."""
    copied = copy.deepcopy(tpl)
    hits = 0
    for logical_id, resource_type, statements in documents(copied):
        for index in reversed(range(len(statements))):
            if match(logical_id, resource_type, statements[index]):
                hits += 1
                replacement = change(statements[index])
                if replacement is None:
                    del statements[index]
                else:
                    statements[index] = replacement
    assert hits, "no statement matched: the stack changed under this test"
    return without_empty_policies(copied)


def without_empty_policies(tpl: dict[str, Any]) -> dict[str, Any]:
    """IAM refuses a policy without statements: drop an emptied policy resource or inline policy."""
    for logical_id in list(tpl["Resources"]):
        props = tpl["Resources"][logical_id].get("Properties", {})
        if isinstance(props.get("PolicyDocument"), dict) and not props["PolicyDocument"]["Statement"]:
            del tpl["Resources"][logical_id]
            continue
        if props.get("Policies"):
            props["Policies"] = [policy for policy in props["Policies"] if policy["PolicyDocument"]["Statement"]]
    return tpl


def removed(tpl: dict[str, Any], match: Callable[[str, str, Statement], bool]) -> dict[str, Any]:
    return changed(tpl, match, lambda _: None)


def without_resource(
    tpl: dict[str, Any], resource_type: str, keep: Callable[[str, dict[str, Any]], bool]
) -> dict[str, Any]:
    copied = copy.deepcopy(tpl)
    gone = [lid for lid, r in copied["Resources"].items() if r["Type"] == resource_type and not keep(lid, r)]
    assert gone, f"no {resource_type} to remove"
    for logical_id in gone:
        del copied["Resources"][logical_id]
    return copied


@contextmanager
def stacks_started_on(directory: Path) -> Iterator[Callable[[dict[str, Any]], LocalStack]]:
    """A starter of local stacks, each enforcing the template it is given (written into ``directory``);
    every stack it started is stopped on exit."""
    started: list[LocalStack] = []

    def start(template: dict[str, Any]) -> LocalStack:
        stack = LocalStack(port=0, virtual_time=True, template=write(directory, template))
        stack.start()
        started.append(stack)
        return stack

    try:
        yield start
    finally:
        for stack in started:
            stack.stop()
