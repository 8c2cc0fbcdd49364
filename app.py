#!/usr/bin/env python3
"""CDK app: the ``ServerlessSnacks`` stack, checked by cdk-nag AwsSolutions on every synth."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.order_pipeline_stack import OrderPipelineStack, stage_names


def build(app: cdk.App) -> OrderPipelineStack:
    """The stack of the chosen stage (``-c stage=NAME``) plus the nag checks; shared with the infra
    tests so they check what deploys."""
    names = stage_names(app.node)
    stack = OrderPipelineStack(
        app,
        names.stack,
        description=f"Serverless Snacks ({names.stage} stage): event-driven order pipeline (Lambda, EventBridge, SFN)",
    )
    cdk.Aspects.of(app).add(AwsSolutionsChecks(reports=True, verbose=True))
    return stack


if __name__ == "__main__":
    application = cdk.App()  # honours CDK_OUTDIR and the context from cdk.json / -c
    build(application)
    application.synth()
