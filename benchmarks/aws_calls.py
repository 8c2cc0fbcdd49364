"""AWS calls per order, counted at the botocore boundary of the running handlers.

Our code's calls are counted on the handlers' own clients (a ``before-call`` hook); the calls
that services make for us (EventBridge's StartExecution, Step Functions' Lambda invokes) are
read from the execution history. Both are compared with the minimum the design needs.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from benchmarks.local_pipeline import sample_order
from snacks import operations
from snacks.aws import Aws
from snacks.trace import fetch_history

# Per order paid at pickup (the bench's order). Creator: PutItem + PutEvents; validate: one read; fulfil: one
# conditional write; markProcessed: one conditional write and the status event's PutEvents (DESIGN: status
# events; markProcessed announces Order Processed itself since issue 21, the workflow's PublishProcessed did).
MINIMUM_OUR_CALLS = 6
# EventBridge -> StartExecution; Step Functions -> three Lambda invokes (validate, fulfil, markProcessed:
# a pickup order skips AuthorizePayment).
MINIMUM_SERVICE_CALLS = 4

# Why ours stay above the minimum (9 vs 6):
# - fulfil reads the order for its lines: Validate read them, and the ASL could pass them on (at the price of
#   the lines in every state's input in the execution log, which issue 21 shrank);
# - TransactGetItems reads the lines' stock: it tells a stock-limited snack from an unlimited one (no record),
#   which a blind TransactWriteItems could only learn from a failed first attempt for every unlimited snack;
# - fulfil's second write records the simulated fulfillment after the reservation (a fault between the two
#   is the saga's stock-release case).


@dataclass(frozen=True)
class CallCount:
    ours: Counter[str]
    services: Counter[str]

    @property
    def total(self) -> int:
        return sum(self.ours.values()) + sum(self.services.values())


def _handler_clients() -> list[Any]:
    creator = sys.modules["order_service.handlers.order_creator"]
    processor = sys.modules["order_service.handlers.order_processor"]
    clients = [
        creator.orders._client,
        creator.events._client,
        processor.processor._orders._client,
        processor.processor._status_events._client,
    ]
    unique: dict[int, Any] = {id(client): client for client in clients}
    return list(unique.values())


def count() -> CallCount:
    from snacks.local import LocalStack

    with LocalStack(port=0) as stack:
        aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
        warm = operations.invoke_creator(aws, sample_order(0))  # load the handler modules
        operations.wait_for_final(aws, warm["orderId"])
        stack.wait_until_idle(timeout=30)

        ours: Counter[str] = Counter()
        lock = threading.Lock()

        def record(model: Any, **_: Any) -> None:
            with lock:
                ours[f"{model.service_model.service_id}.{model.name}"] += 1

        clients = _handler_clients()
        for client in clients:
            client.meta.events.register("before-call", record)
        try:
            reply = operations.invoke_creator(aws, sample_order(1))
            order = operations.wait_for_final(aws, reply["orderId"])
            stack.wait_until_idle(timeout=30)
        finally:
            for client in clients:
                client.meta.events.unregister("before-call", record)
        assert order is not None and order.execution_arn, "the order was not processed"
        services: Counter[str] = Counter({"EventBridge->StepFunctions.StartExecution": 1})
        for event in fetch_history(aws, order.execution_arn):
            if event["type"] == "LambdaFunctionScheduled":
                services["StepFunctions->Lambda.Invoke"] += 1
            elif event["type"] == "TaskScheduled":
                services["StepFunctions->Task"] += 1
        return CallCount(ours=ours, services=services)
