"""``make iam-mutate``: remove each statement of the synthesized template's policies, one at a time,
run the pipeline's flows on the changed template, and require an access denial or a reason.

For every statement ``PolicyStore.statements()`` lists (identity, resource and key policies; trust
policies are skipped: the local stack does not model role assumption):
1. start a local stack on the template without that statement (``--template``);
2. run the flows below, each a named check with what it expects;
3. KILLED: a check failed and the stack recorded an access denial during it (the check and the
   denial are named); SURVIVED: every check passed. A survivor's actions are then looked up in the
   unchanged run's usage: "unused" means no flow needed it (remove it from the stack, or say why it
   stays: needed on AWS, not exercised locally).

The flows are these checks rather than the pytest suites: a mutant then costs one stack start and a
few seconds, not minutes (the e2e + statemachine suites took ~2 min per mutant on 2 shared cores).
``--only TEXT`` narrows the statements (logical id or Sid); prints a Markdown table (docs/testing.md).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import fnmatch
import io
import json
import re
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snacks import operations
from snacks.aws import Aws
from snacks.local import LocalStack
from snacks.local.iam import PolicyStore, StatementRef
from snacks.local.iam_enforcement import AccessDenied
from snacks.local.service_steps import authorize_alarm_action, authorize_schedule
from snacks.local.stack import StartupError
from snacks.local.template_source import synthesized_template
from stacks import definitions as d
from stacks import storefront_definitions as sf
from tests.support.iam_templates import without_empty_policies

ACCOUNT, REGION = "123456789012", "us-east-1"
FAULTS = "Doom Donut=permanent"
LIMITED = "Last Lollipop"


def order(snack: str = "Chips") -> dict[str, Any]:
    return {"customerName": "Ada", "snackItems": [{"name": snack, "quantity": 1, "price": 2.5}], "totalAmount": 2.5}


@dataclass
class Outcome:
    check: str
    passed: bool
    denials: list[str]
    detail: str = ""


class Flows:
    """The pipeline's flows on one stack, each a named check."""

    def __init__(self, stack: LocalStack, template: dict[str, Any]) -> None:
        self.stack = stack
        self.template = template
        self.aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
        self.names = self.aws.names

    def status(self, order_id: str) -> str:
        record = operations.get_order(self.aws, order_id)
        return record.status.value if record else "MISSING"

    def status_watcher(self) -> str:
        """An SQS queue subscribed to the order-status topic (created once; subscribing again is a no-op)."""
        sqs, sns = self.aws.client("sqs"), self.aws.client("sns")
        url: str = sqs.create_queue(QueueName="mutation-status-watcher")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        topic = next(
            t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(self.names.order_status_topic)
        )
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        return url

    def notified(self, url: str, order_id: str, status: str) -> bool:
        """Whether the status topic delivered that order's status event (SNS envelope -> EventBridge event)."""
        sqs = self.aws.client("sqs")
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                envelope = json.loads(message["Body"])
                event = json.loads(envelope["Message"]) if "Message" in envelope else envelope
                detail = event.get("detail", {})
                if detail.get("orderId") == order_id and detail.get("status") == status:
                    return True
        return False

    def processed_and_notified(self) -> str | None:
        sqs = self.aws.client("sqs")
        url = self.status_watcher()
        reply = operations.invoke_creator(self.aws, {**order(), "idempotencyKey": "mutation-flow-1"})
        self.stack.wait_until_idle()
        missing = self.without_logs(self.names.order_creator, self.names.order_processor)
        if missing:
            return missing
        if reply.get("eventPublished") is False or self.status(reply["orderId"]) != "PROCESSED":
            return f"order {self.status(reply['orderId'])}, eventPublished={reply.get('eventPublished')}"
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return None if any(reply["orderId"] in m["Body"] for m in messages) else "no status notification"

    def without_logs(self, *functions: str) -> str | None:
        """Lambda writes each function's log lines with the function's role (lost without it)."""
        for function in functions:
            group = self.names.function_log_group(function)
            if not self.aws.client("logs").filter_log_events(logGroupName=group, limit=1)["events"]:
                return f"no log lines in {group}"
        return None

    def out_of_stock_rejected(self) -> str | None:
        operations.set_stock(self.aws, LIMITED, 0)
        reply = operations.invoke_creator(self.aws, order(LIMITED))
        self.stack.wait_until_idle()
        status = self.status(reply["orderId"])
        return None if status == "REJECTED" else f"order {status}"

    def failure_dead_lettered_then_cancelled(self) -> str | None:
        watcher = self.status_watcher()
        reply = operations.invoke_creator(self.aws, order("Doom Donut"))
        self.stack.wait_until_idle()
        status = self.status(reply["orderId"])
        if status != "FAILED":
            return f"order {status}"
        if not any(letter.order_id == reply["orderId"] for letter in operations.list_dead_letters(self.aws)):
            return "no DLQ message"
        cancelled = operations.invoke_canceller(self.aws, reply["orderId"])
        self.stack.wait_until_idle()
        status = self.status(reply["orderId"])
        if status != "CANCELLED":
            return f"cancel answered {cancelled.get('statusCode')}, order {status}"
        # The canceller announces what it did (Order Cancelled); a refused publish still answers 200.
        if not self.notified(watcher, reply["orderId"], "CANCELLED"):
            return "no CANCELLED notification"
        return self.without_logs(self.names.order_canceller)

    def reconciled(self) -> str | None:
        events = self.aws.client("events")
        events.disable_rule(Name=self.names.order_created_rule, EventBusName=self.names.event_bus)
        try:
            reply = operations.invoke_creator(self.aws, order())
            self.stack.wait_until_idle()
        finally:
            events.enable_rule(Name=self.names.order_created_rule, EventBusName=self.names.event_bus)
        assert self.stack.clock is not None
        self.stack.clock.advance(d.STALE_NEW_ORDER_SECONDS + 1)
        answer = self.aws.client("lambda").invoke(FunctionName=self.names.order_reconciler, Payload=b"{}")
        self.stack.wait_until_idle()
        status = self.status(reply["orderId"])
        if status != "PROCESSED":
            return f"order {status}, reconciler: {answer['Payload'].read()[:200]!r}"
        return self.without_logs(self.names.order_reconciler)

    def schedule_invokes_reconciler(self) -> str | None:
        (rule,) = [
            r["Properties"]["Name"]
            for r in self.template["Resources"].values()
            if r["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in r["Properties"]
        ]
        assert self.stack.iam is not None
        authorize_schedule(
            self.stack.iam,
            f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}",
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.names.order_reconciler}",
        )
        return None

    def alarms_notify(self) -> str | None:
        resources = self.template["Resources"]
        assert self.stack.iam is not None
        for alarm in (r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"):
            for action in alarm["Properties"].get("AlarmActions", []):
                topic = resources[action["Ref"]]["Properties"]["TopicName"]
                authorize_alarm_action(
                    self.stack.iam,
                    f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm['Properties']['AlarmName']}",
                    f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic}",
                )
        return None

    def card_order_captured(self) -> str | None:
        """A card order (Stripe test card, the local emulator) ends PROCESSED with its payment captured."""
        card = {**order(), "paymentMethod": "pm_card_visa"}
        reply = operations.invoke_creator(self.aws, card)
        if reply.get("statusCode") != 201:
            return f"create answered {reply.get('statusCode')}"
        self.stack.wait_until_idle()
        record = operations.get_order(self.aws, reply["orderId"])
        payment = (record.payment if record else None) or {}
        if record is None or record.status.value != "PROCESSED" or payment.get("status") != "captured":
            return f"order {self.status(reply['orderId'])}, payment {payment.get('status')}"
        return None

    def storefront_http(self, method: str, path: str, body: Any = None, token: str = "") -> tuple[int, Any]:
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.stack.storefront.http_api_url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def storefront_live(self) -> str | None:
        """The storefront: place over HTTP, subscribe on the WebSocket, see PROCESSED pushed with the order's
        payment (the pusher's GetItem on Orders), read it."""
        from urllib.parse import urlencode

        from websockets.sync.client import connect

        status, placed = self.storefront_http("POST", "/orders", order())
        if status != 201:
            return f"POST /orders answered {status}: {placed}"
        query = urlencode({"orderId": placed["orderId"], "token": placed["orderToken"]})
        try:
            with connect(f"{self.stack.storefront.websocket_url}/?{query}", open_timeout=30) as socket:
                socket.send("{}")  # the current status comes back, then every change
                deadline = time.monotonic() + 20
                message: dict[str, Any] = {}
                while message.get("status") != "PROCESSED":
                    message = json.loads(socket.recv(timeout=max(0.01, deadline - time.monotonic())))
        except (OSError, TimeoutError, ValueError) as error:
            return f"no PROCESSED on the socket ({type(error).__name__}: {error})"
        if "payment" not in message:  # the pusher reads the order for it (its GetItem on Orders)
            return f"PROCESSED pushed without the payment: {message}"
        self.stack.wait_until_idle()
        status, view = self.storefront_http("GET", f"/orders/{placed['orderId']}", token=placed["orderToken"])
        if status != 200 or view.get("order", {}).get("status") != "PROCESSED":
            return f"GET answered {status}: {view}"
        store = sf.storefront_names(self.names)
        return self.without_logs(store.api_function, store.sockets_function, store.pusher_function)

    def storefront_cancel(self) -> str | None:
        """A failed order cancelled over HTTP with its token ends CANCELLED."""
        status, placed = self.storefront_http("POST", "/orders", order("Doom Donut"))
        if status != 201:
            return f"POST /orders answered {status}: {placed}"
        self.stack.wait_until_idle()
        order_id, token = placed["orderId"], placed["orderToken"]
        status, body = self.storefront_http("POST", f"/orders/{order_id}/cancel", token=token)
        self.stack.wait_until_idle()
        return None if status == 200 and self.status(order_id) == "CANCELLED" else f"cancel answered {status}: {body}"

    def storefront_card_cancel(self) -> str | None:
        """An authorized card order (its capture held at the Stripe emulator) cancelled over HTTP: voided."""
        fault = self.stack.stripe.hold("capture", work_first=False)
        try:
            status, placed = self.storefront_http("POST", "/orders", {**order(), "paymentMethod": "pm_card_visa"})
            if status != 201:
                return f"POST /orders answered {status}: {placed}"
            if not fault.reached.wait(20):
                return f"never reached the capture (order {self.status(placed['orderId'])})"
            status, body = self.storefront_http(
                "POST", f"/orders/{placed['orderId']}/cancel", token=placed["orderToken"]
            )
        finally:
            self.stack.stripe.release("capture")
        self.stack.wait_until_idle()
        state = ((body.get("order") or {}).get("payment") or {}).get("state") if isinstance(body, dict) else None
        return None if status == 200 and state == "voided" else f"cancel answered {status}: {body}"

    def checks(self) -> list[tuple[str, Callable[[], str | None]]]:
        return [
            ("card order captured", self.card_order_captured),
            ("storefront: placed, pushed live, read", self.storefront_live),
            ("storefront: failed order cancelled", self.storefront_cancel),
            ("storefront: authorized card order cancelled, voided", self.storefront_card_cancel),
            ("order processed + status notification", self.processed_and_notified),
            ("out of stock → REJECTED", self.out_of_stock_rejected),
            ("permanent failure → DLQ, then cancelled", self.failure_dead_lettered_then_cancelled),
            ("lost event → reconciler", self.reconciled),
            ("schedule → reconciler (Lambda permission)", self.schedule_invokes_reconciler),
            ("alarms → alarm topic (topic + key policy)", self.alarms_notify),
        ]


