"""EventBridge → Step Functions and → SNS target delivery, which moto does not do.

moto matches each put event against the bus's rules (its own pattern matcher, the same rule
definition the stack deploys) and delivers to SQS, logs and bus targets itself; for a
Step Functions target it raises ``NotImplementedError``. This module delivers those: it starts an
execution of the target state machine with the event as input (or what the target's ``Input``,
``InputPath`` or ``InputTransformer`` makes of it: ``target_input``), asynchronously as EventBridge does,
retries a failed start with exponential backoff within the target's ``RetryPolicy``
(``MaximumRetryAttempts``, ``MaximumEventAgeInSeconds``), and finally sends the event to the
target's dead-letter queue with the attributes EventBridge sets (``ERROR_CODE``,
``ERROR_MESSAGE``, ``RULE_ARN``, ``TARGET_ARN``).

For an SNS target moto raises ``NotImplementedError`` too; EventBridge publishes the event (its JSON,
as delivered) as the message, so this publishes it on moto's topic, whose SQS subscriptions moto
delivers (synchronously here: the local stack has no delivery latency to model for notifications).
"""

from __future__ import annotations

import copy
import heapq
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from snacks.local import iam_enforcement, service_steps, target_input
from snacks.local.moto_tuning import patched

DEFAULT_RETRY_ATTEMPTS = 185  # EventBridge's defaults when a target has no RetryPolicy
DEFAULT_MAX_EVENT_AGE_SECONDS = 86_400
FIRST_RETRY_DELAY_SECONDS = 0.5
# Events wait in the delivery queue while this many of the executions they started still run.
# On AWS, Lambda scales out under a backlog; here each function is one execution environment, so
# thousands of executions started at once would queue on it until their tasks time out (30 s).
# Holding events back, as EventBridge holds events for a throttled target, keeps every task well
# inside its timeout; the wait shows up as NEW -> PROCESSED latency, where it belongs.
MAX_RUNNING_EXECUTIONS = 32
CAPACITY_POLL_SECONDS = 0.01
MAX_RETRY_DELAY_SECONDS = 30.0
# Fields moto adds to an event that EventBridge never delivers (its envelope: version, id,
# detail-type, source, account, time, region, resources, detail).
MOTO_ONLY_FIELDS = ("ingestion-time",)
ENVELOPE_ORDER = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")


@dataclass(order=True)
class Delivery:
    due: float
    sequence: int
    rule_arn: str = field(compare=False)
    target: dict[str, Any] = field(compare=False)
    event: dict[str, Any] = field(compare=False)
    received: float = field(compare=False)
    attempts: int = field(default=0, compare=False)


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """(service, region, account) of an ARN."""
    parts = arn.split(":", 5)
    return parts[2], parts[3], parts[4]


