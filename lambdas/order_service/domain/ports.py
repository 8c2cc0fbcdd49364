"""What the domain needs from the outside world, as protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: a function importing the ports loads none of these for them
    from order_service.domain.events import OrderCreated, OrderStatusChanged
    from order_service.domain.inventory import Compensation, ReservationPlan
    from order_service.domain.order import OrderRecord, OrderStatus
    from order_service.domain.payment import Authorization


class OrderAlreadyExists(Exception):
    """The conditional create found an order with the same id."""


class EventPublishFailed(Exception):
    """Publishing failed after the adapter's own retries; the order is left for the reconciler."""


@dataclass(frozen=True)
class Transition:
    """A conditional transition's outcome: the order after the write if ``written``; otherwise the order as the
    failed condition found it (None: there is no such order)."""

    written: bool
    order: OrderRecord | None


class OrderRepository(Protocol):
    def create(self, record: OrderRecord) -> None:
        """Write a new order; raise ``OrderAlreadyExists`` if the id is taken."""

    def get(self, order_id: str) -> OrderRecord | None:
        """Strongly consistent read."""

    def transition(
        self,
        order_id: str,
        current: OrderStatus,
        target: OrderStatus,
        now: str,
        updates: dict[str, Any] | None = None,
        removals: tuple[str, ...] = (),
        requires: tuple[str, ...] = (),
        payment_as_read: dict[str, Any] | None = None,
    ) -> OrderRecord | None:
        """Conditionally move ``current -> target`` (if the order also has every attribute in ``requires``, and,
        given ``payment_as_read``, its payment still has that intent id and status), set ``updates``, drop
        ``removals``.

        Returns the order as it is after the write, or None if it was not in ``current``.
        """

    def try_transition(
        self,
        order_id: str,
        current: OrderStatus,
        target: OrderStatus,
        now: str,
        updates: dict[str, Any] | None = None,
        requires: tuple[str, ...] = (),
        lacks: tuple[str, ...] = (),
        payment_as_read: dict[str, Any] | None = None,
    ) -> Transition:
        """``transition``, also conditional on the order having none of the attributes in ``lacks``, in one
        write and no read: when a condition fails, the result carries the order as the write found it."""

    def record_fulfillment(
        self, order_id: str, fulfillment: dict[str, Any], execution_arn: str | None, now: str
    ) -> bool:
        """Store the fulfillment of a NEW order that has none yet; False if that condition fails."""

    def list_by_status(self, status: OrderStatus, created_before: str | None = None) -> Iterator[OrderRecord]:
        """Orders in ``status``, oldest first, through the status index (never a table scan)."""

    def start_payment(self, order_id: str, payment: dict[str, Any], replaced: dict[str, Any] | None, now: str) -> bool:
        """Record the new intent ``payment`` on a NEW order holding its reservation whose payment is still
        ``replaced`` (None: it has none); False if that condition fails."""

    def advance_payment(self, order_id: str, payment: dict[str, Any], as_read: dict[str, Any], now: str) -> bool:
        """Replace the payment of a NEW order whose payment is still ``as_read`` (intent and status); False if not."""

    def settle_payment(self, order_id: str, payment: dict[str, Any], now: str) -> bool:
        """Record the released payment (canceled/refunded) of an order that is not NEW and whose payment is that
        intent and still held; False if not (someone else recorded it)."""


class EventPublisher(Protocol):
    def publish_order_created(self, event: OrderCreated) -> str:
        """Publish the event and return its id, or raise ``EventPublishFailed``."""


class StatusEventPublisher(Protocol):
    def publish_status(self, event: OrderStatusChanged) -> str:
        """Publish the status event and return its id, or raise ``EventPublishFailed``."""


class PaymentGateway(Protocol):
    """The card payment provider (Stripe PaymentIntents, manual capture). Every call takes an idempotency key;
    unavailability raises ``PaymentProviderUnavailable``, a refused request ``PaymentFailed``."""

    def create_intent(
        self, *, order_id: str, amount: int, currency: str, payment_method: str, idempotency_key: str
    ) -> str:
        """Create an unconfirmed, manually captured intent (it holds nothing yet); its id."""

    def authorize(self, intent_id: str, idempotency_key: str) -> Authorization:
        """Confirm the intent: the card is authorized, declined, or the intent was cancelled meanwhile."""

    def capture(self, intent_id: str, idempotency_key: str) -> str:
        """Capture the authorization; the intent's status after it: ``succeeded`` (captured, now or before) or
        ``canceled`` (voided meanwhile)."""

    def release(self, intent_id: str, void_key: str, refund_key: str) -> str:
        """Give the payment back: void an authorization (or an intent that holds nothing), refund a capture.
        ``canceled`` or ``refunded``."""


class StockLedger(Protocol):
    """Stock levels, and the writes that move units between the shelf and an order, atomically."""

    def levels(self, snacks: Iterable[str]) -> dict[str, int]:
        """Available units of those snacks that have a stock record (strongly consistent, one snapshot)."""

    def reserve(self, plan: ReservationPlan, marker: dict[str, Any], now: str) -> bool:
        """In one transaction: take ``plan.take`` (none may go below zero), check ``plan.untracked`` still
        have no record, and write ``marker`` on the order if it is NEW and holds no reservation.
        False if any condition failed (nothing was written)."""

    def reject(
        self, order_id: str, rejection: dict[str, Any], now: str, execution_arn: str | None
    ) -> OrderRecord | None:
        """NEW -> REJECTED for an order holding no reservation; None if it is not such an order."""

    def fail(
        self,
        order: OrderRecord,
        failure: dict[str, Any],
        compensations: list[Compensation],
        now: str,
        execution_arn: str | None,
    ) -> bool:
        """In one transaction: NEW -> FAILED with ``failure``, dropping the reservation and fulfillment, and
        carry out ``compensations`` (give the units back). Conditional on the order being NEW and holding
        exactly the reservation ``order`` was read with (held or not); False if it changed (nothing written)."""

    def cancel(
        self, order: OrderRecord, cancellation: dict[str, Any], compensations: list[Compensation], now: str
    ) -> bool:
        """In one transaction: ``order.status`` -> CANCELLED with ``cancellation``, dropping the reservation and
        fulfillment, and carry out ``compensations``; conditional on the status and the reservation as read.
        False if the order changed (nothing written)."""

    def decline(
        self,
        order: OrderRecord,
        rejection: dict[str, Any],
        payment: dict[str, Any],
        compensations: list[Compensation],
        now: str,
        execution_arn: str | None,
    ) -> bool:
        """In one transaction: NEW -> REJECTED with ``rejection`` and the declined ``payment``, dropping the
        reservation and fulfillment, and give the units back; conditional on the order being NEW with the
        reservation and payment (intent and status) it was read with. False if it changed (nothing written)."""

    def set_level(self, snack: str, units: int, now: str) -> None:
        """Make ``units`` the available units of ``snack`` (creates its stock record)."""

    def all_levels(self) -> Iterator[tuple[str, int]]:
        """Every stock record: (snack, available units)."""
