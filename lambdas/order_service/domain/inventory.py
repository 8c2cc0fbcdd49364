"""Stock: what an order needs, what it holds, and why it cannot be had.

A snack with a stock record (``Inventory`` table: snack name -> available units) is stock-limited;
a snack without one is not, so a fresh deploy and the seed's orders need no stock set up. An
order's reservation is recorded on the order itself, in the same DynamoDB transaction that takes
the units, so a repeated step or a duplicate event finds it and never takes them twice.

The reservation is the saga's first (and for now only) compensable step: ``compensations``
lists what a failed order must give back. Payment will be the next entry.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from order_service.domain.order import OrderRecord

OUT_OF_STOCK = "OutOfStock"


def units_by_snack(order: OrderRecord) -> dict[str, int]:
    """Units per snack name: a transaction may touch one item once, so lines of one snack add up."""
    units: Counter[str] = Counter()
    for item in order.snack_items:
        units[item.name] += item.quantity
    return dict(units)


@dataclass(frozen=True)
class ReservationPlan:
    """What one attempt to reserve needs: units taken from tracked snacks, no record for the others."""

    order_id: str
    take: dict[str, int]  # tracked snack -> units
    untracked: tuple[str, ...]  # must still have no stock record when the transaction runs

    def marker(self, reserved_at: str, execution_arn: str | None) -> dict[str, Any]:
        """The ``reservation`` attribute written on the order with the units it took."""
        marker: dict[str, Any] = {
            "lines": [{"name": name, "quantity": units} for name, units in sorted(self.take.items())],
            "reservedAt": reserved_at,
        }
        if execution_arn:
            marker["executionArn"] = execution_arn
        return marker


def plan_reservation(order: OrderRecord, levels: dict[str, int]) -> ReservationPlan:
    """``levels``: available units of the order's snacks that have a stock record (others absent)."""
    needed = units_by_snack(order)
    return ReservationPlan(
        order_id=order.order_id,
        take={name: units for name, units in needed.items() if name in levels},
        untracked=tuple(sorted(name for name in needed if name not in levels)),
    )


def shortages(order: OrderRecord, levels: dict[str, int]) -> list[dict[str, Any]]:
    """The lines stock cannot cover, with what was asked and what is there; empty if all can be."""
    return [
        {"name": name, "requested": units, "available": levels[name]}
        for name, units in sorted(units_by_snack(order).items())
        if name in levels and levels[name] < units
    ]


def rejection(lines: list[dict[str, Any]], rejected_at: str) -> dict[str, Any]:
    return {"reason": OUT_OF_STOCK, "lines": lines, "rejectedAt": rejected_at}


@dataclass(frozen=True)
class StockRelease:
    """Give an order's reserved units back (the compensation of the reservation)."""

    lines: tuple[tuple[str, int], ...]  # (snack, units)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "releaseStock", "lines": [{"name": name, "quantity": units} for name, units in self.lines]}


Compensation = StockRelease  # the saga's compensations; a payment refund joins this union


def compensations(order: OrderRecord) -> list[Compensation]:
    """What the order holds that a failure or a cancel must give back, in reverse order of taking."""
    held: list[Compensation] = []
    if order.reservation is not None:
        lines = tuple((str(line["name"]), int(line["quantity"])) for line in order.reservation.get("lines", []))
        if lines:  # a reservation of unlimited snacks only holds nothing
            held.append(StockRelease(lines))
    return list(reversed(held))
