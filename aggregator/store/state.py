"""Values every worker shares, kept in the database: the signing key and rate-limit events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select, text

from aggregator.store.claims import write_transaction
from aggregator.store.db import Database
from aggregator.store.models import AppState, RateHit


def shared_value(db: Database, key: str, make: Callable[[], str]) -> str:
    """The stored value of ``key``; the first caller stores ``make()`` (insert if absent), so
    workers starting at once all end up with the same value."""
    with db.engine.begin() as connection:
        value = connection.scalar(select(AppState.value).where(AppState.key == key))
        if value is not None:
            return value
        insert = db.insert(AppState).values(key=key, value=make())
        connection.execute(insert.on_conflict_do_nothing())
    with db.engine.connect() as connection:
        return connection.execute(select(AppState.value).where(AppState.key == key)).scalar_one()


class SharedRateLimiter:
    """At most ``limit`` events per key in a sliding ``window`` of seconds, counted in the
    database so the limit holds across workers and restarts.

    Each hit is one short write transaction: on PostgreSQL an advisory lock per key serialises
    the hits of one key; on SQLite ``BEGIN IMMEDIATE`` serialises all of them.
    """

    def __init__(
        self,
        db: Database,
        limit: int,
        window: float,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db, self.limit, self.window = db, limit, timedelta(seconds=window)
        self._clock = clock

    def hit(self, key: str) -> float:
        """Record one event for ``key``: 0 if allowed, else the seconds until one would be."""
        now = self._clock()
        key = key[:200]
        with write_transaction(self.db) as connection:
            if not self.db.is_sqlite:
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext('rate:' || :key))"), {"key": key}
                )
            connection.execute(delete(RateHit).where(RateHit.at <= now - self.window))
            count, oldest = connection.execute(
                select(func.count(), func.min(RateHit.at)).where(RateHit.key == key)
            ).one()
            if count >= self.limit:
                return max((oldest + self.window - now).total_seconds(), 0.001)
            connection.execute(insert(RateHit).values(key=key, at=now))
        return 0.0
