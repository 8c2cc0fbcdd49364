"""A named stage on the local stack: the same names `cdk deploy -c stage=NAME` gives, and the CLI's --stage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from snacks.cli import main
from stacks import definitions

STAGE = "dev"


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    from snacks.local import LocalStack

    with LocalStack(port=0, stage=STAGE, virtual_time=True) as local:
        yield local


def _physical_names(stack: Any) -> set[str]:
    names: set[str] = set(stack.client("dynamodb").list_tables()["TableNames"])
    names |= {f["FunctionName"] for f in stack.client("lambda").list_functions()["Functions"]}
    names |= {b["Name"] for b in stack.client("events").list_event_buses()["EventBuses"]} - {"default"}
    names |= {url.rsplit("/", 1)[1] for url in stack.client("sqs").list_queues().get("QueueUrls", [])}
    names |= {m["name"] for m in stack.client("stepfunctions").list_state_machines()["stateMachines"]}
    names |= {g["logGroupName"] for g in stack.client("logs").describe_log_groups()["logGroups"]}
    for bus in stack.client("events").list_event_buses()["EventBuses"]:
        names |= {r["Name"] for r in stack.client("events").list_rules(EventBusName=bus["Name"])["Rules"]}
    return names


def test_every_resource_carries_the_stages_names_and_none_the_seeds(stack: Any) -> None:
    """The stage's names are those the CDK stack deploys for ``-c stage=dev``
    (``stacks.definitions.resource_names``; tests/infra checks the template side)."""
    names = definitions.resource_names(STAGE)
    served = _physical_names(stack)
    expected = {
        names.orders_table,
        names.inventory_table,
        names.idempotency_table,
        *names.functions,
        names.event_bus,
        names.order_created_rule,
        names.dead_letter_queue,
        names.state_machine,
        names.state_machine_log_group,
        *(names.function_log_group(function) for function in names.functions),
    }
    assert expected <= served, sorted(expected - served)
    seed = set(definitions.NAMES.physical().values())
    assert not served & seed, sorted(served & seed)


def test_the_cli_with_stage_runs_an_order_through_that_stage(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--endpoint-url", stack.endpoint_url, "--region", stack.region]
    payload = json.dumps(
        {"customerName": "Ada", "snackItems": [{"name": "Nuts", "quantity": 1, "price": 2.5}], "totalAmount": 2.5}
    )
    assert main([*base, "--stage", STAGE, "orders", "create", "--payload", payload, "--wait", "20"]) == 0
    reply = capsys.readouterr().out
    order_id = json.loads(reply[: reply.rindex("}") + 1])["orderId"]
    stored = stack.client("dynamodb").get_item(
        TableName=definitions.resource_names(STAGE).orders_table, Key={"orderId": {"S": order_id}}
    )["Item"]
    assert stored["status"]["S"] == "PROCESSED"
    # Without --stage the CLI looks for the seed's names, which this stack does not serve: it says so
    # (the stack's health endpoint names its stage), not "wrong --region" (issue 17, item 14).
    for command in (["orders", "get", order_id], ["orders", "list"], ["dlq", "list"], ["trace", order_id]):
        assert main([*base, *command]) == 1
        error = capsys.readouterr().err
        assert error.count("\n") == 1, error
        assert f"serves stage '{STAGE}', not the seed's names (no stage): pass --stage {STAGE}" in error
        assert "region" not in error


def test_the_health_endpoint_says_which_stage(stack: Any) -> None:
    assert stack.health()["stage"] == STAGE
    assert stack.health()["functions"] == sorted(definitions.resource_names(STAGE).functions)
