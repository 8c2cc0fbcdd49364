"""Stripe PaymentIntents (manual capture) behind the ``PaymentGateway`` port, with the official ``stripe`` SDK.

The secret key lives in AWS Secrets Manager and is read with Powertools' parameters utility, cached for
``SECRET_MAX_AGE_SECONDS`` (a rotated key is picked up within that time). Nothing connects, and ``stripe``
is not even imported, until the first card payment: orders paid at pickup never pay for it.

Outcomes are read from the PaymentIntent's own status, never from an error's wording: a call refused
because the intent moved on (captured, cancelled) is followed by a retrieve, and the status decides. A
decline (HTTP 402, ``CardError``) is an outcome; no answer, a 5xx, a 409 (the same idempotency key still in
flight) or a 429 is ``PaymentProviderUnavailable`` (the workflow retries with the same keys); any other
refusal is ``PaymentFailed``.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from order_service.adapters.clients import ANSWER_MARGIN_SECONDS, secretsmanager_client
from order_service.adapters.deadline import INVOCATION_DEADLINE
from order_service.domain.errors import PaymentFailed, PaymentProviderUnavailable
from order_service.domain.payment import Authorization
from order_service.settings import Settings

if TYPE_CHECKING:
    import stripe

# One attempt per call, bounded: the workflow's Retry is the retry layer (with the same idempotency keys),
# so a Stripe call's worst case is one timeout and the step's time budget stays simple.
STRIPE_TIMEOUT_SECONDS = 4.0
STRIPE_MAX_NETWORK_RETRIES = 0
SECRET_MAX_AGE_SECONDS = 300
# Statuses of a refused intent call that mean "ask again later", not "this request is wrong".
RETRYABLE_HTTP_STATUSES = frozenset({409, 429})


def stripe_call_worst_case_seconds() -> float:
    """The longest one Stripe call can take: one attempt, connect and every read within the timeout."""
    return (1 + STRIPE_MAX_NETWORK_RETRIES) * 2 * STRIPE_TIMEOUT_SECONDS


def _http_client(timeout: float) -> stripe.HTTPClient:
    """The SDK's urllib transport with a timeout (``stripe.UrllibClient`` has none; requests is not in the
    Lambda runtime). Implements the SDK's documented custom-client hook, ``stripe.HTTPClient``."""
    import stripe

    class TimeoutUrllibClient(stripe.HTTPClient):
        name = "urllib.request"

        def request(
            self,
            method: str,
            url: str,
            headers: Mapping[str, str] | None,
            post_data: Any = None,
            *,
            _usage: list[str] | None = None,
        ) -> tuple[str, int, Mapping[str, str]]:
            data = post_data.encode("utf-8") if isinstance(post_data, str) else post_data
            request = urllib.request.Request(url, data=data, headers=dict(headers or {}), method=method.upper())
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    body = response.read().decode("utf-8")
                    return body, int(response.status), {k.lower(): v for k, v in response.headers.items()}
            except urllib.error.HTTPError as error:
                body = error.read().decode("utf-8")
                return body, int(error.code), {k.lower(): v for k, v in error.headers.items()}
            except (urllib.error.URLError, OSError, ValueError) as error:
                message = f"Stripe did not answer: {error}"
                raise stripe.APIConnectionError(message, should_retry=True) from error  # type: ignore[no-untyped-call]

        def close(self) -> None:
            return None

    return TimeoutUrllibClient()


