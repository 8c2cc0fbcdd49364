"""`-c workflowLogLevel`: the EXPRESS workflow's execution-log level, the cost knob for CloudWatch Logs.

AWS's rules this pins (Step Functions Developer Guide, "Log levels", cloudwatch-log-level.html, and
the API reference, LoggingConfiguration): the level is ALL, ERROR, FATAL or OFF; ``destinations`` is
required unless the level is OFF; ``includeExecutionData`` decides whether inputs and outputs are
logged. cdk-nag AwsSolutions-SF1 ("The Step Function does not log 'ALL' events to CloudWatch Logs")
fails any level but ALL, so below ALL the suppression must be there and say why.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from stacks import definitions as d
from stacks.order_pipeline_stack import CONTEXT_WORKFLOW_LOG_LEVEL, PipelineOptions
from tests.support.synth import Synthesized, synthesize

MIN_REASON = 80


def at_level(level: str, nag: bool = False) -> Synthesized:
    return synthesize(((CONTEXT_WORKFLOW_LOG_LEVEL, level),), nag=nag)


def state_machine(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    ((logical_id, machine),) = synth.resources("AWS::StepFunctions::StateMachine").items()
    return logical_id, machine


def log_group_id(synth: Synthesized) -> str:
    ((logical_id, _),) = (
        (logical_id, group)
        for logical_id, group in synth.resources("AWS::Logs::LogGroup").items()
        if group["Properties"]["LogGroupName"] == d.STATE_MACHINE_LOG_GROUP
    )
    return logical_id


def workflow_role_actions(synth: Synthesized) -> set[str]:
    """Every action granted to the state machine's role, inline or through attached policies."""
    _, machine = state_machine(synth)
    role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    documents = [p["PolicyDocument"] for p in synth.raw["Resources"][role_id]["Properties"].get("Policies", [])]
    documents += [
        policy["Properties"]["PolicyDocument"]
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
    ]
    actions: set[str] = set()
    for document in documents:
        for statement in document["Statement"]:
            listed = statement["Action"]
            actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def sf1_suppressions(synth: Synthesized) -> list[dict[str, Any]]:
    _, machine = state_machine(synth)
    rules = machine.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    return [rule for rule in rules if rule["id"] == "AwsSolutions-SF1"]


@pytest.mark.parametrize("level", ["ALL", "ERROR"])
def test_all_and_error_log_to_the_group_with_execution_data(level: str) -> None:
    """ALL: every history event; ERROR: only failure events, with their data, so FailStateEntered carries
    the order id the console finds a failed order's execution by ("Log levels"; LoggingConfiguration:
    destinations required unless OFF)."""
    synth = at_level(level)
    _, machine = state_machine(synth)
    assert machine["Properties"]["LoggingConfiguration"] == {
        "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group_id(synth), "Arn"]}}}],
        "IncludeExecutionData": True,
        "Level": level,
    }
    assert "logs:CreateLogDelivery" in workflow_role_actions(synth)


def test_off_names_no_destination_keeps_the_group_and_grants_no_log_delivery() -> None:
    """OFF: "destinations ... Required, if your log level is not set to OFF" (API reference,
    LoggingConfiguration), so none is named and the role needs no log-delivery actions; the group
    stays, so switching to OFF keeps the history already logged and the metric filters' target."""
    synth = at_level("OFF")
    _, machine = state_machine(synth)
    assert machine["Properties"]["LoggingConfiguration"] == {"Level": "OFF"}
    assert log_group_id(synth)
    assert not {action for action in workflow_role_actions(synth) if action.startswith("logs:")}


def test_default_is_all_and_has_no_sf1_suppression(synth: Synthesized) -> None:
    """The deployed default (no context) is level ALL, which cdk-nag SF1 accepts unsuppressed."""
    _, machine = state_machine(synth)
    assert machine["Properties"]["LoggingConfiguration"]["Level"] == "ALL"
    assert sf1_suppressions(synth) == []


@pytest.mark.parametrize("level", ["ERROR", "OFF"])
def test_levels_below_all_carry_a_reasoned_sf1_suppression(level: str) -> None:
    (rule,) = sf1_suppressions(at_level(level))
    assert f"workflowLogLevel={level}" in rule["reason"] and len(rule["reason"]) >= MIN_REASON


def test_off_passes_cdk_nag_with_only_the_sf1_suppression_added() -> None:
    """cdk-nag's StepFunctionStateMachineAllLogsToCloudWatch marks any level but ALL NON_COMPLIANT (an
    ERROR); at OFF the whole AwsSolutions pack must still report nothing unsuppressed."""
    synth = at_level("OFF", nag=True)
    assert synth.nag_errors == (), "\n".join(f"{f.path}: {f.message}" for f in synth.nag_errors)
    assert synth.nag_warnings == ()


@pytest.mark.parametrize("value", ["VERBOSE", "INFO", "FATAL", "ALL,ERROR", "1"])
def test_a_bad_level_is_refused_with_the_levels_there_are(value: str) -> None:
    """FATAL is an AWS level we do not offer (it drops the TaskFailed records the failed-publish metric
    filter counts); a typo must fail the synth, not deploy some default."""
    with pytest.raises(ValueError, match=r"context workflowLogLevel: .*must be one of ALL, ERROR, OFF"):
        PipelineOptions.from_context(cdk.App(context={CONTEXT_WORKFLOW_LOG_LEVEL: value}).node)


@pytest.mark.parametrize(("value", "level"), [("error", "ERROR"), (" Off ", "OFF"), ("", "ALL"), (None, "ALL")])
def test_level_is_read_in_any_case_and_defaults_to_all(value: str | None, level: str) -> None:
    context = {} if value is None else {CONTEXT_WORKFLOW_LOG_LEVEL: value}
    assert PipelineOptions.from_context(cdk.App(context=context).node).workflow_logging.level == level
