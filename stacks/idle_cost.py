"""What one deployed stage costs per month while no order flows, counted from its synthesized template.

``make idle-cost [CDK_ARGS="-c stage=dev"]`` synthesizes the stage and prints the count;
tests/infra/test_idle_cost.py checks that the README's figures are this count. Prices are USD,
us-east-1, from each service's pricing page (other regions differ slightly):

- AWS KMS pricing (https://aws.amazon.com/kms/pricing/): each customer managed key $1/month, prorated
  hourly; with automatic rotation the first and the second rotation each add $1/month (so at most $3
  per key from the second year on); a key pending deletion costs nothing.
- Amazon CloudWatch pricing (https://aws.amazon.com/cloudwatch/pricing/): a standard-resolution alarm
  $0.10 per alarm metric a month; a dashboard $3/month; a custom metric $0.30/month. The free tier
  covers 10 alarm metrics, 3 dashboards and 10 custom metrics per account.
- Amazon DynamoDB pricing (https://aws.amazon.com/dynamodb/pricing/on-demand/): point-in-time recovery
  $0.20 per GB-month of table size; storage $0.25 per GB-month beyond the free 25 GB.
- AWS Secrets Manager pricing (https://aws.amazon.com/secrets-manager/pricing/): $0.40 per secret a month.

Everything else in the stack (Lambda, Step Functions EXPRESS, EventBridge, SQS, SNS, X-Ray, log
storage of an idle stack) is priced per request or per GB and costs nothing measurable while idle,
except the reconciler's schedule: it runs every few minutes and emits its custom metrics even when
no order is stuck.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KMS_KEY_MONTHLY = 1.00
ALARM_METRIC_MONTHLY = 0.10
DASHBOARD_MONTHLY = 3.00
CUSTOM_METRIC_MONTHLY = 0.30
SECRET_MONTHLY = 0.40
PITR_PER_GB_MONTH = 0.20

# The metrics order-reconciler emits on every scheduled run, stuck orders or not (its handler).
RECONCILER_IDLE_METRICS = ("OrdersStuckNew", "OrdersRepublished")


@dataclass(frozen=True)
class IdleCost:
    kms_keys: int
    alarm_metrics: int
    dashboards: int
    secrets: int
    idle_custom_metrics: int
    pitr_tables: tuple[str, ...]

    @property
    def monthly(self) -> float:
        """The fixed part, before the free tier; PITR comes on top, per GB of table data."""
        return round(
            self.kms_keys * KMS_KEY_MONTHLY
            + self.alarm_metrics * ALARM_METRIC_MONTHLY
            + self.dashboards * DASHBOARD_MONTHLY
            + self.secrets * SECRET_MONTHLY
            + self.idle_custom_metrics * CUSTOM_METRIC_MONTHLY,
            2,
        )

    def lines(self) -> list[str]:
        return [
            f"KMS keys: {self.kms_keys} x ${KMS_KEY_MONTHLY:.2f} = ${self.kms_keys * KMS_KEY_MONTHLY:.2f}",
            f"alarm metrics: {self.alarm_metrics} x ${ALARM_METRIC_MONTHLY:.2f} = "
            f"${self.alarm_metrics * ALARM_METRIC_MONTHLY:.2f}",
            f"dashboards: {self.dashboards} x ${DASHBOARD_MONTHLY:.2f} = ${self.dashboards * DASHBOARD_MONTHLY:.2f}",
            f"custom metrics while idle: {self.idle_custom_metrics} x ${CUSTOM_METRIC_MONTHLY:.2f} = "
            f"${self.idle_custom_metrics * CUSTOM_METRIC_MONTHLY:.2f}",
            f"secrets: {self.secrets} x ${SECRET_MONTHLY:.2f} = ${self.secrets * SECRET_MONTHLY:.2f}",
            f"total: ${self.monthly:.2f}/month before the free tier, plus PITR ${PITR_PER_GB_MONTH:.2f}/GB-month "
            f"of {', '.join(self.pitr_tables)}",
        ]


def _resources(template: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in template.get("Resources", {}).values() if r.get("Type") == resource_type]


def _alarm_metrics(alarm: dict[str, Any]) -> int:
    """A metric-math alarm is billed per metric it reads; a plain alarm watches one."""
    metrics = alarm.get("Properties", {}).get("Metrics")
    return sum(1 for m in metrics if "MetricStat" in m) if metrics else 1


def idle_cost(template: dict[str, Any]) -> IdleCost:
    schedules = [r for r in _resources(template, "AWS::Events::Rule") if r["Properties"].get("ScheduleExpression")]
    return IdleCost(
        kms_keys=len(_resources(template, "AWS::KMS::Key")),
        alarm_metrics=sum(_alarm_metrics(a) for a in _resources(template, "AWS::CloudWatch::Alarm")),
        dashboards=len(_resources(template, "AWS::CloudWatch::Dashboard")),
        secrets=len(_resources(template, "AWS::SecretsManager::Secret")),
        idle_custom_metrics=len(RECONCILER_IDLE_METRICS) if schedules else 0,
        pitr_tables=tuple(
            sorted(
                str(t["Properties"]["TableName"])
                for t in _resources(template, "AWS::DynamoDB::Table")
                if t["Properties"].get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
            )
        ),
    )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m stacks.idle_cost TEMPLATE.json", file=sys.stderr)
        return 2
    cost = idle_cost(json.loads(Path(argv[0]).read_text()))
    print("\n".join(cost.lines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
