"""The seed's integration test: create with `aws lambda invoke`, find it PROCESSED with `aws dynamodb scan`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from order_service.domain.order import OrderStatus
from snacks import operations
from snacks.aws import Aws
from stacks import definitions

from .conftest import DEPLOYED

AWS_CLI = shutil.which("aws", path=str(Path(sys.executable).parent)) or "aws"
SEED_BOB = {
    "customerName": "Bob Wilson",
    "snackItems": [{"name": "Nuts", "quantity": 3, "price": 5.99}],
    "totalAmount": 17.97,
}


def aws_cli(pipeline: Aws, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ)
    if pipeline.endpoint_url:
        environment.update(
            AWS_ENDPOINT_URL=pipeline.endpoint_url,
            AWS_DEFAULT_REGION=str(pipeline.region),
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",
        )
        environment.pop("AWS_SESSION_TOKEN", None)
    return subprocess.run([AWS_CLI, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=60)


def test_seed_cli_flow_reaches_processed_within_seconds(pipeline: Aws, tmp_path: Path) -> None:
    created = aws_cli(
        pipeline,
        "lambda", "invoke", "--function-name", "order-creator",
        "--payload", json.dumps(SEED_BOB),
        "response.json",
        cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    reply = json.loads((tmp_path / "response.json").read_text())
    assert reply["statusCode"] == 201 and reply["status"] == "NEW"
    order_id = reply["orderId"]

    deadline = time.monotonic() + (30 if DEPLOYED else 10)
    found: list[dict[str, object]] = []
    while time.monotonic() < deadline and not found:
        scan = aws_cli(
            pipeline,
            "dynamodb", "scan", "--table-name", "Orders",
            "--filter-expression", "#status = :status",
            "--expression-attribute-names", '{"#status": "status"}',
            "--expression-attribute-values", '{":status": {"S": "PROCESSED"}}',
            cwd=tmp_path,
        )  # fmt: skip
        assert scan.returncode == 0, scan.stderr
        found = [item for item in json.loads(scan.stdout)["Items"] if item["orderId"]["S"] == order_id]
        if not found:
            time.sleep(0.2)
    assert found, f"order {order_id} was not PROCESSED in time"
    item = found[0]
    assert item["customerName"]["S"] == "Bob Wilson"
    assert item["totalAmount"]["N"] == "17.97"
    assert item["processedAt"]["S"] >= item["createdAt"]["S"]


def test_invalid_order_is_rejected_with_field_errors_and_nothing_stored(pipeline: Aws) -> None:
    before = {order.order_id for order in operations.list_orders(pipeline)}
    reply = operations.invoke_creator(pipeline, {**SEED_BOB, "totalAmount": 17.98, "coupon": "FREE"})
    assert reply["statusCode"] == 400
    assert {detail["field"] for detail in reply["details"]} == {"totalAmount", "coupon"}
    assert {order.order_id for order in operations.list_orders(pipeline)} == before


SEED_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")  # e.g. 2025-10-26T10:30:00.000Z


def test_processed_order_has_the_seed_record_format(pipeline: Aws) -> None:
    """The item as stored (DynamoDB's typed attributes, read with GetItem), not as our parser
    reads it back: a field the parser would default must really be there, with its type."""
    reply = operations.invoke_creator(pipeline, SEED_BOB)
    order = operations.wait_for_final(pipeline, reply["orderId"], timeout=30)
    assert order is not None and order.status is OrderStatus.PROCESSED
    item = pipeline.client("dynamodb").get_item(
        TableName=definitions.ORDERS_TABLE, Key={"orderId": {"S": order.order_id}}, ConsistentRead=True
    )["Item"]
    types = {"orderId": "S", "status": "S", "customerName": "S", "snackItems": "L", "totalAmount": "N"}
    types |= {stamp: "S" for stamp in ("createdAt", "updatedAt", "processedAt")}
    assert {field: next(iter(item[field]), None) for field in types if field in item} == types
    assert item["orderId"]["S"] == reply["orderId"] and item["status"]["S"] == "PROCESSED"
    assert item["customerName"]["S"] == "Bob Wilson" and item["totalAmount"]["N"] == "17.97"
    assert item["snackItems"]["L"] == [{"M": {"name": {"S": "Nuts"}, "quantity": {"N": "3"}, "price": {"N": "5.99"}}}]
    stamps = [item[stamp]["S"] for stamp in ("createdAt", "updatedAt", "processedAt")]
    assert all(SEED_TIMESTAMP.match(stamp) for stamp in stamps), stamps
    created, updated, processed = stamps
    assert created <= processed <= updated


@pytest.mark.skipif(DEPLOYED, reason="the demo runs its own embedded local stack")
def test_demo_command_runs_the_flow_and_exits_zero() -> None:
    result = subprocess.run([sys.executable, "-m", "snacks.cli", "demo"], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all as expected" in result.stdout
    assert result.stdout.count("PROCESSED (as expected)") == 5
    assert "FAILED (as expected)" in result.stdout
    assert "REJECTED (as expected)" in result.stdout and "rejected: OutOfStock" in result.stdout
    assert "-> 200 CANCELLED (as expected)" in result.stdout
