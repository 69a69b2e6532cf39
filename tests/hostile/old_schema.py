"""A database at an older migration, for tests of what an upgrade does to existing rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection

from aggregator.store.db import MIGRATIONS_DIR, make_engine

THEN = datetime(2026, 1, 1, tzinfo=UTC)
SUBSCRIBER: dict[str, Any] = {
    "status": "active",
    "digests": [],
    "tags": [],
    "sources": [],
    "hard_bounces": 0,
    "timezone": "UTC",
    "created_at": THEN,
    "updated_at": THEN,
}
"""Every column of a subscriber row but ``id`` and ``email``."""


@contextmanager
def at_revision(url: str, revision: str) -> Iterator[Connection]:
    """A connection to the database at ``url`` migrated up to ``revision``; committed on exit."""
    engine = make_engine(url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
            yield connection
    finally:
        engine.dispose()
