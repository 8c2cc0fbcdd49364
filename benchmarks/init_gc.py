"""Where the cyclic garbage collector's time goes in each handler's init, beside its floor.

A diagnostic for benchmarks/cold_start.py, not a ``make bench`` row: the same probes, in the same
Lambda-like environment, with a ``gc.callbacks`` timer around every collection. It prints, per
candidate, the CPU time spent collecting during the init, the full (generation 2) collections among
them, and what one full collection costs right after the init, i.e. what the first invocation would
pay if the init did not. CPython starts a full collection after ten generation-1 collections, so a
candidate a few hundred allocations short of that pays it later, not never:

    .venv/bin/python -m benchmarks.init_gc
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from benchmarks import cold_start
from benchmarks.stats import median

PROBE = """
import gc, json, time
_gc = {{"ms": 0.0, "full": [], "start": 0.0}}
def _timer(phase, info):
    if phase == "start":
        _gc["start"] = time.process_time()
        return
    spent = (time.process_time() - _gc["start"]) * 1000
    _gc["ms"] += spent
    if info["generation"] == 2:
        _gc["full"].append(spent)
gc.callbacks.append(_timer)
{body}
gc.callbacks.remove(_timer)
started = time.process_time()
gc.collect()
after = (time.process_time() - started) * 1000
print(json.dumps({{"gc_ms": _gc["ms"], "full_ms": _gc["full"], "full_after_ms": after,
                  "frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects())}}))
"""


@dataclass(frozen=True)
class Reading:
    gc_ms: float  # CPU time collecting during the init
    full_ms: tuple[float, ...]  # each full collection during the init
    full_after_ms: float  # one full collection right after the init
    frozen: int
    tracked: int


@dataclass(frozen=True)
class InitGc:
    candidate: str
    typical: Reading  # the run with the median time collecting
    full_after_ms: float  # median of the runs


def _probe(body: str, env: dict[str, str]) -> Reading:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(body=body)], env=env, capture_output=True, text=True, check=True
    )
    raw = json.loads(result.stdout.strip().splitlines()[-1])
    return Reading(
        float(raw["gc_ms"]),
        tuple(float(ms) for ms in raw["full_ms"]),
        float(raw["full_after_ms"]),
        int(raw["frozen"]),
        int(raw["tracked"]),
    )


def measure(runs: int = 5) -> list[InitGc]:
    rows = []
    for function, (module, services) in cold_start.HANDLERS.items():
        env = cold_start._lambda_like_env(function)
        candidates = {
            f"{function} handler": f"import {module}",
            f"{function} floor": cold_start.FLOOR_BODY.format(services=services),
        }
        for name, body in candidates.items():
            readings = sorted((_probe(body, env) for _ in range(runs)), key=lambda reading: reading.gc_ms)
            rows.append(InitGc(name, readings[len(readings) // 2], median([r.full_after_ms for r in readings])))
    return rows


def main() -> None:
    print("| candidate | collecting in init | full collections in init | a full one after init | frozen / tracked |")
    print("|---|---|---|---|---|")
    for row in measure():
        typical = row.typical
        full = ", ".join(f"{ms:.1f} ms" for ms in typical.full_ms) or "none"
        print(
            f"| {row.candidate} | {typical.gc_ms:.1f} ms | {full} | {row.full_after_ms:.1f} ms "
            f"| {typical.frozen} / {typical.tracked} |"
        )


if __name__ == "__main__":
    main()
