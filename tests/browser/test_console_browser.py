"""The console in a real Chromium (Debian's, driven by Playwright by path) against a running
`ticketflow dev`: signing in through the printed link, a countdown reaching zero and its row
turning breached without a reload, a pause drawn on the ticket's timeline, an escalation
acknowledged from the page (and the escalation API saying so), another account's tickets out
of sight, and the Compliance page's figures equal to `ticketflow report compliance`. Every
page passes an axe check; screenshots are kept under var/screenshots/ (CI artifacts)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.test_dev_stack import _start, open_ticket

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
AXE = Axe()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed: `make browser` (as root) installs it")
    proc, found, _ = _start(tmp_path_factory.mktemp("browser") / "var")
    # Keep reading the stack's output, so a full pipe never blocks it during the module.
    threading.Thread(target=lambda: proc.stdout and proc.stdout.read(), daemon=True).start()
    try:
        yield found
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture(scope="module")
def browser(stack: dict[str, Any]) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield launched
        finally:
            launched.close()


def accounts(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["account"]: a for a in stack["demo_accounts"]}


def console_url(stack: dict[str, Any]) -> str:
    url: str = stack["services"]["console"]["url"]
    return url


def signed_in_page(browser: Browser, link: str) -> Page:
    """A fresh browser context signed in through a `ticketflow dev` sign-in link."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(link)
    page.wait_for_url("**/at-risk**")
    return page


def admin_page(browser: Browser, stack: dict[str, Any]) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{console_url(stack)}/signin")
    page.fill("input[name=key]", stack["admin_token"])
    page.click("form#signin button[type=submit]")
    page.wait_for_url("**/at-risk**")
    return page


def reload_until(page: Page, url: str, found: Callable[[], int], seconds: float) -> None:
    """Load `url` again every half second until `found()` is non-zero or `seconds` pass."""
    give_up = time.monotonic() + seconds
    while True:
        page.goto(url)
        if found() or time.monotonic() > give_up:
            return
        time.sleep(0.5)


