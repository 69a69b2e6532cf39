"""What the last LLM run spent (calls, tokens, per source), for ``status`` and ``/metrics``.

One JSON value in ``app_state``, written by the worker that ran the LLM, read by any process.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from aggregator.store.db import Database
from aggregator.store.models import AppState

KEY = "llm_last_run"


def record_llm_run(db: Database, usage: dict[str, Any]) -> None:
    """Store the usage of the run that just ended (replacing the one before)."""
    upsert = db.insert(AppState).values(key=KEY, value=json.dumps(usage, default=str))
    with db.engine.begin() as connection:
        connection.execute(
            upsert.on_conflict_do_update(
                index_elements=[AppState.key], set_={"value": upsert.excluded.value}
            )
        )


def last_llm_run(db: Database) -> dict[str, Any] | None:
    """The last run's usage, or None before the first run with an LLM."""
    with db.engine.connect() as connection:
        value = connection.scalar(select(AppState.value).where(AppState.key == KEY))
    try:
        usage = json.loads(value) if value else None
    except ValueError:
        return None
    return usage if isinstance(usage, dict) else None
