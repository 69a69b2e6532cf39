"""Abuse resistance over real HTTP: headers, CSRF, rate limits, enumeration, honeypot, hostile input."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from aggregator.mail.links import make_token
from aggregator.store.db import Database
from aggregator.store.models import Subscriber
from aggregator.store.state import SharedRateLimiter
from aggregator.web.security import PAGE_CSP
from tests.web.conftest import Client, Reply, Site
from tests.web.test_pages import mail_link, subscriber


def count_subscribers(site: Site) -> int:
    with site.app.db.session() as session:
        return session.scalar(select(func.count()).select_from(Subscriber))


def post_subscribe(client: Client, email: str, **extra: object) -> Reply:
    token = client.get("/subscribe").csrf()
    return client.post(
        "/subscribe", form={"csrf_token": token, "email": email, "digest": "daily", **extra}
    )


@pytest.mark.parametrize("path", ["/subscribe", "/no/such/page", "/healthz", "/confirm/garbage"])
def test_security_headers_on_every_response(site: Site, path: str) -> None:
    reply = site.client().get(path)
    headers = reply.headers
    assert headers["Content-Security-Policy"] == PAGE_CSP
    assert "script-src 'none'" in PAGE_CSP and "frame-ancestors 'none'" in PAGE_CSP
    assert "unsafe-inline" not in PAGE_CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_script_or_style(site: Site) -> None:
    text = site.client().get("/subscribe").text
    assert "<script" not in text and "<style" not in text and " style=" not in text
    css = site.client().get(re.search(r'href="(/assets/style\.css[^"]*)"', text).group(1))
    assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")
    etag = css.headers["ETag"]
    assert site.client().get("/assets/style.css", headers={"If-None-Match": etag}).status == 304


def test_csrf_is_enforced_on_every_form(site: Site) -> None:
    client = site.client()
    form = {"email": "csrf@example.org", "digest": "daily"}
    assert site.client().post("/subscribe", form=form).status == 403  # no cookie, no token
    token = client.get("/subscribe").csrf()
    assert client.post("/subscribe", form=form).status == 403  # cookie, no token
    assert client.post("/subscribe", form={**form, "csrf_token": token + "x"}).status == 403
    other = site.client()
    other_token = other.get("/subscribe").csrf()
    assert client.post("/subscribe", form={**form, "csrf_token": other_token}).status == 403
    assert site.client().post("/subscribe", form={**form, "csrf_token": token}).status == 403
    assert count_subscribers(site) == 0
    assert client.post("/subscribe", form={**form, "csrf_token": token}).status == 200

    row = subscriber(site, "csrf@example.org")
    secret = site.app.secret_key
    for purpose, data in [
        ("confirm", {}),
        ("unsubscribe", {}),
        ("preferences", {"action": "resubscribe"}),
    ]:
        path = f"/{purpose}/{make_token(secret, purpose, row.id)}"
        reply = site.client().post(path, form=data)
        assert reply.status == 403 and "This form has expired" in reply.text
    assert subscriber(site, "csrf@example.org").status == "pending"


def test_per_ip_rate_limit_holds(make_site) -> None:
    site = make_site(web={"subscribe_per_ip_per_hour": 3})
    client = site.client()
    statuses = [post_subscribe(client, f"r{i}@example.org").status for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = post_subscribe(client, "r9@example.org")
    assert int(limited.headers["Retry-After"]) > 3000 and "Too many requests" in limited.text
    assert count_subscribers(site) == 3
    assert len(site.wait_for_mails(3)) == 3


def test_rate_limit_window_slides_and_is_shared(db: Database) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    limiter = SharedRateLimiter(db, 2, 60, clock=lambda: now[0])
    other_worker = SharedRateLimiter(db, 2, 60, clock=lambda: now[0])
    assert [limiter.hit("a"), other_worker.hit("a")] == [0, 0]
    assert limiter.hit("a") == pytest.approx(60)
    assert other_worker.hit("a") == pytest.approx(60)  # the count lives in the database
    assert limiter.hit("b") == 0
    now[0] += timedelta(seconds=30)
    assert other_worker.hit("a") == pytest.approx(30)
    now[0] += timedelta(seconds=31)
    assert limiter.hit("a") == 0


def test_one_confirmation_mail_per_address_per_window(site: Site) -> None:
    client = site.client()
    for _ in range(4):
        assert post_subscribe(client, "victim@example.org").status == 200
    time.sleep(0.3)
    assert len(site.wait_for_mails(1)) == 1


def test_answers_are_identical_for_new_pending_and_active_addresses(site: Site) -> None:
    def answer() -> tuple[int, bytes, list[tuple[str, str]]]:
        reply = post_subscribe(site.client(), "probe@example.org")
        headers = sorted((k, v) for k, v in reply.headers.items() if k.lower() != "date")
        return reply.status, reply.body, headers

    new = answer()
    pending = answer()
    confirm = mail_link(site, "probe@example.org", "confirm")
    client = site.client()
    client.post(confirm, form={"csrf_token": client.get(confirm).csrf()})
    assert subscriber(site, "probe@example.org").status == "active"
    active = answer()
    assert new == pending == active
    assert not any(k.lower() == "set-cookie" for k, _ in new[2])


def test_honeypot_answers_the_same_but_records_and_sends_nothing(site: Site) -> None:
    normal = post_subscribe(site.client(), "bot@example.org")
    with site.app.db.session() as session:
        session.query(Subscriber).delete()
    trapped = post_subscribe(site.client(), "bot@example.org", website="http://spam.example")
    assert (trapped.status, trapped.body) == (normal.status, normal.body)
    assert count_subscribers(site) == 0
    time.sleep(0.3)
    assert len(site.mails()) == 1  # only the first, normal request's mail


def test_hostile_input_is_escaped_and_never_reaches_a_mail_header(site: Site) -> None:
    client = site.client()
    reply = post_subscribe(client, '"><script>alert(1)</script>@example.org')
    assert reply.status == 400 and "does not look like an email address" in reply.text
    assert "<script>alert(1)" not in reply.text and "&lt;script&gt;" in reply.text

    for injected in [
        "a@example.org\r\nBcc: victim@example.net",
        "a@example.org\nSubject: hi",
        "a@example.org%0d%0aBcc:victim@example.net",
    ]:
        reply = post_subscribe(client, injected)
        assert reply.status == 400
    reply = post_subscribe(client, "x" * 5000 + "@example.org")
    assert reply.status == 400 and len(reply.body) < 10_000
    huge = post_subscribe(client, "y@example.org", filler="z" * 100_000)
    assert huge.status == 413
    bad_choice = post_subscribe(client, "ok@example.org", tag="<img src=x onerror=alert(1)>")
    assert bad_choice.status == 400 and "<img src=x" not in bad_choice.text
    assert count_subscribers(site) == 0
    time.sleep(0.3)
    assert site.mails() == []


def test_source_names_from_config_are_escaped(site: Site) -> None:
    text = site.client().get("/subscribe").text
    assert "Beta &lt;Blog&gt;" in text and "Beta <Blog>" not in text


def test_unknown_method_and_missing_length_are_refused(site: Site) -> None:
    client = site.client()
    assert client.request("PUT", "/subscribe").status == 405
    reply = client.request(
        "POST", "/subscribe", body=iter([b"email=a"]), headers={"Transfer-Encoding": "chunked"}
    )
    assert reply.status == 411
