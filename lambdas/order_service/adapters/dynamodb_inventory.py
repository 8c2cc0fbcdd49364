"""The ``Inventory`` table and the order's reservation marker behind the ``StockLedger`` port.

Every write that moves units is one ``TransactWriteItems`` across ``Inventory`` and ``Orders``: the
units and the order's record of them change together or not at all, so a repeated step can tell
from the order alone whether it already holds its stock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from order_service.adapters.aws_errors import error_code, transient_errors_as
from order_service.adapters.dynamodb_orders import (
    PAYMENT_AS_READ,
    PAYMENT_NAMES,
    from_attributes,
    payment_as_read_values,
    to_attributes,
)
from order_service.domain.inventory import Compensation, ReservationPlan, StockRelease
from order_service.domain.order import OrderRecord, OrderStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

INVENTORY_PARTITION_KEY = "snackName"
AVAILABLE = "available"
# TransactGetItems and TransactWriteItems take at most 100 items each.
TRANSACTION_MAX_ITEMS = 100


def _canceled(error: ClientError) -> bool:
    # A failed condition (or a conflicting transaction) cancels the whole transaction.
    return error_code(error) in ("TransactionCanceledException", "ConditionalCheckFailedException")


class DynamoDbStockLedger:
    def __init__(self, client: DynamoDBClient, orders_table: str, inventory_table: str) -> None:
        self._client = client
        self._orders = orders_table
        self._inventory = inventory_table

    def _write_if_conditions_hold(self, transaction: list[Any]) -> bool:
        """One TransactWriteItems; False if a condition failed (nothing written), raised otherwise."""
        with transient_errors_as("DynamoDB"):
            try:
                self._client.transact_write_items(TransactItems=transaction)
            except ClientError as error:
                if _canceled(error):
                    return False
                raise
        return True

    def _stock_key(self, snack: str) -> dict[str, Any]:
        return {INVENTORY_PARTITION_KEY: {"S": snack}}

    def levels(self, snacks: Iterable[str]) -> dict[str, int]:
        names = sorted(set(snacks))
        if not names:
            return {}
        if len(names) > TRANSACTION_MAX_ITEMS:
            raise ValueError(f"an order names {len(names)} snacks; a transaction reads at most {TRANSACTION_MAX_ITEMS}")
        with transient_errors_as("DynamoDB"):
            # One serializable snapshot of every line's stock (TransactGetItems), not reads at different times.
            response = self._client.transact_get_items(
                TransactItems=[{"Get": {"TableName": self._inventory, "Key": self._stock_key(name)}} for name in names]
            )
        levels: dict[str, int] = {}
        for name, result in zip(names, response["Responses"], strict=True):
            item = result.get("Item")
            if item:
                levels[name] = int(from_attributes(item)[AVAILABLE])
        return levels

    def reserve(self, plan: ReservationPlan, marker: dict[str, Any], now: str) -> bool:
        order_update: dict[str, Any] = {
            "Update": {
                "TableName": self._orders,
                "Key": {"orderId": {"S": plan.order_id}},
                "UpdateExpression": "SET reservation = :reservation, updatedAt = :now",
                "ConditionExpression": "#status = :new AND attribute_not_exists(reservation)",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": to_attributes(
                    {":reservation": marker, ":now": now, ":new": OrderStatus.NEW.value}
                ),
            }
        }
        takes = [
            {
                "Update": {
                    "TableName": self._inventory,
                    "Key": self._stock_key(snack),
                    "UpdateExpression": "SET #available = #available - :units, updatedAt = :now",
                    # Never below zero; a record deleted since the read fails too (no attribute to compare).
                    "ConditionExpression": "#available >= :units",
                    "ExpressionAttributeNames": {"#available": AVAILABLE},
                    "ExpressionAttributeValues": to_attributes({":units": units, ":now": now}),
                }
            }
            for snack, units in sorted(plan.take.items())
        ]
        # A snack read as untracked must still be untracked: stock set meanwhile would be bypassed.
        still_untracked = [
            {
                "ConditionCheck": {
                    "TableName": self._inventory,
                    "Key": self._stock_key(snack),
                    "ConditionExpression": f"attribute_not_exists({INVENTORY_PARTITION_KEY})",
                }
            }
            for snack in plan.untracked
        ]
        transaction: list[Any] = [order_update, *takes, *still_untracked]
        return self._write_if_conditions_hold(transaction)

    def reject(
        self, order_id: str, rejection: dict[str, Any], now: str, execution_arn: str | None
    ) -> OrderRecord | None:
        values: dict[str, Any] = {
            ":rejected": OrderStatus.REJECTED.value,
            ":rejection": rejection,
            ":now": now,
            ":new": OrderStatus.NEW.value,
        }
        expression = "SET #status = :rejected, rejection = :rejection, updatedAt = :now"
        if execution_arn:
            values[":arn"] = execution_arn
            expression += ", executionArn = :arn"
        with transient_errors_as("DynamoDB"):
            try:
                response = self._client.update_item(
                    TableName=self._orders,
                    Key={"orderId": {"S": order_id}},
                    UpdateExpression=expression,
                    # An order holding stock is never rejected: a duplicate execution may have reserved it.
                    ConditionExpression="#status = :new AND attribute_not_exists(reservation)",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=to_attributes(values),
                    ReturnValues="ALL_NEW",
                )
            except ClientError as error:
                if error_code(error) == "ConditionalCheckFailedException":
                    return None
                raise
        return OrderRecord.from_item(from_attributes(response["Attributes"]))

    def fail(
        self,
        order: OrderRecord,
        failure: dict[str, Any],
        compensations: list[Compensation],
        now: str,
        execution_arn: str | None,
    ) -> bool:
        updates: dict[str, Any] = {"failure": failure}
        if execution_arn:
            updates["executionArn"] = execution_arn
        return self._settle(order, OrderStatus.FAILED, updates, compensations, now)

    def cancel(
        self, order: OrderRecord, cancellation: dict[str, Any], compensations: list[Compensation], now: str
    ) -> bool:
        return self._settle(order, OrderStatus.CANCELLED, {"cancellation": cancellation}, compensations, now)

    def decline(
        self,
        order: OrderRecord,
        rejection: dict[str, Any],
        payment: dict[str, Any],
        compensations: list[Compensation],
        now: str,
        execution_arn: str | None,
    ) -> bool:
        assert order.payment is not None
        updates: dict[str, Any] = {"rejection": rejection, "payment": payment}
        if execution_arn:
            updates["executionArn"] = execution_arn
        return self._settle(order, OrderStatus.REJECTED, updates, compensations, now, payment_as_read=order.payment)

    def _settle(
        self,
        order: OrderRecord,
        target: OrderStatus,
        updates: dict[str, Any],
        compensations: list[Compensation],
        now: str,
        payment_as_read: dict[str, Any] | None = None,
    ) -> bool:
        """``order.status`` -> ``target`` giving back what the order holds, in one transaction."""
        values = {":target": target.value, ":now": now, ":current": order.status.value}
        values.update({f":u{index}": value for index, value in enumerate(updates.values())})
        names = {"#status": "status", **{f"#u{index}": key for index, key in enumerate(updates)}}
        assignments = ", ".join(f"#u{index} = :u{index}" for index in range(len(updates)))
        # Released stock voids the fulfillment too: a replay reserves and fulfils afresh.
        expression = f"SET #status = :target, updatedAt = :now, {assignments} REMOVE reservation, fulfillment"
        # A reservation is only ever added to a NEW order, never changed: "held as read" is exists/not exists.
        held = "attribute_exists(reservation)" if order.reservation is not None else "attribute_not_exists(reservation)"
        condition = f"#status = :current AND {held}"
        if payment_as_read is not None:
            condition += " AND " + PAYMENT_AS_READ
            names.update(PAYMENT_NAMES)
            values.update(payment_as_read_values(payment_as_read))
        transaction: list[Any] = [
            {
                "Update": {
                    "TableName": self._orders,
                    "Key": {"orderId": {"S": order.order_id}},
                    "UpdateExpression": expression,
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": to_attributes(values),
                }
            }
        ]
        for compensation in compensations:
            if isinstance(compensation, StockRelease):
                transaction.extend(self._give_back(snack, units, now) for snack, units in compensation.lines)
        return self._write_if_conditions_hold(transaction)

    def _give_back(self, snack: str, units: int, now: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._inventory,
                "Key": self._stock_key(snack),
                # ADD, not SET available = available + units: the units go back even if the record was deleted.
                "UpdateExpression": "ADD #available :units SET updatedAt = :now",
                "ExpressionAttributeNames": {"#available": AVAILABLE},
                "ExpressionAttributeValues": to_attributes({":units": units, ":now": now}),
            }
        }

    def set_level(self, snack: str, units: int, now: str) -> None:
        if units < 0:
            raise ValueError("available units cannot be negative")
        with transient_errors_as("DynamoDB"):
            self._client.put_item(
                TableName=self._inventory,
                Item=to_attributes({INVENTORY_PARTITION_KEY: snack, AVAILABLE: units, "updatedAt": now}),
            )

    def all_levels(self) -> Iterator[tuple[str, int]]:
        paginator = self._client.get_paginator("scan")
        with transient_errors_as("DynamoDB"):
            for page in paginator.paginate(TableName=self._inventory, ConsistentRead=True):
                for raw in page.get("Items", []):
                    item = from_attributes(raw)
                    yield str(item[INVENTORY_PARTITION_KEY]), int(item[AVAILABLE])
