"""A digest window closes at a moment when every item first seen by then is visible: closing
waits for a store under way (SQLite and PostgreSQL), so an item is never stamped inside a window
that was read without it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aggregator.model.entry import Entry
from aggregator.store.claims import write_transaction
from aggregator.store.db import Database
from aggregator.store.items import first_seen_now, settled_now, store_entries
from aggregator.store.models import Item, Source


def _source(db: Database) -> int:
    with db.session() as s:
        row = Source(url="https://fence.example/feed", name="Fence")
        s.add(row)
        s.flush()
        return row.id


def test_a_window_closing_during_a_store_waits_and_then_sees_its_items(db: Database) -> None:
    source_id = _source(db)
    stamped = threading.Event()
    finish = threading.Event()
    stamps: list[datetime] = []

    def store() -> None:
        with write_transaction(db) as connection, Session(bind=connection) as session:
            now = first_seen_now(connection, lambda: datetime.now(UTC))
            stamps.append(now)
            source = session.get(Source, source_id)
            assert source is not None
            entry = Entry(key="guid:1", title="Stored late", url="https://fence.example/1")
            store_entries(session, source, [entry], now)
            session.flush()
            stamped.set()
            finish.wait(10)  # the transaction stays open while the window closes
            session.commit()

    writer = threading.Thread(target=store)
    writer.start()
    assert stamped.wait(10)
    closed: list[datetime] = []
    closer = threading.Thread(
        target=lambda: closed.append(settled_now(db, lambda: datetime.now(UTC)))
    )
    closer.start()
    closer.join(0.5)
    assert closer.is_alive(), "the window closed while a store was under way"
    finish.set()
    writer.join(10)
    closer.join(10)
    [end] = closed
    assert stamps[0] <= end
    with db.session() as s:  # what reads after the window closed sees the item
        seen = s.scalar(select(func.count()).select_from(Item).where(Item.first_seen_at <= end))
    assert seen == 1


def test_a_store_after_the_window_closed_is_stamped_after_it(db: Database) -> None:
    source_id = _source(db)
    end = settled_now(db, lambda: datetime.now(UTC))
    with write_transaction(db) as connection, Session(bind=connection) as session:
        now = first_seen_now(connection, lambda: datetime.now(UTC))
        source = session.get(Source, source_id)
        assert source is not None
        store_entries(
            session,
            source,
            [Entry(key="guid:2", title="After", url="https://fence.example/2")],
            now,
        )
        session.commit()
    assert now >= end
