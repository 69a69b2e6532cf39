"""Locks that hold across processes: one migrator at a time, and one leader for the singletons.

On PostgreSQL these are advisory locks, keyed by the schema and a name (so installations sharing
a server in different schemas do not block each other). A session-level advisory lock belongs to
its connection: when the process dies, the connection closes and the lock is free. On SQLite
(one machine) they are ``flock`` locks on files beside the database, which the kernel frees when
the process dies in the same way.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger("aggregator.locks")
_KEY = "hashtext(current_schema() || ':' || :name)"


def hold_window_fence(connection: Connection, *, exclusive: bool = False) -> None:
    """Hold the items' window fence until this transaction ends (PostgreSQL; on SQLite every
    write transaction already excludes the others). Storing items holds it shared; closing a
    digest window holds it alone, so it waits for every store under way."""
    if connection.dialect.name == "sqlite":
        return
    lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    connection.execute(text(f"SELECT {lock}({_KEY})"), {"name": "items-window"})


def _lock_path(engine: Engine, name: str) -> Path | None:
    """The lock file for a SQLite database (None for an in-memory one)."""
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    return Path(f"{database}.{name}.lock")


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[None]:
    """Hold the lock ``name`` for the block, waiting for whoever holds it now."""
    if engine.dialect.name == "sqlite":
        path = _lock_path(engine, name)
        if path is None:
            yield
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with engine.connect() as connection:
        connection.execute(text(f"SELECT pg_advisory_lock({_KEY})"), {"name": name})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text(f"SELECT pg_advisory_unlock({_KEY})"), {"name": name})
            connection.commit()


class Leadership:
    """Whether this process is the leader: the one holder of the ``leader`` lock.

    :meth:`held` tries to take the lock when it is not held and checks that a held one is still
    there (its connection alive); a dead leader's lock is free, so the next worker to ask takes
    over. Call :meth:`resign` on shutdown.
    """

    def __init__(self, engine: Engine, name: str = "leader"):
        self.engine = engine
        self.name = name
        self._connection: Connection | None = None
        self._file: IO[str] | None = None

    def held(self) -> bool:
        if self.engine.dialect.name == "sqlite":
            return self._held_file()
        return self._held_advisory()

    def _held_file(self) -> bool:
        if self._file is not None:
            return True
        path = _lock_path(self.engine, self.name)
        if path is None:
            return True
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        log.info("this process is now the leader (cron digests, publishing, WebSub pings)")
        return True

    def _held_advisory(self) -> bool:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                self._connection.commit()
                return True
            except DBAPIError:
                log.warning("lost the leader lock's connection; trying to lead again")
                self._drop_connection()
        connection = self.engine.connect()
        try:
            got = connection.execute(
                text(f"SELECT pg_try_advisory_lock({_KEY})"), {"name": self.name}
            ).scalar()
            connection.commit()
        except DBAPIError:
            connection.close()
            return False
        if not got:
            connection.close()
            return False
        self._connection = connection
        log.info("this process is now the leader (cron digests, publishing, WebSub pings)")
        return True

    def _drop_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except DBAPIError:
                pass
            self._connection = None

    def resign(self) -> None:
        """Free the lock (the connection or file is closed)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._connection is not None:
            try:
                self._connection.execute(
                    text(f"SELECT pg_advisory_unlock({_KEY})"), {"name": self.name}
                )
                self._connection.commit()
            except DBAPIError:
                pass
            self._connection.close()
            self._connection = None
