"""Lambda's Invoke API and runtime on the local stack, as Lambda behaves (boto3 and the AWS CLI).

The specification is AWS's: the Invoke API reference
(https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html), Lambda's quotas
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html), and LocalStack's
recorded AWS answers (tests/aws/services/lambda_/test_lambda.snapshot.json) where a shape matters.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from snacks import operations
from snacks.aws import Aws
from stacks import definitions

ORDER = {
    "customerName": "Lambda Api",
    "snackItems": [{"name": "Pretzels", "quantity": 1, "price": 2.5}],
    "totalAmount": 2.5,
}
DOMAIN_MODULE = "order_service.domain.order_processing"


def order_count(aws: Aws) -> int:
    return int(aws.client("dynamodb").scan(TableName=definitions.ORDERS_TABLE, Select="COUNT")["Count"])


def wait_for(condition: Callable[[], Any], timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what} not met after {timeout} s"
        time.sleep(0.05)
    return value


def aws_cli(stack: Any, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": stack.endpoint_url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": stack.region,
    }
    return subprocess.run([sys.executable, "-m", "awscli", *argv], env=env, capture_output=True, text=True, timeout=60)


def invoke_url(stack: Any, function: str) -> str:
    return f"{stack.endpoint_url}/2015-03-31/functions/{function}/invocations"


def test_a_body_that_is_not_json_is_400_invalid_request_content_at_once_and_writes_nothing(
    stack: Any, aws: Aws, tmp_path: Any
) -> None:
    """Invoke, Errors: InvalidRequestContentException, "The request body could not be parsed as
    JSON, or a request header is invalid", HTTP Status Code 400 (API_Invoke.html). A 4xx is not
    retried by the AWS CLI (the HTML 500 it got before was, five times)."""
    before = order_count(aws)
    with pytest.raises(ClientError) as raised:
        aws.client("lambda").invoke(FunctionName=definitions.ORDER_CREATOR, Payload=b"not json")
    assert raised.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == 0

    cli = aws_cli(
        stack, "lambda", "invoke", "--function-name", definitions.ORDER_CREATOR, "--payload", "{oops",
        str(tmp_path / "out.json"),
    )  # fmt: skip
    assert cli.returncode != 0
    assert "InvalidRequestContentException" in cli.stderr and "<html" not in cli.stderr.lower()

    not_utf8 = requests.post(invoke_url(stack, definitions.ORDER_CREATOR), data=b'{"a": "\x87\x9e"}', timeout=10)
    assert not_utf8.status_code == 400
    assert not_utf8.json()["__type"] == "InvalidRequestContentException"
    assert order_count(aws) == before


def test_a_request_over_6_mb_is_413_request_too_large(stack: Any, aws: Aws) -> None:
    """Invoke, Errors: RequestTooLargeException, "The request payload exceeded the Invoke request
    body JSON input quota", HTTP Status Code 413 (API_Invoke.html); the quota for a synchronous
    invocation's payload is 6 MB (Lambda quotas, gettingstarted-limits.html)."""
    before = order_count(aws)
    big = json.dumps({**ORDER, "padding": "x" * (6 * 1024 * 1024)}).encode()
    with pytest.raises(ClientError) as raised:
        aws.client("lambda").invoke(FunctionName=definitions.ORDER_CREATOR, Payload=big)
    assert raised.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert order_count(aws) == before


def test_what_the_local_stack_cannot_do_is_a_json_501_never_an_html_500(stack: Any, aws: Aws) -> None:
    """AWS answers every API error with its protocol's error document (a JSON body with the error
    type for REST-JSON services), never an HTML page. A function the local stack cannot run (moto
    would need Docker) is refused with a JSON 501 and one readable line, not a traceback."""
    client = aws.client("lambda")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("index.py", "def handler(event, context):\n    return event\n")
    name = f"foreign-{uuid.uuid4().hex[:8]}"
    client.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=client.get_function_configuration(FunctionName=definitions.ORDER_CREATOR)["Role"],
        Handler="index.handler",
        Code={"ZipFile": archive.getvalue()},
    )
    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName=name, Payload=b"{}")
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert error["ResponseMetadata"]["HTTPHeaders"]["content-type"].startswith("application/json")
    assert error["Error"]["Code"] == "NotImplemented" and name in error["Error"]["Message"]


