"""Deliveries as the operator manages them: putting failed and bounced mail back in the queue.

The outbox (``digest/outbox.py``) moves a delivery through its states as it renders and sends;
this is the one other change, and it happens only on an operator's word.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select

from aggregator.model.status import UNDELIVERED, DeliveryState, RunStatus
from aggregator.store.chunks import scalars_in
from aggregator.store.db import Database
from aggregator.store.models import Delivery, DigestRun


def requeue(db: Database, *, run_id: int | None, delivery_ids: Sequence[int] = ()) -> int:
    """Put failed (and bounced) deliveries back in the queue; returns how many."""
    with db.session() as session:
        query = select(Delivery).where(Delivery.state.in_(UNDELIVERED))
        if run_id is not None:
            query = query.where(Delivery.run_id == run_id)
        if delivery_ids:
            rows = list(scalars_in(session, query, Delivery.id, delivery_ids))
        else:
            rows = list(session.scalars(query))
        for row in rows:
            row.state = DeliveryState.RENDERED if row.edition_id else DeliveryState.PENDING
            row.attempts, row.next_attempt_at = 0, datetime.now(UTC)
            row.run.status = RunStatus.QUEUED
        return len(rows)


def unknown(db: Database, *, run_id: int | None, delivery_ids: Sequence[int] = ()) -> list[str]:
    """What the operator named that does not exist: "run N" or "delivery N", in order."""
    with db.session() as session:
        missing = []
        if run_id is not None and session.get(DigestRun, run_id) is None:
            missing.append(f"run {run_id}")
        found = set(scalars_in(session, select(Delivery.id), Delivery.id, delivery_ids))
        missing += [f"delivery {i}" for i in dict.fromkeys(delivery_ids) if i not in found]
        return missing
