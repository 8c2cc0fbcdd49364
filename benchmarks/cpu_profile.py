"""Where a run's CPU goes, per order: py-spy samples this process while it holds the GIL.

Each sample is charged to the innermost frame that belongs to a known owner (standard-library
frames such as ``copy`` or ``json`` are charged to whoever called them), so the table says how many
ms of CPU per order moto takes, how many our handlers take, and so on. Without py-spy (a dev
dependency) the profile is skipped, not faked.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SAMPLES_PER_SECOND = 100
# (owner, pattern on a frame's file): first match wins, tried from the innermost frame outwards.
OWNERS: tuple[tuple[str, str], ...] = (
    ("moto: ASL interpreter", r"moto/stepfunctions/"),
    ("moto: DynamoDB", r"moto/dynamodb/"),
    ("moto: EventBridge, Logs, SQS, SNS, Lambda", r"moto/(events|logs|sqs|sns|awslambda)/"),
    ("moto: API plumbing (parse, serialise, route, HTTP)", r"moto/|werkzeug/|flask/|socketserver|http/server"),
    ("boto3/botocore clients (handlers' and interpreter's calls)", r"botocore/|boto3/|urllib3/"),
    ("our handlers + Powertools", r"order_service/|aws_lambda_powertools/"),
    ("our local stack (snacks/local)", r"snacks/"),
)


@dataclass
class Profile:
    seconds_sampled: float
    ms_by_owner: Counter[str] = field(default_factory=Counter)  # GIL-held ms over the whole run

    def per_order(self, orders: int) -> dict[str, float]:
        return {owner: ms / orders for owner, ms in self.ms_by_owner.most_common()}


def available() -> bool:
    return _py_spy() is not None


def _py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


LOAD_GENERATOR = "the benchmark itself (waiting for an idle stack)"


def owner_of(stack: list[str]) -> str:
    if any("benchmarks/" in frame for frame in stack):
        return LOAD_GENERATOR
    for frame in reversed(stack):
        for owner, pattern in OWNERS:
            if re.search(pattern, frame):
                return owner
    return "other (interpreter, threads, stdlib)"


def parse(raw: str) -> Profile:
    profile = Profile(seconds_sampled=0.0)
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        ms = int(count) * 1000 / SAMPLES_PER_SECOND
        profile.ms_by_owner[owner_of(stack.split(";"))] += ms
        profile.seconds_sampled += ms / 1000
    return profile


@contextmanager
def sampled() -> Iterator[list[Profile]]:
    """Samples this process for the duration of the block; the profile is appended on exit."""
    found: list[Profile] = []
    py_spy = _py_spy()
    if py_spy is None:
        yield found
        return
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory, "profile.txt")
        command = [py_spy, "record", "--pid", str(os.getpid()), "--gil", "--nonblocking", "--format", "raw"]
        command += ["--rate", str(SAMPLES_PER_SECOND), "--output", str(out)]
        recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            yield found
        finally:
            recorder.send_signal(signal.SIGINT)  # py-spy writes what it sampled when interrupted
            _, errors = recorder.communicate(timeout=60)
            if out.exists():
                found.append(parse(out.read_text()))
            else:
                sys.stderr.write(f"py-spy wrote no profile: {errors.strip()[-300:]}\n")
