"""Subscription state changes against a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from starlette.datastructures import FormData

from aggregator.store import subscribers as lifecycle
from aggregator.store.db import Database
from aggregator.store.models import Subscriber
from aggregator.store.subscribers import Choices
from aggregator.web import subscriptions as subs
from aggregator.web.subscriptions import Catalogue, FormError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=60)
CHOICES = Choices(["daily"], ["ml"], [])
CATALOGUE = Catalogue([("daily", "Daily"), ("weekly", "Weekly")], ["ml", "policy"], [(3, "Alpha")])


def _row(db: Database, email: str) -> Subscriber:
    with db.session() as session:
        row = session.scalar(select(Subscriber).where(Subscriber.email == email))
        assert row is not None
        return row


def _set_status(db: Database, email: str, status: str) -> None:
    with db.session() as session:
        session.scalar(select(Subscriber).where(Subscriber.email == email)).status = status


def test_new_address_becomes_pending_with_a_confirmation_due(db: Database) -> None:
    recipient, kind = lifecycle.request_subscription(
        db, "a@example.org", CHOICES, now=NOW, window=WINDOW
    )
    assert kind == "confirm"
    row = _row(db, "a@example.org")
    assert (row.status, row.digests, row.tags, row.sources) == ("pending", ["daily"], ["ml"], [])
    assert row.confirmation_sent_at == NOW and recipient.id == row.id


def test_one_mail_per_address_per_window(db: Database) -> None:
    lifecycle.request_subscription(db, "a@example.org", CHOICES, now=NOW, window=WINDOW)
    later = NOW + timedelta(minutes=59)
    assert (
        lifecycle.request_subscription(db, "a@example.org", CHOICES, now=later, window=WINDOW)[1]
        is None
    )
    after = NOW + WINDOW
    assert (
        lifecycle.request_subscription(db, "a@example.org", CHOICES, now=after, window=WINDOW)[1]
        == "confirm"
    )
    assert _row(db, "a@example.org").confirmation_sent_at == after


def test_failed_mail_lets_the_next_request_send_again(db: Database) -> None:
    recipient, _ = lifecycle.request_subscription(
        db, "a@example.org", CHOICES, now=NOW, window=WINDOW
    )
    lifecycle.mail_not_sent(db, recipient.id)
    assert (
        lifecycle.request_subscription(db, "a@example.org", CHOICES, now=NOW, window=WINDOW)[1]
        == "confirm"
    )


def test_active_subscriber_gets_a_manage_mail_and_keeps_their_choices(db: Database) -> None:
    recipient, _ = lifecycle.request_subscription(
        db, "a@example.org", CHOICES, now=NOW, window=WINDOW
    )
    lifecycle.confirm(db, recipient.id, now=NOW)
    other = Choices(["weekly"], [], [3])
    later = NOW + WINDOW
    _, kind = lifecycle.request_subscription(db, "a@example.org", other, now=later, window=WINDOW)
    row = _row(db, "a@example.org")
    assert kind == "manage"
    assert (row.status, row.digests, row.tags) == ("active", ["daily"], ["ml"])


def test_suspended_address_gets_no_mail(db: Database) -> None:
    lifecycle.request_subscription(db, "a@example.org", CHOICES, now=NOW, window=WINDOW)
    _set_status(db, "a@example.org", "suspended")
    _, kind = lifecycle.request_subscription(
        db, "a@example.org", CHOICES, now=NOW + WINDOW, window=WINDOW
    )
    assert kind is None and _row(db, "a@example.org").status == "suspended"


def test_unsubscribed_address_must_confirm_again(db: Database) -> None:
    recipient, _ = lifecycle.request_subscription(
        db, "a@example.org", CHOICES, now=NOW, window=WINDOW
    )
    lifecycle.confirm(db, recipient.id, now=NOW)
    lifecycle.unsubscribe(db, recipient.id, reason="test")
    new = Choices(["weekly"], [], [])
    _, kind = lifecycle.request_subscription(
        db, "a@example.org", new, now=NOW + WINDOW, window=WINDOW
    )
    row = _row(db, "a@example.org")
    assert (kind, row.status, row.digests) == ("confirm", "pending", ["weekly"])


def test_confirm_only_moves_pending_to_active(db: Database) -> None:
    recipient, _ = lifecycle.request_subscription(
        db, "a@example.org", CHOICES, now=NOW, window=WINDOW
    )
    assert lifecycle.confirm(db, recipient.id, now=NOW)[1] == "done"
    row = _row(db, "a@example.org")
    assert (row.status, row.confirmed_at) == ("active", NOW)
    assert lifecycle.confirm(db, recipient.id, now=NOW + WINDOW)[1] == "unchanged"
    assert _row(db, "a@example.org").confirmed_at == NOW
    lifecycle.unsubscribe(db, recipient.id, reason="test")
    assert lifecycle.confirm(db, recipient.id, now=NOW)[1] == "refused"
    assert _row(db, "a@example.org").status == "unsubscribed"
    assert lifecycle.confirm(db, 999_999, now=NOW) == (None, "refused")


def test_preferences_pause_resume_and_refusal_when_pending(db: Database) -> None:
    recipient, _ = lifecycle.request_subscription(
        db, "a@example.org", CHOICES, now=NOW, window=WINDOW
    )
    new = Choices(["daily", "weekly"], ["policy"], [3])
    pending = lifecycle.update_preferences(
        db, recipient.id, new, timezone="Asia/Tokyo", paused=False
    )
    assert pending[1] == "refused" and _row(db, "a@example.org").tags == ["ml"]
    lifecycle.confirm(db, recipient.id, now=NOW)
    lifecycle.update_preferences(db, recipient.id, new, timezone="Asia/Tokyo", paused=True)
    row = _row(db, "a@example.org")
    assert (row.status, row.digests, row.tags, row.sources, row.timezone) == (
        "paused",
        ["daily", "weekly"],
        ["policy"],
        [3],
        "Asia/Tokyo",
    )
    lifecycle.update_preferences(db, recipient.id, new, timezone="UTC", paused=False)
    assert _row(db, "a@example.org").status == "active"


def test_unsubscribe_then_resubscribe(db: Database) -> None:
    recipient, _ = lifecycle.request_subscription(
        db, "a@example.org", CHOICES, now=NOW, window=WINDOW
    )
    lifecycle.confirm(db, recipient.id, now=NOW)
    assert lifecycle.unsubscribe(db, recipient.id, reason="one-click")[1] == "done"
    row = _row(db, "a@example.org")
    assert (row.status, row.status_reason) == ("unsubscribed", "one-click")
    assert lifecycle.unsubscribe(db, recipient.id, reason="again")[1] == "unchanged"
    assert lifecycle.resubscribe(db, recipient.id, now=NOW)[1] == "done"
    assert _row(db, "a@example.org").status == "active"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Alice@Example.ORG ", "alice@example.org"),
        ("b.c+tag@sub.example.com", "b.c+tag@sub.example.com"),
    ],
)
def test_addresses_are_validated_and_lowercased(raw: str, expected: str) -> None:
    assert subs.parse_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        None,
        "not-an-address",
        "a@example.org\r\nBcc: victim@example.net",
        "a@example.org\nX: y",
        "a\u200b@example.org",
        "x" * 300 + "@example.org",
        "<script>@example.org",
    ],
)
def test_bad_addresses_are_refused_with_a_sentence(raw: object) -> None:
    with pytest.raises(FormError) as info:
        subs.parse_email(raw)
    assert str(info.value).endswith(".")


def test_choices_need_a_digest_and_only_known_values() -> None:
    form = FormData([("digest", "weekly"), ("tag", "ml"), ("source", "3"), ("digest", "weekly")])
    assert subs.parse_choices(form, CATALOGUE) == Choices(["weekly"], ["ml"], [3])
    with pytest.raises(FormError, match="at least one digest"):
        subs.parse_choices(FormData([("tag", "ml")]), CATALOGUE)
    for bad in [("digest", "hourly"), ("tag", "<b>"), ("source", "4"), ("source", "x")]:
        with pytest.raises(FormError, match="Unknown"):
            subs.parse_choices(FormData([("digest", "daily"), bad]), CATALOGUE)


def test_timezone_must_be_a_known_zone() -> None:
    assert subs.parse_timezone("Europe/Berlin") == "Europe/Berlin"
    for bad in ["Mars/Olympus", "../etc/passwd", None]:
        with pytest.raises(FormError):
            subs.parse_timezone(bad)
