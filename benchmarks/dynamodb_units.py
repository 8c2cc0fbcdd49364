"""DynamoDB request units per order, from the real calls of one order on the local stack, priced by AWS's rules.

Each DynamoDB call of the handlers' own clients is recorded at the botocore boundary (the same clients
benchmarks/aws_calls.py counts): the operation, the table, ConsistentRead, and every item it touches as
stored before and after the call (read back by a client of our own: the calls of one order run one after
another). The units are then computed with the documented rules, not taken from moto, which does not model
them (``moto_units`` keeps what moto answers to ReturnConsumedCapacity=INDEXES, for comparison):

* item size: the sum of the attribute names' and values' sizes; a number is 1 byte per two significant
  digits + 1; null and Boolean 1 byte; a list or map 3 bytes + its elements + 1 byte per element
  (Amazon DynamoDB Developer Guide, "DynamoDB item sizes and formats",
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html);
* reads: 1 read unit per 4 KB (rounded up) strongly consistent, half that eventually consistent, 2 per 4 KB
  transactional; a read of a missing item still costs the read (Developer Guide, "DynamoDB read and write
  operations", Capacity unit consumption for read operations,
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html);
* writes: 1 write unit per 1 KB (rounded up) of the larger of the item before and after (PutItem replacing,
  UpdateItem), 2 per 1 KB transactional; a conditional write whose condition fails still costs the units of
  the item it tried to write (same page, Capacity unit consumption for write operations);
* transactions: "DynamoDB performs two underlying reads or writes of every item in the transaction", a
  ConditionCheck's item included (Developer Guide, "Amazon DynamoDB Transactions: How it works", Capacity
  management for transactions, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html);
* a global secondary index: no write when the item is in the index neither before nor after, or its projection
  did not change; one write (1 KB of the index entry, rounded up) to put, delete or update the entry; two (a
  delete and a put) when the write changes an index key attribute (Developer Guide, "Provisioned throughput
  considerations for Global Secondary Indexes", Write capacity units,
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html).
  An index write caused by a transaction is counted once, not twice: the transaction's changes propagate to
  the GSIs after it completes (transaction-apis.html, TransactWriteItems API); the 2x covers the items of the
  transaction.

On-demand tables (ours: PAY_PER_REQUEST) bill the same units as request units: "A strongly consistent read
request of up to 4 KB requires one read request unit", "A standard write request unit can write an item up to
1 KB", transactional ones twice (Amazon DynamoDB pricing, on-demand, Key terms,
https://aws.amazon.com/dynamodb/pricing/on-demand/; Developer Guide, "DynamoDB on-demand capacity mode",
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html).

``python -m benchmarks.dynamodb_units`` prints the calls of a pickup order and of a card order, their units,
and this design's DynamoDB cost per million orders at the model's mix, before (assumed) and after (measured).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import sys
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from benchmarks import cost_model

KB = 1024
READ_UNIT_BYTES = 4 * KB
WRITE_UNIT_BYTES = KB
TRANSACTIONAL = 2  # two underlying reads or writes of every item in a transaction

Item = dict[str, Any]  # an item in DynamoDB's wire form: {"name": {"S": "..."}}


# --- Item size ("DynamoDB item sizes and formats") ---------------------------------------------------------------


def number_size(text: str) -> int:
    """1 byte per two significant digits (leading and trailing zeros trimmed) + 1 byte."""
    significant = "".join(map(str, Decimal(text).as_tuple().digits)).strip("0")
    return math.ceil(len(significant) / 2) + 1


def value_size(value: dict[str, Any]) -> int:
    """The size of one attribute value in wire form, without its name."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(element.encode()) for element in data)
    if kind == "NS":
        return sum(number_size(element) for element in data)
    if kind == "BS":
        return sum(len(element) for element in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(element) for name, element in data.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Item | None) -> int:
    """Bytes of an item: each attribute's name (UTF-8) plus its value; 0 for no item."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


# --- Units per item ----------------------------------------------------------------------------------------------


def read_units(size: int, consistent: bool) -> float:
    """A GetItem: 1 unit per 4 KB strongly consistent, half eventually consistent; a missing item costs one chunk."""
    chunks = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(chunks) if consistent else chunks / 2


def transactional_read_units(size: int) -> float:
    return float(TRANSACTIONAL * max(1, math.ceil(size / READ_UNIT_BYTES)))


def write_units(before: int, after: int) -> int:
    """PutItem/UpdateItem/DeleteItem: 1 unit per 1 KB of the larger of the item before and after."""
    return max(1, math.ceil(max(before, after) / WRITE_UNIT_BYTES))


def transactional_write_units(before: int, after: int) -> int:
    return TRANSACTIONAL * write_units(before, after)


@dataclass(frozen=True)
class IndexSpec:
    """A global secondary index as DescribeTable reports it."""

    name: str
    keys: tuple[str, ...]  # the index's partition (and sort) key attributes
    table_keys: tuple[str, ...]  # the table's primary key, projected into every index
    projection: str = "ALL"  # ALL | KEYS_ONLY | INCLUDE
    non_key: tuple[str, ...] = ()  # INCLUDE's attributes

    def entry(self, item: Item | None) -> Item | None:
        """The item's entry in the index, or None if the item is not in it (an index key attribute missing)."""
        if not item or any(key not in item for key in self.keys):
            return None
        if self.projection == "ALL":
            return item
        kept = {*self.keys, *self.table_keys, *(self.non_key if self.projection == "INCLUDE" else ())}
        return {name: value for name, value in item.items() if name in kept}


