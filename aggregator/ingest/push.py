"""Content a WebSub hub pushes to a subscription's callback (WebSub §7).

A push is stored only with a valid ``X-Hub-Signature`` from the subscription's secret, and
through the poll's own path (:meth:`Poller.store_pushed`: same parser, dedup and claim); an empty
body is a thin ping and makes the source due now.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update

from aggregator.config import Settings
from aggregator.ingest.poll import Poller
from aggregator.ingest.websub import signature_ok
from aggregator.model.entry import FeedParseError
from aggregator.model.status import PushState
from aggregator.store.db import Database
from aggregator.store.models import PUSH_SUBSCRIPTIONS, SOURCES, PushSubscription, utcnow

log = logging.getLogger("aggregator.websub")


@dataclass(slots=True)
class PushAnswer:
    """What the callback answers the hub, and what came of the push."""

    status: int
    message: str
    source_id: int | None = None
    new: int = 0
    thin: bool = False
    """An empty body: the source is to be polled now."""


def receive(
    db: Database,
    settings: Settings,
    token: str,
    body: bytes,
    *,
    signature: str | None,
    content_type: str | None,
) -> PushAnswer:
    """Check and store one push to the callback ``token``."""
    with db.session() as session:
        row = session.scalar(
            select(PushSubscription).where(PushSubscription.callback_token == token[:64])
        )
        if row is None or row.state in (PushState.ENDED, PushState.UNSUBSCRIBING):
            return PushAnswer(410, "no such subscription")
        if row.state != PushState.ACTIVE:
            return PushAnswer(404, "subscription not verified yet")
        source_id, secret = row.source_id, row.secret
    if not signature_ok(secret, signature, body):
        log.warning(
            "websub push refused: X-Hub-Signature missing or wrong",
            extra={"source_id": source_id},
        )
        return PushAnswer(403, "X-Hub-Signature missing or wrong", source_id)
    now = utcnow()
    with db.engine.begin() as connection:
        connection.execute(
            update(PUSH_SUBSCRIPTIONS)
            .where(PUSH_SUBSCRIPTIONS.c.source_id == source_id)
            .values(last_push_at=now, pushes=PUSH_SUBSCRIPTIONS.c.pushes + 1)
        )
        if not body.strip():
            connection.execute(
                update(SOURCES).where(SOURCES.c.id == source_id).values(next_check_at=now)
            )
    if not body.strip():
        return PushAnswer(202, "thin ping: polling the source", source_id, thin=True)
    try:
        outcome = Poller(db, settings).store_pushed(source_id, body, content_type)
    except FeedParseError as exc:
        log.warning(
            "websub pushed a document that is not a feed: %s", exc, extra={"source_id": source_id}
        )
        return PushAnswer(400, f"not a feed: {exc}", source_id)
    if outcome is None:
        return PushAnswer(503, "the source is being polled; push again shortly", source_id)
    log.info(
        "websub push stored: %d new, %d changed",
        outcome.new,
        outcome.changed,
        extra={"source_id": source_id},
    )
    return PushAnswer(200, f"{outcome.new} new", source_id, new=outcome.new)
