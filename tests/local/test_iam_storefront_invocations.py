"""API Gateway and EventBridge invoke the storefront's functions only as the functions' permissions allow.

A Lambda integration needs a resource-policy statement for ``apigateway.amazonaws.com`` whose
``aws:SourceArn`` matches ``arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/PATH`` (Lambda Developer
Guide, "Working with resource-based IAM policies in Lambda", section "Granting function access to AWS
services"; API Gateway Developer Guide, "Create an HTTP API with a Lambda integration"). Without it API
Gateway cannot call the function and the HTTP API answers 500 {"message":"Internal Server Error"}.
"""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from snacks.local import LocalStack

ORDER = {"customerName": "Ada", "snackItems": [{"name": "Chips", "quantity": 1, "price": 2.5}], "totalAmount": 2.5}


def call(stack: LocalStack, method: str, path: str, body: Any = None, token: str = "") -> tuple[int, Any]:
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(stack.storefront.http_api_url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def without_read_route_permission(template: dict[str, Any]) -> dict[str, Any]:
    """The template less the Lambda permission API Gateway needs for GET /orders/{id}."""
    changed = copy.deepcopy(template)
    removed = [
        logical_id
        for logical_id, resource in changed["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Permission"
        and resource["Properties"].get("Principal") == "apigateway.amazonaws.com"
        and json.dumps(resource["Properties"].get("SourceArn", "")).endswith('/orders/{id}"]]}')
    ]
    assert len(removed) == 1, removed  # the stack changed under this test otherwise
    del changed["Resources"][removed[0]]
    return changed


def test_the_read_route_works_with_its_permission(
    synthesized: dict[str, Any], stack_on: Callable[[dict[str, Any]], LocalStack]
) -> None:
    stack = stack_on(synthesized)
    status, placed = call(stack, "POST", "/orders", ORDER)
    assert status == 201, placed
    status, view = call(stack, "GET", f"/orders/{placed['orderId']}", token=placed["orderToken"])
    assert status == 200, view
    assert stack.iam is not None and not stack.iam.denials


def test_without_its_permission_api_gateway_cannot_invoke_the_read_route(
    synthesized: dict[str, Any], stack_on: Callable[[dict[str, Any]], LocalStack]
) -> None:
    stack = stack_on(without_read_route_permission(synthesized))
    status, placed = call(stack, "POST", "/orders", ORDER)  # another route, its own permission
    assert status == 201, placed
    status, body = call(stack, "GET", f"/orders/{placed['orderId']}", token=placed["orderToken"])
    assert (status, body) == (500, {"message": "Internal Server Error"})
    assert stack.iam is not None
    (denial,) = stack.iam.denials
    assert denial.request.principal.arn == "apigateway.amazonaws.com"
    assert denial.request.action == "lambda:InvokeFunction"
    assert str(denial.request.context["aws:SourceArn"]).endswith("/$default/GET/orders/{id}")
