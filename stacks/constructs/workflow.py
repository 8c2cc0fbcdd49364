"""The EXPRESS fulfillment state machine, deployed from the very ASL file the local stack runs."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from stacks import definitions as d
from stacks.checkov import LOGS_ENCRYPTED_BY_DEFAULT, skip_checkov

LOG_RETENTION = logs.RetentionDays.ONE_MONTH
STATES_PRINCIPAL = "states.amazonaws.com"


class FulfillmentWorkflow(Construct):
    """``order-fulfillment``: logs at level ALL with execution data, X-Ray on, a role of two actions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: d.ResourceNames,
        processor: lambda_.IFunction,
        dead_letter_queue: sqs.IQueue,
        bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=names.state_machine_log_group,
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        skip_checkov(self.log_group, {"CKV_AWS_158": LOGS_ENCRYPTED_BY_DEFAULT})
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(STATES_PRINCIPAL),
            description=f"{names.state_machine}: invoke {names.order_processor}, "
            f"send failures to {names.dead_letter_queue}, announce status on {names.event_bus}",
            inline_policies={
                "least-privilege": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="InvokeProcessorSteps",
                            actions=["lambda:InvokeFunction"],
                            resources=[processor.function_arn],
                        ),
                        iam.PolicyStatement(
                            sid="SendFailuresToDlq",
                            actions=["sqs:SendMessage"],
                            resources=[dead_letter_queue.queue_arn],
                        ),
                        # The workflow announces only the status events, only from our source, only on our bus
                        # (EventBridge condition keys events:source and events:detail-type, "Using IAM policy
                        # conditions in Amazon EventBridge").
                        iam.PolicyStatement(
                            sid="AnnounceOrderStatus",
                            actions=["events:PutEvents"],
                            resources=[bus.event_bus_arn],
                            conditions={
                                "StringEquals": {
                                    "events:source": d.RULE_EVENT_SOURCE,
                                    "events:detail-type": list(d.STATUS_EVENT_DETAIL_TYPES),
                                }
                            },
                        ),
                    ]
                )
            },
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=names.state_machine,
            state_machine_type=sfn.StateMachineType.EXPRESS,
            # Inline (DefinitionString), so the template and `cdk diff` show the workflow itself.
            definition_body=sfn.DefinitionBody.from_string(d.ASL_PATH.read_text()),
            definition_substitutions={
                d.ASL_PROCESSOR_ARN: processor.function_arn,
                d.ASL_DLQ_URL: dead_letter_queue.queue_url,
                d.ASL_EVENT_BUS: bus.event_bus_name,
            },
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
            role=self.role,
        )
        NagSuppressions.add_resource_suppressions(
            self.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Step Functions logging to CloudWatch Logs uses the log-delivery APIs "
                    "(logs:CreateLogDelivery, logs:PutResourcePolicy, ...) and X-Ray tracing uses "
                    "xray:PutTraceSegments/GetSampling*; none of them supports resource-level permissions.",
                    applies_to=["Resource::*"],
                )
            ],
            apply_to_children=True,
        )
