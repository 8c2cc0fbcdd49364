"""Virtual time for the local stack in tests: a workflow's waits take no wall time, and are recorded.

A state machine's ``Retry`` backs off ``IntervalSeconds`` x ``BackoffRate``^n (capped at
``MaxDelaySeconds``, with ``JitterStrategy: FULL`` a random delay up to that) before each retry,
and a ``Wait`` state waits its seconds ("Handling errors in Step Functions workflows",
https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html; "Wait workflow
state", https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html). moto's interpreter
really sleeps for them, so "fails twice, then succeeds" costs seconds of a test's time.

With a ``VirtualClock`` the interpreter computes each delay exactly as before (moto's own
``IntervalSeconds``/``BackoffRate``/``MaxDelaySeconds``/``JitterStrategy`` components), then,
instead of sleeping, records it (``VirtualClock.delays``) and moves that execution's own clock
forward: the execution's history events, and so its log lines' ``event_timestamp``, carry the
time it would have reached. A test can also move the whole stack's clock (``advance``): handler
code that asks ``order_service.adapters.clock`` for the time then sees it too (the reconciler's
"older than"), as do the executions' timestamps.

A Task's ``TimeoutSeconds`` still runs in real time (a hung function must time out), but only
while no test holds an execution: ``with clock.holding():`` around a test's wait (one execution
held until another catches up, a cancel issued while a step waits) stops every Task's timeout
clock meanwhile, so however slow a loaded machine makes the wait, it never turns into a
``States.Timeout`` the test did not ask for.

``snacks local`` for people never uses this: it keeps real time.
"""

from __future__ import annotations

import functools
import importlib
import threading
import time
import types
import weakref
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from snacks.local.moto_tuning import patched

SFN = "moto.stepfunctions.parser"
HANDLER_CLOCK_MODULE = "order_service.adapters.clock"
RETRY = "Retry"
WAIT = "Wait"
HOLD_POLL_SECONDS = 0.05  # how often a Task's timeout looks whether a hold began or ended


@dataclass(frozen=True)
class Delay:
    """One wait an execution would have slept through."""

    execution_arn: str
    state: str
    kind: str  # RETRY or WAIT
    seconds: float  # what it would have waited (after jitter, for a retry)
    retry_count: int  # the state's $$.State.RetryCount when it waited (0 before the first retry)
    backoff_seconds: float | None = None  # a retry's delay before jitter: interval x rate^n, capped


class VirtualClock:
    """The stack's time for tests: real time plus what the test advanced, plus, per execution, what
    that execution would have waited."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._advanced = 0.0
        self._delays: list[Delay] = []
        # Per execution (its EventManager, which its frames share): seconds it has waited so far.
        self._waited: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        self._holds = 0

    @contextmanager
    def holding(self) -> Iterator[None]:
        """While the block runs, no Task's ``TimeoutSeconds`` runs (see the module's docstring)."""
        with self._lock:
            self._holds += 1
        try:
            yield
        finally:
            with self._lock:
                self._holds -= 1

    @property
    def held(self) -> bool:
        return self._holds > 0

    def task_wait(self, wait: Any, timeout: float, now: Any = time.monotonic) -> bool:
        """``wait(seconds) -> bool`` for a Task's end, within ``timeout`` seconds not spent held."""
        remaining = float(timeout)
        while True:
            began = now()
            if wait(min(max(remaining, 0.0), HOLD_POLL_SECONDS)):
                return True
            if not self.held:
                remaining -= now() - began
            if remaining < HOLD_POLL_SECONDS / 1000:  # done (to the float precision of a long wait)
                return bool(wait(0))

    def now(self) -> datetime:
        """The stack's current time (UTC): what handlers see."""
        return datetime.now(UTC) + timedelta(seconds=self._advanced)

    def advance(self, seconds: float) -> None:
        """Move the stack's time forward (the test's "ten minutes later")."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._advanced += seconds

    def delays(self, execution_arn: str | None = None) -> list[Delay]:
        """The waits recorded so far, in order (those of one execution when given its ARN)."""
        with self._lock:
            return [d for d in self._delays if execution_arn is None or d.execution_arn == execution_arn]

    def execution_now(self, event_manager: Any) -> datetime:
        """The time as one execution sees it: the stack's time plus what it has waited."""
        with self._lock:
            waited = self._waited.get(event_manager, 0.0)
        return self.now() + timedelta(seconds=waited)

    def wait(self, env: Any, seconds: float, kind: str, backoff_seconds: float | None = None) -> None:
        """Instead of sleeping: record the delay and move the execution's clock past it."""
        context = env.states.context_object.context_object_data
        state = context.get("State") or {}
        delay = Delay(
            execution_arn=str(context["Execution"]["Id"]),
            state=str(state.get("Name", "")),
            kind=kind,
            seconds=float(seconds),
            retry_count=int(state.get("RetryCount", 0)),
            backoff_seconds=None if backoff_seconds is None else float(backoff_seconds),
        )
        with self._lock:
            self._delays.append(delay)
            self._waited[env.event_manager] = self._waited.get(env.event_manager, 0.0) + max(0.0, float(seconds))