def _as_delivered(event: dict[str, Any]) -> dict[str, Any]:
    """moto keeps ``time`` as epoch seconds internally; targets receive ISO-8601, as from AWS."""
    delivered = copy.deepcopy(event)
    stamp = delivered.get("time")
    if isinstance(stamp, int | float) or (isinstance(stamp, str) and stamp.replace(".", "", 1).isdigit()):
        delivered["time"] = datetime.fromtimestamp(float(stamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ordered = {key: delivered.pop(key) for key in ENVELOPE_ORDER if key in delivered}
    return ordered | {k: v for k, v in delivered.items() if k not in MOTO_ONLY_FIELDS}


def publish_to_topic(target: dict[str, Any], event: dict[str, Any], rule_arn: str | None = None) -> None:
    """The event as EventBridge delivers it, as the SNS message (a target ``Input`` replaces it).

    With IAM enforced, EventBridge's publish is authorized first (topic policy, key policy:
    ``service_steps``); a refused delivery publishes nothing and counts in the rule's
    ``FailedInvocations``, where AWS shows it (the event's publisher is not told: PutEvents succeeded).
    """
    from moto.sns.models import sns_backends

    enforcer = iam_enforcement.active()
    if enforcer is not None and rule_arn is not None:
        try:
            service_steps.authorize_target(enforcer, rule_arn, target)
        except iam_enforcement.AccessDenied as denied:
            service_steps.count_rule_metric(rule_arn, "FailedInvocations")
            # The local rule is provisioned from stacks/definitions.py; the template's target may add a DLQ.
            deployed = service_steps.template_target(enforcer, rule_arn, target["Arn"]) or {}
            dead_letter_arn = (target.get("DeadLetterConfig") or deployed.get("DeadLetterConfig") or {}).get("Arn")
            if dead_letter_arn:
                _dead_letter_directly(enforcer, rule_arn, target, event, dead_letter_arn, denied)
            return
    _, region, account = _arn_parts(target["Arn"])
    message = target_input.target_input(target, _as_delivered(event), rule_arn or "")
    sns_backends[account][region].publish(message=message, arn=target["Arn"])


def _dead_letter_attributes(rule_arn: str, target: dict[str, Any], code: str, error: Exception) -> dict[str, str]:
    """The attributes EventBridge sets on a DLQ message (EventBridge User Guide, eb-rule-dlq.html)."""
    return {"RULE_ARN": rule_arn, "TARGET_ARN": target["Arn"], "ERROR_CODE": code, "ERROR_MESSAGE": str(error)[:1000]}


def _dead_letter_directly(
    enforcer: Any, rule_arn: str, target: dict[str, Any], event: dict[str, Any], queue_arn: str, error: Exception
) -> None:
    """An undeliverable event to the target's DLQ, if EventBridge may send there."""
    from moto.sqs.models import sqs_backends

    try:
        service_steps.authorize_dead_letter(enforcer, rule_arn, queue_arn)
    except iam_enforcement.AccessDenied:
        service_steps.count_rule_metric(rule_arn, "InvocationsFailedToBeSentToDLQ")
        return
    _, region, account, queue_name = queue_arn.split(":")[2:6]
    attributes = _dead_letter_attributes(rule_arn, target, service_steps.NO_PERMISSIONS, error)
    attributes["RETRY_ATTEMPTS"] = "0"
    try:
        sqs_backends[account][region].send_message(
            queue_name=queue_name,
            message_body=json.dumps(_as_delivered(event)),
            message_attributes={key: {"DataType": "String", "StringValue": value} for key, value in attributes.items()},
        )
    except Exception:  # noqa: BLE001 - a DLQ the local stack does not provision: counted as AWS counts it
        service_steps.count_rule_metric(rule_arn, "InvocationsFailedToBeSentToDLQ")
        return
    service_steps.count_rule_metric(rule_arn, "InvocationsSentToDLQ")


class StepFunctionsTargetDelivery:
    """A scheduler thread that delivers matched events to Step Functions targets."""

    def __init__(
        self,
        start_execution: Callable[[str, str, str], Any],
        is_running: Callable[[Any], bool],
        send_to_dlq: Callable[..., None],
        max_running_executions: int = MAX_RUNNING_EXECUTIONS,
    ) -> None:
        self._start_execution = start_execution
        self._is_running = is_running
        self._send_to_dlq = send_to_dlq
        self._max_running = max_running_executions
        self._started: list[Any] = []
        self._queue: list[Delivery] = []
        self._condition = threading.Condition()
        self._sequence = itertools.count()
        self._pending = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.retried = 0
        self.dead_lettered = 0

    @property
    def pending(self) -> int:
        with self._condition:
            return self._pending

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="eventbridge-sfn-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def submit(self, rule_arn: str, target: dict[str, Any], event: dict[str, Any]) -> None:
        now = time.monotonic()
        delivery = Delivery(now, next(self._sequence), rule_arn, target, _as_delivered(event), received=now)
        with self._condition:
            self._pending += 1
            heapq.heappush(self._queue, delivery)
            self._condition.notify()

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Hand moto's rules' Step Functions targets to this scheduler; other targets stay moto's."""
        from moto.events.models import Rule

        original = Rule.send_to_targets
        delivery = self

        def send_to_targets(rule: Any, original_event: Any, transform_input: bool = True) -> None:
            # "A disabled rule won't match any events" (EventBridge API Reference, DisableRule);
            # moto delivers all the same.
            if rule.state != "ENABLED" or not rule.event_pattern.matches_event(original_event):
                return
            ours = [t for t in rule.targets if _arn_parts(t["Arn"])[0] == "states"]
            topics = [t for t in rule.targets if _arn_parts(t["Arn"])[0] == "sns"]
            theirs = [t for t in rule.targets if _arn_parts(t["Arn"])[0] not in ("states", "sns")]
            for target in ours:
                delivery.submit(rule.arn, target, original_event)
            for target in topics:
                publish_to_topic(target, original_event, rule.arn)
            if theirs:
                others = copy.copy(rule)
                others.targets = theirs
                original(others, original_event, transform_input)

        with patched(Rule, "send_to_targets", send_to_targets):
            yield

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopping and (not self._queue or self._queue[0].due > time.monotonic()):
                    timeout = None if not self._queue else max(0.0, self._queue[0].due - time.monotonic())
                    self._condition.wait(timeout)
                if self._stopping:
                    return
                if self._at_capacity():
                    self._condition.wait(CAPACITY_POLL_SECONDS)
                    continue
                delivery = heapq.heappop(self._queue)
            self._attempt(delivery)

    def _at_capacity(self) -> bool:
        """Whether the executions this delivery started and that still run fill the local budget."""
        if len(self._started) >= self._max_running:
            self._started = [execution for execution in self._started if self._is_running(execution)]
        return len(self._started) >= self._max_running

    def _attempt(self, delivery: Delivery) -> None:
        target = delivery.target
        enforcer = iam_enforcement.active()
        if enforcer is not None:
            try:
                service_steps.authorize_target(enforcer, delivery.rule_arn, target)
            except iam_enforcement.AccessDenied as denied:
                # "for errors that result from missing permissions to a target ... no retry attempts
                # will happen": straight to the DLQ (EventBridge User Guide, eb-rule-dlq.html).
                self._dead_letter(delivery, denied, error_code=service_steps.NO_PERMISSIONS)
                return
        try:
            execution = self._start_execution(target["Arn"], f"{uuid.uuid4()}", self._input_for(delivery))
        except Exception as error:  # noqa: BLE001 - any failed start is retried, then dead-lettered
            self._retry_or_dead_letter(delivery, error)
            return
        self._started.append(execution)
        self.delivered += 1
        self._done()

    @staticmethod
    def _input_for(delivery: Delivery) -> str:
        """The event, or what the target's Input, InputPath or InputTransformer makes of it (target_input)."""
        return target_input.target_input(delivery.target, delivery.event, delivery.rule_arn)

    def _retry_or_dead_letter(self, delivery: Delivery, error: Exception) -> None:
        policy = delivery.target.get("RetryPolicy") or {}
        max_attempts = int(policy.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS))
        max_age = float(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_SECONDS))
        delay = min(MAX_RETRY_DELAY_SECONDS, FIRST_RETRY_DELAY_SECONDS * 2**delivery.attempts)
        now = time.monotonic()
        if delivery.attempts < max_attempts and (now + delay - delivery.received) <= max_age:
            delivery.attempts += 1
            delivery.due = now + delay
            self.retried += 1
            with self._condition:
                heapq.heappush(self._queue, delivery)
                self._condition.notify()
            return
        self._dead_letter(delivery, error)

    def _dead_letter(self, delivery: Delivery, error: Exception, error_code: str | None = None) -> None:
        policy = delivery.target.get("RetryPolicy") or {}
        max_attempts = int(policy.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS))
        enforcer = iam_enforcement.active()
        if enforcer is not None:
            service_steps.count_rule_metric(delivery.rule_arn, "FailedInvocations")
        dead_letter_arn = (delivery.target.get("DeadLetterConfig") or {}).get("Arn")
        if dead_letter_arn and enforcer is not None:
            try:
                service_steps.authorize_dead_letter(enforcer, delivery.rule_arn, dead_letter_arn)
            except iam_enforcement.AccessDenied:
                service_steps.count_rule_metric(delivery.rule_arn, "InvocationsFailedToBeSentToDLQ")
                dead_letter_arn = None
        if dead_letter_arn:
            code = error_code or getattr(error, "code", None) or type(error).__name__
            attributes = _dead_letter_attributes(delivery.rule_arn, delivery.target, str(code), error)
            if error_code is None:  # retried until a limit; a NO_PERMISSIONS failure is not retried
                attributes["EXHAUSTED_RETRY_CONDITION"] = (
                    "MaximumRetryAttempts" if delivery.attempts >= max_attempts else "MaximumEventAgeInSeconds"
                )
            attributes["RETRY_ATTEMPTS"] = str(delivery.attempts)
            self._send_to_dlq(dead_letter_arn, json.dumps(delivery.event), attributes)
            self.dead_lettered += 1
        self._done()

    def _done(self) -> None:
        with self._condition:
            self._pending -= 1
