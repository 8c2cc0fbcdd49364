"""The console as a person uses it, in a real headless Chromium (Debian's) driven by Playwright.

Create an order through the form and watch it reach PROCESSED in the live list, open its graph
(highlighted path, the retried state's attempts), replay a dead letter from the page. Each page's
screenshot goes to test-artifacts/console/ (git-ignored); SNACKS_DOCS_SCREENSHOTS=1 also refreshes
the ones in docs/images/ that the README shows.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from order_service.domain.order import OrderStatus
from snacks.aws import Aws
from snacks.console.server import ConsoleServer
from tests.console.conftest import create_order, wait_for

CHROMIUM = Path(os.environ.get("SNACKS_CHROMIUM", "/usr/bin/chromium"))  # Debian's package
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "console"
DOCS_IMAGES = REPO / "docs" / "images"
TIMEOUT_MS = 30_000  # the slowest path: a retry's backoff (1-2 s) on a busy 2-core machine

if not CHROMIUM.exists():
    pytest.skip(
        f"chromium is missing at {CHROMIUM}: `apt-get install chromium chromium-driver` (CI's .ci/run installs it), "
        "or point SNACKS_CHROMIUM at a Chromium binary",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency: `make setup`")
expect = sync_api.expect


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        # Debian's build, offline: no component updates, sync or first-run fetches; a fresh profile.
        launched = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
            viewport={"width": 1280, "height": 900},
        )
        launched.set_default_timeout(TIMEOUT_MS)
        yield launched
        launched.close()


@pytest.fixture(scope="module", autouse=True)
def demo_orders(aws: Aws) -> None:
    """The demo's orders (processed, retried, failed) so the pages show what a user would see."""
    from snacks import operations
    from snacks.demo import SEED_ORDERS

    for order in SEED_ORDERS:
        operations.invoke_creator(aws, order.payload)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    opened = browser.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    opened.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    if os.environ.get("SNACKS_DOCS_SCREENSHOTS"):
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, DOCS_IMAGES / f"console-{name}.png")


def test_an_order_made_through_the_form_appears_in_the_live_list_reaches_processed_and_shows_its_graph(
    browser: Any, page: Any, console: ConsoleServer
) -> None:
    listing = browser.new_page()
    listing.goto(f"{console.url}/orders")
    listing.evaluate("window.notReloaded = true")  # gone if the page reloads

    page.goto(f"{console.url}/orders/new")
    page.fill("#customerName", "Grace Hopper")
    page.fill("#item-0-name", "Flaky Fries")  # the demo's fault plan fails its first fulfilment
    page.fill("#item-0-quantity", "2")
    page.fill("#item-0-price", "2.50")
    page.fill("#item-1-name", "Coffee")
    page.fill("#item-1-quantity", "1")
    page.fill("#item-1-price", "4.50")
    page.click("#create-order")
    order_id = page.locator("#order-id").inner_text()

    row = listing.locator(f'tr[data-order-id="{order_id}"]')
    expect(row).to_be_visible()
    expect(row.locator(".status")).to_have_text("PROCESSED")
    expect(row.locator("td").nth(1)).to_have_text("Grace Hopper")
    expect(row.locator("td").nth(2)).to_have_text("2")  # lines, not units
    expect(row.locator("td").nth(3)).to_have_text("9.50")
    assert listing.evaluate("window.notReloaded === true"), "the list reloaded instead of updating in place"
    screenshot(listing, "orders")
    listing.close()

    # The form landed on the order's page, which reloads itself while the order or an execution is
    # still going: a navigation there can race that reload (net::ERR_ABORTED). Open it in a fresh tab.
    page.close()
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{console.url}/orders/{order_id}")
    expect(page.locator("#order-status")).to_have_text("PROCESSED")
    graph = page.locator("#execution-0 svg.workflow")
    taken = graph.locator("path.edge.taken")
    expect(taken).to_have_count(5)
    assert sorted(taken.evaluate_all("paths => paths.map(path => path.dataset.edge)")) == sorted(
        [
            "Start->Validate",
            "Validate->Fulfil",
            "Fulfil->InStock",
            "InStock->MarkProcessed",  # paid at pickup: no AuthorizePayment
            "MarkProcessed->End",  # it announces Order Processed itself: the execution ends there
        ]
    )
    fulfil = graph.locator('g.state[data-state="Fulfil"]')
    expect(fulfil).to_have_attribute("data-outcome", "retried")
    expect(fulfil.locator("text.attempts-badge")).to_have_text("\u00d72")  # multiplication sign, then 2
    expect(graph.locator('g.state[data-state="RecordFailure"]')).to_have_attribute("data-outcome", "not-taken")
    expect(graph.locator('g.state[data-state="Validate"]')).to_have_attribute("data-outcome", "succeeded")

    fulfil.click()
    details = page.locator("#execution-0 .state-details")
    expect(details.locator("h4")).to_have_text("Fulfil")
    expect(details.locator(".attempts")).to_have_text("Attempts: 2")
    expect(details.locator(".attempt-error strong")).to_have_text(["Attempt 1: FulfillmentUnavailable"])
    expect(details.locator(".attempt-error p")).to_contain_text("fulfillment is unavailable for 'Flaky Fries'")
    # The state's output is what its ResultSelector kept of the step's answer (what later states read).
    expect(details.locator(".state-output")).to_contain_text('"outcome": "fulfilled"')
    screenshot(page, "order")
    assert not errors, f"JavaScript errors on the order page: {errors}"


