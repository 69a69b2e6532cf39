"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from aggregator.store.db import MIGRATIONS_DIR, Database
from aggregator.store.models import CLAIMED_TABLES, Base


def test_migrated_schema_matches_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def _claim_indexes(db: Database) -> dict[str, list[list[str | None]]]:
    inspector = inspect(db.engine)
    return {
        t.name: [
            i["column_names"] for i in inspector.get_indexes(t.name) if "claimed_by" in i["name"]
        ]
        for t in CLAIMED_TABLES
    }


def test_claimed_rows_are_found_by_owner_through_an_index(db: Database) -> None:
    assert _claim_indexes(db) == {t.name: [["claimed_by"]] for t in CLAIMED_TABLES}
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0005")
    assert _claim_indexes(db) == {t.name: [] for t in CLAIMED_TABLES}
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    assert _claim_indexes(db) == {t.name: [["claimed_by"]] for t in CLAIMED_TABLES}
