"""Clients and resource look-ups for the CLI: the local stack or real AWS, same code.

The endpoint comes from ``--endpoint-url`` or ``AWS_ENDPOINT_URL``; credentials from the
standard chain. Against a loopback endpoint, missing credentials are replaced by dummies (the
local stack accepts any), so ``snacks`` works there with no AWS configuration at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config

from stacks import definitions

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}
# Where the local stack answers which stage, region and services it serves (snacks.local.http_door).
LOCAL_HEALTH_PATH = "/_snacks/health"


def is_loopback(endpoint_url: str | None) -> bool:
    return bool(endpoint_url) and (urlparse(endpoint_url).hostname or "") in LOOPBACK_HOSTS


@dataclass
class Aws:
    endpoint_url: str | None = None
    region: str | None = None
    stage: str | None = None  # which deployed stage (stacks/definitions.py); the seed's names by default
    profile: str | None = None  # a named AWS profile (snacks console --profile)
    names: definitions.ResourceNames = field(init=False)
    _session: Any = None
    _clients: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.names = definitions.resource_names(self.stage or os.environ.get("SNACKS_STAGE"))
        self.endpoint_url = self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        self.region = self.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        session = boto3.session.Session(region_name=self.region, profile_name=self.profile)
        if session.get_credentials() is None and is_loopback(self.endpoint_url):
            session = boto3.session.Session(
                region_name=self.region, aws_access_key_id="local", aws_secret_access_key="local"
            )
        self._session = session

    def client(self, service: str) -> Any:
        if service not in self._clients:
            config = Config(retries={"mode": "standard", "max_attempts": 3}, read_timeout=70)
            if service == "stepfunctions" and is_loopback(self.endpoint_url):
                config = config.merge(Config(inject_host_prefix=False))
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint_url, config=config)
        return self._clients[service]

    def dead_letter_queue_url(self) -> str:
        return str(self.client("sqs").get_queue_url(QueueName=self.names.dead_letter_queue)["QueueUrl"])

    def state_machine_arn(self) -> str:
        paginator = self.client("stepfunctions").get_paginator("list_state_machines")
        for page in paginator.paginate():
            for machine in page["stateMachines"]:
                if machine["name"] == self.names.state_machine:
                    return str(machine["stateMachineArn"])
        raise LookupError(f"state machine {self.names.state_machine!r} not found; is the stack deployed?")
