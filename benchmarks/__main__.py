"""`make bench`: every benchmark, one table, written to benchmarks/results.md.

python -m benchmarks                 # full run: 1,000 and 10,000 orders through the local stack
python -m benchmarks --orders 500    # other sizes
python -m benchmarks --smoke         # seconds: proves every section starts (used by make test)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import (
    aws_calls,
    cold_start,
    cost_model,
    execution_logs,
    local_pipeline,
    package_size,
    warm_overhead,
)
from stacks import definitions

RESULTS = Path(__file__).with_name("results.md")
TARGETS = {
    "throughput": 100.0,  # orders/s sustained through the local stack
    "p99_ms": 1000.0,  # NEW -> PROCESSED
    "init_ratio": 1.2,  # handler init / floor
    "warm_ms": 2.0,  # our code's warm overhead per invocation
    "asset_kb": 100.0,
}


def _mark(ok: bool) -> str:
    return "met" if ok else "MISSED"


def machine() -> str:
    cpus = os.cpu_count()
    memory = ""
    try:
        with open("/proc/meminfo") as meminfo:
            kb = int(meminfo.readline().split()[1])
            memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{platform.machine()}, {cpus} cores{memory}, {system}, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--orders", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--paced-orders", type=int, default=300, help="orders of the latency run")
    parser.add_argument("--paced-rate", type=float, default=10.0, help="orders/s of the latency run")
    parser.add_argument("--init-runs", type=int, default=15)
    parser.add_argument("--warm-invocations", type=int, default=400)
    parser.add_argument("--log-orders", type=int, default=3, help="orders per scenario and log level")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; does not write results.md")
    args = parser.parse_args(argv)
    if args.smoke:
        args.orders, args.init_runs, args.warm_invocations = [20], 1, 10
        args.paced_orders, args.log_orders = 10, 1

    rows: list[tuple[str, str, str, str]] = []  # (measure, value, target, verdict)
    started = time.perf_counter()

    print("local pipeline ...", file=sys.stderr)
    pipeline = []
    for size in args.orders:
        result = local_pipeline.run(size, progress=not args.smoke)
        pipeline.append(result)
        ok = (
            result.orders_per_second >= TARGETS["throughput"] and result.p99_ms < TARGETS["p99_ms"] and result.lost == 0
        )
        rows.append(
            (
                f"local pipeline, {size:,} orders",
                f"{result.orders_per_second:.0f} orders/s; NEW->PROCESSED p50 {result.p50_ms:.0f} ms, "
                f"p95 {result.p95_ms:.0f} ms, p99 {result.p99_ms:.0f} ms; lost {result.lost}",
                ">= 100 orders/s, p99 < 1 s, lost 0",
                _mark(ok),
            )
        )
    paced = local_pipeline.run(args.paced_orders, progress=False, rate=args.paced_rate)
    rows.append(
        (
            f"local latency at {args.paced_rate:g} orders/s ({args.paced_orders} orders)",
            f"NEW->PROCESSED p50 {paced.p50_ms:.0f} ms, p95 {paced.p95_ms:.0f} ms, p99 {paced.p99_ms:.0f} ms; "
            f"lost {paced.lost}",
            "p99 < 1 s",
            _mark(paced.p99_ms < TARGETS["p99_ms"] and paced.lost == 0),
        )
    )
    rows.append(("local stack start-up", f"{pipeline[0].startup_ms:.0f} ms", "", ""))

    print("cold start ...", file=sys.stderr)
    for init in cold_start.measure(runs=args.init_runs):
        rows.append(
            (
                f"init {init.function}",
                f"{init.handler_ms:.0f} ms vs floor {init.floor_ms:.0f} ms = {init.ratio:.2f}x",
                "<= 1.2x floor",
                _mark(init.ratio <= TARGETS["init_ratio"]),
            )
        )

    print("warm overhead ...", file=sys.stderr)
    warm = warm_overhead.measure(invocations=args.warm_invocations)
    for overhead in warm:
        rows.append(
            (
                f"warm overhead {overhead.function}",
                f"{overhead.added_ms:.2f} ms added (ours {overhead.ours_ms:.2f} ms, "
                f"bare {overhead.bare_ms:.2f} ms, AWS time excluded)",
                "< 2 ms",
                _mark(overhead.added_ms < TARGETS["warm_ms"]),
            )
        )

    print("AWS calls ...", file=sys.stderr)
    calls = aws_calls.count()
    ours = ", ".join(f"{name} x{n}" for name, n in sorted(calls.ours.items()))
    services = ", ".join(f"{name} x{n}" for name, n in sorted(calls.services.items()))
    rows.append(
        (
            "AWS calls per order",
            f"{calls.total} ({sum(calls.ours.values())} by our code: {ours}; by services: {services})",
            f"minimum {aws_calls.MINIMUM_OUR_CALLS} + {aws_calls.MINIMUM_SERVICE_CALLS}",
            "",
        )
    )

    zipped, raw, files = package_size.zipped_size()
    rows.append(
        (
            "Lambda asset",
            f"{zipped / 1024:.1f} KB zipped ({raw / 1024:.0f} KB, {files} files)",
            "< 100 KB",
            _mark(zipped / 1024 < TARGETS["asset_kb"]),
        )
    )

    print("execution logs per level ...", file=sys.stderr)
    volumes = execution_logs.measure(orders_per_scenario=args.log_orders)
    creator_ms = warm[0].ours_ms + 6 * 2  # our overhead + 2 AWS calls at ~6 ms each on AWS
    step_ms = warm[1].ours_ms + 6 * 1.7  # ~1.7 AWS calls per step on average

    table = ["| measure | value | target | verdict |", "|---|---|---|---|"]
    table += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]

    report = "\n".join(
        [
            "# Benchmark results",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; `make bench` "
            f"(`python -m benchmarks --orders {' '.join(map(str, args.orders))}`), "
            f"{time.perf_counter() - started:.0f} s.",
            "",
            *table,
            "",
            *cost_section(creator_ms, step_ms, volumes, args.log_orders),
        ]
    )
    print(report)
    if not args.smoke:
        RESULTS.write_text(report)
        print(f"written to {RESULTS}", file=sys.stderr)
    return 0


def cost_section(
    creator_ms: float, step_ms: float, volumes: list[execution_logs.LogVolume], log_orders: int
) -> list[str]:
    """The "Cost per million orders" section: the designs at level ALL, then this design per log level."""
    mix = cost_model.Inputs(creator_ms=creator_ms, step_ms=step_ms)
    log_bytes = {
        level: execution_logs.per_order(volumes, level, mix.rejection_rate, mix.failure_rate)
        for level in definitions.WORKFLOW_LOG_LEVELS
    }
    inputs = dataclasses.replace(mix, sfn_log_bytes=log_bytes["ALL"])
    costs = cost_model.estimate(inputs)
    cost_table = ["| design | cost per million orders | dominant cost |", "|---|---|---|"]
    cost_table += [
        f"| {design.design} | ${design.total:,.2f} | {design.dominant[0]} ({design.dominant[1]:.0%}) |"
        for design in costs
    ]
    breakdown = ["| item | " + " | ".join(d.design for d in costs) + " |", "|---|" + "---|" * len(costs)]
    for item in costs[0].per_million:
        breakdown.append(f"| {item} | " + " | ".join(f"${d.per_million.get(item, 0):.2f}" for d in costs) + " |")
    per_scenario = {(volume.level, volume.scenario): volume for volume in volumes}
    level_table = [
        "| workflowLogLevel | log per order: processed / rejected / failed | mix | "
        "execution logs per million | total per million |",
        "|---|---|---|---|---|",
    ]
    by_level = cost_model.by_log_level(inputs, log_bytes)
    full = by_level[0]
    savings = "; ".join(
        f"{cost.level} saves ${full.total - cost.total:,.2f} ({(full.total - cost.total) / full.total:.0%})"
        for cost in by_level[1:]
    )
    for cost in by_level:
        cells = " / ".join(
            f"{per_scenario[(cost.level, scenario)].bytes / 1000:.1f} KB "
            f"({per_scenario[(cost.level, scenario)].events:.0f} ev)"
            for scenario in execution_logs.SCENARIOS
        )
        level_table.append(
            f"| {cost.level} | {cells} | {cost.log_bytes / 1000:.2f} KB | ${cost.logs:,.3f} | ${cost.total:,.2f} |"
        )
    return [
        "## Cost per million orders (model: benchmarks/cost_model.py, us-east-1 list prices, no free tier)",
        "",
        f"Inputs: creator {creator_ms:.1f} ms, step {step_ms:.1f} ms billed "
        "(measured overhead + AWS calls at ~6 ms), "
        f"{inputs.memory_mb} MB arm64, Express {inputs.workflow_ms:.0f} ms x 64 MB, "
        f"{inputs.sfn_log_bytes / 1000:.1f} KB execution log per order at level ALL (measured; the mix below).",
        "",
        *cost_table,
        "",
        *breakdown,
        "",
        "### Execution logs per workflow log level (`cdk deploy -c workflowLogLevel=...`)",
        "",
        f"Measured on the local stack (benchmarks/execution_logs.py, {log_orders} order(s) per scenario and "
        "level): message bytes + 26 per event, as PutLogEvents sizes a batch. Mix: "
        f"{1 - inputs.rejection_rate - inputs.failure_rate:.1%} processed, {inputs.rejection_rate:.1%} "
        f"rejected (assumed), {inputs.failure_rate:.1%} failed. CloudWatch Logs ingestion "
        f"${cost_model.PRICES['logs_ingest_gb']:.2f} per GB (Amazon CloudWatch pricing, us-east-1; vended "
        "logs, first 10 TB a month). ALL: full traces; ERROR: failed steps only; OFF: no trace.",
        "",
        *level_table,
        "",
        f"Against level ALL, per million orders: {savings}; at ALL the workflow's execution logs are "
        f"{full.logs / full.total:.0%} of this design's cost (the first model assumed 12 KB per order).",
        "",
    ]


if __name__ == "__main__":
    sys.exit(main())
