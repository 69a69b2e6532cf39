"""Bounces that arrive later: delivery status notifications (RFC 3464) and feedback-loop
complaints (ARF, RFC 5965) sent back to a delivery's VERP address (mail/verp.py).

A permanent failure (``Status: 5.x.x``) bounces exactly that delivery and counts a hard bounce
for its subscriber (the outbox's own rule: ``store.subscribers.record_hard_bounce``); a
temporary one (4.x.x) is logged, not counted; a complaint unsubscribes the subscriber.
"""

from __future__ import annotations

import email.policy
import logging
import re
from email.message import EmailMessage, Message

from aggregator.config import Settings
from aggregator.inbound.message import MAX_PARTS
from aggregator.model.status import DeliveryState
from aggregator.store import subscribers
from aggregator.store.db import Database
from aggregator.store.models import Delivery

log = logging.getLogger("aggregator.inbound")
_STATUS = re.compile(r"([245])\.\d{1,3}\.\d{1,3}", re.ASCII)


def read_report(data: bytes) -> tuple[str, str]:
    """("complaint", ""), ("hard" | "soft", the status and diagnostic) or ("none", "")."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    statuses: list[str] = []
    for count, part in enumerate(message.walk()):
        if count > MAX_PARTS:
            break
        kind = part.get_content_type()
        if kind == "message/feedback-report":
            return "complaint", ""
        if kind == "message/delivery-status":
            statuses += _statuses(part)
    hard = [s for s in statuses if s.startswith("5")]
    if hard:
        return "hard", hard[0]
    return ("soft", statuses[0]) if statuses else ("none", "")


def _statuses(part: Message) -> list[str]:
    """Each recipient's ``Status`` (with its ``Diagnostic-Code``) of a delivery-status part."""
    blocks = part.get_payload()
    found = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, Message):
            continue
        match = _STATUS.match(str(block.get("Status", "")).strip())
        if match:
            diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())[:300]
            found.append(f"{match.group(0)} {diagnostic}".strip())
    return found


def record_report(db: Database, settings: Settings, delivery_id: int, data: bytes) -> str:
    """Act on a report for one delivery; returns what was done, in a word."""
    kind, status = read_report(data)
    with db.session() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            log.info("bounce for unknown delivery=%d dropped", delivery_id)
            return "dropped"
        subscriber_id = delivery.subscriber_id
        if kind == "hard" and delivery.state == DeliveryState.SENT:
            delivery.state = DeliveryState.BOUNCED
            delivery.last_error = f"bounced later: {status}"[:1000]
            threshold = settings.mail.bounce_threshold
            if subscribers.record_hard_bounce(delivery.subscriber, status, threshold=threshold):
                log.warning("subscriber=%d suspended after a late bounce", subscriber_id)
            log.warning("delivery=%d bounced later: %s", delivery_id, status)
            return "bounced"
    if kind == "complaint":
        subscribers.unsubscribe(db, subscriber_id, reason="complained (feedback report)")
        log.warning(
            "subscriber=%d unsubscribed: complaint for delivery=%d", subscriber_id, delivery_id
        )
        return "unsubscribed"
    if kind == "soft":
        log.info("delivery=%d temporary failure reported, not counted: %s", delivery_id, status)
    return kind
