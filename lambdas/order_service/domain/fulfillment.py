"""Simulated fulfillment, with a deterministic way to make it fail for tests and demos.

Faults are off unless ``FULFILLMENT_FAULTS`` names them, one rule per snack name:

    FULFILLMENT_FAULTS="Chaos Chips=transient:1; Doom Donut=permanent; Sad Soda=transient"

* ``transient:N`` - the step raises ``FulfillmentUnavailable`` (retried by the workflow) on its
  first N attempts in an execution, then succeeds;
* ``transient``   - raises ``FulfillmentUnavailable`` on every attempt (retries exhausted -> DLQ);
* ``permanent``   - raises ``FulfillmentRejected`` (no retry, straight to the catch path).

The attempt number is the workflow's own retry count, so the outcome depends only on the order
and the plan, never on timing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from order_service.domain.errors import FulfillmentRejected, FulfillmentUnavailable
from order_service.domain.order import OrderRecord

FaultKind = Literal["transient", "permanent"]
FULFILLMENT_STEPS = ("reserve-stock", "pack", "hand-to-courier")


@dataclass(frozen=True)
class FaultRule:
    kind: FaultKind
    failing_attempts: int | None = None  # None: every attempt

    def fails_on(self, attempt: int) -> bool:
        return self.failing_attempts is None or attempt < self.failing_attempts


def parse_fault_plan(spec: str | None) -> dict[str, FaultRule]:
    """Parse ``FULFILLMENT_FAULTS``; a malformed rule is an error at start-up, not a silent no-op."""
    plan: dict[str, FaultRule] = {}
    for raw_rule in (spec or "").split(";"):
        if not raw_rule.strip():
            continue
        name, separator, action = raw_rule.partition("=")
        kind, _, count = action.strip().partition(":")
        if not separator or not name.strip() or kind not in ("transient", "permanent"):
            raise ValueError(
                f"bad FULFILLMENT_FAULTS rule {raw_rule.strip()!r}: use 'Snack Name=transient[:N]' or '=permanent'"
            )
        if count and (kind != "transient" or not count.isdigit()):
            raise ValueError(
                f"bad FULFILLMENT_FAULTS rule {raw_rule.strip()!r}: only transient takes a whole attempt count"
            )
        plan[name.strip().casefold()] = FaultRule(kind, int(count) if count else None)  # type: ignore[arg-type]
    return plan


def tracking_id(order_id: str) -> str:
    return "SNK-" + hashlib.sha256(order_id.encode()).hexdigest()[:12].upper()


def fulfil(order: OrderRecord, attempt: int, plan: dict[str, FaultRule], fulfilled_at: str) -> dict[str, Any]:
    """Run the simulated fulfillment steps, or raise the fault the plan asks for."""
    for item in order.snack_items:
        rule = plan.get(item.name.casefold())
        if rule is None or not rule.fails_on(attempt):
            continue
        if rule.kind == "permanent":
            raise FulfillmentRejected(f"fulfillment rejected the order: {item.name!r} cannot be supplied")
        raise FulfillmentUnavailable(f"fulfillment is unavailable for {item.name!r} (attempt {attempt + 1})")
    units = sum(item.quantity for item in order.snack_items)
    return {
        "steps": [{"step": step, "units": units} for step in FULFILLMENT_STEPS],
        "trackingId": tracking_id(order.order_id),
        "attempt": attempt + 1,
        "fulfilledAt": fulfilled_at,
    }
