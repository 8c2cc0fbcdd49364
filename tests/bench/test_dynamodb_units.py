"""The request-unit rules benchmarks/dynamodb_units.py prices an order's DynamoDB calls with, on cases small
enough to compute by hand. Each rule is AWS's, cited where it is tested (Amazon DynamoDB Developer Guide)."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import cost_model
from benchmarks.dynamodb_units import (
    Call,
    IndexSpec,
    Measured,
    OrderUnits,
    Touched,
    Units,
    attempted_update,
    index_write_units,
    item_size,
    read_units,
    transactional_read_units,
    transactional_write_units,
    units_of,
    write_units,
)
from stacks import definitions

# "DynamoDB item sizes and formats": https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
SIZES = "CapacityUnitCalculations.html"
# "DynamoDB read and write operations": https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
READ_WRITE = "read-write-operations.html"

STATUS_INDEX = IndexSpec(
    name=definitions.STATUS_INDEX,
    keys=(definitions.STATUS_INDEX_PARTITION_KEY, definitions.STATUS_INDEX_SORT_KEY),
    table_keys=(definitions.ORDERS_PARTITION_KEY,),
    projection="ALL",  # stacks/constructs/storage.py: ProjectionType.ALL
)


def padded(status: str, pad: int = 0, **more: Any) -> dict[str, Any]:
    """An order item: orderId "o1" (7 + 2 = 9 B), status (6 + its length), createdAt "t" (9 + 1 = 10 B), and ``pad``
    bytes more (attribute "pad", 3 B + a string): 28 B + pad when NEW."""
    item: dict[str, Any] = {"orderId": {"S": "o1"}, "status": {"S": status}, "createdAt": {"S": "t"}}
    if pad:
        item["pad"] = {"S": "x" * (pad - 3)}  # name "pad" 3 B + value
    item.update(more)
    return item


# --- item sizes ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "size"),
    [
        ({"orderId": {"S": "abc"}}, 7 + 3),  # string: name bytes + UTF-8 bytes
        ({"name": {"S": "é"}}, 4 + 2),  # UTF-8, not characters
        ({"n": {"N": "123.45"}}, 1 + 3 + 1),  # 5 significant digits: 3 bytes, + 1
        ({"n": {"N": "0.00100"}}, 1 + 1 + 1),  # leading and trailing zeros trimmed: 1 digit
        ({"n": {"N": "1000"}}, 1 + 1 + 1),
        ({"ok": {"BOOL": True}}, 2 + 1),  # Boolean: 1 byte
        ({"gone": {"NULL": True}}, 4 + 1),
        ({"m": {"M": {"a": {"S": "xy"}}}}, 1 + 3 + (1 + 1 + 2)),  # map: 3 B + each element + 1 B per element
        ({"l": {"L": [{"N": "1"}, {"BOOL": False}]}}, 1 + 3 + (1 + 2) + (1 + 1)),  # list: the same
        ({"m": {"M": {}}}, 1 + 3),  # empty map: name + 3
    ],
)
def test_item_size_follows_the_documented_formats(item: dict[str, object], size: int) -> None:
    # SIZES: "The total size of an item is the sum of the lengths of its attribute names and values".
    assert item_size(item) == size


# --- reads: 4 KB, consistency, transactions -----------------------------------------------------------------------


def test_a_read_costs_one_unit_per_4_kb_rounded_up_and_half_when_eventually_consistent() -> None:
    # READ_WRITE, Capacity unit consumption for read operations: "Item sizes for reads are rounded up to the next
    # 4 KB multiple"; an eventually consistent read is half a unit per 4 KB; a missing item still costs the read.
    assert read_units(4096, consistent=True) == 1
    assert read_units(4097, consistent=True) == 2
    assert read_units(4097, consistent=False) == 1
    assert read_units(100, consistent=False) == 0.5
    assert read_units(0, consistent=True) == 1  # "a strongly consistent read ... of a nonexistent item consumes 1"


def test_a_transactional_read_costs_two_units_per_4_kb() -> None:
    # READ_WRITE: "A transactional read request of an item up to 4 KB requires two read units."
    assert transactional_read_units(4096) == 2
    assert transactional_read_units(8193) == 6


# --- writes: 1 KB, before/after, transactions ---------------------------------------------------------------------


def test_a_write_costs_one_unit_per_1_kb_of_the_larger_of_before_and_after() -> None:
    # READ_WRITE, Capacity unit consumption for write operations: rounded up to the next 1 KB; UpdateItem "reflects
    # the larger of these item sizes" (before and after), even for a subset of the attributes.
    assert write_units(0, 1024) == 1
    assert write_units(0, 1025) == 2
    assert write_units(1000, 1100) == 2  # grew past 1 KB
    assert write_units(1100, 1000) == 2  # shrank below it: the larger still counts
    assert write_units(0, 1) == 1


def test_a_transactional_write_costs_two_units_per_1_kb() -> None:
    # READ_WRITE: "Transactional write requests require 2 write units to perform one write for items up to 1 KB";
    # "Amazon DynamoDB Transactions: How it works" (transaction-apis.html), Capacity management for transactions:
    # "two underlying reads or writes of every item in the transaction".
    assert transactional_write_units(0, 1024) == 2
    assert transactional_write_units(1000, 2049) == 6


# --- the status index ---------------------------------------------------------------------------------------------
# Developer Guide, "Provisioned throughput considerations for Global Secondary Indexes", Write capacity units
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html).


def test_a_new_item_with_the_index_keys_is_one_put_in_the_index() -> None:
    assert index_write_units(STATUS_INDEX, None, padded("NEW")) == 1


def test_changing_the_index_key_costs_a_delete_and_a_put() -> None:
    # "If an update to the table changes the value of an indexed key attribute (from A to B), two writes are
    # required, one to delete the previous item from the index and another write to put the new item into the index."
    assert index_write_units(STATUS_INDEX, padded("NEW"), padded("PROCESSED")) == 2
    # Each of the two by the entry's size: 1,500 B before (2 units) and after (2 units).
    assert index_write_units(STATUS_INDEX, padded("NEW", pad=1500), padded("PROCESSED", pad=1500)) == 4


def test_changing_only_projected_attributes_costs_one_write_and_nothing_changed_costs_none() -> None:
    # "If an update to the table only changes the value of projected attributes ... one write is required"
    assert index_write_units(STATUS_INDEX, padded("NEW"), padded("NEW", pad=10)) == 1
    # "If a write to a table does not require a global secondary index update, no write capacity is consumed
    # from the index": the same entry before and after.
    assert index_write_units(STATUS_INDEX, padded("NEW"), padded("NEW")) == 0


def test_an_item_outside_the_index_costs_nothing_there_and_leaving_it_costs_a_delete() -> None:
    no_key = {"orderId": {"S": "o1"}, "createdAt": {"S": "t"}}
    # "If an item is not present in the index before or after the item is updated, there is no additional write cost"
    assert index_write_units(STATUS_INDEX, no_key, {**no_key, "x": {"S": "y"}}) == 0
    # "If an item was present in the index, but a write to the table caused the indexed attribute to be deleted,
    # one write is required to delete the old item projection from the index."
    assert index_write_units(STATUS_INDEX, padded("NEW"), no_key) == 1


def test_a_keys_only_index_is_not_written_when_an_unprojected_attribute_changes() -> None:
    keys_only = IndexSpec("by-status", ("status",), ("orderId",), projection="KEYS_ONLY")
    assert index_write_units(keys_only, padded("NEW"), padded("NEW", pad=10)) == 0
    assert index_write_units(keys_only, padded("NEW"), padded("REJECTED")) == 2


# --- a whole call --------------------------------------------------------------------------------------------------


def test_a_transaction_doubles_its_items_condition_checks_included_but_not_the_index_write() -> None:
    # The order (500 B -> 600 B, still NEW: its index entry's projection changes) and a ConditionCheck of a
    # missing stock record: 2 + 2 WRU on the tables; the index's one write propagates after the transaction.
    reserve = Call(
        "TransactWriteItems",
        "fulfil",
        (
            Touched("Orders", "Update", padded("NEW", pad=500 - 28), padded("NEW", pad=600 - 28)),
            Touched("Inventory", "ConditionCheck", None, None),
        ),
    )
    units = units_of(reserve, {"Orders": [STATUS_INDEX]})
    assert item_size(padded("NEW", pad=500 - 28)) == 500
    assert (units.table_writes, units.index_writes, units.reads) == (4, 1, 0)
    assert units.by_index == {STATUS_INDEX.name: 1}


def test_marking_processed_costs_the_table_write_and_a_delete_plus_put_in_the_status_index() -> None:
    mark = Call("UpdateItem", "markProcessed", (Touched("Orders", "Update", padded("NEW"), padded("PROCESSED")),))
    units = units_of(mark, {"Orders": [STATUS_INDEX]})
    assert (units.table_writes, units.index_writes) == (1, 2)


def test_reads_price_by_consistency_and_transaction() -> None:
    get = Call("GetItem", "validate", (Touched("Orders", "Get", padded("NEW"), padded("NEW")),), consistent=True)
    eventually = Call("GetItem", "validate", (Touched("Orders", "Get", padded("NEW"), padded("NEW")),))
    levels = Call("TransactGetItems", "fulfil", (Touched("Inventory", "Get", None, None),) * 2)
    assert units_of(get, {}).reads == 1
    assert units_of(eventually, {}).reads == 0.5
    assert units_of(levels, {}).reads == 4


def test_a_failed_conditional_update_costs_the_item_it_tried_to_write_and_no_index_write() -> None:
    # READ_WRITE: "If the expression evaluates to false, DynamoDB still consumes write capacity units from the
    # table ... depends on the size of the item ... an existing item in the table or a new one you're attempting
    # to create or update."
    existing = padded("NEW", pad=1000)  # 1,028 B
    params = {
        "Key": {"orderId": {"S": "o1"}},
        "UpdateExpression": "SET #f0 = :f0, #f1 = :f1 REMOVE #r0",
        "ExpressionAttributeNames": {"#f0": "status", "#f1": "processedAt", "#r0": "pad"},
        "ExpressionAttributeValues": {":f0": {"S": "PROCESSED"}, ":f1": {"S": "2026"}},
    }
    tried = attempted_update(existing, params)
    assert tried == {**padded("PROCESSED"), "processedAt": {"S": "2026"}}
    failed = Call(
        "UpdateItem", "markProcessed", (Touched("Orders", "Update", existing, existing, tried),), succeeded=False
    )
    units = units_of(failed, {"Orders": [STATUS_INDEX]})
    assert (units.table_writes, units.index_writes) == (2, 0)  # the larger: the 1,028 B item as it stands


# --- into the cost model -------------------------------------------------------------------------------------------


def test_the_cost_model_prices_the_measured_units_and_a_card_orders_extra_at_the_card_share() -> None:
    def order(scenario: str, units: Units) -> OrderUnits:
        return OrderUnits(scenario, (Call("GetItem", "validate", ()),), (units,))

    measured = Measured(order("pickup", Units(6, 3, 2.5)), order("card", Units(10, 5, 3.5)), {})
    inputs = measured.inputs()
    assert inputs == {
        "table_writes": 6,
        "gsi_writes": 3,
        "table_reads": 2.5,
        "card_table_writes": 4,
        "card_gsi_writes": 2,
        "card_table_reads": 1,
    }
    model = measured.apply(cost_model.Inputs(creator_ms=10, step_ms=10, card_share=0.5))
    assert (model.table_writes, model.gsi_writes, model.card_table_reads) == (6, 3, 1)
    (express, *_) = cost_model.estimate(model, orders=1e6)
    # Per order: (6 + 3 + 0.5 x (4 + 2)) WRU x $0.625/M + (2.5 + 0.5 x 1) RRU x $0.125/M, per million orders.
    assert express.per_million["DynamoDB"] == pytest.approx(12 * 0.625 + 3 * 0.125)


def test_the_first_models_hand_count_still_prices_at_5_50_per_million() -> None:
    # The defaults are the assumed counts the measurement replaces: (3 + 3 + 0.5 x (2 + 2)) WRU + 4 RRU.
    (express, *_) = cost_model.estimate(cost_model.Inputs(creator_ms=10, step_ms=10))
    assert express.per_million["DynamoDB"] == pytest.approx(5.50)


# --- the recorder, on moto in-process ------------------------------------------------------------------------------


def test_the_recorder_sees_each_calls_items_before_and_after_and_prices_them() -> None:
    import boto3
    from moto import mock_aws

    from benchmarks.dynamodb_units import Recorder

    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        client, reader = session.client("dynamodb"), session.client("dynamodb")
        client.create_table(
            TableName="Orders",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"} for name in ("orderId", "status", "createdAt")
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": STATUS_INDEX.name,
                    "KeySchema": [
                        {"AttributeName": "status", "KeyType": "HASH"},
                        {"AttributeName": "createdAt", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        client.create_table(
            TableName="Inventory",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "snackName", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "snackName", "AttributeType": "S"}],
        )
        recorder = Recorder(reader, {"Orders": ("orderId",), "Inventory": ("snackName",)})
        recorder.attach([client])
        key = {"orderId": {"S": "o1"}}
        client.put_item(TableName="Orders", Item=padded("NEW", pad=1000))  # 1,028 B
        client.get_item(TableName="Orders", Key=key, ConsistentRead=True)
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "Orders",
                        "Key": key,
                        "UpdateExpression": "REMOVE #p",
                        "ExpressionAttributeNames": {"#p": "pad"},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": "Inventory",
                        "Key": {"snackName": {"S": "Pretzels"}},
                        "ConditionExpression": "attribute_not_exists(snackName)",
                    }
                },
            ]
        )
        client.update_item(
            TableName="Orders",
            Key=key,
            UpdateExpression="SET #s = :p",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":p": {"S": "PROCESSED"}},
        )
        with pytest.raises(client.exceptions.ConditionalCheckFailedException):
            client.update_item(
                TableName="Orders",
                Key=key,
                UpdateExpression="SET #s = :n",
                ConditionExpression="#s = :n",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":n": {"S": "NEW"}},
            )
        recorder.detach([client])
        client.get_item(TableName="Orders", Key=key)  # not recorded
    indexes = {"Orders": [STATUS_INDEX]}
    priced = [(call.operation, call.succeeded, units_of(call, indexes)) for call in recorder.calls]
    assert [
        (operation, ok, units.table_writes, units.index_writes, units.reads) for operation, ok, units in priced
    ] == [
        ("PutItem", True, 2, 2, 0),  # 1,028 B: 2 WRU, and 2 for its index entry
        ("GetItem", True, 0, 0, 1),  # strongly consistent, <= 4 KB
        ("TransactWriteItems", True, 2 * 2 + 2, 2, 0),  # 1,028 B -> 28 B (2 x 2), the check (2 x 1); index: 1,028 B
        ("UpdateItem", True, 1, 2, 0),  # status NEW -> PROCESSED: a delete and a put in the index
        ("UpdateItem", False, 1, 0, 0),  # failed: the item it tried to write (NEW, 28 B), nothing in the index
    ]
    # moto answers ReturnConsumedCapacity with a constant per operation: 0.5 for this strongly consistent read that
    # AWS bills 1, nothing for the transaction. The module reports it beside its own figures and never uses it.
    assert [call.moto_units for call in recorder.calls][1:3] == [0.5, 0.0]
