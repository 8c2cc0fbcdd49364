"""The custom event bus, its archive, and the rule that starts the fulfillment workflow."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks import definitions as d

ARCHIVE_RETENTION = Duration.days(14)


def event_pattern(pattern: dict[str, Any]) -> events.EventPattern:
    """An EventBridge JSON pattern (``detail-type`` …) as CDK's ``EventPattern`` (``detail_type`` …)."""
    return events.EventPattern(**{key.replace("-", "_"): value for key, value in pattern.items()})


def fulfillment_input() -> events.RuleTargetInput:
    """``{"id": <event id>, "detail": <event detail>}``: synthesizes as ``d.RULE_TARGET_INPUT_TEMPLATE`` with
    ``d.RULE_TARGET_INPUT_PATHS`` (tests/infra pins it; the local stack provisions those values)."""
    return events.RuleTargetInput.from_object(
        {"id": events.EventField.event_id, "detail": events.EventField.from_path("$.detail")}
    )


class OrderEvents(Construct):
    """Bus ``serverless-snacks-orders`` with a replayable archive of the order events."""

    def __init__(self, scope: Construct, construct_id: str, *, names: d.ResourceNames) -> None:
        super().__init__(scope, construct_id)
        self._names = names
        self.bus = events.EventBus(self, "Bus", event_bus_name=names.event_bus)
        # Every order event for two weeks: `aws events start-replay` re-drives any time window.
        self.archive = self.bus.archive(
            "Archive",
            archive_name=names.event_archive,
            description=f"{d.RULE_DETAIL_TYPE} events of {names.event_bus}, for replay",
            event_pattern=events.EventPattern(source=[d.RULE_EVENT_SOURCE]),
            retention=ARCHIVE_RETENTION,
        )
        # aws-cdk-lib's Archive writes ``KmsKeyIdentifier: ""`` when no key is given (aws/aws-cdk#37847,
        # fix in #37865): not a valid key identifier, reported to fail deploys in some regions. Absent,
        # the archive uses the AWS owned key (AWS::Events::Archive, KmsKeyIdentifier).
        archive_resource = self.archive.node.default_child
        assert isinstance(archive_resource, events.CfnArchive)
        if not archive_resource.kms_key_identifier:
            archive_resource.add_property_deletion_override("KmsKeyIdentifier")

    def start_fulfillment(self, state_machine: sfn.IStateMachine, dead_letter_queue: sqs.IQueue) -> events.Rule:
        """Route ``Order Created`` to the workflow; what EventBridge cannot deliver goes to the DLQ."""
        return events.Rule(
            self,
            "OrderCreatedRule",
            rule_name=self._names.order_created_rule,
            description=f"{d.RULE_DETAIL_TYPE} starts {self._names.state_machine}",
            event_bus=self.bus,
            event_pattern=event_pattern(d.RULE_EVENT_PATTERN),
            targets=[
                targets.SfnStateMachine(
                    state_machine,
                    # The execution input is {"id": <event id>, "detail": <event detail>}: what the workflow
                    # reads ($$.Execution.Input.id, .detail.orderId), without the rest of the envelope that
                    # each execution log at level ALL would carry twice (issue 21).
                    input=fulfillment_input(),
                    retry_attempts=d.RULE_TARGET_RETRY_ATTEMPTS,
                    max_event_age=Duration.seconds(d.RULE_TARGET_MAX_EVENT_AGE_SECONDS),
                    dead_letter_queue=dead_letter_queue,
                )
            ],
        )
