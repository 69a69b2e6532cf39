"""The whole subscriber journey in real Chromium, with mail going through a real SMTP server.

Screenshots of every page (desktop and phone width) go to ``$AGGREGATOR_SCREENSHOT_DIR`` when set,
else to the test's tmp folder.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select

from aggregator.mail.links import make_token
from aggregator.mail.transport import SMTPTransport
from aggregator.store.models import Subscriber
from tests.support.smtpserver import SMTPTestServer
from tests.web.conftest import Site, SiteFactory

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1100, "height": 900}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium"),
]


@pytest.fixture
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("AGGREGATOR_SCREENSHOT_DIR") or tmp_path / "screens")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def state(site: Site, email: str) -> Subscriber | None:
    with site.app.db.session() as session:
        return session.scalar(select(Subscriber).where(Subscriber.email == email))


def confirmation_link(server: SMTPTestServer, to: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for received in server.messages:
            if to in received.rcpt_tos:
                mail = message_from_bytes(received.data, policy=policy.default)
                text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
                return re.search(r"http://\S+/confirm/\S+", text).group(0)  # type: ignore[union-attr]
        time.sleep(0.05)
    raise AssertionError(f"no mail to {to} reached the SMTP server")


def test_subscribe_confirm_preferences_unsubscribe_in_chromium(
    make_site: SiteFactory, smtp: SMTPTestServer, browser, shots: Path
) -> None:
    transport = SMTPTransport(smtp.host, smtp.port, security="none", concurrency=1)
    site = make_site(transport=transport)
    email = "reader@example.org"
    refused: list[str] = []

    def open_page(width: dict[str, int], scheme: str):
        page = browser.new_context(viewport=width, color_scheme=scheme).new_page()
        page.on("console", lambda m: refused.append(m.text) if "Refused to" in m.text else None)
        return page

    phone = open_page(PHONE, "dark")  # phone shots also show the dark palette
    desk = open_page(DESKTOP, "light")

    def snap(name: str, url: str | None = None) -> None:
        """Screenshot the page the desktop tab shows, and the same URL at phone width."""
        desk.screenshot(path=str(shots / f"{name}-desktop.png"), full_page=True)
        if url:
            phone.goto(url)
            phone.screenshot(path=str(shots / f"{name}-phone.png"), full_page=True)

    desk.goto(f"{site.url}/subscribe")
    snap("1-subscribe", f"{site.url}/subscribe")
    desk.get_by_label("Email address").fill("Reader@Example.org")
    desk.get_by_label("Weekly digest").check()
    desk.get_by_text("Only some topics or sources?").click()
    desk.get_by_label("ml").check()
    snap("1b-subscribe-filled")
    desk.get_by_role("button", name="Subscribe").click()
    desk.get_by_role("heading", name="Check your inbox").wait_for()
    snap("2-check-inbox")
    row = state(site, email)
    assert row is not None and (row.status, row.digests, row.tags) == (
        "pending",
        ["daily", "weekly"],
        ["ml"],
    )

    link = confirmation_link(smtp, email)
    assert link.startswith(site.url)
    desk.goto(link)
    desk.get_by_role("heading", name="Confirm your subscription").wait_for()
    snap("3-confirm", link)
    assert state(site, email).status == "pending"  # opening the link is not enough
    desk.get_by_role("button", name="Confirm subscription").click()
    desk.get_by_role("heading", name="You are subscribed").wait_for()
    snap("4-confirmed")
    row = state(site, email)
    assert row.status == "active" and row.confirmed_at is not None

    desk.get_by_role("link", name="Manage your subscription").click()
    desk.get_by_role("heading", name="Your subscription").wait_for()
    snap("5-preferences", desk.url)
    desk.get_by_label("Pause for now").check()
    desk.get_by_label("policy").check()
    desk.get_by_label("Time zone").select_option("Europe/Paris")
    desk.get_by_role("button", name="Save preferences").click()
    desk.get_by_text("Saved.").wait_for()
    snap("6-preferences-saved")
    row = state(site, email)
    assert (row.status, row.tags, row.timezone) == ("paused", ["ml", "policy"], "Europe/Paris")

    unsubscribe = f"{site.url}/unsubscribe/{make_token(site.app.secret_key, 'unsubscribe', row.id)}"
    desk.goto(unsubscribe)
    desk.get_by_role("heading", name="Unsubscribe?").wait_for()
    snap("7-unsubscribe", unsubscribe)
    desk.get_by_role("button", name="Unsubscribe").click()
    desk.get_by_role("heading", name="You are unsubscribed").wait_for()
    snap("8-unsubscribed")
    assert state(site, email).status == "unsubscribed"

    desk.goto(f"{site.url}/unsubscribe/not-a-real-token")
    snap("9-bad-link", f"{site.url}/unsubscribe/not-a-real-token")
    assert desk.get_by_role("heading", name="This link does not work").is_visible()

    desk.keyboard.press("Tab")  # keyboard focus must be visible
    outline = desk.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [document.activeElement.tagName, s.outlineStyle, s.outlineWidth]; }"
    )
    assert outline == ["A", "solid", "3px"]
    assert refused == [], refused  # CSP blocked nothing: no inline script or style anywhere
    transport.close()