def run_flows(template: dict[str, Any], path: Path) -> tuple[list[Outcome], dict[str, set[str]]]:
    path.write_text(json.dumps(template))
    log = io.StringIO()
    try:
        with contextlib.redirect_stderr(log):
            stack = LocalStack(port=0, virtual_time=True, template=path, fulfillment_faults=FAULTS)
            stack.start()
    except StartupError as error:
        return [Outcome("stack start", False, [str(error)])], {}
    outcomes: list[Outcome] = []
    try:
        assert stack.iam is not None
        flows = Flows(stack, template)
        for name, check in flows.checks():
            seen = len(stack.iam.denials)
            try:
                with contextlib.redirect_stderr(log):
                    problem = check()
            except (AccessDenied, Exception) as error:  # noqa: BLE001 - a check that raises failed
                problem = f"{type(error).__name__}: {error}"
            denials = [
                f"{x.request.principal.arn.rsplit('/', 1)[-1]} {x.request.action}" for x in stack.iam.denials[seen:]
            ]
            outcomes.append(Outcome(name, problem is None, denials, problem or ""))
        used = {principal: set(actions) for principal, actions in stack.iam.used.items()}
    finally:
        with contextlib.redirect_stderr(log):
            stack.stop()
    return outcomes, used


def _statements(template: dict[str, Any], ref: StatementRef) -> list[Any]:
    props = template["Resources"][ref.logical_id]["Properties"]
    match = re.fullmatch(r"Policies\[(\d+)\]", ref.policy)
    if match:
        statements: list[Any] = props["Policies"][int(match.group(1))]["PolicyDocument"]["Statement"]
    else:
        statements = props[ref.policy]["Statement"]
    return statements


