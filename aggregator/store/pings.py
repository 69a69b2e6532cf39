"""Pending WebSub pings: one row per changed topic until its hub accepts a ping for it.

A failed ping is retried with exponential backoff (1 minute, doubling, at most an hour), and the
rows outlive a restart. ``created_at`` is when the newest change the row announces was queued: a
topic that changes again while its ping is in flight keeps its row, so that change is announced
too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, delete, select
from sqlalchemy.orm import Session

from aggregator.store.db import conflict_insert
from aggregator.store.models import WebSubPing

FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=1)
BATCH = 100
"""Topics per hub request."""


def backoff(attempts: int) -> timedelta:
    """The wait after ``attempts`` failed pings: 1 min, 2, 4, … capped at an hour."""
    return min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 16), MAX_RETRY)


def enqueue(session: Session, hub_url: str, topics: Sequence[str], now: datetime) -> None:
    """Queue a ping of ``hub_url`` for each topic, due now.

    A topic already waiting for the same hub keeps its place in the backoff (its retry will
    announce this change as well); one waiting for another hub moves to this one, due now.
    """
    if not topics:
        return
    statement = conflict_insert(session.get_bind().dialect.name, WebSubPing).values(
        [
            {
                "topic": topic,
                "hub_url": hub_url,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for topic in dict.fromkeys(topics)
        ]
    )
    new = statement.excluded
    moved = WebSubPing.hub_url != new.hub_url
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[WebSubPing.topic],
            set_={
                "created_at": new.created_at,
                "hub_url": new.hub_url,
                "attempts": _if(moved, 0, WebSubPing.attempts),
                "next_attempt_at": _if(moved, new.next_attempt_at, WebSubPing.next_attempt_at),
                "last_error": _if(moved, None, WebSubPing.last_error),
            },
        )
    )


def _if(condition: ColumnElement[bool], then: object, otherwise: object) -> ColumnElement:
    return case((condition, then), else_=otherwise)


def due(session: Session, now: datetime, limit: int = BATCH) -> list[WebSubPing]:
    """Pings whose next attempt has come, the longest waiting first."""
    return list(
        session.scalars(
            select(WebSubPing)
            .where(WebSubPing.next_attempt_at <= now)
            .order_by(WebSubPing.next_attempt_at, WebSubPing.topic)
            .limit(limit)
        )
    )


def forget(session: Session, topics: Sequence[str]) -> None:
    """Drop the pings of ``topics`` unsent (their hub is no longer the configured one)."""
    session.execute(delete(WebSubPing).where(WebSubPing.topic.in_(topics)))


def mark_done(session: Session, hub_url: str, topics: Sequence[str], sent_at: datetime) -> None:
    """The hub accepted a ping sent at ``sent_at``: drop the rows it announced in full."""
    session.execute(
        delete(WebSubPing).where(
            WebSubPing.topic.in_(topics),
            WebSubPing.hub_url == hub_url,
            WebSubPing.created_at <= sent_at,
        )
    )


def mark_failed(
    session: Session, hub_url: str, topics: Sequence[str], error: str, now: datetime
) -> None:
    """The ping failed: count the attempt and schedule the next one with backoff."""
    rows = session.scalars(
        select(WebSubPing).where(WebSubPing.topic.in_(topics), WebSubPing.hub_url == hub_url)
    )
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + backoff(row.attempts)
        row.last_error = error[:500]
