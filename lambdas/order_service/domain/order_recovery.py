"""Getting every accepted order to a final state: reconcile stale NEW orders, replay the DLQ.

Both only ever re-publish ``Order Created``; that is safe because every workflow step is
idempotent. A dead letter is deleted only after its replay was accepted (the order is PROCESSED
already, or it is NEW again and its event is on the bus).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from order_service.domain.events import OrderCreated
from order_service.domain.order import OrderRecord, OrderStatus, utc_timestamp
from order_service.domain.ports import EventPublisher, EventPublishFailed, OrderRepository

# --- reconciliation -------------------------------------------------------------------------


@dataclass
class ReconcileReport:
    stale_found: int = 0
    republished: int = 0
    publish_failures: int = 0
    oldest_created_at: str | None = None
    order_ids: list[str] = field(default_factory=list)


def reconcile_stale_orders(
    orders: OrderRepository,
    events: EventPublisher,
    now: datetime,
    stale_after: timedelta,
    dry_run: bool = False,
    limit: int | None = None,
) -> ReconcileReport:
    """Re-publish NEW orders untouched for ``stale_after`` (never published, or their delivery was lost).

    Found through the status index, oldest first; an order updated recently (e.g. just
    replayed) is left alone even if it was created long ago.
    """
    cutoff = utc_timestamp(now - stale_after)
    report = ReconcileReport()
    for order in orders.list_by_status(OrderStatus.NEW, created_before=cutoff):
        if order.updated_at >= cutoff:
            continue
        if limit is not None and report.stale_found >= limit:
            break
        report.stale_found += 1
        report.order_ids.append(order.order_id)
        report.oldest_created_at = report.oldest_created_at or order.created_at
        if dry_run:
            continue
        try:
            events.publish_order_created(OrderCreated.from_record(order))
            report.republished += 1
        except EventPublishFailed:
            report.publish_failures += 1
    return report


# --- dead letters ---------------------------------------------------------------------------

WORKFLOW_FAILURE = "OrderFulfillmentFailed"
DELIVERY_FAILURE = "EventDeliveryFailed"


@dataclass(frozen=True)
class DeadLetter:
    """One DLQ message, whichever of the two producers wrote it."""

    message_id: str
    receipt_handle: str
    kind: str
    order_id: str | None
    failed_step: str
    error: str
    cause: str
    execution_arn: str | None
    failed_at: str | None
    body: str

    @classmethod
    def parse(cls, message_id: str, receipt_handle: str, body: str, attributes: dict[str, str]) -> DeadLetter:
        """Workflow failures carry our own record; EventBridge's target DLQ carries the event itself."""
        try:
            document: Any = json.loads(body)
        except ValueError:
            document = None
        common = {"message_id": message_id, "receipt_handle": receipt_handle, "body": body}
        if isinstance(document, dict) and document.get("kind") == WORKFLOW_FAILURE:
            return cls(
                kind=WORKFLOW_FAILURE,
                order_id=_text_or_none(document.get("orderId")),
                failed_step=str(document.get("failedStep", "unknown")),
                error=str(document.get("error", "")),
                cause=str(document.get("cause", "")),
                execution_arn=_text_or_none(document.get("executionArn")),
                failed_at=_text_or_none(document.get("failedAt")),
                **common,
            )
        detail = document.get("detail") if isinstance(document, dict) else None
        return cls(
            kind=DELIVERY_FAILURE,
            order_id=_text_or_none(detail.get("orderId")) if isinstance(detail, dict) else None,
            failed_step="StartExecution",
            error=attributes.get("ERROR_CODE", "unknown"),
            cause=attributes.get("ERROR_MESSAGE", ""),
            execution_arn=None,
            failed_at=_text_or_none(document.get("time")) if isinstance(document, dict) else None,
            **common,
        )


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class DeadLetterQueue(Protocol):
    def receive_all(self) -> list[DeadLetter]:
        """Every message currently in the queue, hidden for the duration of the operation."""

    def delete(self, letter: DeadLetter) -> None: ...

    def release(self, letters: Iterable[DeadLetter]) -> None:
        """Make messages visible again (for those not deleted)."""


REPLAYED = "replayed"
ALREADY_PROCESSED = "already-processed"
ALREADY_SETTLED = "already-settled"  # REJECTED or CANCELLED: nothing to replay
WOULD_REPLAY = "would-replay"
KEPT = "kept"


@dataclass(frozen=True)
class ReplayOutcome:
    letter: DeadLetter
    outcome: str
    detail: str


class DeadLetterReplayer:
    def __init__(self, orders: OrderRepository, events: EventPublisher, clock: Callable[[], str]) -> None:
        self._orders = orders
        self._events = events
        self._clock = clock

    def replay_one(self, letter: DeadLetter, dry_run: bool) -> ReplayOutcome:
        if letter.order_id is None:
            return ReplayOutcome(letter, KEPT, "message names no order; inspect it by hand")
        order = self._orders.get(letter.order_id)
        if order is None:
            return ReplayOutcome(letter, KEPT, "order does not exist")
        if order.status is OrderStatus.PROCESSED:
            return ReplayOutcome(letter, ALREADY_PROCESSED, "order is PROCESSED; message can go")
        if order.status in (OrderStatus.REJECTED, OrderStatus.CANCELLED):
            return ReplayOutcome(
                letter, ALREADY_SETTLED, f"order is {order.status.value}; nothing to replay, message can go"
            )
        if dry_run:
            return ReplayOutcome(letter, WOULD_REPLAY, f"order is {order.status.value}; would re-publish it")
        if order.status is OrderStatus.FAILED:
            reopened = self._reopen(order)
            if reopened is None:
                return ReplayOutcome(letter, KEPT, "order changed while replaying; try again")
            order = reopened
        try:
            self._events.publish_order_created(OrderCreated.from_record(order))
        except EventPublishFailed as error:
            return ReplayOutcome(letter, KEPT, f"order is NEW but publishing failed ({error}); the reconciler retries")
        return ReplayOutcome(letter, REPLAYED, f"order is NEW again (replay {order.replay_count}); event published")

    def _reopen(self, order: OrderRecord) -> OrderRecord | None:
        """FAILED -> NEW, keeping the last failure for the record."""
        updates: dict[str, Any] = {"replayCount": order.replay_count + 1}
        if order.failure is not None:
            updates["lastFailure"] = order.failure
        return self._orders.transition(
            order.order_id, OrderStatus.FAILED, OrderStatus.NEW, self._clock(), updates, removals=("failure",)
        )

    def replay(self, queue: DeadLetterQueue, order_id: str | None = None, dry_run: bool = False) -> list[ReplayOutcome]:
        letters = queue.receive_all()
        outcomes: list[ReplayOutcome] = []
        keep: list[DeadLetter] = []
        for letter in letters:
            if order_id is not None and letter.order_id != order_id:
                keep.append(letter)
                continue
            outcome = self.replay_one(letter, dry_run)
            outcomes.append(outcome)
            if outcome.outcome in (REPLAYED, ALREADY_PROCESSED, ALREADY_SETTLED) and not dry_run:
                queue.delete(letter)
            else:
                keep.append(letter)
        queue.release(keep)
        return outcomes
