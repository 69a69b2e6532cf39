"""A private PostgreSQL schema for one test or benchmark run, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, text


def schema_url(url: str, prefix: str = "t") -> Iterator[str]:
    """Yield ``url`` with its search_path set to a fresh schema; drop the schema afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
