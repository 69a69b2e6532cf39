"""The subscriber journey over real HTTP: subscribe, confirm, preferences, unsubscribe, token errors."""

from __future__ import annotations

import re
import time

from sqlalchemy import select

from aggregator.mail.links import make_token
from aggregator.store.models import Subscriber
from tests.web.conftest import Client, Site


def subscriber(site: Site, email: str) -> Subscriber | None:
    with site.app.db.session() as session:
        return session.scalar(select(Subscriber).where(Subscriber.email == email))


def subscribe(client: Client, email: str, **fields: object) -> int:
    form = client.get("/subscribe")
    data = {"csrf_token": form.csrf(), "email": email, "digest": ["daily"], **fields}
    return client.post("/subscribe", form=data).status


def mail_link(site: Site, to: str, purpose: str) -> str:
    mails = [m for m in site.wait_for_mails(1) if m["To"] == to]
    assert mails, f"no mail to {to}"
    text = mails[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    match = re.search(rf"{re.escape(site.url)}(/{purpose}/[A-Za-z0-9_.-]+)", text)
    assert match, text
    return match.group(1)


def test_double_opt_in_preferences_and_unsubscribe(site: Site) -> None:
    client = site.client()
    assert subscribe(client, "Reader@Example.org", tag=["ml"]) == 200
    row = subscriber(site, "reader@example.org")
    assert row is not None and (row.status, row.tags) == ("pending", ["ml"])

    confirm = mail_link(site, "reader@example.org", "confirm")
    page = client.get(confirm)
    assert page.status == 200 and "Confirm subscription" in page.text
    assert subscriber(site, "reader@example.org").status == "pending"  # a GET never confirms

    done = client.post(confirm, form={"csrf_token": page.csrf()})
    assert done.status == 200 and "You are subscribed" in done.text
    row = subscriber(site, "reader@example.org")
    assert row.status == "active" and row.confirmed_at is not None

    prefs_path = re.search(r'href="(/preferences/[^"]+)"', done.text).group(1)
    prefs = client.get(prefs_path)
    assert prefs.status == 200 and 'value="ml" checked' in prefs.text
    form = {
        "csrf_token": prefs.csrf(),
        "action": "save",
        "delivery": "paused",
        "digest": ["daily", "weekly"],
        "tag": ["policy"],
        "source": ["2"],
        "timezone": "America/New_York",
    }
    saved = client.post(prefs_path, form=form)
    assert saved.status == 200 and "Saved." in saved.text
    row = subscriber(site, "reader@example.org")
    assert (row.status, row.digests, row.tags, row.sources, row.timezone) == (
        "paused",
        ["daily", "weekly"],
        ["policy"],
        [2],
        "America/New_York",
    )
    resumed = client.post(
        prefs_path, form={**form, "delivery": "active", "csrf_token": saved.csrf()}
    )
    assert resumed.status == 200 and subscriber(site, "reader@example.org").status == "active"

    unsub_path = "/unsubscribe/" + make_token(site.app.secret_key, "unsubscribe", row.id)
    ask = client.get(unsub_path)
    assert ask.status == 200 and "Unsubscribe?" in ask.text
    assert subscriber(site, "reader@example.org").status == "active"
    gone = client.post(unsub_path, form={"csrf_token": ask.csrf()})
    assert gone.status == 200 and "You are unsubscribed" in gone.text
    assert subscriber(site, "reader@example.org").status == "unsubscribed"

    back = client.post(prefs_path, form={"csrf_token": gone.csrf(), "action": "resubscribe"})
    assert back.status == 200 and "Saved." in back.text
    assert subscriber(site, "reader@example.org").status == "active"


def test_one_click_unsubscribe_needs_no_cookie_or_csrf_field(site: Site) -> None:
    client = site.client()
    subscribe(client, "oneclick@example.org")
    row = subscriber(site, "oneclick@example.org")
    path = "/unsubscribe/" + make_token(site.app.secret_key, "unsubscribe", row.id)
    stranger = site.client()  # no cookies at all
    reply = stranger.post(path, form={"List-Unsubscribe": "One-Click"})
    assert reply.status == 200 and not stranger.cookies
    row = subscriber(site, "oneclick@example.org")
    assert (row.status, row.status_reason) == ("unsubscribed", "one-click unsubscribe")


def test_one_click_unsubscribe_as_multipart_form_data(site: Site) -> None:
    subscribe(site.client(), "multipart@example.org")
    row = subscriber(site, "multipart@example.org")
    path = "/unsubscribe/" + make_token(site.app.secret_key, "unsubscribe", row.id)
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        b"One-Click\r\n--XyZ--\r\n"
    )
    headers = {"Content-Type": "multipart/form-data; boundary=XyZ"}
    assert site.client().post(path, body=body, headers=headers).status == 200
    assert subscriber(site, "multipart@example.org").status == "unsubscribed"


