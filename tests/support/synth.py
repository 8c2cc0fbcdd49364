"""Synthesize the CDK app once per test session (synth takes seconds) and share the result.

The app is built exactly as ``app.py`` builds it (same ``build`` function, same cdk.json context),
so the tests check what ``cdk synth`` / ``cdk deploy`` produce, cdk-nag findings included.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Annotations, Match, Template

from stacks import definitions
from stacks.order_pipeline_stack import OrderPipelineStack, stage_names

CDK_JSON = definitions.REPO_ROOT / "cdk.json"
NAG_RULE = Match.string_like_regexp("AwsSolutions-.*")


@dataclass(frozen=True)
class NagFinding:
    path: str
    message: str


@dataclass(frozen=True)
class Synthesized:
    stack: OrderPipelineStack
    template: Template
    raw: dict[str, Any]
    outdir: Path
    nag_errors: tuple[NagFinding, ...]
    nag_warnings: tuple[NagFinding, ...]

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Logical id -> resource, for one CloudFormation type."""
        return {
            logical_id: resource
            for logical_id, resource in self.raw["Resources"].items()
            if resource["Type"] == resource_type
        }

    def logical_id(self, construct: Any) -> str:
        """The CloudFormation logical id of an L2 construct's default child."""
        return str(self.stack.resolve(construct.node.default_child.logical_id))


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads(Path(CDK_JSON).read_text())["context"]
    return context


def _findings(messages: list[Any]) -> tuple[NagFinding, ...]:
    return tuple(NagFinding(path=message.id, message=str(message.entry.data)) for message in messages)


@functools.cache
def synthesize(context: tuple[tuple[str, Any], ...] = (), nag: bool = True) -> Synthesized:
    """The synthesized stack for this extra context (hashable pairs), cached for the session.

    ``nag=False`` builds the bare stack (no cdk-nag aspect): about a second once the JSII runtime is
    warm, for tests that only look at what a context value changes.
    """
    # Imported here: app.py sits at the repository root, next to cdk.json.
    from app import build

    app = cdk.App(context={**cdk_json_context(), **dict(context)})
    stack = build(app) if nag else OrderPipelineStack(app, stage_names(app.node).stack)
    # One synth of the app; Template.from_stack would synthesize it again.
    assembly = app.synth()
    raw: dict[str, Any] = assembly.get_stack_by_name(stack.stack_name).template
    errors: tuple[NagFinding, ...] = ()
    warnings: tuple[NagFinding, ...] = ()
    if nag:
        annotations = Annotations.from_stack(stack)
        errors = _findings(annotations.find_error("*", NAG_RULE))
        warnings = _findings(annotations.find_warning("*", NAG_RULE))
    return Synthesized(
        stack=stack,
        template=Template.from_json(raw),
        raw=raw,
        outdir=Path(assembly.directory),
        nag_errors=errors,
        nag_warnings=warnings,
    )


def flatten(value: Any) -> str:
    """A CloudFormation value as text: ``Fn::Join`` joined, other intrinsics as ``{Ref}``-like markers."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(flatten(part) for part in parts)
    if isinstance(value, dict) and len(value) == 1:
        (intrinsic, argument), *_ = value.items()
        return "{" + str(intrinsic) + ":" + json.dumps(argument, sort_keys=True) + "}"
    return json.dumps(value, sort_keys=True)