def index_write_units(index: IndexSpec, before: Item | None, after: Item | None) -> int:
    """Write units a table write costs in one global secondary index (GSI.html, "Write capacity units")."""
    old, new = index.entry(before), index.entry(after)
    if old is None and new is None:
        return 0  # not in the index before or after
    if old is None:
        return write_units(0, item_size(new))  # put
    if new is None:
        return write_units(item_size(old), 0)  # delete
    if any(old[key] != new[key] for key in index.keys):
        return write_units(item_size(old), 0) + write_units(0, item_size(new))  # delete + put
    if old == new:
        return 0  # the write did not touch the index
    return write_units(item_size(old), item_size(new))  # the projected attributes changed


# --- One call, as recorded ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Touched:
    """One item a call touched: the action on it and the item as stored before and after the call."""

    table: str
    action: str  # Get | Put | Update | Delete | ConditionCheck
    before: Item | None
    after: Item | None
    attempted: Item | None = None  # a failed conditional write: the item it tried to write (else None)


@dataclass(frozen=True)
class Call:
    operation: str  # GetItem, PutItem, UpdateItem, DeleteItem, TransactGetItems, TransactWriteItems, ...
    step: str  # which handler step made it (creator, validate, fulfil, authorizePayment, markProcessed)
    items: tuple[Touched, ...]
    consistent: bool = False  # ConsistentRead (GetItem)
    succeeded: bool = True
    moto_units: float | None = None  # what moto answered to ReturnConsumedCapacity=INDEXES (not AWS's rules)


@dataclass(frozen=True)
class Units:
    table_writes: float = 0.0  # write units on tables
    index_writes: float = 0.0  # write units on global secondary indexes
    reads: float = 0.0  # read units
    by_index: dict[str, float] = field(default_factory=dict)

    def __add__(self, other: Units) -> Units:
        by_index = dict(self.by_index)
        for name, units in other.by_index.items():
            by_index[name] = by_index.get(name, 0.0) + units
        return Units(
            self.table_writes + other.table_writes,
            self.index_writes + other.index_writes,
            self.reads + other.reads,
            by_index,
        )

    @property
    def writes(self) -> float:
        return self.table_writes + self.index_writes


SINGLE_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


def units_of(call: Call, indexes: dict[str, list[IndexSpec]]) -> Units:
    """The units ``call`` costs on AWS (module docstring: the rules and their pages)."""
    total = Units()
    transactional = call.operation.startswith("Transact")
    for touched in call.items:
        before, after = item_size(touched.before), item_size(touched.after)
        if touched.action == "Get":
            size = item_size(touched.before)
            reads = transactional_read_units(size) if transactional else read_units(size, call.consistent)
            total += Units(reads=reads)
            continue
        if touched.attempted is not None:
            # A failed condition: the units of the item it tried to write, and no index write (nothing changed).
            attempted = max(before, item_size(touched.attempted))
            units = transactional_write_units(attempted, 0) if transactional else write_units(attempted, 0)
            total += Units(table_writes=units)
            continue
        if touched.action == "ConditionCheck":
            # An item of the transaction: prepared and committed like the others ("two underlying reads or writes").
            total += Units(table_writes=transactional_write_units(before, 0))
            continue
        units = transactional_write_units(before, after) if transactional else write_units(before, after)
        by_index = {
            index.name: float(index_write_units(index, touched.before, touched.after))
            for index in indexes.get(touched.table, [])
        }
        total += Units(table_writes=units, index_writes=sum(by_index.values()), by_index=by_index)
    return total