def test_active_subscriber_gets_a_manage_mail_not_a_second_confirmation(make_site) -> None:
    site = make_site(web={"confirmation_window_minutes": 0.01})
    client = site.client()
    subscribe(client, "again@example.org")
    confirm = mail_link(site, "again@example.org", "confirm")
    page = client.get(confirm)
    client.post(confirm, form={"csrf_token": page.csrf()})
    time.sleep(0.7)  # past the 0.6 s window
    subscribe(client, "again@example.org")
    mails = site.wait_for_mails(2)
    subjects = sorted(m["Subject"] for m in mails)
    assert subjects == [
        "Confirm your subscription to Test Digest",
        "You are already subscribed to Test Digest",
    ]
    manage = next(m for m in mails if "already" in m["Subject"])
    text = manage.get_body(("plain",)).get_content()
    assert "/preferences/" in text and "/unsubscribe/" in text and "/confirm/" not in text


def test_tampered_and_wrong_purpose_tokens_get_a_clear_4xx_page(site: Site) -> None:
    client = site.client()
    subscribe(client, "tokens@example.org")
    row = subscriber(site, "tokens@example.org")
    secret = site.app.secret_key
    good = make_token(secret, "unsubscribe", row.id)
    tampered = good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb")
    reply = client.get(f"/unsubscribe/{tampered}")
    assert reply.status == 400 and "This link does not work" in reply.text
    reply = client.post(f"/unsubscribe/{tampered}", form={"List-Unsubscribe": "One-Click"})
    assert reply.status == 400
    for path in (f"/confirm/{good}", f"/preferences/{good}"):
        reply = client.get(path)
        assert reply.status == 400 and "meant for a different page" in reply.text
    foreign = make_token("some-other-secret", "unsubscribe", row.id)
    assert client.get(f"/unsubscribe/{foreign}").status == 400
    missing = make_token(secret, "unsubscribe", row.id + 1000)
    assert client.get(f"/unsubscribe/{missing}").status == 404
    assert subscriber(site, "tokens@example.org").status == "pending"


def test_expired_confirmation_link_is_refused(make_site) -> None:
    site = make_site(web={"confirm_max_age_hours": 0.0003})  # about one second
    client = site.client()
    subscribe(client, "late@example.org")
    confirm = mail_link(site, "late@example.org", "confirm")
    time.sleep(2.1)
    page = client.get(confirm)
    assert page.status == 410 and "This link has expired" in page.text
    assert 'href="/subscribe"' in page.text
    assert subscriber(site, "late@example.org").status == "pending"


def test_unsubscribe_link_never_expires_and_confirm_after_unsubscribe_is_refused(
    site: Site,
) -> None:
    client = site.client()
    subscribe(client, "order@example.org")
    confirm = mail_link(site, "order@example.org", "confirm")
    row = subscriber(site, "order@example.org")
    site.client().post(
        "/unsubscribe/" + make_token(site.app.secret_key, "unsubscribe", row.id),
        form={"List-Unsubscribe": "One-Click"},
    )
    page = client.get(confirm)
    assert "no longer valid" in page.text
    token = client.get("/subscribe").csrf()
    reply = client.post(confirm, form={"csrf_token": token})
    assert reply.status == 409 and "no longer valid" in reply.text
    assert subscriber(site, "order@example.org").status == "unsubscribed"


def test_preferences_choose_a_digest_language_and_refuse_a_hostile_one(site: Site) -> None:
    client = site.client()
    assert subscribe(client, "lang@example.org") == 200
    confirm = mail_link(site, "lang@example.org", "confirm")
    page = client.get(confirm)
    done = client.post(confirm, form={"csrf_token": page.csrf()})
    prefs_path = re.search(r'href="(/preferences/[^"]+)"', done.text).group(1)
    prefs = client.get(prefs_path)
    assert 'name="language"' in prefs.text and 'value="pt-BR"' in prefs.text  # suggested
    form = {
        "csrf_token": prefs.csrf(),
        "action": "save",
        "delivery": "active",
        "digest": ["daily"],
        "timezone": "UTC",
        "language": " pt-br ",
    }
    saved = client.post(prefs_path, form=form)
    assert saved.status == 200 and "Saved." in saved.text
    assert subscriber(site, "lang@example.org").language == "pt-BR"
    for hostile in ("fr\r\nBcc: x@evil.example", "<script>", "x" * 500, "qq"):
        refused = client.post(
            prefs_path, form={**form, "language": hostile, "csrf_token": saved.csrf()}
        )
        assert refused.status == 400 and "language code" in refused.text
        assert "<script>" not in refused.text
    assert subscriber(site, "lang@example.org").language == "pt-BR"
    cleared = client.post(prefs_path, form={**form, "language": "", "csrf_token": saved.csrf()})
    assert cleared.status == 200 and subscriber(site, "lang@example.org").language == ""
