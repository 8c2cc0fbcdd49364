"""Cold start: init time of each handler module vs. the floor, measured side by side.

Init = importing the handler module in a fresh interpreter (what Lambda's init phase does),
with a Lambda-like environment so Powertools behaves as deployed (Tracer enabled). The floor is
a bare handler module that imports boto3 and creates the same clients. Runs alternate between
the candidates so that machine noise hits all of them alike; medians are reported.

Time is the probe's CPU time (user + system, ``time.process_time``): an import is CPU-bound, so on
Lambda's own vCPU its wall time is its CPU time, while on a shared bench machine wall time also
counts the waits for a free core (one run read 0.99x, the next 1.19x, under a load of 8 on 2
cores). Wall time is kept beside it. ``repeated`` runs the whole measurement three times: the
target holds only if it holds for the median of the three.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

from benchmarks.stats import median
from stacks import definitions

PROBE = """
import time
wall, cpu = time.perf_counter(), time.process_time()
{body}
print(time.process_time() - cpu, time.perf_counter() - wall)
"""

FLOOR_BODY = """
import boto3
from botocore.config import Config
session = boto3.session.Session()
clients = [session.client(name, config=Config(retries={{"mode": "standard"}})) for name in {services!r}]
"""

HANDLERS = {
    definitions.ORDER_CREATOR: ("order_service.handlers.order_creator", ("dynamodb", "events")),
    # markProcessed announces Order Processed itself (issue 21): the processor creates an events client too.
    definitions.ORDER_PROCESSOR: ("order_service.handlers.order_processor", ("dynamodb", "events")),
}


@dataclass(frozen=True)
class InitResult:
    function: str
    handler_ms: float  # CPU time, median of the runs
    floor_ms: float
    handler_wall_ms: float = 0.0
    floor_wall_ms: float = 0.0

    @property
    def ratio(self) -> float:
        return self.handler_ms / self.floor_ms


@dataclass(frozen=True)
class RepeatedInit:
    """One function's init over several whole measurements; the verdict goes by the median ratio."""

    function: str
    runs: tuple[InitResult, ...]

    @property
    def typical(self) -> InitResult:
        return sorted(self.runs, key=lambda run: run.ratio)[len(self.runs) // 2]

    @property
    def ratio(self) -> float:
        return median([run.ratio for run in self.runs])


def _lambda_like_env(function: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("POWERTOOLS_", "AWS_ENDPOINT"))}
    env.update(definitions.FUNCTIONS[function].environment)
    env.update(
        AWS_LAMBDA_FUNCTION_NAME=function,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(definitions.FUNCTIONS[function].memory_mb),
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        PYTHONPATH=os.pathsep.join([str(definitions.LAMBDA_ASSET_DIR), env.get("PYTHONPATH", "")]),
    )
    # Any non-empty value, "0" included, stops Python writing .pyc files; unset, the warm-up run caches
    # them, so no timed run of either candidate pays for compiling a module that changed since the last.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _time_once(body: str, env: dict[str, str]) -> tuple[float, float]:
    """(CPU ms, wall ms) of running ``body`` in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(body=body)], env=env, capture_output=True, text=True, check=True
    )
    cpu, wall = result.stdout.strip().splitlines()[-1].split()
    return float(cpu) * 1000, float(wall) * 1000


def measure(runs: int = 15) -> list[InitResult]:
    results = []
    for function, (module, services) in HANDLERS.items():
        env = _lambda_like_env(function)
        handler_body = f"import {module}"
        floor_body = FLOOR_BODY.format(services=services)
        _time_once(handler_body, env)  # warm the OS page cache and .pyc files first
        handler_runs, floor_runs = [], []
        for _ in range(runs):
            handler_runs.append(_time_once(handler_body, env))
            floor_runs.append(_time_once(floor_body, env))
        results.append(
            InitResult(
                function,
                median([cpu for cpu, _ in handler_runs]),
                median([cpu for cpu, _ in floor_runs]),
                median([wall for _, wall in handler_runs]),
                median([wall for _, wall in floor_runs]),
            )
        )
    return results


def repeated(runs: int = 15, repeats: int = 3) -> list[RepeatedInit]:
    """``measure`` ``repeats`` times over; per function, every measurement."""
    measurements = [measure(runs) for _ in range(repeats)]
    return [
        RepeatedInit(function, tuple(measurement[index] for measurement in measurements))
        for index, function in enumerate(HANDLERS)
    ]
