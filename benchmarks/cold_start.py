"""Cold start: init time of each handler module vs. the floor, measured side by side.

Init = importing the handler module in a fresh interpreter (what Lambda's init phase does),
with a Lambda-like environment so Powertools behaves as deployed (Tracer enabled). The floor is
a bare handler module that imports boto3 and creates the same clients. Runs alternate between
the candidates so that machine noise hits all of them alike; medians are reported.
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
start = time.perf_counter()
{body}
print(time.perf_counter() - start)
"""

FLOOR_BODY = """
import boto3
from botocore.config import Config
session = boto3.session.Session()
clients = [session.client(name, config=Config(retries={{"mode": "standard"}})) for name in {services!r}]
"""

HANDLERS = {
    definitions.ORDER_CREATOR: ("order_service.handlers.order_creator", ("dynamodb", "events")),
    definitions.ORDER_PROCESSOR: ("order_service.handlers.order_processor", ("dynamodb",)),
}


@dataclass(frozen=True)
class InitResult:
    function: str
    handler_ms: float
    floor_ms: float

    @property
    def ratio(self) -> float:
        return self.handler_ms / self.floor_ms


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
        PYTHONDONTWRITEBYTECODE="0",
    )
    return env


def _time_once(body: str, env: dict[str, str]) -> float:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(body=body)], env=env, capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip().splitlines()[-1]) * 1000


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
        results.append(InitResult(function, median(handler_runs), median(floor_runs)))
    return results
