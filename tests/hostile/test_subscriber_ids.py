"""Subscriber ids are never reused: a forgotten subscriber's never-expiring
links stop working and never open the page of whoever signs up next."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, insert, select, text

from aggregator.mail.links import link_path
from aggregator.store.db import Database
from aggregator.store.models import Base, Delivery, DigestRun, Subscriber
from aggregator.store.subscribers import upsert_subscriber
from tests.hostile.old_schema import SUBSCRIBER, THEN, at_revision
from tests.web.conftest import Site


def _add(db: Database, email: str) -> int:
    with db.session() as session:
        return upsert_subscriber(session, email, digests=["daily"])[0].id


def _forget(db: Database, subscriber_id: int) -> None:
    with db.session() as session:
        session.delete(session.get(Subscriber, subscriber_id))


def test_the_newest_id_is_not_handed_out_again(db: Database) -> None:
    first, newest = _add(db, "a@example.org"), _add(db, "b@example.org")
    _forget(db, newest)
    assert _add(db, "c@example.org") > newest > first


def test_a_forgotten_subscribers_link_never_opens_the_next_subscribers_page(site: Site) -> None:
    db, secret = site.app.db, site.app.secret_key
    _add(db, "first@example.org")
    gone = _add(db, "forgotten@example.org")
    link = link_path(secret, "preferences", gone)
    assert "forgotten@example.org" in site.client().get(link).text
    _forget(db, gone)
    _add(db, "next@example.org")
    page = site.client().get(link)
    assert page.status == 404 and "next@example.org" not in page.text


def test_upgrading_sqlite_keeps_every_delivery_and_stops_reuse(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with at_revision(url, "0004") as connection:
        for n in (1, 2):
            connection.execute(
                insert(Subscriber.__table__).values(id=n, email=f"{n}@x.org", **SUBSCRIBER)
            )
        connection.execute(
            insert(DigestRun.__table__).values(
                id=1, digest_name="daily", scheduled_for=THEN, cutoff=THEN, created_at=THEN
            )
        )
        for n in (1, 2):
            connection.execute(
                insert(Delivery.__table__).values(
                    run_id=1, subscriber_id=n, state="sent", attempts=1, created_at=THEN
                )
            )

    db = Database(url)  # upgrades to head
    with db.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Delivery)) == 2
        parents = connection.execute(text("PRAGMA foreign_key_list(deliveries)")).all()
        assert {row[2] for row in parents} == {"digest_runs", "editions", "subscribers"}
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
        tables = connection.scalars(text("SELECT name FROM sqlite_master WHERE type='table'"))
        assert not [name for name in tables if name.startswith("_subscribers")]
    _forget(db, 2)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 1  # cascade still on
    assert _add(db, "3@x.org") == 3
    db.dispose()
