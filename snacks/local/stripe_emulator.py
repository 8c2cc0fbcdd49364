"""A stateful Stripe beside moto: localstripe's server, in this process, on a free loopback port.

localstripe (PyPI) keeps real PaymentIntents, Charges and Refunds: manual capture, cancel, refunds and
declines behave as on Stripe. What it lacks for us, this module adds, and nothing more:

* **Idempotency keys.** localstripe ignores ``Idempotency-Key``. Stripe saves the status and body of the
  first request made with a key, whatever its result, and answers any repeat with it; a repeat with other
  parameters is refused, and one arriving while the first still runs gets 409 ("Idempotent requests",
  https://docs.stripe.com/api/idempotent_requests). ``_idempotency`` does the same, per emulator.
* **Stripe's test PaymentMethods** (``pm_card_visa``, ``pm_card_chargeDeclined`` …, "Testing",
  https://docs.stripe.com/testing): localstripe only knows the ones a client created. They are created at
  start with a card number localstripe treats alike: ``4242…`` authorizes; every ``…Declined`` id gets
  ``4000000000000341``, the one number localstripe declines when charged (Stripe declines 4000000000000002
  then too; localstripe only at attach time). localstripe's decline code is always ``card_declined``.
* **Capture only what is authorized.** localstripe captures the charge of a cancelled intent; Stripe
  captures "an existing uncaptured PaymentIntent when its status is requires_capture" ("Capture a
  PaymentIntent", https://docs.stripe.com/api/payment_intents/capture) and refuses anything else with
  ``payment_intent_unexpected_state``. ``_capture_rule`` refuses it too.
* **Today's parameter name.** The SDK's API version names a PaymentIntent's methods
  ``allowed_payment_method_types``; localstripe knows the older ``payment_method_types`` and refuses any
  other parameter, so creation maps the one to the other.
* **No disk.** localstripe pickles its whole store to ``/tmp/localstripe.pickle`` on every write (slow,
  and shared by every process on the machine); here the store stays in memory.
* **Faults** for tests and the demo: an operation answers 503 before or after doing its work, or holds its
  answer until released (a capture that lands while a cancel races it), or the whole server stops
  listening (an outage: connection refused).

localstripe's store is module-global, like moto's backends: one emulator per process (the local stack's).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

SECRET_KEY = "sk_test_snacks_local_emulator"
START_TIMEOUT_SECONDS = 10.0

# Stripe's test PaymentMethod ids -> the card number localstripe gives the same outcome for.
AUTHORIZES = "4242424242424242"
DECLINED_WHEN_CHARGED = "4000000000000341"
TEST_PAYMENT_METHODS = {
    "pm_card_visa": AUTHORIZES,
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex_threeDSecureNotSupported": AUTHORIZES,
    "pm_card_chargeDeclined": DECLINED_WHEN_CHARGED,
    "pm_card_chargeDeclinedInsufficientFunds": DECLINED_WHEN_CHARGED,
    "pm_card_chargeDeclinedExpiredCard": DECLINED_WHEN_CHARGED,
    "pm_card_chargeDeclinedFraudulent": DECLINED_WHEN_CHARGED,
    "pm_card_visa_chargeDeclined": DECLINED_WHEN_CHARGED,
}

# The operations a fault can target, by method and path.
OPERATIONS = (
    ("POST", re.compile(r"^/v1/payment_intents$"), "create"),
    ("POST", re.compile(r"^/v1/payment_intents/[^/]+/confirm$"), "confirm"),
    ("POST", re.compile(r"^/v1/payment_intents/[^/]+/capture$"), "capture"),
    ("POST", re.compile(r"^/v1/payment_intents/[^/]+/cancel$"), "cancel"),
    ("POST", re.compile(r"^/v1/refunds$"), "refund"),
)


def operation_of(method: str, path: str) -> str | None:
    for verb, pattern, name in OPERATIONS:
        if method == verb and pattern.match(path):
            return name
    return None


@dataclass
class Fault:
    """What an operation does instead of answering normally."""

    after_processing: bool = False  # True: the work is done (and remembered for its key), the answer is lost
    times: int | None = None  # None: every call until cleared
    hold: threading.Event | None = None  # set: answer normally once released (after doing the work)
    reached: threading.Event = field(default_factory=threading.Event)
    calls: int = 0


@dataclass
class _Saved:
    fingerprint: tuple[str, str, bytes]
    status: int
    body: bytes


class StripeEmulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self.port = 0
        self.secret_key = SECRET_KEY
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: Any = None
        self._site: Any = None
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._saved: dict[str, _Saved] = {}
        self._in_flight: set[str] = set()
        self.requests: list[tuple[str, str]] = []  # (operation or path, idempotency key) of every POST

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        from localstripe import resources

        # In memory only: localstripe would pickle the whole store to one /tmp file on every write.
        resources.store.dump_to_disk = lambda: None  # type: ignore[method-assign]
        # No webhook consumers: localstripe would start a task per event that sleeps a second to find none.
        resources.schedule_webhook = lambda event: None
        resources.store.clear()
        _accept_allowed_payment_method_types(resources.PaymentIntent)
        self._seed_payment_methods()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve(self._requested_port))
            except BaseException as error:  # noqa: BLE001 (reported to start(), which raises it)
                failure.append(error)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="stripe-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(START_TIMEOUT_SECONDS) or failure:
            raise RuntimeError(f"the Stripe emulator did not start: {failure[0] if failure else 'timed out'}")

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._release_holds()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=START_TIMEOUT_SECONDS)
        self._loop = None
        self._thread = None

    def _seed_payment_methods(self) -> None:
        from localstripe.resources import PaymentMethod, store

        for method_id, number in TEST_PAYMENT_METHODS.items():
            method = PaymentMethod(
                type="card", card={"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
            )
            del store[f"{PaymentMethod.object}:{method.id}"]
            method.id = method_id
            store[f"{PaymentMethod.object}:{method_id}"] = method

    async def _serve(self, port: int) -> None:
        from aiohttp import web

        if self._runner is None:
            self._runner = web.AppRunner(self._application(), access_log=None)
            await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, port))
        self.port = sock.getsockname()[1]
        self._site = web.SockSite(self._runner, sock)
        await self._site.start()

    def _application(self) -> Any:
        """localstripe's routes and its error and auth middlewares (not its save-to-disk one), behind ours."""
        from aiohttp import web
        from localstripe import server

        middlewares = [self._faulty, self._idempotency, server.error_middleware, server.auth_middleware, _capture_rule]
        app = web.Application(middlewares=middlewares)
        for route in server.app.router.routes():
            info = route.resource.get_info() if route.resource is not None else {}
            path = info.get("formatter") or info.get("path")
            if path:
                app.router.add_route(route.method, path, route.handler)
        return app

    def _call(self, coroutine: Awaitable[Any]) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(START_TIMEOUT_SECONDS)  # type: ignore[arg-type]

    # -- faults --------------------------------------------------------------------------------

    def fail(self, operation: str, *, times: int | None = None, after_processing: bool = False) -> Fault:
        """``operation`` answers 503 (``times`` times, or until cleared); ``after_processing``: its work is done
        first, so only the answer is lost (a retry with the same key gets the saved result)."""
        fault = Fault(after_processing=after_processing, times=times)
        with self._lock:
            self._faults[operation] = fault
        return fault

    def hold(self, operation: str, *, work_first: bool = True) -> Fault:
        """``operation`` does its work, then keeps its answer until ``release(operation)`` (``work_first``
        false: waits for the release before doing its work)."""
        fault = Fault(after_processing=work_first, hold=threading.Event())
        with self._lock:
            self._faults[operation] = fault
        return fault

    def release(self, operation: str) -> None:
        with self._lock:
            fault = self._faults.pop(operation, None)
        if fault is not None and fault.hold is not None:
            fault.hold.set()

    def clear_faults(self) -> None:
        self._release_holds()

    def _release_holds(self) -> None:
        with self._lock:
            faults, self._faults = self._faults, {}
        for fault in faults.values():
            if fault.hold is not None:
                fault.hold.set()

    def outage(self) -> None:
        """Stop listening: every call is refused (the SDK's APIConnectionError) until ``recover()``."""
        self._call(self._site.stop())

    def recover(self) -> None:
        self._call(self._serve(self.port))

    def _fault_for(self, operation: str | None) -> Fault | None:
        if operation is None:
            return None
        with self._lock:
            fault = self._faults.get(operation)
            if fault is None:
                return None
            fault.calls += 1
            if fault.times is not None and fault.calls > fault.times:
                return None
            return fault

    # -- middlewares ---------------------------------------------------------------------------

    @property
    def _faulty(self) -> Callable[..., Awaitable[Any]]:
        from aiohttp import web

        @web.middleware
        async def faulty(request: Any, handler: Callable[[Any], Awaitable[Any]]) -> Any:
            fault = self._fault_for(operation_of(request.method, request.path))
            if fault is None:
                return await handler(request)
            if not fault.after_processing:
                fault.reached.set()
                if fault.hold is not None:
                    await asyncio.get_running_loop().run_in_executor(None, fault.hold.wait, 60.0)
                    return await handler(request)
                return _error(503, "api_error", "The Stripe emulator is failing this operation (fault injected).")
            response = await handler(request)
            fault.reached.set()
            if fault.hold is not None:
                await asyncio.get_running_loop().run_in_executor(None, fault.hold.wait, 60.0)
                return response
            return _error(503, "api_error", "The Stripe emulator lost this answer (fault injected after the work).")

        return faulty

    @property
    def _idempotency(self) -> Callable[..., Awaitable[Any]]:
        from aiohttp import web

        @web.middleware
        async def idempotency(request: Any, handler: Callable[[Any], Awaitable[Any]]) -> Any:
            key = request.headers.get("Idempotency-Key")
            if request.method == "POST":
                with self._lock:
                    self.requests.append((operation_of(request.method, request.path) or request.path, key or ""))
            if request.method != "POST" or not key:
                return await handler(request)
            fingerprint = (request.method, request.path, await request.read())
            with self._lock:
                saved = self._saved.get(key)
                if saved is None and key in self._in_flight:
                    return _error(409, "idempotency_error", "A request with this idempotency key is in progress.")
                if saved is None:
                    self._in_flight.add(key)
            if saved is not None:
                if saved.fingerprint != fingerprint:
                    return _error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters they were first "
                        "used with.",
                    )
                return web.Response(
                    body=saved.body,
                    status=saved.status,
                    content_type="application/json",
                    headers={"Idempotent-Replayed": "true"},
                )
            try:
                response = await handler(request)
                with self._lock:
                    self._saved[key] = _Saved(fingerprint, response.status, bytes(response.body or b""))
                return response
            finally:
                with self._lock:
                    self._in_flight.discard(key)

        return idempotency


