"""cdk-nag AwsSolutions: nothing unsuppressed, and every suppression says why."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations
from cdk_nag import AwsSolutionsChecks

from tests.support.synth import NAG_RULE, Synthesized

MIN_REASON = 20


def suppressions(synth: Synthesized) -> list[tuple[str, dict[str, Any]]]:
    return [
        (logical_id, rule)
        for logical_id, resource in synth.raw["Resources"].items()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]


def test_no_unsuppressed_nag_errors(synth: Synthesized) -> None:
    assert synth.nag_errors == (), "\n".join(f"{f.path}: {f.message}" for f in synth.nag_errors)


def test_no_unsuppressed_nag_warnings(synth: Synthesized) -> None:
    assert synth.nag_warnings == (), "\n".join(f"{f.path}: {f.message}" for f in synth.nag_warnings)


def test_every_suppression_has_a_reason(synth: Synthesized) -> None:
    found = suppressions(synth)
    assert found, "expected the documented suppressions (see docs/infrastructure.md)"
    for logical_id, rule in found:
        assert rule["id"].startswith("AwsSolutions-"), (logical_id, rule)
        assert len(rule.get("reason", "").strip()) >= MIN_REASON, (logical_id, rule)


def test_wildcard_suppressions_are_scoped_to_the_wildcard(synth: Synthesized) -> None:
    for logical_id, rule in suppressions(synth):
        if rule["id"] == "AwsSolutions-IAM5":
            assert rule.get("applies_to") == ["Resource::*"], (logical_id, rule)


def test_suppressed_rules_are_the_documented_ones(synth: Synthesized) -> None:
    # SMG4: the Stripe key is rolled in Stripe's dashboard, not by a rotation Lambda (stacks/constructs/payments.py).
    assert sorted({rule["id"] for _, rule in suppressions(synth)}) == [
        "AwsSolutions-IAM5",
        "AwsSolutions-SMG4",
        "AwsSolutions-SQS3",
    ]


def test_the_check_itself_catches_a_violation() -> None:
    """Guards the two tests above against passing vacuously (e.g. the aspect not applied)."""
    app = cdk.App()
    stack = cdk.Stack(app, "Canary")
    sqs.Queue(stack, "PlainQueue")  # no DLQ, no SSL enforcement
    cdk.Aspects.of(app).add(AwsSolutionsChecks())
    messages = Annotations.from_stack(stack).find_error("*", NAG_RULE)
    rules = {str(m.entry.data).split(":")[0] for m in messages}
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= rules
