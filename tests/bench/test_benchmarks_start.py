"""`make bench` stays runnable: every section starts and reports, at toy sizes.

Timings are not checked (no timed tests); the one figure that is a correctness fact, orders lost,
is read from the measured value column of each pipeline row, never from the target column.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from stacks import definitions

SECTIONS = (
    "local pipeline, 20 orders",
    "bare moto baseline, 20 executions",
    "our overhead over bare moto",
    "local latency at ",
    "local stack start-up",
    "IAM enforcement (issue 18)",
    "init order-creator",
    "init order-processor",
    "warm overhead order-creator",
    "warm overhead order-processor",
    "AWS calls per order",
    "DynamoDB request units per order (issue 21)",
    "Lambda asset",
    "Cost per million orders",
    "Execution logs per workflow log level",
)


def test_every_benchmark_section_runs_in_smoke_mode() -> None:
    results = definitions.REPO_ROOT / "benchmarks" / "results.md"
    before = results.read_bytes() if results.exists() else None
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke"],
        cwd=definitions.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": f"{definitions.REPO_ROOT}:{definitions.LAMBDA_ASSET_DIR}"},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    for section in SECTIONS:
        assert section in completed.stdout, section
    lost = lost_per_pipeline_row(completed.stdout)
    assert len(lost) == 2 and "local pipeline, 20 orders" in lost, lost  # and the latency row
    assert all(count == 0 for count in lost.values()), lost
    assert (results.read_bytes() if results.exists() else None) == before  # smoke runs never overwrite results
    logged = log_bytes_per_level(completed.stdout)
    # "Log levels" (Step Functions Developer Guide): ERROR logs only the failure events, OFF nothing.
    assert logged["ALL"] > logged["ERROR"] > logged["OFF"] == 0.0, logged


def log_bytes_per_level(report: str) -> dict[str, float]:
    """``level -> KB per failed order`` from the execution-log table (the failed order is the one
    every level but OFF logs something of)."""
    found: dict[str, float] = {}
    for line in report.splitlines():
        match = re.match(r"\| (ALL|ERROR|OFF) \| .* / ([\d.]+) KB \(\d+ ev\) \|", line)
        if match:
            found[match.group(1)] = float(match.group(2))
    return found


def lost_per_pipeline_row(report: str) -> dict[str, int]:
    """``measure -> lost`` for each results-table row whose measured value reports lost orders."""
    lost: dict[str, int] = {}
    for line in report.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4:
            continue
        measure, value = cells[0], cells[1]  # the target column (cells[2]) also says "lost 0"
        match = re.search(r"\blost (\d+)\b", value)
        if match:
            lost[measure] = int(match.group(1))
    return lost