def test_the_form_shows_the_creators_field_errors_next_to_the_fields(page: Any, console: ConsoleServer) -> None:
    page.goto(f"{console.url}/orders/new")
    page.fill("#customerName", "Grace Hopper")
    page.fill("#item-0-name", "Chips")
    page.fill("#item-0-quantity", "0")
    page.fill("#item-0-price", "3.999")
    page.click("#create-order")
    expect(page.locator('.field-error[data-field="item-0-quantity"]')).to_have_text("must be between 1 and 1000")
    expect(page.locator('.field-error[data-field="item-0-price"]')).to_have_text("must have at most 2 decimal places")
    expect(page.locator("#item-0-price")).to_have_value("3.999")
    screenshot(page, "new-order-errors")


def test_a_dead_letter_is_replayed_from_the_page_and_the_order_shows_both_executions(
    page: Any, console: ConsoleServer, aws: Aws
) -> None:
    order_id = create_order(aws, "Dan Doom", ("Doom Donut", 1, "2.50"))  # rejected by the supplier: DLQ
    wait_for(aws, order_id, OrderStatus.FAILED)

    page.goto(f"{console.url}/dlq")
    group = page.locator('section.dlq-group[data-step="Fulfil"][data-error="FulfillmentRejected"]')
    expect(group.locator(".cause")).to_contain_text("Doom Donut")
    screenshot(page, "dlq")
    group.locator(f'tr[data-order-id="{order_id}"] a.replay-one').click()
    expect(page.locator("h1")).to_contain_text(f"Replay order {order_id}?")
    screenshot(page, "replay-confirm")
    page.click("#replay-confirm")
    row = page.locator(f'#outcomes tr[data-order-id="{order_id}"]')
    expect(row.locator("td.outcome")).to_have_text("replayed")
    # The supplier still rejects it: the page follows the new run until it fails again.
    expect(row.locator("td.now .status")).to_have_text("FAILED")
    screenshot(page, "replayed")

    page.goto(f"{console.url}/orders/{order_id}")
    expect(page.locator("section.execution")).to_have_count(2)
    for index in (0, 1):
        graph = page.locator(f"#execution-{index} svg.workflow")
        expect(graph.locator('g.state[data-state="Fulfil"]')).to_have_attribute("data-outcome", "caught")
        expect(graph.locator('g.state[data-state="OrderFailed"]')).to_have_attribute("data-outcome", "failed")


