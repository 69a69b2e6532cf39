"""Deliveries as the operator manages them: putting failed and bounced mail back in the queue.

The outbox (``digest/outbox.py``) moves a delivery through its states as it renders and sends;
this is the one other change, and it happens only on an operator's word.

A subscriber's window starts at their last digest, so each edition holds what the missed ones
held: requeueing puts back only the latest edition of a digest each subscriber missed, never an
older one (that would mail the same stories twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aggregator.model.status import UNDELIVERED, DeliveryState, RunStatus
from aggregator.store.chunks import scalars_in
from aggregator.store.db import Database
from aggregator.store.models import Delivery, DigestRun


@dataclass(frozen=True, slots=True)
class Requeued:
    requeued: int
    superseded: int
    """Undelivered deliveries left as they are: the subscriber has a later edition of that
    digest (sent or queued), which carries the same stories."""


def requeue(db: Database, *, run_id: int | None, delivery_ids: Sequence[int] = ()) -> Requeued:
    """Put failed (and bounced) deliveries back in the queue, each subscriber's latest edition
    of each digest only."""
    with db.session() as session:
        query = select(Delivery).where(Delivery.state.in_(UNDELIVERED))
        if run_id is not None:
            query = query.where(Delivery.run_id == run_id)
        if delivery_ids:
            rows = list(scalars_in(session, query, Delivery.id, delivery_ids))
        else:
            rows = list(session.scalars(query))
        latest = _latest_editions(session, {row.subscriber_id for row in rows})
        superseded = [r for r in rows if latest[(r.subscriber_id, r.run.digest_name)] != r.run_id]
        rows = [r for r in rows if r not in superseded]
        for row in rows:
            row.state = DeliveryState.RENDERED if row.edition_id else DeliveryState.PENDING
            row.attempts, row.next_attempt_at = 0, datetime.now(UTC)
            row.run.status = RunStatus.QUEUED
        return Requeued(len(rows), len(superseded))


def _latest_editions(session: Session, subscriber_ids: set[int]) -> dict[tuple[int, str], int]:
    """(subscriber, digest) -> the id of the latest run that has a delivery for them."""
    if not subscriber_ids:
        return {}
    newest = (
        select(
            Delivery.subscriber_id,
            DigestRun.digest_name,
            func.max(DigestRun.scheduled_for).label("newest"),
        )
        .join(DigestRun, DigestRun.id == Delivery.run_id)
        .where(Delivery.subscriber_id.in_(subscriber_ids))
        .group_by(Delivery.subscriber_id, DigestRun.digest_name)
        .subquery()
    )
    query = (
        select(Delivery.subscriber_id, DigestRun.digest_name, func.max(DigestRun.id))
        .join(DigestRun, DigestRun.id == Delivery.run_id)
        .join(
            newest,
            (newest.c.subscriber_id == Delivery.subscriber_id)
            & (newest.c.digest_name == DigestRun.digest_name)
            & (newest.c.newest == DigestRun.scheduled_for),
        )
        .group_by(Delivery.subscriber_id, DigestRun.digest_name)
    )
    return {(sid, name): run_id for sid, name, run_id in session.execute(query)}


def unknown(db: Database, *, run_id: int | None, delivery_ids: Sequence[int] = ()) -> list[str]:
    """What the operator named that does not exist: "run N" or "delivery N", in order."""
    with db.session() as session:
        missing = []
        if run_id is not None and session.get(DigestRun, run_id) is None:
            missing.append(f"run {run_id}")
        found = set(scalars_in(session, select(Delivery.id), Delivery.id, delivery_ids))
        missing += [f"delivery {i}" for i in dict.fromkeys(delivery_ids) if i not in found]
        return missing
