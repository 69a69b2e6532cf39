"""The operator's changes to sources and subscribers, as the store makes them (SQLite and
PostgreSQL): remove, disable, enable and delete a source; remove and forget a subscriber."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from aggregator.store.db import Database
from aggregator.store.listing import list_sources
from aggregator.store.models import Delivery, DigestRun, Item, Subscriber
from aggregator.store.sources import (
    add_source,
    delete_source,
    disable_source,
    enable_source,
    exported_sources,
    find_source,
    remove_source,
)
from aggregator.store.subscribers import find_subscriber, forget_subscriber, remove_subscriber

URL = "https://blog.test/feed"
WHEN = datetime(2024, 5, 1, 10, tzinfo=UTC)


def _states(db: Database) -> list[tuple[str, str]]:
    with db.session() as session:
        return [(row.name, row.state) for row in list_sources(session)]


def test_a_source_is_removed_disabled_enabled_and_deleted(db: Database) -> None:
    with db.session() as session:
        blog, _ = add_source(session, URL, name="Blog")
        other, _ = add_source(session, "https://other.test/feed", name="Other")
        session.add(
            Item(
                source=blog,
                key_hash="k",
                story_key="s",
                content_hash="h",
                published_at=WHEN,
            )
        )
    with db.session() as session:
        row = find_source(session, URL)
        assert row is not None
        remove_source(row)
    assert _states(db) == [("Blog", "removed"), ("Other", "new")]
    with db.session() as session:
        assert [s.name for s in exported_sources(session)] == ["Other"]
        row, created = add_source(session, URL)  # its URL brings it back, with its items
        assert created and (row.origin, row.enabled, row.disabled_by) == ("cli", True, None)

    with db.session() as session:
        row = find_source(session, "Blog")
        assert row is not None
        disable_source(row)
    assert _states(db) == [("Blog", "disabled"), ("Other", "new")]
    with db.session() as session:
        row = find_source(session, "Blog")
        assert row is not None and row.disabled_by == "operator"
        row.status, row.consecutive_failures = "retired", 3
        enable_source(row)  # also after a 410, with no backoff left
        assert (row.enabled, row.status, row.consecutive_failures) == (True, "active", 0)

    with db.session() as session:
        row = find_source(session, "Blog")
        assert row is not None
        remove_source(row)
    with db.session() as session:
        row = find_source(session, "Blog")
        assert row is not None
        enable_source(row)  # a removed source enabled again is the operator's again
        assert (row.origin, row.enabled) == ("cli", True)
        delete_source(session, row)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 0
    assert _states(db) == [("Other", "new")]


def test_a_subscriber_is_removed_whatever_the_status_or_forgotten(db: Database) -> None:
    with db.session() as session:
        gone = Subscriber(email="gone@example.org", status="suspended", status_reason="bounced")
        kept = Subscriber(email="kept@example.org", status="active")
        run = DigestRun(digest_name="daily", scheduled_for=WHEN, cutoff=WHEN)
        session.add_all([gone, kept, run])
        session.flush()
        session.add(Delivery(run=run, subscriber_id=kept.id))
    with db.session() as session:
        row = find_subscriber(session, "GONE@example.org")
        assert row is not None
        remove_subscriber(row)
        row = find_subscriber(session, "kept@example.org")
        assert row is not None
        forget_subscriber(session, row)
    with db.session() as session:
        rows = session.execute(
            select(Subscriber.email, Subscriber.status, Subscriber.status_reason)
        )
        assert rows.all() == [("gone@example.org", "unsubscribed", "removed by the operator")]
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
