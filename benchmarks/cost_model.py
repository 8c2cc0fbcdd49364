"""Cost per million orders on AWS, from a documented model and measured inputs.

Prices: us-east-1, on-demand, list prices as published when this was written (2026), without
free tiers. Inputs that we measure (Lambda durations, AWS calls, log bytes per execution) are
passed in; everything else is stated here. Three designs are compared:

* ``express`` (this one): creator Lambda -> EventBridge -> EXPRESS workflow, 3 Lambda steps (4 for a card
  order: authorizePayment);
* ``standard``: the same workflow as a STANDARD state machine (billed per state transition);
* ``lambda-chain``: creator Lambda -> EventBridge -> one processor Lambda (the seed's first
  sketch): no workflow, no per-step retries or console trace.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

PRICES = {
    "lambda_request": 0.20 / 1e6,  # $ per request
    "lambda_gb_second_arm64": 0.0000133334,  # $ per GB-s, arm64
    "express_request": 1.00 / 1e6,  # $ per execution
    "express_gb_second": 0.00001667,  # $ per GB-s, billed in 64 MB chunks, 100 ms rounding
    "standard_transition": 25.0 / 1e6,  # $ per state transition
    "eventbridge_event": 1.00 / 1e6,  # $ per custom event published
    "dynamodb_write_unit": 0.625 / 1e6,  # $ per on-demand WRU (1 KB)
    "dynamodb_read_unit": 0.125 / 1e6,  # $ per on-demand RRU (4 KB strongly consistent)
    "sqs_request": 0.40 / 1e6,  # $ per request
    # Amazon CloudWatch pricing, Logs, "Collect (Data Ingestion)": $0.50 per GB, Standard log class,
    # us-east-1; Step Functions' execution logs are vended logs (/aws/vendedlogs/), billed the same
    # $0.50 per GB for the first 10 TB a month.
    "logs_ingest_gb": 0.50,
    # AWS Secrets Manager pricing: $0.05 per 10,000 API calls (the $0.40 per secret-month is fixed, not per
    # order). Stripe's own fees are Stripe's, not this model's.
    "secretsmanager_call": 0.05 / 10_000,
}
MB = 1024 * 1024


@dataclass(frozen=True)
class Inputs:
    """Per-order facts of the design, most of them measured (see benchmarks/__main__.py)."""

    creator_ms: float  # billed duration of one creator invocation
    step_ms: float  # billed duration of one processor step
    memory_mb: int = 256
    steps: int = 3  # Lambda steps per execution (validate, fulfil, markProcessed)
    card_steps: int = 1  # a card order's one more (authorizePayment); an order paid at pickup skips it
    workflow_ms: float = 300.0  # Express execution duration (measured locally, rounded up to 100 ms)
    workflow_memory_chunks: int = 1  # 64 MB chunks: small definition and payload
    # Validate, Fulfil, InStock, AuthorizePayment, Paid, MarkProcessed + start/end (a card order's;
    # one paid at pickup skips AuthorizePayment and Paid: kept at the card order's count; MarkProcessed ends the
    # execution and announces Order Processed itself since issue 21)
    standard_transitions: int = 8
    table_writes: int = 3  # PutItem (create), UpdateItem (fulfil), UpdateItem (processed)
    gsi_writes: float = 3  # the status index (projection ALL) is written with each of them
    table_reads: float = 4  # GetItem: validate, fulfil, authorizePayment, markProcessed (reads before capturing)
    # The DynamoDB figures above and below are request units per order: WRU on the tables, WRU on the status
    # index, RRU, for an order paid at pickup; the card_* ones what a card order adds. The defaults are the first
    # model's hand count (one unit per call); `make bench` passes the units measured from the real calls of one
    # order of each kind, priced by AWS's documented rules (benchmarks/dynamodb_units.py, issue 21).
    # Card payments (issue 19): the share of orders paid by card, each adding two UpdateItems (intent
    # recorded pending, then authorized; the capture rides on the PROCESSED write), each also a GSI write.
    card_share: float = 0.5
    card_table_writes: float = 2
    card_gsi_writes: float = 2
    card_table_reads: float = 0
    # GetSecretValue: Powertools caches the key for 5 minutes per execution environment, so reads scale with
    # warm environments x time, not orders; ~1 read per 100 card orders is a busy-hour figure (assumed).
    secret_reads_per_card_order: float = 0.01
    # Execution history per order at the workflow's log level (make bench passes the measured
    # mix, benchmarks/execution_logs.py; 12 KB was the first model of level ALL).
    sfn_log_bytes: float = 12_000
    lambda_log_bytes: int = 2_400  # Powertools JSON lines + platform lines, all four invocations
    failure_rate: float = 0.001  # orders that reach the DLQ (send + receive + delete)
    rejection_rate: float = 0.01  # orders REJECTED for lack of stock (assumed; a business figure)


@dataclass
class CostBreakdown:
    design: str
    per_million: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.per_million.values())

    @property
    def dominant(self) -> tuple[str, float]:
        name = max(self.per_million, key=lambda key: self.per_million[key])
        return name, self.per_million[name] / self.total


def _lambda(invocations: float, billed_ms: float, memory_mb: int) -> float:
    gb_seconds = invocations * math.ceil(billed_ms) / 1000 * memory_mb / 1024
    return invocations * PRICES["lambda_request"] + gb_seconds * PRICES["lambda_gb_second_arm64"]


def _logs(bytes_per_order: float, orders: float) -> float:
    return bytes_per_order * orders / (1024**3) * PRICES["logs_ingest_gb"]


def estimate(inputs: Inputs, orders: float = 1e6) -> list[CostBreakdown]:
    card_writes = inputs.card_share * (inputs.card_table_writes + inputs.card_gsi_writes)  # table + status index
    card_reads = inputs.card_share * inputs.card_table_reads
    dynamodb = orders * (
        (inputs.table_writes + inputs.gsi_writes + card_writes) * PRICES["dynamodb_write_unit"]
        + (inputs.table_reads + card_reads) * PRICES["dynamodb_read_unit"]
    )
    secrets = orders * inputs.card_share * inputs.secret_reads_per_card_order * PRICES["secretsmanager_call"]
    events = orders * PRICES["eventbridge_event"]
    dlq = orders * inputs.failure_rate * 3 * PRICES["sqs_request"]
    creator = _lambda(orders, inputs.creator_ms, inputs.memory_mb)
    step_invocations = orders * (inputs.steps + inputs.card_share * inputs.card_steps)
    steps = _lambda(step_invocations, inputs.step_ms, inputs.memory_mb)
    lambda_logs = _logs(inputs.lambda_log_bytes, orders)

    express_seconds = math.ceil(inputs.workflow_ms / 100) / 10
    express = orders * (
        PRICES["express_request"]
        + express_seconds * inputs.workflow_memory_chunks * 64 / 1024 * PRICES["express_gb_second"]
    )
    shared = {
        "Lambda creator": creator,
        "EventBridge": events,
        "DynamoDB": dynamodb,
        "SQS DLQ": dlq,
        "Secrets Manager": secrets,
    }
    designs = [
        CostBreakdown(
            "express (this design)",
            {
                **shared,
                "Lambda steps": steps,
                "Step Functions": express,
                "CloudWatch Logs": lambda_logs + _logs(inputs.sfn_log_bytes, orders),
            },
        ),
        CostBreakdown(
            "standard workflow",
            {
                **shared,
                "Lambda steps": steps,
                "Step Functions": orders * inputs.standard_transitions * PRICES["standard_transition"],
                "CloudWatch Logs": lambda_logs + _logs(inputs.sfn_log_bytes, orders),
            },
        ),
        CostBreakdown(
            "lambda -> lambda",
            {
                **shared,
                # one processor invocation doing the three steps' work
                "Lambda steps": _lambda(orders, inputs.step_ms * step_invocations / orders * 0.8, inputs.memory_mb),
                "Step Functions": 0.0,
                "CloudWatch Logs": lambda_logs * 0.6,
            },
        ),
    ]
    return designs


@dataclass(frozen=True)
class LevelCost:
    level: str
    log_bytes: float  # execution-log bytes per order (the mix)
    logs: float  # $ per million orders for the workflow's execution logs alone
    total: float  # $ per million orders, this design, at this level


def by_log_level(inputs: Inputs, bytes_per_order: dict[str, float], orders: float = 1e6) -> list[LevelCost]:
    """This design's cost at each workflow log level (``-c workflowLogLevel``), from measured bytes."""
    costs = []
    for level, log_bytes in bytes_per_order.items():
        (express, *_) = estimate(dataclasses.replace(inputs, sfn_log_bytes=log_bytes), orders)
        costs.append(LevelCost(level, log_bytes, _logs(log_bytes, orders), express.total))
    return costs
