"""The storefront page in a real headless Chromium (Debian's), on its own origin against the local stack's
storefront APIs: CORS preflights, the order placed over the HTTP API, its status live over the WebSocket."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snacks.storefront_page import PageServer

CHROMIUM = Path(os.environ.get("SNACKS_CHROMIUM", "/usr/bin/chromium"))
TIMEOUT_MS = 30_000
DOOM = "Doom Donut"  # fails permanently under the demo faults: FAILED, then the page cancels it

if not CHROMIUM.exists():
    pytest.skip(f"chromium is missing at {CHROMIUM}", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency: `make setup`")
expect = sync_api.expect


@pytest.fixture(scope="module")
def page_url(stack: Any) -> Iterator[str]:
    """The console package's stack (its demo faults make Doom Donut fail permanently), the page on its own origin."""
    from snacks.local.storefront import CORS_ALLOWED_ORIGIN_ENV

    with PageServer(stack.storefront.http_api_url, stack.storefront.websocket_url, port=0) as page:
        previous = os.environ.get(CORS_ALLOWED_ORIGIN_ENV)
        os.environ[CORS_ALLOWED_ORIGIN_ENV] = page.url  # the HTTP API's CORS origin, as -c storefrontOrigin sets it
        try:
            yield page.url
        finally:
            if previous is None:
                os.environ.pop(CORS_ALLOWED_ORIGIN_ENV, None)
            else:
                os.environ[CORS_ALLOWED_ORIGIN_ENV] = previous


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        launched.set_default_timeout(TIMEOUT_MS)
        yield launched
        launched.close()


def test_an_order_placed_on_the_page_shows_processed_live(browser: Any, page_url: str) -> None:
    page = browser.new_page()
    page.goto(page_url)
    page.click("#place")
    expect(page.locator("#status")).to_have_attribute("data-status", "PROCESSED", timeout=TIMEOUT_MS)
    expect(page.locator("#error")).to_have_text("")
    expect(page.locator("#payment")).to_have_attribute("data-state", "due_at_pickup")
    expect(page.locator("#payment")).to_have_text("Payment: Pay at pickup, due at pickup, 2.50 USD")
    page.close()


def test_a_card_order_on_the_page_shows_its_payment_captured_live(browser: Any, page_url: str) -> None:
    page = browser.new_page()
    page.goto(page_url)
    page.select_option("#payment-method", "pm_card_visa")
    page.click("#place")
    expect(page.locator("#status")).to_have_attribute("data-status", "PROCESSED", timeout=TIMEOUT_MS)
    # The PROCESSED message carries the payment: the line follows the pushed state, not a reload.
    expect(page.locator("#payment")).to_have_attribute("data-state", "captured")
    expect(page.locator("#payment")).to_have_text("Payment: Card, captured, 2.50 USD")
    page.close()


def test_a_declined_card_shows_rejected_and_the_reason(browser: Any, page_url: str) -> None:
    page = browser.new_page()
    page.goto(page_url)
    page.select_option("#payment-method", "pm_card_chargeDeclined")
    page.click("#place")
    expect(page.locator("#status")).to_have_attribute("data-status", "REJECTED", timeout=TIMEOUT_MS)
    expect(page.locator("#payment")).to_have_text("Payment: Card, declined (card declined), 2.50 USD")
    page.close()


def test_the_page_cancels_a_failed_order_and_sees_cancelled(browser: Any, page_url: str) -> None:
    page = browser.new_page()
    page.goto(page_url)
    page.fill("#snack", DOOM)
    page.select_option("#payment-method", "pm_card_visa")
    page.click("#place")
    expect(page.locator("#status")).to_have_attribute("data-status", "FAILED", timeout=TIMEOUT_MS)
    # Doom Donut fails in the reservation, before its card is authorized: nothing held, nothing to give back.
    expect(page.locator("#payment")).to_have_attribute("data-state", "not_charged")
    page.click("#cancel")
    expect(page.locator("#status")).to_have_attribute("data-status", "CANCELLED", timeout=TIMEOUT_MS)
    expect(page.locator("#payment")).to_have_text("Payment: Card, not charged, 2.50 USD")
    page.close()
