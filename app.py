#!/usr/bin/env python3
"""CDK app: the ``ServerlessSnacks`` stack, checked by cdk-nag AwsSolutions on every synth."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.order_pipeline_stack import STACK_NAME, OrderPipelineStack


def build(app: cdk.App) -> OrderPipelineStack:
    """The stack plus the nag checks; shared with the infra tests so they check what deploys."""
    stack = OrderPipelineStack(
        app, STACK_NAME, description="Serverless Snacks: event-driven order pipeline (Lambda, EventBridge, SFN)"
    )
    cdk.Aspects.of(app).add(AwsSolutionsChecks(reports=True, verbose=True))
    return stack


if __name__ == "__main__":
    application = cdk.App()  # honours CDK_OUTDIR and the context from cdk.json / -c
    build(application)
    application.synth()
