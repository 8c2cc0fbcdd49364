"""The local stack's HTTP door: what every request meets before moto's service apps.

* ``GET /_snacks/health`` answers with the stack's state, for scripts and CI.
* Any exception a service raises becomes an AWS-style error (JSON, or XML for query-protocol
  requests) and one line on stderr: ``NotImplementedError`` is ``501 NotImplemented``, anything
  else ``500 InternalFailure``. moto's server would answer with werkzeug's HTML 500 page and print
  the whole traceback.
* A Lambda ``Invoke`` body that is not UTF-8, or nested too deep to parse, is ``400
  InvalidRequestContentException``, as on Lambda (moto fails on it before any Lambda code runs).
* An answer to an AWS JSON protocol request (``X-Amz-Target``) goes out with that protocol's
  ``Content-Type``, ``application/x-amz-json-1.0`` or ``-1.1`` as the service's model says
  (botocore's ``jsonVersion``; Smithy, "AWS JSON 1.1 protocol": responses carry
  ``Content-Type: application/x-amz-json-1.1``; recorded on AWS in LocalStack's snapshots, e.g.
  ECS's 1.1 and SQS's 1.0 answers in tests/aws/services/stepfunctions/v2/services/). moto answers
  CloudWatch Logs and EventBridge as ``text/html``.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO
from xml.sax.saxutils import escape

from snacks.aws import LOCAL_HEALTH_PATH
from snacks.local.moto_tuning import patched

HEALTH_PATH = LOCAL_HEALTH_PATH
IAM_PATH = "/_snacks/iam"  # per principal, the actions granted and used (snacks iam report)
JSON_PROTOCOL = "json"
JSON_CONTENT_TYPE = "application/x-amz-json-{version}"
_INVOKE_SUFFIX = "/invocations"

StartResponse = Callable[..., Any]


def _reply(start_response: StartResponse, status: str, body: bytes, headers: list[tuple[str, str]]) -> list[bytes]:
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]


def error_reply(
    environ: dict[str, Any], start_response: StartResponse, status: int, code: str, message: str
) -> list[bytes]:
    """An error in the shape the request's protocol expects (botocore parses both)."""
    phrase = {400: "Bad Request", 500: "Internal Server Error", 501: "Not Implemented"}.get(status, "Error")
    if str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>local</RequestId></ErrorResponse>"
        ).encode()
        return _reply(start_response, f"{status} {phrase}", body, [("Content-Type", "text/xml")])
    body = json.dumps({"__type": code, "message": message}).encode()
    headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
    return _reply(start_response, f"{status} {phrase}", body, headers)


def json_content_types(services: Iterable[str]) -> dict[str, str]:
    """``X-Amz-Target`` prefix -> the Content-Type of the answers, for the AWS JSON services among ``services``."""
    import botocore.session

    session = botocore.session.get_session()
    types: dict[str, str] = {}
    for service in services:
        metadata = session.get_service_model(service).metadata
        if metadata.get("protocol") == JSON_PROTOCOL and metadata.get("targetPrefix"):
            types[str(metadata["targetPrefix"])] = JSON_CONTENT_TYPE.format(version=metadata.get("jsonVersion", "1.0"))
    return types


def _answered_as_protocol(
    environ: dict[str, Any], start_response: StartResponse, types: dict[str, str]
) -> StartResponse:
    """``start_response`` giving the answer its protocol's Content-Type, when the request names a JSON service."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    content_type = types.get(target.split(".", 1)[0]) if target else None
    if content_type is None:
        return start_response

    def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
        kept = [(name, value) for name, value in headers if name.lower() != "content-type"]
        return start_response(status, [*kept, ("Content-Type", content_type)], *exc_info)

    return start


def _is_lambda_invoke(environ: dict[str, Any]) -> bool:
    path = str(environ.get("PATH_INFO", ""))
    return environ.get("REQUEST_METHOD") == "POST" and "/functions/" in path and path.endswith(_INVOKE_SUFFIX)


@contextmanager
def installed(
    health: Callable[[], dict[str, Any]],
    errors: TextIO | None = None,
    services: Iterable[str] = (),
    iam_usage: Callable[[], dict[str, Any]] | None = None,
) -> Iterator[None]:
    """Put the door in front of moto's server (its ``DomainDispatcherApplication``) until the block ends."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__
    content_types = json_content_types(services)

    def __call__(self: Any, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response = _answered_as_protocol(environ, start_response, content_types)
        if environ.get("PATH_INFO") == HEALTH_PATH:
            body = json.dumps(health(), indent=2).encode()
            return _reply(start_response, "200 OK", body, [("Content-Type", "application/json")])
        if environ.get("PATH_INFO") == IAM_PATH and iam_usage is not None:
            body = json.dumps(iam_usage(), indent=2).encode()
            return _reply(start_response, "200 OK", body, [("Content-Type", "application/json")])
        if _is_lambda_invoke(environ):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(raw)
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                return error_reply(
                    environ,
                    start_response,
                    400,
                    "InvalidRequestContentException",
                    f"Could not parse request body into json: Could not parse payload into json: {error}",
                )
        try:
            return list(original(self, environ, start_response))
        except RecursionError as error:
            if _is_lambda_invoke(environ):
                # moto parses the body before Lambda code runs: nesting this deep is not JSON Lambda takes.
                message = "Could not parse request body into json: Could not parse payload into json: nesting too deep"
                return error_reply(environ, start_response, 400, "InvalidRequestContentException", message)
            return _internal_failure(environ, start_response, error, errors)
        except NotImplementedError as error:
            line = f"not implemented locally: {error}" if str(error) else "not implemented locally"
            _say(errors, f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}: {line}")
            return error_reply(environ, start_response, 501, "NotImplemented", line)
        except Exception as error:  # noqa: BLE001 - every failure gets an AWS-style answer
            return _internal_failure(environ, start_response, error, errors)

    with patched(DomainDispatcherApplication, "__call__", __call__):
        yield


def _internal_failure(
    environ: dict[str, Any], start_response: StartResponse, error: BaseException, errors: TextIO | None
) -> list[bytes]:
    line = f"{type(error).__name__}: {error}"
    _say(errors, f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}: {line}")
    return error_reply(environ, start_response, 500, "InternalFailure", line)


def _say(stream: TextIO | None, line: str) -> None:
    target = stream or sys.stderr
    target.write(f"snacks local: {line[:300]}\n")
    target.flush()
