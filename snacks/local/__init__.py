"""The Docker-free local stack: moto's server plus what moto does not do for this pipeline.

moto serves the AWS APIs (DynamoDB, EventBridge, SQS, Step Functions with its ASL interpreter,
CloudWatch Logs, Lambda, IAM). This package adds the three missing pieces: Lambda Invoke runs our
real handlers in-process, EventBridge delivers to the Step Functions target (with the target's
retry policy and dead-letter queue), and resources are provisioned from ``stacks.definitions``,
the values the CDK stack deploys.
"""

from snacks.local.stack import DEMO_FAULT_PLAN, LocalStack

__all__ = ["DEMO_FAULT_PLAN", "LocalStack"]