def test_an_unhandled_error_is_function_error_unhandled(aws: Aws) -> None:
    """Invoke, Response: X-Amz-Function-Error "Unhandled" for a function error, with the
    runtime's errorType/errorMessage payload (LocalStack snapshot: FunctionError "Unhandled")."""
    reply = aws.client("lambda").invoke(FunctionName=definitions.ORDER_PROCESSOR, Payload=b'{"step": "nope"}')
    assert reply["StatusCode"] == 200
    assert reply["FunctionError"] == "Unhandled"
    payload = json.loads(reply["Payload"].read())
    assert payload["errorType"] == "InvalidStepRequest" and "step" in payload["errorMessage"]


REQUEST_ID = re.compile(r"RequestId: ([0-9a-f-]{36})")
LAMBDA_PATHS = ("/var/task/", "/opt/python/", "/var/lang/lib/")  # the function's code, its layer, the runtime


def test_one_request_id_names_the_invocation_everywhere_and_the_executed_version_is_latest(
    stack: Any, aws: Aws
) -> None:
    """On Lambda the invocation's request id is the response's ``x-amzn-RequestId``, the
    ``context.aws_request_id`` the handler sees, the id in the START/END/REPORT lines and an error
    payload's ``requestId`` (LocalStack's recorded AWS answers,
    test_lambda.py::TestRequestIdHandling::test_request_id_invoke: a handler returning
    context.aws_request_id answers ResponseMetadata.RequestId, and the log lines carry it); Invoke
    answers ``X-Amz-Executed-Version``, "The version of the function that executed", ``$LATEST``
    here (API_Invoke.html, Response Syntax; the same recording: "ExecutedVersion": "$LATEST")."""
    client = aws.client("lambda")
    reply = client.invoke(FunctionName=definitions.ORDER_CREATOR, Payload=b"{}", LogType="Tail")  # logs, 400
    request_id = reply["ResponseMetadata"]["RequestId"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", request_id)
    assert reply["ExecutedVersion"] == "$LATEST"
    log = base64.b64decode(reply["LogResult"]).decode()
    assert REQUEST_ID.findall(log) == [request_id] * 3  # START, END, REPORT
    # Powertools' inject_lambda_context logs the context's aws_request_id as function_request_id.
    logged = [json.loads(line) for line in log.splitlines() if "function_request_id" in line]
    seen_by_handler = {line["function_request_id"] for line in logged}
    assert seen_by_handler == {request_id}

    failed = client.invoke(FunctionName=definitions.ORDER_PROCESSOR, Payload=b'{"step": "nope"}')
    assert failed["FunctionError"] == "Unhandled" and failed["ExecutedVersion"] == "$LATEST"
    assert json.loads(failed["Payload"].read())["requestId"] == failed["ResponseMetadata"]["RequestId"]

    queued = client.invoke(FunctionName=definitions.ORDER_PROCESSOR, InvocationType="Event", Payload=b"{}")
    queued_id = queued["ResponseMetadata"]["RequestId"]
    stack.wait_until_idle(timeout=30)
    logged = aws.client("logs").filter_log_events(
        logGroupName=aws.names.function_log_group(definitions.ORDER_PROCESSOR), filterPattern=f'"{queued_id}"'
    )["events"]
    assert any(event["message"].startswith(f"START RequestId: {queued_id}") for event in logged)


def test_an_unhandled_errors_stack_trace_holds_the_functions_frames_only_also_in_the_dead_letter(
    stack: Any, aws: Aws
) -> None:
    """Lambda's Python runtime reports an unhandled error with the frames from the handler's entry
    point down, at their paths on Lambda (``File "/var/task/handler.py", line 2, in handler``;
    nothing of the runtime: LocalStack's recorded AWS answers in test_lambda.snapshot.json and
    test_lambda_destinations.snapshot.json). That payload is the Task's cause in Step Functions, so
    it is what the DLQ message carries: no frame of the emulator, no path of this machine."""
    reply = aws.client("lambda").invoke(FunctionName=definitions.ORDER_PROCESSOR, Payload=b'{"step": "nope"}')
    frames = json.loads(reply["Payload"].read())["stackTrace"]
    order_id = f"missing-{uuid.uuid4().hex[:8]}"
    aws.client("stepfunctions").start_sync_execution(
        stateMachineArn=aws.state_machine_arn(), input=json.dumps({"id": "evt", "detail": {"orderId": order_id}})
    )
    stack.wait_until_idle(timeout=30)
    letter = next(letter for letter in operations.list_dead_letters(aws) if letter.order_id == order_id)
    dead_frames = json.loads(letter.cause)["stackTrace"]
    here = str(definitions.LAMBDA_ASSET_DIR.parent)
    for trace in (frames, dead_frames):
        files = [re.match(r'  File "([^"]+)"', frame).group(1) for frame in trace]  # type: ignore[union-attr]
        assert files and all(path.startswith(LAMBDA_PATHS) for path in files), files
        assert not [frame for frame in trace if here in frame or ".venv" in frame or "site-packages/moto" in frame]
        assert files[-1].startswith("/var/task/order_service/"), files  # where the error was raised
    assert "/var/task/order_service/handlers/order_processor.py" in "".join(frames)


def test_invoking_a_function_that_does_not_exist_names_its_latest_version(stack: Any, aws: Aws) -> None:
    """Invoke of a missing function: 404 ResourceNotFoundException "Function not found:
    arn:aws:lambda:REGION:ACCOUNT:function:NAME:$LATEST" (LocalStack's recorded AWS answer,
    test_lambda.py::TestLambdaFeatures::test_invoke_exceptions, recorded 24-11-2025)."""
    with pytest.raises(ClientError) as raised:
        aws.client("lambda").invoke(FunctionName="does-not-exist", Payload=b"{}")
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    expected = f"Function not found: arn:aws:lambda:{stack.region}:{stack.account_id}:function:does-not-exist:$LATEST"
    assert error["Error"]["Message"] == expected


def test_an_event_invocation_answers_202_with_no_body_and_runs_afterwards(stack: Any, aws: Aws) -> None:
    """Invoke, InvocationType "Event - Invoke the function asynchronously"; StatusCode: "For the
    Event invocation type, this status code is 202" (API_Invoke.html); no response payload."""
    marker = f"Event Invocation {uuid.uuid4().hex[:6]}"
    reply = aws.client("lambda").invoke(
        FunctionName=definitions.ORDER_CREATOR,
        InvocationType="Event",
        Payload=json.dumps({**ORDER, "customerName": marker}),
    )
    assert reply["StatusCode"] == 202
    assert reply["Payload"].read() == b""
    wait_for(
        lambda: any(order.customer_name == marker for order in operations.list_orders(aws, None)),
        what="the asynchronously invoked order-creator to write its order",
    )


@pytest.fixture
def slow_validate(stack: Any, aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """order-processor with a 1 s Timeout (set through the API) whose validate step hangs until
    released: a stuck dependency, the usual cause of a Lambda timeout. The hang is planted on the
    domain class, which a new execution environment (after a timeout) imports again unchanged, so
    every attempt hangs, also when the ASL retries Lambda.Unknown."""
    client = aws.client("lambda")
    configuration = client.get_function_configuration(FunctionName=definitions.ORDER_PROCESSOR)
    client.update_function_configuration(FunctionName=definitions.ORDER_PROCESSOR, Timeout=1)
    client.invoke(FunctionName=definitions.ORDER_PROCESSOR, Payload=b'{"step": "warm-up"}')  # applies it
    release = threading.Event()

    def hang(self: Any, context: Any) -> dict[str, Any]:
        while not release.wait(0.01):
            pass
        return {"action": "process"}

    monkeypatch.setattr(sys.modules[DOMAIN_MODULE].OrderProcessor, "validate", hang)
    try:
        yield release
    finally:
        release.set()
        client.update_function_configuration(FunctionName=definitions.ORDER_PROCESSOR, Timeout=configuration["Timeout"])


def test_the_configured_timeout_is_enforced_and_reported_as_lambda_reports_it(
    aws: Aws, slow_validate: threading.Event
) -> None:
    """A function that runs past its Timeout: Invoke answers 200 with FunctionError "Unhandled" and
    {"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: <id> Error: Task timed out after
    1.00 seconds"} (LocalStack's recorded AWS answer, test_lambda.py::test_lambda_invoke_with_timeout);
    the log stream gets "Task timed out after 1.00 seconds" and a REPORT line."""
    reply = aws.client("lambda").invoke(
        FunctionName=definitions.ORDER_PROCESSOR,
        Payload=json.dumps({"step": "validate", "orderId": "timeout-test"}),
    )
    assert not slow_validate.is_set()  # the handler still hangs: the answer came from the Timeout
    assert reply["StatusCode"] == 200 and reply["FunctionError"] == "Unhandled"
    payload = json.loads(reply["Payload"].read())
    assert payload["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(r"RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds", payload["errorMessage"])
    logs = aws.client("logs").filter_log_events(
        logGroupName=f"/aws/lambda/{definitions.ORDER_PROCESSOR}", filterPattern='"Task timed out after 1.00 seconds"'
    )
    assert logs["events"], "the timeout is not in the function's log group"


def test_step_functions_reports_a_timed_out_function_as_lambda_unknown(
    stack: Any, aws: Aws, slow_validate: threading.Event
) -> None:
    """ "Unhandled errors in Lambda are reported as Lambda.Unknown in the error output. These include
    out-of-memory errors and function timeouts." (Step Functions Developer Guide, Handle Lambda
    service exceptions, https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html)
    The name reaches the DLQ message through the ASL's Catch ($.error.Error)."""
    order = operations.invoke_creator(aws, {**ORDER, "customerName": "Timeout Tess"})
    order_id = order["orderId"]

    def dead_letter() -> Any:
        return next((letter for letter in operations.list_dead_letters(aws) if letter.order_id == order_id), None)

    letter = wait_for(dead_letter, timeout=30, what="the timed-out order's DLQ message")
    assert letter.error == "Lambda.Unknown"
    assert "Task timed out after 1.00 seconds" in letter.cause


def test_a_configuration_update_takes_effect_on_the_next_invoke(stack: Any, aws: Aws) -> None:
    """UpdateFunctionConfiguration modifies the function's settings (environment variables among
    them) and Lambda serves later invocations with them, in new execution environments (Lambda API
    Reference, UpdateFunctionConfiguration; Developer Guide, Lambda execution environment lifecycle)."""
    client = aws.client("lambda")
    configuration = client.get_function_configuration(FunctionName=definitions.ORDER_PROCESSOR)
    variables = dict(configuration["Environment"]["Variables"])
    client.update_function_configuration(
        FunctionName=definitions.ORDER_PROCESSOR,
        Environment={"Variables": {**variables, "FULFILLMENT_FAULTS": "Env Eclair=permanent"}},
    )
    try:
        order = operations.invoke_creator(
            aws,
            {
                "customerName": "Env Test",
                "snackItems": [{"name": "Env Eclair", "quantity": 1, "price": 1}],
                "totalAmount": 1,
            },
        )
        final = operations.wait_for_final(aws, order["orderId"], timeout=30)
        assert final is not None and final.status.value == "FAILED"
        assert final.failure is not None and final.failure.get("error") == "FulfillmentRejected"
    finally:
        client.update_function_configuration(
            FunctionName=definitions.ORDER_PROCESSOR, Environment={"Variables": variables}
        )


def test_log_streams_carry_start_end_report_and_each_function_has_its_own_cold_start(stack: Any, aws: Aws) -> None:
    """The platform writes START, END and REPORT (Duration, Billed Duration, Memory Size, Max Memory
    Used, and Init Duration on the first invocation of an execution environment) to the function's
    log stream (Lambda Developer Guide, Python Lambda function logging / Lambda Telemetry API
    platform.report). A configuration update gives the function a new execution environment, whose
    first invocation is a cold start: Powertools' cold_start is per function (other functions ran
    in this process meanwhile)."""
    client = aws.client("lambda")
    name = definitions.ORDER_CREATOR
    memory = client.get_function_configuration(FunctionName=name)["MemorySize"]
    client.invoke(FunctionName=definitions.ORDER_PROCESSOR, Payload=b'{"step": "nope"}')
    client.update_function_configuration(FunctionName=name, MemorySize=memory + 64)
    try:
        first = client.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")  # invalid: writes nothing
        second = client.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    finally:
        client.update_function_configuration(FunctionName=name, MemorySize=memory)
    first_log = base64.b64decode(first["LogResult"]).decode()
    second_log = base64.b64decode(second["LogResult"]).decode()
    for log in (first_log, second_log):
        assert re.search(r"^START RequestId: [0-9a-f-]{36} Version: \$LATEST$", log, re.M)
        assert re.search(r"^END RequestId: [0-9a-f-]{36}$", log, re.M)
        report = rf"^REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: {memory + 64} MB"
        assert re.search(report + r"\tMax Memory Used: \d+ MB", log, re.M)
    assert "Init Duration:" in first_log and "Init Duration:" not in second_log
    cold = [json.loads(line)["cold_start"] for line in (first_log + second_log).splitlines() if '"cold_start"' in line]
    assert cold[0] is True and cold[-1] is False


BAD_PAYLOADS: list[bytes] = [
    b"not json",
    b"{",
    b'{"a": 1,}',
    b"\xff\xfe\x00",
    b"[]",
    b'"a string"',
    b"42",
    b"null",
    b"true",
    b"{}",
    b'{"customerName": "", "snackItems": [], "totalAmount": 0}',
    b'{"customerName": "X", "snackItems": [{"name": "P", "quantity": true, "price": 1}], "totalAmount": 1}',
    b'{"customerName": "X", "snackItems": [{"name": "P", "quantity": 1, "price": 1}], "totalAmount": 2}',
    b'{"customerName": "X", "snackItems": "nope", "totalAmount": 1}',
    b'{"customerName": "X", "snackItems": [{"name": "P", "quantity": 1, "price": 1e400}], "totalAmount": 1}',
    b'{"customerName": "X", "snackItems": [{"name": "P", "quantity": 1, "price": NaN}], "totalAmount": 1}',
    b'{"customerName": "X", "snackItems": [{"name": "P", "quantity": 1, "price": 1}], "totalAmount": 1, "x": 1}',
    b'{"customerName": {"$ne": 1}, "snackItems": [], "totalAmount": 1}',
    b"[" * 10_000 + b"]" * 10_000,
]


@pytest.mark.parametrize("payload", BAD_PAYLOADS, ids=[repr(p[:40]) for p in BAD_PAYLOADS])
def test_every_bad_payload_is_a_4xx_from_the_api_or_the_creators_contract_and_writes_nothing(
    aws: Aws, payload: bytes
) -> None:
    """A bad request never reaches a 5xx or an unhandled error: Lambda refuses what is not JSON
    (400 InvalidRequestContentException, API_Invoke.html), and the creator answers anything else it
    cannot accept with a 4xx ``statusCode`` (the creator's contract, DESIGN.md section 3)."""
    before = order_count(aws)
    try:
        reply = aws.client("lambda").invoke(FunctionName=definitions.ORDER_CREATOR, Payload=payload)
    except ClientError as error:
        assert 400 <= error.response["ResponseMetadata"]["HTTPStatusCode"] < 500, error.response
    else:
        body = json.loads(reply["Payload"].read())
        assert "FunctionError" not in reply, body
        assert isinstance(body, dict) and 400 <= body["statusCode"] < 500, body
    assert order_count(aws) == before