@contextmanager
def virtual_workflow_time(clock: VirtualClock) -> Iterator[None]:
    """Retry backoffs and Wait states take no wall time; history timestamps follow the virtual clock
    (the functions' clock is bound apart, by ``bind_handler_clock``, after each load of their code)."""
    retrier_decl: Any = importlib.import_module(f"{SFN}.asl.component.common.retry.retrier_decl")
    retrier_outcome: Any = importlib.import_module(f"{SFN}.asl.component.common.retry.retrier_outcome")
    max_attempts_decl: Any = importlib.import_module(f"{SFN}.asl.component.common.retry.max_attempts_decl")
    wait_function: Any = importlib.import_module(f"{SFN}.asl.component.state.wait.wait_function.wait_function")
    event_manager: Any = importlib.import_module(f"{SFN}.asl.eval.event.event_manager")
    RetrierOutcome = retrier_outcome.RetrierOutcome
    EXHAUSTED = max_attempts_decl.MaxAttemptsOutcome.EXHAUSTED

    def retrier_eval_body(self: Any, env: Any) -> None:
        # moto's RetrierDecl._eval_body (moto 5.2.5), with its time.sleep replaced by clock.wait.
        self.error_equals.eval(env)
        if not env.stack.pop():
            env.stack.append(RetrierOutcome.Skipped)
            return
        self.max_attempts.eval(env=env)
        if env.stack.pop() == EXHAUSTED:
            env.stack.append(RetrierOutcome.Failed)
            return
        self.interval_seconds.eval(env=env)
        self.backoff_rate.eval(env=env)
        self.max_delay_seconds.eval(env=env)
        backoff_seconds = env.stack[-1]  # before jitter: what the backoff computation gave
        self.jitter_strategy.eval(env=env)
        clock.wait(env, env.stack.pop(), RETRY, backoff_seconds=backoff_seconds)
        env.stack.append(RetrierOutcome.Executed)

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        clock.wait(env, wait_seconds, WAIT)

    execute_state: Any = importlib.import_module(f"{SFN}.asl.component.state.exec.execute_state")

    class TaskEnd(threading.Event):
        """The event a Task's ``_evaluate_with_timeout`` waits on for ``TimeoutSeconds``."""

        def wait(self, timeout: float | None = None) -> bool:
            if timeout is None:
                return super().wait()
            return clock.task_wait(functools.partial(threading.Event.wait, self), timeout)

    original_add_event = event_manager.EventManager.add_event

    @functools.wraps(original_add_event)
    def add_event(self: Any, *args: Any, **kwargs: Any) -> int:
        if len(args) < 4 and kwargs.get("timestamp") is None:  # timestamp is the 4th parameter
            kwargs["timestamp"] = clock.execution_now(self)
        return int(original_add_event(self, *args, **kwargs))

    with ExitStack() as stack:
        stack.enter_context(patched(retrier_decl.RetrierDecl, "_eval_body", retrier_eval_body))
        stack.enter_context(patched(wait_function.WaitFunction, "_wait_interval", wait_interval))
        stack.enter_context(patched(event_manager.EventManager, "add_event", add_event))
        # moto's execute_state uses its ``threading`` name for this one Event alone.
        stack.enter_context(patched(execute_state, "threading", types.SimpleNamespace(Event=TaskEnd)))
        yield


def bind_handler_clock(clock: VirtualClock | None) -> None:
    """Point the functions' clock seam (``order_service.adapters.clock.utc_now``) at ``clock``, or
    back at the system clock when ``None``.

    Product code never imports this: the local stack sets the seam's module attribute after each
    (re)load of the functions' code, since a hot reload brings a fresh module. Code without the
    seam (an older ``--code-dir``) keeps the system clock.
    """
    try:
        module: Any = importlib.import_module(HANDLER_CLOCK_MODULE)
    except ImportError:
        return
    module.utc_now = module.system_utc_now if clock is None else clock.now
