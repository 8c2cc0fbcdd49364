"""Serverless Snacks order service: the code of the order-creator and order-processor Lambdas.

Layout (hexagonal): ``domain`` holds the rules and has no AWS dependency, ``adapters`` talk to
DynamoDB and EventBridge, ``handlers`` are the thin Lambda entry points that wire them together.
"""