# --- Failed conditional writes: the item the update tried to write -----------------------------------------------

_ASSIGNMENT = re.compile(r"^\s*(#?[\w.#]+)\s*=\s*(:\w+)\s*$")


def attempted_update(existing: Item | None, params: dict[str, Any]) -> Item | None:
    """The item an UpdateItem would have written: ``existing`` with its plain ``SET name = :value`` clauses applied
    and its ``REMOVE`` clause's names removed (the only forms our failed conditional updates use); other clauses
    (ADD, arithmetic) are left out, so the figure is a lower bound for them."""
    item = dict(existing or params.get("Key", {}))
    names = params.get("ExpressionAttributeNames", {})
    values = params.get("ExpressionAttributeValues", {})
    expression = params.get("UpdateExpression", "")
    for clause, body in re.findall(r"(SET|REMOVE|ADD|DELETE)\s+(.*?)(?=\s+(?:SET|REMOVE|ADD|DELETE)\s+|$)", expression):
        for part in body.split(","):
            if clause == "SET":
                match = _ASSIGNMENT.match(part)
                if match and "." not in match.group(1):
                    item[names.get(match.group(1), match.group(1))] = values[match.group(2)]
            elif clause == "REMOVE":
                item.pop(names.get(part.strip(), part.strip()), None)
    return item


# --- Recording the handlers' calls -------------------------------------------------------------------------------


def _key_of(item: Item, key_names: tuple[str, ...]) -> Item:
    return {name: item[name] for name in key_names}


