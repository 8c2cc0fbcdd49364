"""``--state-dir``: orders, idempotency records, dead letters and execution logs survive a restart,
so ``snacks trace`` and ``snacks dlq replay`` carry on where the last session stopped."""

from __future__ import annotations

import time
from pathlib import Path

from snacks import operations
from snacks.aws import Aws
from snacks.trace import build_trace, fetch_history
from stacks import definitions


def order(name: str) -> dict[str, object]:
    return {"customerName": "State Dir", "snackItems": [{"name": name, "quantity": 1, "price": 1}], "totalAmount": 1}


def test_state_survives_a_restart_and_the_dead_letter_replays_after_it(tmp_path: Path) -> None:
    from snacks.local import LocalStack

    with LocalStack(port=0, state_dir=tmp_path, fulfillment_faults="Doom Donut=permanent", virtual_time=True) as first:
        aws = Aws(endpoint_url=first.endpoint_url, region=first.region)
        processed_id = operations.invoke_creator(aws, {**order("Pretzels"), "idempotencyKey": "state-dir-1"})["orderId"]
        failed_id = operations.invoke_creator(aws, order("Doom Donut"))["orderId"]
        for order_id in (processed_id, failed_id):
            assert operations.wait_for_final(aws, order_id, timeout=30) is not None
        processed = operations.get_order(aws, processed_id)
        assert processed is not None and processed.status.value == "PROCESSED"
        started = time.perf_counter()
    assert (tmp_path / "state.json").exists()

    with LocalStack(port=0, state_dir=tmp_path, virtual_time=True) as second:  # no faults now: the "fix"
        restart = time.perf_counter() - started
        aws = Aws(endpoint_url=second.endpoint_url, region=second.region)
        assert second.restored is not None and second.restored.items >= 2 and second.restored.messages == 1
        again = operations.get_order(aws, processed_id)
        assert again is not None and again.as_item() == processed.as_item()
        # The idempotency record came back: the same key answers with the same order, no new one.
        replay = operations.invoke_creator(aws, {**order("Pretzels"), "idempotencyKey": "state-dir-1"})
        assert replay["orderId"] == processed_id
        assert processed.execution_arn is not None
        trace = build_trace(processed.execution_arn, fetch_history(aws, processed.execution_arn))
        assert trace.status == "SUCCEEDED"
        letters = operations.list_dead_letters(aws)
        assert [letter.order_id for letter in letters] == [failed_id]
        outcomes = operations.replay_dead_letters(aws, failed_id, dry_run=False)
        assert [outcome.outcome for outcome in outcomes] == ["replayed"]
        final = operations.wait_for_final(aws, failed_id, timeout=30)
        assert final is not None and final.status.value == "PROCESSED"
        print(f"\nrestart with --state-dir: stop + save + start + restore in {restart * 1000:.0f} ms")


def test_without_a_state_dir_state_is_in_memory_only() -> None:
    from snacks.local import LocalStack

    with LocalStack(port=0, virtual_time=True) as stack:
        assert stack.state_dir is None and stack.health()["stateDir"] is None
        assert stack.client("dynamodb").scan(TableName=definitions.ORDERS_TABLE)["Count"] == 0