FITS_ITS_PAGE = """() => {
  const inside = (inner, outer) => inner.left >= outer.left - 0.5 && inner.right <= outer.right + 0.5
    && inner.top >= outer.top - 0.5 && inner.bottom <= outer.bottom + 0.5;
  const problems = [];
  if (document.documentElement.scrollWidth > window.innerWidth) {
    problems.push(`page is ${document.documentElement.scrollWidth} px wide in a ${window.innerWidth} px window`);
  }
  for (const panel of document.querySelectorAll(".state-details")) {
    const box = panel.getBoundingClientRect();
    if (box.right > window.innerWidth) problems.push(`details panel ends at ${box.right} px`);
  }
  for (const svg of document.querySelectorAll("svg.workflow")) {
    const view = svg.viewBox.baseVal;
    const frame = { left: view.x, top: view.y, right: view.x + view.width, bottom: view.y + view.height };
    for (const shape of svg.querySelectorAll("path.edge, g.state")) {
      const b = shape.getBBox();
      const box = { left: b.x, top: b.y, right: b.x + b.width, bottom: b.y + b.height };
      if (!inside(box, frame)) problems.push(`${shape.dataset.edge || shape.dataset.state} outside the graph`);
    }
    const drawn = svg.getBoundingClientRect(), column = svg.parentElement.getBoundingClientRect();
    if (!inside(drawn, column)) problems.push("graph wider than its column");
  }
  return problems;
}"""


def test_order_pages_fit_1280_px_every_edge_inside_its_graph_and_settled_orders_say_why(
    page: Any, console: ConsoleServer, aws: Aws
) -> None:
    """At the browser fixture's 1280 px: no sideways scrolling, the details panel whole, every state and
    edge (InStock -> Cancelled is routed around the others) inside the graph's view box. REJECTED and
    CANCELLED orders: a summary row each, and badges that tell them apart."""
    from snacks import operations

    operations.set_stock(aws, "Browser Brownies", 0)
    rejected = create_order(aws, "Rhea Rejected", ("Browser Brownies", 1, "2.00"))
    cancelled = create_order(aws, "Carl Cancelled", ("Doom Donut", 1, "2.50"))
    processed = create_order(aws, "Pia Processed", ("Flaky Fries", 1, "2.50"), ("Coffee", 1, "4.50"))
    wait_for(aws, rejected, OrderStatus.REJECTED)
    wait_for(aws, cancelled, OrderStatus.FAILED)
    assert operations.invoke_canceller(aws, cancelled)["statusCode"] == 200
    wait_for(aws, processed, OrderStatus.PROCESSED)

    badges: dict[str, str] = {}
    for order_id, status, summary in (
        (processed, "PROCESSED", None),
        (rejected, "REJECTED", "#summary-rejected"),
        (cancelled, "CANCELLED", "#summary-cancelled"),
    ):
        page.goto(f"{console.url}/orders/{order_id}")
        expect(page.locator("#order-status")).to_have_text(status)
        expect(page.locator("svg.workflow")).to_have_count(1)
        page.locator('#execution-0 g.state[data-state="Fulfil"]').click()
        assert page.evaluate(FITS_ITS_PAGE) == [], status
        if summary:
            expect(page.locator(summary)).to_be_visible()
        badges[status] = page.locator("#order-status").evaluate("badge => getComputedStyle(badge).backgroundColor")
        screenshot(page, f"order-{status.lower()}")
    expect_text = {"REJECTED": "OutOfStock · Browser Brownies: 1 asked, 0 available"}
    page.goto(f"{console.url}/orders/{rejected}")
    expect(page.locator("#summary-rejected")).to_have_text(expect_text["REJECTED"])
    assert len(set(badges.values())) == 3, badges