class Recorder:
    """Records the DynamoDB calls of the given botocore clients with the items they touch, before and after."""

    def __init__(self, reader: Any, key_schemas: dict[str, tuple[str, ...]]) -> None:
        self._reader = reader  # our own DynamoDB client: its reads are not recorded
        self._keys = key_schemas
        self._pending = threading.local()
        self._lock = threading.Lock()
        self.step = "creator"
        self.calls: list[Call] = []

    def _read(self, table: str, key: Item) -> Item | None:
        response = self._reader.get_item(TableName=table, Key=key, ConsistentRead=True)
        item: Item | None = response.get("Item")
        return item

    def _targets(self, operation: str, params: dict[str, Any]) -> list[tuple[str, str, Item, dict[str, Any]]]:
        """(table, action, key, the action's parameters) for every item the call names."""
        if operation in ("GetItem", "UpdateItem", "DeleteItem"):
            action = {"GetItem": "Get", "UpdateItem": "Update", "DeleteItem": "Delete"}[operation]
            return [(params["TableName"], action, params["Key"], params)]
        if operation == "PutItem":
            table = params["TableName"]
            return [(table, "Put", _key_of(params["Item"], self._keys[table]), params)]
        if operation in ("TransactGetItems", "TransactWriteItems"):
            targets = []
            for entry in params["TransactItems"]:
                ((action, body),) = entry.items()
                table = body["TableName"]
                key = _key_of(body["Item"], self._keys[table]) if action == "Put" else body["Key"]
                targets.append((table, action, key, body))
            return targets
        raise ValueError(f"{operation}: not a call this module prices (no units computed for it)")

    def before_parameter_build(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        operation = model.name
        targets = self._targets(operation, params)
        before = [self._read(table, key) for table, _, key, _ in targets]
        self._pending.call = (operation, copy.deepcopy(params), targets, before)
        # Ask moto what it thinks the call consumed (compared, never used).
        params["ReturnConsumedCapacity"] = "INDEXES"

    def after_call(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        operation, params, targets, before = self._pending.call
        failed = "Error" in parsed
        items = []
        for (table, action, key, body), old in zip(targets, before, strict=True):
            new = self._read(table, key)
            attempted = None
            if failed and action in ("Put", "Update"):
                attempted = body["Item"] if action == "Put" else attempted_update(old, body)
            items.append(Touched(table, action, old, old if failed else new, attempted))
        consumed = parsed.get("ConsumedCapacity")
        moto: float | None = None
        if isinstance(consumed, dict):
            moto = float(consumed.get("CapacityUnits", 0.0))
        elif isinstance(consumed, list):
            moto = float(sum(entry.get("CapacityUnits", 0.0) for entry in consumed))
        call = Call(operation, self.step, tuple(items), bool(params.get("ConsistentRead")), not failed, moto)
        with self._lock:
            self.calls.append(call)

    def attach(self, clients: list[Any]) -> None:
        for client in clients:
            client.meta.events.register("before-parameter-build.dynamodb", self.before_parameter_build)
            client.meta.events.register("after-call.dynamodb", self.after_call)

    def detach(self, clients: list[Any]) -> None:
        for client in clients:
            client.meta.events.unregister("before-parameter-build.dynamodb", self.before_parameter_build)
            client.meta.events.unregister("after-call.dynamodb", self.after_call)


# --- One order of each kind on the local stack --------------------------------------------------------------------


@dataclass(frozen=True)
class OrderUnits:
    scenario: str
    calls: tuple[Call, ...]
    units: tuple[Units, ...]  # per call

    @property
    def total(self) -> Units:
        total = Units()
        for units in self.units:
            total += units
        return total

    @property
    def moto_total(self) -> float:
        return sum(call.moto_units or 0.0 for call in self.calls)


@dataclass(frozen=True)
class Measured:
    pickup: OrderUnits
    card: OrderUnits
    indexes: dict[str, list[IndexSpec]]

    def inputs(self) -> dict[str, float]:
        """The cost model's DynamoDB inputs (benchmarks/cost_model.Inputs): units per order paid at pickup, and
        what a card order adds."""
        pickup, card = self.pickup.total, self.card.total
        return {
            "table_writes": pickup.table_writes,
            "gsi_writes": pickup.index_writes,
            "table_reads": pickup.reads,
            "card_table_writes": card.table_writes - pickup.table_writes,
            "card_gsi_writes": card.index_writes - pickup.index_writes,
            "card_table_reads": card.reads - pickup.reads,
        }

    def apply(self, inputs: cost_model.Inputs) -> cost_model.Inputs:
        """``inputs`` (a benchmarks.cost_model.Inputs) with the measured units in place of the assumed counts."""
        measured = self.inputs()
        table_writes = measured["table_writes"]
        if table_writes != int(table_writes):
            raise ValueError(f"write units come whole: {table_writes}")
        return dataclasses.replace(
            inputs,
            table_writes=int(table_writes),
            gsi_writes=measured["gsi_writes"],
            table_reads=measured["table_reads"],
            card_table_writes=measured["card_table_writes"],
            card_gsi_writes=measured["card_gsi_writes"],
            card_table_reads=measured["card_table_reads"],
        )


def _schemas(reader: Any, tables: list[str]) -> tuple[dict[str, tuple[str, ...]], dict[str, list[IndexSpec]]]:
    keys: dict[str, tuple[str, ...]] = {}
    indexes: dict[str, list[IndexSpec]] = {}
    for table in tables:
        description = reader.describe_table(TableName=table)["Table"]
        keys[table] = tuple(element["AttributeName"] for element in description["KeySchema"])
        indexes[table] = [
            IndexSpec(
                name=index["IndexName"],
                keys=tuple(element["AttributeName"] for element in index["KeySchema"]),
                table_keys=keys[table],
                projection=index["Projection"]["ProjectionType"],
                non_key=tuple(index["Projection"].get("NonKeyAttributes", ())),
            )
            for index in description.get("GlobalSecondaryIndexes", [])
        ]
    return keys, indexes


CARD = "pm_card_visa"  # the local Stripe emulator authorizes and captures it


def _order(index: int, card: bool) -> dict[str, Any]:
    from benchmarks.load_generator import sample_order

    order = sample_order(index)
    if card:
        order["paymentMethod"] = CARD
    return order


def measure() -> Measured:
    """One order paid at pickup and one paid by card, each after a warm-up order of its kind."""
    from snacks import operations
    from snacks.aws import Aws
    from snacks.local import LocalStack

    with LocalStack(port=0) as stack:
        aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
        reader = aws.client("dynamodb")
        for warm, card in ((0, False), (1, True)):  # load the handlers and the payment client
            reply = operations.invoke_creator(aws, _order(warm, card))
            operations.wait_for_final(aws, str(reply["orderId"]))
        stack.wait_until_idle(timeout=30)
        keys, indexes = _schemas(reader, [aws.names.orders_table, aws.names.inventory_table])
        clients = _dynamodb_clients()
        measured = []
        for index, (scenario, card) in enumerate((("pickup", False), ("card", True)), start=2):
            recorder = Recorder(reader, keys)
            _follow_steps(recorder)
            recorder.attach(clients)
            try:
                reply = operations.invoke_creator(aws, _order(index, card))
                order = operations.wait_for_final(aws, str(reply["orderId"]))
                stack.wait_until_idle(timeout=30)
            finally:
                recorder.detach(clients)
                _unfollow_steps()
            if order is None or order.status.value != "PROCESSED":
                raise RuntimeError(f"the {scenario} order did not end PROCESSED: {order}")
            calls = tuple(recorder.calls)
            measured.append(OrderUnits(scenario, calls, tuple(units_of(call, indexes) for call in calls)))
        return Measured(measured[0], measured[1], indexes)


def _dynamodb_clients() -> list[Any]:
    creator = sys.modules["order_service.handlers.order_creator"]
    processor = sys.modules["order_service.handlers.order_processor"]
    clients = [creator.orders._client, processor.processor._orders._client, processor.processor._stock._client]
    return list({id(client): client for client in clients}.values())


_followed: list[tuple[Any, str, Any]] = []


def _follow_steps(recorder: Recorder) -> None:
    """Name each call by the processor step that made it (the steps run one at a time for one order)."""
    processor = sys.modules["order_service.handlers.order_processor"].processor
    for method, step in (
        ("validate", "validate"),
        ("fulfil", "fulfil"),
        ("authorize_payment", "authorizePayment"),
        ("mark_processed", "markProcessed"),
    ):
        original = getattr(processor, method)

        def wrapped(*args: Any, _original: Any = original, _step: str = step, **kwargs: Any) -> Any:
            recorder.step = _step
            return _original(*args, **kwargs)

        setattr(processor, method, wrapped)
        _followed.append((processor, method, original))


def _unfollow_steps() -> None:
    while _followed:
        owner, method, _ = _followed.pop()
        delattr(owner, method)  # back to the class's method


# --- Report --------------------------------------------------------------------------------------------------------


def describe(order: OrderUnits) -> list[str]:
    lines = [f"{order.scenario} order:"]
    for call, units in zip(order.calls, order.units, strict=True):
        sizes = ", ".join(
            f"{touched.table}/{touched.action} "
            f"{item_size(touched.before)}->{item_size(touched.after)} B"
            + (f" (tried {item_size(touched.attempted)} B)" if touched.attempted is not None else "")
            for touched in call.items
        )
        indexes = "".join(f", {name} {value:g} WRU" for name, value in units.by_index.items() if value)
        lines.append(
            f"  {call.step:16} {call.operation:18} {'' if call.succeeded else '(condition failed) '}{sizes}"
            f"{' consistent' if call.consistent else ''}: {units.table_writes:g} WRU table{indexes}, "
            f"{units.reads:g} RRU; moto says {call.moto_units if call.moto_units is not None else '-'}"
        )
    total = order.total
    lines.append(
        f"  total: {total.table_writes:g} WRU table + {total.index_writes:g} WRU index = {total.writes:g} WRU, "
        f"{total.reads:g} RRU (moto's ConsumedCapacity adds up to {order.moto_total:g})"
    )
    return lines


def main() -> int:
    measured = measure()
    for order in (measured.pickup, measured.card):
        print("\n".join(describe(order)))
    for table, specs in measured.indexes.items():
        for spec in specs:
            print(f"index {table}/{spec.name}: keys {spec.keys}, projection {spec.projection}")
    # Lambda figures do not change the DynamoDB line; any stand-in will do for the totals' comparison.
    assumed = cost_model.Inputs(creator_ms=20.0, step_ms=20.0)
    real = measured.apply(assumed)
    print("inputs measured:", {name: round(value, 2) for name, value in measured.inputs().items()})
    # What the same calls would cost with the status index projecting keys only (a what-if, not the design).
    keys_only = {
        table: [dataclasses.replace(spec, projection="KEYS_ONLY") for spec in specs]
        for table, specs in measured.indexes.items()
    }
    for order in (measured.pickup, measured.card):
        what_if = sum((units_of(call, keys_only) for call in order.calls), Units())
        print(f"{order.scenario} with a KEYS_ONLY status index: {what_if.index_writes:g} WRU index")
    for label, inputs in (("assumed", assumed), ("measured", real)):
        express = cost_model.estimate(inputs)[0]
        print(
            f"{label}: DynamoDB ${express.per_million['DynamoDB']:.2f} per million orders; "
            f"this design ${express.total:.2f} (creator/step 20 ms, 12 KB execution log: the model's defaults)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