def without(template: dict[str, Any], ref: StatementRef) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    props = changed["Resources"][ref.logical_id]["Properties"]
    if ref.policy in props or ref.policy.startswith("Policies["):
        del _statements(changed, ref)[ref.index]
    else:  # a statement the resource itself is (AWS::Lambda::Permission): remove the resource
        del changed["Resources"][ref.logical_id]
    return without_empty_policies(changed)


def store_actions(template: dict[str, Any], ref: StatementRef) -> list[str]:
    props = template["Resources"][ref.logical_id]["Properties"]
    if ref.policy in props or ref.policy.startswith("Policies["):
        actions = _statements(template, ref)[ref.index].get("Action", [])
    else:
        actions = props.get("Action", [])
    return [str(a) for a in (actions if isinstance(actions, list) else [actions])]


def owners(template: dict[str, Any], ref: StatementRef) -> set[str]:
    """The logical ids of the roles an identity statement belongs to (empty for resource policies)."""
    resource = template["Resources"][ref.logical_id]
    if resource["Type"] == "AWS::IAM::Role":
        return {ref.logical_id}
    if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        return {role["Ref"] for role in resource["Properties"].get("Roles", []) if isinstance(role, dict)}
    return set()


def verdict(outcomes: list[Outcome], actions: list[str], used: dict[str, set[str]]) -> tuple[bool, str]:
    for outcome in outcomes:
        if not outcome.passed:
            if outcome.denials:
                return True, f"killed: **{outcome.check}** (denied: {outcome.denials[0]})"
            return True, f"killed without a denial?: **{outcome.check}** ({outcome.detail[:120]})"
    unnoticed = [denial for outcome in outcomes for denial in outcome.denials]
    if unnoticed:
        return False, f"SURVIVED: denied ({unnoticed[0]}) but no check failed"
    ever_used = any(
        fnmatch.fnmatchcase(action.lower(), pattern.lower())
        for acts in used.values()
        for action in acts
        for pattern in actions
    )
    if ever_used:
        return False, "SURVIVED: its actions are used, and another statement grants them too"
    return False, "SURVIVED: unused by every flow"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", default="", help="only statements whose logical id or Sid contains this")
    parser.add_argument("--start", type=int, default=0, help="skip the first N statements (resume a run)")
    args = parser.parse_args(argv)

    template = json.loads(synthesized_template().read_text())
    store = PolicyStore.from_template(template, account=ACCOUNT, region=REGION)
    refs = [
        ref
        for ref, _ in store.statements()
        if ref.policy != "AssumeRolePolicyDocument" and (args.only in ref.logical_id or args.only in (ref.sid or ""))
    ]
    refs = refs[args.start :]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="iam-mutate-") as scratch:
        path = Path(scratch) / "mutant.template.json"
        baseline, used = run_flows(template, path)
        failing = [o for o in baseline if not o.passed]
        if failing:
            for outcome in failing:
                print(f"baseline fails: {outcome.check}: {outcome.detail} {outcome.denials}", file=sys.stderr)
            return 1
        print(f"{len(refs)} statements; baseline flows pass\n")
        print("| statement | construct | removed → |")
        print("|---|---|---|")
        killed = 0
        for ref in refs:
            outcomes, _ = run_flows(without(template, ref), path)
            actions = store_actions(template, ref)
            roles = owners(template, ref)
            mine = {
                principal: acts
                for principal, acts in used.items()
                if not roles
                or (store.resource(principal) is not None and store.resource(principal).logical_id in roles)  # type: ignore[union-attr]
            }
            was_killed, text = verdict(outcomes, actions, mine)
            killed += was_killed
            print(f"| {ref.describe()} | `{ref.construct_path}` | {text} |", flush=True)
    print(f"\n{killed} killed, {len(refs) - killed} survived, in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
