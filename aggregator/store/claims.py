"""Claims with leases: the tables are the queues, and each piece of work has one owner at a time.

A worker claims rows (sources due for a poll, items awaiting a brief, deliveries awaiting render
or send) in one statement that sets ``claimed_by`` to its token and ``claimed_until`` to the end
of its lease. On PostgreSQL the candidates are picked with ``FOR UPDATE SKIP LOCKED``, so two
workers claiming at once get disjoint rows without waiting for each other; on SQLite the claim is
a short ``BEGIN IMMEDIATE`` transaction, which serialises claimers.

A result is recorded only while the claim is still held: :func:`release` clears the claim of the
rows still carrying the worker's token and returns their ids, as the first write of the
transaction that records the result (so the row stays locked until that commit). An id missing
from its answer was taken over by another worker after the lease ran out: that is logged, never
an error. An expired lease makes the row claimable again, so the work of a killed worker comes
back; a long batch renews its lease with :func:`renew`.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import ColumnElement, Connection, Table, Update, bindparam, or_, select, update

from aggregator.store.db import Database, chunked

log = logging.getLogger("aggregator.claims")


def new_token() -> str:
    """A worker's claim token: host, process and a random part (at most 40 characters)."""
    host = socket.gethostname().split(".")[0][:16]
    return f"{host}:{os.getpid()}:{secrets.token_hex(4)}"[:40]


@contextmanager
def write_transaction(db: Database) -> Iterator[Connection]:
    """A short write transaction: ``BEGIN IMMEDIATE`` on SQLite (the write lock is taken before
    anything is read), an ordinary transaction on PostgreSQL. Commits on success."""
    with db.engine.connect() as connection:
        if db.is_sqlite:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()


def claimable(table: Table, now: datetime) -> ColumnElement[bool]:
    """Rows nobody holds: never claimed, released, or whose lease has run out."""
    return or_(table.c.claimed_until.is_(None), table.c.claimed_until < now)


def claim(
    db: Database,
    table: Table,
    *,
    token: str,
    lease: timedelta,
    now: datetime,
    where: Sequence[ColumnElement[bool]] = (),
    order_by: Sequence[ColumnElement] = (),
    limit: int,
) -> list[int]:
    """Claim up to ``limit`` unclaimed rows of ``table`` matching ``where``; returns their ids."""
    candidates = (
        select(table.c.id)
        .where(claimable(table, now), *where)
        .order_by(*(order_by or (table.c.id,)))
        .limit(limit)
    )
    if not db.is_sqlite:
        candidates = candidates.with_for_update(skip_locked=True)
    statement = (
        update(table)
        .where(table.c.id.in_(candidates.scalar_subquery()))
        .values(claimed_by=token, claimed_until=now + lease)
        .returning(table.c.id)
    )
    with write_transaction(db) as connection:
        ids = list(connection.execute(statement).scalars())
    return sorted(ids)


def claim_ids(
    db: Database,
    table: Table,
    ids: Iterable[int],
    *,
    token: str,
    lease: timedelta,
    now: datetime,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[int]:
    """Claim the given rows, those of them nobody else holds; returns the ids claimed."""
    claimed: list[int] = []
    for chunk in chunked(list(dict.fromkeys(ids))):
        claimed += claim(
            db,
            table,
            token=token,
            lease=lease,
            now=now,
            where=[table.c.id.in_(chunk), *where],
            limit=len(chunk),
        )
    return claimed


def release(
    connection: Connection, table: Table, ids: Iterable[int], *, token: str, what: str = ""
) -> set[int]:
    """Clear this worker's claim on ``ids``; returns those it still held.

    Call it first in the transaction that records the work's result, and record only the ids
    it returns. Ids it does not return were taken over after the lease ran out (logged).
    """
    wanted = list(dict.fromkeys(ids))
    held: set[int] = set()
    for chunk in chunked(wanted):
        params = {"ids": list(chunk), "token": token}
        held.update(connection.execute(_release_statement(table), params).scalars())
    lost = len(wanted) - len(held)
    if lost:
        log.warning(
            "claim lost on %d %s row(s) (lease ran out, another worker took over): not recorded",
            lost,
            what or table.name,
        )
    return held


def renew(
    db: Database, tables: Sequence[Table], *, token: str, lease: timedelta, now: datetime
) -> int:
    """Extend this worker's lease on every row it holds; returns how many."""
    renewed = 0
    with write_transaction(db) as connection:
        for table in tables:
            renewed += connection.execute(
                update(table).where(table.c.claimed_by == token).values(claimed_until=now + lease)
            ).rowcount
    return renewed


class Heartbeat:
    """Renews a worker's leases every third of the lease while its process lives, so a long
    poll, brief batch or send batch keeps its claims; a killed process stops renewing and its
    leases run out."""

    def __init__(
        self,
        db: Database,
        tables: Sequence[Table],
        *,
        token: str,
        lease: timedelta,
        clock: Callable[[], datetime],
    ):
        self.db, self.tables, self.token, self.lease, self.clock = db, tables, token, lease, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="claims-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.lease.total_seconds() / 3):
            try:
                renew(self.db, self.tables, token=self.token, lease=self.lease, now=self.clock())
            except Exception:  # a database hiccup: the next beat tries again
                log.exception("could not renew this worker's leases")


@cache
def _release_statement(table: Table) -> Update:
    """Built once per table: a poll releases a thousand sources one by one."""
    return (
        update(table)
        .where(table.c.id.in_(bindparam("ids", expanding=True)))
        .where(table.c.claimed_by == bindparam("token"))
        .values(claimed_by=None, claimed_until=None)
        .returning(table.c.id)
    )


def release_all(db: Database, table: Table, *, token: str) -> int:
    """Give back every row this worker still holds (work it will not finish: shutdown)."""
    with write_transaction(db) as connection:
        return connection.execute(
            update(table)
            .where(table.c.claimed_by == token)
            .values(claimed_by=None, claimed_until=None)
        ).rowcount


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead_local_claims(db: Database, tables: Sequence[Table]) -> int:
    """Free the claims of workers on this host whose process is gone (a restart after a kill),
    without waiting for their leases; returns how many rows were freed.

    A token names its host and process id. Only tokens of this host whose process no longer
    exists are freed; a live process, another host, or a reused pid keeps its claim until the
    lease runs out, which is always safe.
    """
    host = new_token().split(":")[0]
    freed = 0
    for table in tables:
        with db.engine.connect() as connection:
            tokens = connection.execute(
                select(table.c.claimed_by).where(table.c.claimed_by.like(f"{host}:%")).distinct()
            ).scalars()
            dead = [
                t
                for t in tokens
                if t.split(":")[1].isdigit() and not _pid_alive(int(t.split(":")[1]))
            ]
        for token in dead:
            freed += release_all(db, table, token=token)
    if freed:
        log.info("freed %d claim(s) of workers of this host that are gone", freed)
    return freed
