"""Queries restricted to a list of values, asked one bounded chunk at a time.

No statement carries an ``IN`` list of unbounded length (see :func:`db.chunked`): PostgreSQL
refuses more than 65,535 bound parameters per statement and SQLite more than 32,766.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from sqlalchemy import Row, Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from aggregator.store.db import chunked


def rows_in(
    session: Session, query: Select, column: InstrumentedAttribute[Any], values: Collection[Any]
) -> Iterator[Row[Any]]:
    """The rows of ``query`` whose ``column`` is one of ``values``, one statement per chunk."""
    for chunk in chunked(list(values)):
        yield from session.execute(query.where(column.in_(chunk)))


def scalars_in(
    session: Session, query: Select, column: InstrumentedAttribute[Any], values: Collection[Any]
) -> Iterator[Any]:
    """Like :func:`rows_in`, for a query of one column or one entity."""
    for chunk in chunked(list(values)):
        yield from session.scalars(query.where(column.in_(chunk)))