def accessible(page: Page, name: str) -> None:
    """No axe violation on the page as it stands; a screenshot kept either way."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    results = AXE.run(page)
    assert results.violations_count == 0, results.generate_report()


def intake_url(stack: dict[str, Any]) -> str:
    url: str = stack["services"]["intake"]["url"]
    return url


def append(
    stack: dict[str, Any], account: dict[str, Any], ticket: str, kind: str, at: datetime
) -> None:
    sent = httpx.post(
        f"{intake_url(stack)}/v1/tickets/{ticket}/events",
        timeout=5,
        headers={"Authorization": f"Bearer {account['api_key']}"},
        json={"type": kind, "occurred_at": at.isoformat(), "data": {}},
    )
    assert sent.status_code == 201, sent.text


def sev1(stack: dict[str, Any], account: dict[str, Any], subject: str, at: datetime) -> str:
    """A sev1 web ticket of `account` opened at `at` (its 2 h silver response target runs
    from then); its id."""
    opened = open_ticket(
        intake_url(stack),
        account,
        channel="web",
        priority="sev1",
        subject=subject,
        occurred_at=at.isoformat(),
    )
    assert opened.status_code == 201, opened.text
    ticket: str = opened.json()["ticket_id"]
    return ticket


@pytest.fixture(scope="module")
def paused_ticket(stack: dict[str, Any]) -> str:
    """demo-voximplant's sev1 (its order sets an 8 h resolution target, which pauses on the
    customer's side): answered, then an hour on the customer's side, from -2 h to -1 h."""
    vox = accounts(stack)["demo-voximplant"]
    now = datetime.now(UTC).replace(microsecond=0)
    ticket = sev1(stack, vox, "one-way audio", now - timedelta(hours=3))
    append(stack, vox, ticket, "ticket.responded", now - timedelta(hours=2, minutes=50))
    append(stack, vox, ticket, "ticket.awaiting_customer", now - timedelta(hours=2))
    append(stack, vox, ticket, "ticket.customer_replied", now - timedelta(hours=1))
    return ticket


def test_signing_in_through_the_printed_link_opens_at_risk(
    browser: Browser, stack: dict[str, Any]
) -> None:
    link = accounts(stack)["demo-voximplant"]["console_signin"]

    page = signed_in_page(browser, link)

    expect(page.locator("h1")).to_have_text("At risk")
    assert "#" not in page.url  # the key left the address bar
    accessible(page, "at-risk-signed-in")


def test_a_countdown_reaches_zero_and_the_row_turns_breached_without_a_reload(
    browser: Browser, stack: dict[str, Any]
) -> None:
    vox = accounts(stack)["demo-voximplant"]
    page = signed_in_page(browser, vox["console_signin"])
    page.evaluate("window.__notReloaded = true")
    deadline = datetime.now(UTC) + timedelta(seconds=12)
    ticket = sev1(stack, vox, "all calls failing", deadline - timedelta(hours=2))
    row = page.locator(f'#rows tr:has(a[href="/tickets/{ticket}"])').first

    expect(row).to_be_visible(timeout=10_000)  # pushed by the Server-Sent Events
    countdown = row.locator(".countdown").inner_text()
    assert "overdue" not in countdown and "min" in countdown, countdown
    accessible(page, "at-risk-countdown")
    expect(row).to_have_attribute("data-status", "breached", timeout=25_000)
    assert datetime.now(UTC) >= deadline
    assert page.evaluate("window.__notReloaded") is True
    expect(row.locator(".state")).to_contain_text("breached")
    page.screenshot(path=str(SCREENSHOTS / "at-risk-breached.png"), full_page=True)


def test_the_ticket_page_draws_the_pause_the_test_made(
    browser: Browser, stack: dict[str, Any], paused_ticket: str
) -> None:
    page = signed_in_page(browser, accounts(stack)["demo-voximplant"]["console_signin"])
    pause = page.locator('#sla-timeline g.metric[data-metric="resolution"] rect.pause')
    # The console projects the events a moment after intake accepts them.
    reload_until(page, f"{console_url(stack)}/tickets/{paused_ticket}?tz=UTC", pause.count, 20)

    expect(pause).to_have_count(1)
    began = datetime.fromisoformat(pause.get_attribute("data-from") or "")
    ended = datetime.fromisoformat(pause.get_attribute("data-to") or "")
    assert ended - began == timedelta(hours=1)
    expect(page.locator('p.why-due[data-metric="resolution"]')).to_contain_text("pause")
    accessible(page, "ticket-timeline")


def test_an_escalation_acknowledged_on_the_page_is_acknowledged_in_the_api(
    browser: Browser, stack: dict[str, Any]
) -> None:
    vox = accounts(stack)["demo-voximplant"]
    page = signed_in_page(browser, vox["console_signin"])
    form = page.locator('#rows tr[data-status="raised"] form').first
    # The breach of the countdown test raised one.
    reload_until(page, f"{console_url(stack)}/escalations", form.count, 30)
    row = page.locator('#rows tr[data-status="raised"]').first
    escalation = row.get_attribute("data-escalation-id")
    accessible(page, "escalations")

    row.locator("input[name=by]").fill("Dana on call")
    row.locator("button[type=submit]").click()

    expect(page.locator('p[role="status"]')).to_contain_text("cknowledged")
    api = stack["services"]["escalation"]["url"]
    found = httpx.get(
        f"{api}/v1/escalations/{escalation}",
        timeout=5,
        headers={"Authorization": f"Bearer {vox['api_key']}"},
    )
    assert found.status_code == 200, found.text
    assert found.json()["status"] == "acknowledged"
    page.screenshot(path=str(SCREENSHOTS / "escalations-acked.png"), full_page=True)


def test_another_accounts_tickets_are_not_visible(
    browser: Browser, stack: dict[str, Any], paused_ticket: str
) -> None:
    page = signed_in_page(browser, accounts(stack)["demo-voipster"]["console_signin"])

    assert page.locator(f'a[href="/tickets/{paused_ticket}"]').count() == 0
    assert "demo-voximplant" not in page.locator("#rows").inner_text()
    page.goto(f"{console_url(stack)}/tickets/{paused_ticket}")
    expect(page.locator("h1")).to_have_text("Ticket not found")
    page.goto(f"{console_url(stack)}/compliance")
    assert "voximplant" not in page.locator("main").inner_text()


def _cli_report(stack: dict[str, Any], month: str) -> dict[str, Any]:
    printed = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "report", "compliance", "--month", month,
         "--database-url", stack["postgres"]["url"]],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    found: dict[str, Any] = json.loads(printed.stdout)
    return found


def _page_rows(page: Page) -> list[tuple[str, ...]]:
    rows = page.locator("#compliance tbody tr")
    out = []
    for index in range(rows.count()):
        row = rows.nth(index)
        out.append(
            (
                row.get_attribute("data-policy") or "",
                row.get_attribute("data-priority") or "",
                row.get_attribute("data-metric") or "",
                *(row.locator(f"td.{css}").inner_text() for css in
                  ("tickets", "met", "breached", "running", "met-percent")),
            )
        )  # fmt: skip
    return out


def _cli_rows(report: dict[str, Any]) -> list[tuple[str, ...]]:
    return [
        (r["policy"], r["priority"], r["metric"], str(r["tickets"]), str(r["met"]),
         str(r["breached"]), str(r["running"]), r["met_percent"] or "—")
        for r in report["rows"]
    ]  # fmt: skip


def test_the_compliance_page_shows_the_clis_figures(
    browser: Browser, stack: dict[str, Any], paused_ticket: str
) -> None:
    page = admin_page(browser, stack)
    month = datetime.now(UTC).strftime("%Y-%m")
    shown: list[tuple[str, ...]] = []
    printed: list[tuple[str, ...]] = []
    give_up = time.monotonic() + 30
    while time.monotonic() < give_up:  # until the console has caught up with the store
        page.goto(f"{console_url(stack)}/compliance?month={month}")
        shown = _page_rows(page)
        printed = _cli_rows(_cli_report(stack, month))
        if shown == printed and shown:
            break
        time.sleep(1)

    assert shown and shown == printed
    assert page.locator("svg.compliance-chart").count() >= 1
    accessible(page, "compliance")
