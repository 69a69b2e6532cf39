"""Shared fixtures: real databases (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.store.db import Database
from tests.support.pgschema import schema_url

pytest_plugins = ["tests.support.feedserver", "tests.support.smtpserver"]

PG_URL = os.environ.get("AGGREGATOR_TEST_DATABASE_URL", "")
SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
if not SHARED.is_dir():
    SHARED = Path(os.environ.get("AGGREGATOR_SHARED", "/work/shared"))
CORPUS = SHARED / "corpus"


def _pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    yield from schema_url(PG_URL)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: SQLite in tmp_path, and PostgreSQL when configured."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if not PG_URL:
        pytest.skip("AGGREGATOR_TEST_DATABASE_URL is not set")
    yield from _pg_schema_url()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'test.db'}")
    yield database
    database.dispose()
