"""The floor under the local pipeline: moto alone running the same ASL, with trivial handlers.

Same process and moto, the order-fulfillment ASL as deployed, and the speed-ups the local stack
gives moto's ASL interpreter (snacks/local/moto_tuning.py: they change moto's cost, not what runs);
but every Lambda task answers at once with a canned result (no handler, no DynamoDB), executions
are started with StartExecution (no order-creator, no EventBridge, no delivery scheduler of ours)
and the machine writes no execution log. What the local pipeline costs beyond this is ours.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from stacks import definitions

REGION = "us-east-1"
ACCOUNT = "123456789012"
PROCESSOR_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:bare-order-processor"
# What order-processor answers at each step of an order paid at pickup that goes NEW -> PROCESSED: the
# same keys as its real answers, since the ASL's ResultSelectors name them.
_ANSWERS: dict[str, dict[str, Any]] = {
    "validate": {"orderId": "bare", "action": "process", "status": "NEW", "itemCount": 1, "paidBy": "pickup"},
    "fulfil": {"orderId": "bare", "outcome": "fulfilled", "repeated": False, "rejection": None, "paidBy": "pickup"},
    "authorizePayment": {"orderId": "bare", "outcome": "notRequired", "repeated": False, "rejection": None},
    "markProcessed": {
        "orderId": "bare",
        "status": "PROCESSED",
        "processedAt": "2026-01-01T00:00:00.000Z",
        "changed": True,
        "announced": True,  # the real step's Order Processed PutEvents is a handler's call: not in this floor
    },
}


@dataclass(frozen=True)
class BaselineResult:
    executions: int
    seconds: float
    succeeded: int
    cpu_ms_per_execution: float

    @property
    def executions_per_second(self) -> float:
        return self.executions / self.seconds


class _TrivialLambda:
    """The interpreter's Lambda client: each Invoke returns the step's canned answer at once."""

    def invoke(self, **parameters: Any) -> dict[str, Any]:
        step = json.loads(parameters.get("Payload") or b"{}").get("step", "")
        payload = json.dumps(_ANSWERS.get(step, {})).encode()
        return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": io.BytesIO(payload)}


@contextmanager
def _bare_moto() -> Iterator[None]:
    from moto import mock_aws

    from snacks.local import moto_tuning

    with ExitStack() as stack:
        stack.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
        stack.enter_context(moto_tuning.cached_task_clients())
        stack.enter_context(moto_tuning.parsed_definitions_cached())
        stack.enter_context(moto_tuning.compiled_json_paths_cached())
        stack.enter_context(moto_tuning.handler_methods_cached())
        stack.enter_context(moto_tuning.attribute_aliases_cached())
        stack.enter_context(moto_tuning.json_structures_serialized_from_present_keys())
        # The local stack routes its in-process calls (the interpreter's PutEvents among them) once per
        # URL and sends them unsigned; without these bare moto's StartExecution and PutEvents paid for
        # pattern-matching every service's URLs and SigV4, which ours does not.
        stack.enter_context(moto_tuning.in_process_routes_cached())
        stack.enter_context(moto_tuning.in_process_requests_unsigned())
        lambda_eval_utils: Any = __import__(
            "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils", fromlist=["_"]
        )
        real = lambda_eval_utils.boto_client_for
        trivial = _TrivialLambda()

        def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
            return trivial if service == "lambda" else real(region, service, state_credentials)

        stack.enter_context(moto_tuning.patched(lambda_eval_utils, "boto_client_for", boto_client_for))
        yield


def run(executions: int, concurrency: int = 8) -> BaselineResult:
    """``executions`` of the ASL, started from ``concurrency`` threads; timed until all have ended."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    with _bare_moto():
        client = boto3.client("stepfunctions", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
        events = boto3.client("events", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
        events.create_event_bus(Name=definitions.NAMES.event_bus)
        machine = client.create_state_machine(
            name="bare-order-fulfillment",
            definition=definitions.render_asl(PROCESSOR_ARN, "https://sqs.invalid/dlq", definitions.NAMES.event_bus),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/bare",
            type="EXPRESS",
        )["stateMachineArn"]
        backend = stepfunctions_parser_backends[ACCOUNT][REGION]
        started_cpu, started = time.process_time(), time.perf_counter()

        def start(index: int) -> None:
            order = {"orderId": f"bare-{index}", "status": "NEW"}
            body = {"id": f"event-{index}", "detail-type": "Order Created", "detail": order}
            client.start_execution(stateMachineArn=machine, name=f"bare-{index}", input=json.dumps(body))

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(start, range(executions)))
        state_machine = backend.describe_state_machine(machine)
        deadline, ended = time.monotonic() + 60 + executions / 10, 0
        while time.monotonic() < deadline:
            runs = list(state_machine.executions)
            while ended < len(runs) and str(runs[ended].exec_status.value) != "RUNNING":
                ended += 1  # an ended execution stays ended: each poll starts at the first still running
            if ended == len(runs):
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - started_cpu
        succeeded = sum(1 for e in state_machine.executions if str(e.exec_status.value) == "SUCCEEDED")
        if succeeded < executions:
            # A canned answer the ASL no longer accepts (a ResultSelector path it lacks is States.Runtime)
            # sends every execution down the failure path: a baseline of another workflow, not a reference.
            raise RuntimeError(f"bare moto: {executions - succeeded} of {executions} executions did not succeed")
        return BaselineResult(executions, seconds, succeeded, cpu * 1000 / executions)
