"""The README's tear-down table and running costs are the synthesized template's, counted, not typed."""

from __future__ import annotations

import json
import re

from stacks import definitions as d
from stacks import idle_cost
from tests.support.synth import Synthesized

README = (d.REPO_ROOT / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"### {title}\n")
    following = README.find("\n### ", start + 1)
    return README[start : following if following > 0 else len(README)]


def test_the_readmes_running_costs_are_the_templates_count(synth: Synthesized) -> None:
    """Every line ``make idle-cost`` prints for the default stage appears verbatim in the README."""
    section = _section("Running costs")
    for line in idle_cost.idle_cost(synth.raw).lines():
        assert line in section, f"README's Running costs is stale; `make idle-cost` prints: {line}"


def test_idle_cost_counts_each_billable_resource_of_the_template(synth: Synthesized) -> None:
    cost = idle_cost.idle_cost(synth.raw)
    assert cost.kms_keys == len(synth.resources("AWS::KMS::Key")) == 2
    assert cost.alarm_metrics == len(synth.resources("AWS::CloudWatch::Alarm"))
    assert cost.dashboards == 1
    assert cost.secrets == len(synth.resources("AWS::SecretsManager::Secret")) == 1  # the Stripe secret key
    assert set(cost.pitr_tables) == {d.ORDERS_TABLE, d.INVENTORY_TABLE, d.IDEMPOTENCY_TABLE}
    reconciler = (d.LAMBDA_ASSET_DIR / "order_service" / "handlers" / "order_reconciler.py").read_text()
    emitted = set(re.findall(r'add_metric\(\s*name="(\w+)"', reconciler))
    assert set(idle_cost.RECONCILER_IDLE_METRICS) == emitted  # emitted on every scheduled run
    assert cost.monthly == round(2 * 1.00 + cost.alarm_metrics * 0.10 + 3.00 + 2 * 0.30 + 1 * 0.40, 2)


def test_a_metric_math_alarm_is_billed_per_metric() -> None:
    """CloudWatch pricing: alarms are billed per alarm metric; a metric-math alarm reads several."""
    template = {
        "Resources": {
            "Plain": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "Errors"}},
            "Math": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "Metrics": [
                        {"Id": "e", "Expression": "a + b"},
                        {"Id": "a", "MetricStat": {}},
                        {"Id": "b", "MetricStat": {}},
                    ]
                },
            },
        }
    }
    assert idle_cost.idle_cost(template).alarm_metrics == 3


def test_the_readmes_tear_down_table_lists_exactly_what_the_template_retains(synth: Synthesized) -> None:
    """CloudFormation "DeletionPolicy attribute": ``Retain`` and ``RetainExceptOnCreate`` keep a resource when
    the stack is deleted; everything else is deleted (KMS keys: scheduled for deletion,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-kms-key.html). The README's
    "survives" rows name each retained resource, and no deleted one as surviving."""
    section = _section("Tear down")
    survivors = [line.split("|")[1] for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    survivors_text = " ".join(survivors[1:])  # without the header row
    retained = {
        json.dumps(resource["Properties"].get("TableName") or resource["Properties"].get("QueueName"))
        for resource in synth.raw["Resources"].values()
        if resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
    }
    assert retained == {json.dumps(d.ORDERS_TABLE), json.dumps(d.INVENTORY_TABLE)}
    for name in retained:
        assert f"`{json.loads(name)}`" in survivors_text, name
    for resource in synth.raw["Resources"].values():
        if resource.get("DeletionPolicy") not in ("Retain", "RetainExceptOnCreate"):
            for key in ("TableName", "QueueName", "LogGroupName"):
                name = resource.get("Properties", {}).get(key)
                if isinstance(name, str):
                    assert f"`{name}`" not in survivors_text, f"{name} is deleted with the stack"
    assert "KMS keys" in survivors_text and len(synth.resources("AWS::KMS::Key")) == 2
