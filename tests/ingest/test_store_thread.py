"""The poll's store thread: outcomes that wait share one transaction, one savepoint each."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from aggregator.ingest.runner import StoreThread
from aggregator.store.db import Database
from aggregator.store.models import Source


def _add(session: Session, url: str) -> str:
    session.add(Source(url=url, name=url))
    session.flush()
    return url


def _add_then_fail(session: Session, url: str) -> str:
    _add(session, url)
    raise RuntimeError("broken source")


def _seen_elsewhere(db: Database) -> int:
    """Sources another connection sees: none of the open batch's until it commits."""
    with db.engine.connect() as connection:
        return len(connection.execute(select(Source.id)).all())


async def _record_while_busy(db: Database) -> list[object]:
    store = StoreThread(db)
    try:
        busy = store.call(time.sleep, 0.3)  # the thread is busy: what follows waits in line
        records = [
            store.record(_add, "https://a.example/"),
            store.record(_add_then_fail, "https://b.example/"),
            store.record(_add, "https://c.example/"),
            store.record(lambda _session: _seen_elsewhere(db)),
        ]
        await busy
        return await asyncio.gather(*records, return_exceptions=True)
    finally:
        store.close()


def test_waiting_outcomes_share_one_transaction_and_a_failure_loses_only_its_own(
    db: Database,
) -> None:
    commits: list[int] = []  # real COMMITs and RELEASEs of outermost savepoints alike
    event.listen(db.engine, "commit", lambda _conn: commits.append(1))
    event.listen(db.engine, "release_savepoint", lambda _conn, _name, _ctx: commits.append(0))
    results = asyncio.run(_record_while_busy(db))
    assert results[0] == "https://a.example/" and results[2] == "https://c.example/"
    assert isinstance(results[1], RuntimeError)
    assert results[3] == 0  # a and c were not committed one by one
    # One transaction; a and c each in a savepoint.
    assert commits.count(1) == 1 and commits.count(0) == 2
    with db.session() as session:
        urls = set(session.scalars(select(Source.url)))
    assert urls == {"https://a.example/", "https://c.example/"}  # b's insert rolled back alone


def test_a_plain_call_runs_between_transactions(db: Database) -> None:
    """A claim (its own write transaction) never runs inside the store's open transaction."""

    def count() -> int:
        with db.session() as session:  # on SQLite a write here would wait on an open write
            session.add(Source(url="https://d.example/", name="d"))
        return 1

    async def run() -> list[object]:
        store = StoreThread(db)
        try:
            busy = store.call(time.sleep, 0.2)
            first = store.record(_add, "https://a.example/")
            plain = store.call(count)
            second = store.record(_add, "https://c.example/")
            await busy
            return list(await asyncio.gather(first, plain, second))
        finally:
            store.close()

    assert asyncio.run(asyncio.wait_for(run(), timeout=20)) == [
        "https://a.example/",
        1,
        "https://c.example/",
    ]


def test_outcomes_that_follow_within_the_linger_share_the_first_ones_transaction(
    db: Database,
) -> None:
    """An idle store thread does not commit a lone outcome at once: those that arrive soon
    after it (as a cold poll's do, a few milliseconds apart) go into the same transaction."""
    commits: list[int] = []
    event.listen(db.engine, "commit", lambda _conn: commits.append(1))

    async def run() -> list[object]:
        store = StoreThread(db, linger=2.0)
        try:
            first = store.record(_add, "https://a.example/")
            await asyncio.sleep(0.2)  # well within the linger; the thread was idle, not busy
            second = store.record(_add, "https://c.example/")
            return list(await asyncio.gather(first, second))
        finally:
            store.close()

    assert asyncio.run(asyncio.wait_for(run(), timeout=20)) == [
        "https://a.example/",
        "https://c.example/",
    ]
    assert commits == [1]


def test_a_plain_call_is_not_kept_waiting_by_the_linger(db: Database) -> None:
    async def run() -> list[object]:
        store = StoreThread(db, linger=60.0)
        try:
            first = store.record(_add, "https://a.example/")
            await asyncio.sleep(0.1)  # the thread now lingers on the open batch
            plain = await asyncio.wait_for(store.call(lambda: "plain"), timeout=10)
            return [plain, await first]
        finally:
            store.close()

    assert asyncio.run(run()) == ["plain", "https://a.example/"]


@pytest.mark.parametrize("max_batch", [1])
def test_a_batch_of_one_still_records(db: Database, max_batch: int) -> None:
    async def run() -> object:
        store = StoreThread(db, max_batch=max_batch)
        try:
            return await store.record(_add, "https://one.example/")
        finally:
            store.close()

    assert asyncio.run(run()) == "https://one.example/"


def test_sqlite_connections_keep_savepoint_journals_in_memory(sqlite_db: Database) -> None:
    # A savepoint per source makes SQLite journal every page it changes; in a temp file that
    # was half the poll's write calls (see the README's "Polling").
    with sqlite_db.engine.connect() as connection:
        settings = [
            connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "temp_store", "foreign_keys")
        ]
    assert settings == ["wal", 1, 2, 1]  # WAL, NORMAL, MEMORY, on