class StripePayments:
    def __init__(self, secret_key: Callable[[], str], api_base: str | None, secret_name: str = "") -> None:
        self._secret_key = secret_key
        self._api_base = api_base or None
        self._secret_name = secret_name
        self._client: stripe.StripeClient | None = None
        self._key: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> StripePayments:
        name = settings.stripe_secret_name

        def read_key() -> str:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            provider = _providers.get(name)
            if provider is None:
                provider = _providers[name] = SecretsProvider(boto3_client=secretsmanager_client())
            return str(provider.get(name, max_age=SECRET_MAX_AGE_SECONDS))

        return cls(read_key, settings.stripe_api_base, name)

    def _stripe(self) -> stripe.StripeClient:
        import stripe

        INVOCATION_DEADLINE.require(stripe_call_worst_case_seconds() + ANSWER_MARGIN_SECONDS)
        key = self._secret_key().strip()
        if not key.startswith(("sk_", "rk_")):
            raise PaymentFailed(
                f"the Stripe secret key is not set: put your sk_... key in the secret {self._secret_name!r} "
                "(README, 'Card payments')"
            )
        if self._client is None or key != self._key:
            self._client = stripe.StripeClient(
                key,
                http_client=_http_client(STRIPE_TIMEOUT_SECONDS),
                max_network_retries=STRIPE_MAX_NETWORK_RETRIES,
                base_addresses={"api": self._api_base} if self._api_base else None,  # type: ignore[typeddict-item]
            )
            self._key = key
        return self._client

    def create_intent(
        self, *, order_id: str, amount: int, currency: str, payment_method: str, idempotency_key: str
    ) -> str:
        client = self._stripe()
        with _provider_errors():
            intent = client.v1.payment_intents.create(
                {
                    "amount": amount,
                    "currency": currency,
                    "payment_method": payment_method,
                    # Cards only, confirmed server-side: no redirect-based methods, so no return_url.
                    "allowed_payment_method_types": ["card"],
                    "capture_method": "manual",
                    "metadata": {"orderId": order_id},
                },
                {"idempotency_key": idempotency_key},
            )
        return str(intent.id)

    def authorize(self, intent_id: str, idempotency_key: str) -> Authorization:
        import stripe

        client = self._stripe()
        try:
            with _provider_errors(refused_is_final=False):
                intent = client.v1.payment_intents.confirm(intent_id, None, {"idempotency_key": idempotency_key})
        except stripe.CardError as declined:
            error = declined.error
            code = (error.decline_code if error else None) or declined.code or "card_declined"
            return Authorization(False, "requires_payment_method", code, declined.user_message)
        except _Refused:
            intent = self._retrieve(client, intent_id)
        status = str(intent.status)
        if status == "requires_capture":
            return Authorization(True, status)
        if status in ("requires_payment_method", "requires_action"):
            last = intent.last_payment_error
            code = "authentication_required" if status == "requires_action" else str(getattr(last, "code", "") or "")
            return Authorization(False, status, code or "card_declined", getattr(last, "message", None))
        if status == "canceled":
            return Authorization(False, status)
        if status == "processing":
            raise PaymentProviderUnavailable(f"payment intent {intent_id} is still processing")
        raise PaymentFailed(f"payment intent {intent_id} is {status} after confirming it")

    def capture(self, intent_id: str, idempotency_key: str) -> str:
        client = self._stripe()
        try:
            with _provider_errors(refused_is_final=False):
                intent = client.v1.payment_intents.capture(intent_id, None, {"idempotency_key": idempotency_key})
        except _Refused:
            intent = self._retrieve(client, intent_id)
        status = str(intent.status)
        if status in ("succeeded", "canceled"):
            return status
        raise PaymentFailed(f"payment intent {intent_id} is {status}; it could not be captured")

    def release(self, intent_id: str, void_key: str, refund_key: str) -> str:
        client = self._stripe()
        try:
            with _provider_errors(refused_is_final=False):
                intent = client.v1.payment_intents.cancel(intent_id, None, {"idempotency_key": void_key})
        except _Refused:
            intent = self._retrieve(client, intent_id)
        status = str(intent.status)
        if status == "canceled":
            return "canceled"
        if status == "succeeded":  # captured: give the money back
            with _provider_errors():
                client.v1.refunds.create({"payment_intent": intent_id}, {"idempotency_key": refund_key})
            return "refunded"
        raise PaymentFailed(f"payment intent {intent_id} is {status}; it could not be released")

    def _retrieve(self, client: stripe.StripeClient, intent_id: str) -> stripe.PaymentIntent:
        with _provider_errors():
            return client.v1.payment_intents.retrieve(intent_id)


_providers: dict[str, Any] = {}


class _Refused(Exception):
    """The provider refused the request itself (4xx); the caller looks at the intent to see why."""


@contextmanager
def _provider_errors(refused_is_final: bool = True) -> Iterator[None]:
    import stripe

    try:
        yield
    except stripe.CardError:
        raise
    except stripe.APIConnectionError as error:
        raise PaymentProviderUnavailable(f"Stripe unreachable: {error.user_message or error}") from error
    except stripe.StripeError as error:
        status = error.http_status or 0
        if status >= 500 or status in RETRYABLE_HTTP_STATUSES:
            raise PaymentProviderUnavailable(f"Stripe answered {status}: {error.user_message or error}") from error
        if status in (401, 403) or refused_is_final:
            raise PaymentFailed(f"Stripe refused the request ({status}): {error.user_message or error}") from error
        raise _Refused(str(error)) from error