def _accept_allowed_payment_method_types(intent_class: Any) -> None:
    create = intent_class.__dict__["_api_create"].__func__
    if getattr(create, "_snacks_renamed", False):
        return

    def renamed(cls: Any, /, **data: Any) -> Any:
        if "allowed_payment_method_types" in data:
            data["payment_method_types"] = data.pop("allowed_payment_method_types")
        return create(cls, **data)

    renamed._snacks_renamed = True  # type: ignore[attr-defined]
    intent_class._api_create = classmethod(renamed)


async def _capture_rule(request: Any, handler: Callable[[Any], Awaitable[Any]]) -> Any:
    if operation_of(request.method, request.path) == "capture":
        from localstripe.resources import PaymentIntent

        intent_id = request.path.split("/")[3]
        intent = PaymentIntent._api_retrieve(intent_id)
        if intent.status != "requires_capture":
            return _error(
                400,
                "invalid_request_error",
                f"This PaymentIntent could not be captured because it has a status of {intent.status}.",
                code="payment_intent_unexpected_state",
            )
    return await handler(request)


_capture_rule.__middleware_version__ = 1  # type: ignore[attr-defined]  # aiohttp's marker (web.middleware)


def _error(status: int, kind: str, message: str, code: str | None = None) -> Any:
    from aiohttp import web

    return web.Response(
        status=status,
        content_type="application/json",
        text=json.dumps({"error": {"type": kind, "message": message, **({"code": code} if code else {})}}),
    )
