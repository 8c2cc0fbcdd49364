"""`make bench` stays runnable: every section starts and reports, at toy sizes (figures not checked)."""

from __future__ import annotations

import os
import subprocess
import sys

from stacks import definitions

SECTIONS = (
    "local pipeline, 20 orders",
    "local latency at 10 orders/s (10 orders)",
    "local stack start-up",
    "init order-creator",
    "init order-processor",
    "warm overhead order-creator",
    "warm overhead order-processor",
    "AWS calls per order",
    "Lambda asset",
    "Cost per million orders",
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
    assert "lost 0" in completed.stdout
    assert (results.read_bytes() if results.exists() else None) == before  # smoke runs never overwrite results
