"""WebSub subscriber side: find a feed's hub, subscribe to it, verify the hub's intent requests.

Discovery runs at poll time (:func:`discover`: the ``Link`` headers first, then the document's
own ``rel="hub"``/``rel="self"`` links). The leader keeps one subscription per hub-advertised
source (:func:`maintain`): subscribe (WebSub §5.1) with a callback path nobody can guess and a
``hub.secret`` of its own, renew before the lease ends, unsubscribe once the source is removed,
disabled or its feed drops the hub. The hub's verification of intent (§5.3) is answered by
:func:`verify_intent` only for a request of ours still waiting for it. Pushed content is
received in :mod:`aggregator.ingest.push`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from aggregator.config import Settings, is_loopback_url
from aggregator.ingest.fetch import Fetcher, FetchError
from aggregator.model.entry import ParsedFeed
from aggregator.model.status import PushState, SourceOrigin, SourceStatus
from aggregator.store.db import Database
from aggregator.store.models import PushSubscription, Source, utcnow

log = logging.getLogger("aggregator.websub")

CALLBACK_PREFIX = "/websub/"
"""Where the web app receives a subscription's verification and pushes: ``/websub/<token>``."""
MAX_CHALLENGE = 1024
"""A longer ``hub.challenge`` is not echoed."""
MAX_LEASE_SECONDS = 365 * 86400
MAX_RETRY = timedelta(days=7)
_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)")
_REL = re.compile(r';\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))', re.IGNORECASE)
SIGNATURES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384}
SIGNATURES["sha512"] = hashlib.sha512


def link_relations(values: Iterable[str], base: str) -> dict[str, str]:
    """The first URL of each relation in ``Link`` header values, absolute against ``base``."""
    found: dict[str, str] = {}
    for value in values:
        for match in _LINK.finditer(value):
            for rel_match in _REL.finditer(match.group(2)):
                for rel in (rel_match.group(1) or rel_match.group(2) or "").lower().split():
                    found.setdefault(rel, urljoin(base, match.group(1).strip()))
    return found


def _http(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL of a sane length, else None."""
    if not url or len(url) > 2048:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.hostname else None


def discover(parsed: ParsedFeed, links: Iterable[str], base: str = "") -> tuple[str | None, ...]:
    """The feed's (hub, self) URLs: the HTTP ``Link`` headers win over the document (WebSub §4)."""
    header = link_relations(links, base)
    hub = _http(header.get("hub")) or _http(parsed.hub_url)
    topic = _http(header.get("self")) or _http(parsed.self_url)
    return hub, topic


def signature_ok(secret: str, header: str | None, body: bytes) -> bool:
    """Whether ``X-Hub-Signature`` (``method=hex``; sha1, sha256, sha384 or sha512) is the HMAC
    of the exact body under the subscription's secret."""
    if not header or len(header) > 300:
        return False
    method, _, given = header.strip().partition("=")
    digest = SIGNATURES.get(method.strip().lower())
    if digest is None or not given:
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


def subscribing(settings: Settings) -> bool:
    """Whether this installation subscribes: a hub must be able to reach ``general.base_url``."""
    mode = settings.websub.subscribe
    return mode == "always" or (mode == "auto" and not is_loopback_url(settings.general.base_url))


def callback_url(settings: Settings, token: str) -> str:
    return f"{settings.general.base_url.rstrip('/')}{CALLBACK_PREFIX}{token}"


@dataclass(slots=True)
class _Request:
    source_id: int
    mode: str
    """``subscribe`` (also a renewal) or ``unsubscribe``."""
    hub_url: str
    topic_url: str
    token: str
    secret: str


def _backoff(settings: Settings, attempts: int) -> timedelta:
    minutes = settings.websub.retry_minutes * 2 ** max(0, attempts - 1)
    return min(timedelta(minutes=minutes), MAX_RETRY)


def _due(row: PushSubscription, now: datetime) -> bool:
    return row.next_attempt_at is None or row.next_attempt_at <= now


def _renew_at(row: PushSubscription, settings: Settings) -> datetime | None:
    if row.lease_until is None:
        return None
    granted = row.lease_until - (row.verified_at or row.lease_until)
    before = min(timedelta(seconds=settings.websub.renew_before_seconds), granted / 2)
    return row.lease_until - before


def _ask(row: PushSubscription, mode: str, settings: Settings, now: datetime) -> _Request:
    row.requested_at = now
    row.attempts += 1
    row.next_attempt_at = now + _backoff(settings, row.attempts)
    return _Request(row.source_id, mode, row.hub_url, row.topic_url, row.callback_token, row.secret)


def _start(row: PushSubscription, hub: str, topic: str) -> None:
    """A new subscription: its own secret, nothing verified yet."""
    row.hub_url, row.topic_url = hub, topic
    row.secret = secrets.token_hex(32)
    row.state = PushState.SUBSCRIBING
    row.lease_until = row.verified_at = None
    row.attempts = 0


def plan(session: Session, settings: Settings, now: datetime) -> list[_Request]:
    """Bring the subscription rows in line with the sources; the hub requests that takes.

    The new states are committed before any request is sent, so a hub that verifies before it
    answers finds the request it verifies.
    """
    wanted: dict[int, tuple[str, str]] = {}
    if subscribing(settings):
        for source in session.scalars(
            select(Source).where(
                Source.enabled.is_(True),
                Source.status == SourceStatus.ACTIVE,
                Source.origin != SourceOrigin.REMOVED,
                Source.hub_url.is_not(None),
            )
        ):
            hub, topic = _http(source.hub_url), _http(source.self_url) or _http(source.url)
            if hub and topic:
                wanted[source.id] = (hub, topic)
    rows = {row.source_id: row for row in session.scalars(select(PushSubscription))}
    requests = []
    for source_id, (hub, topic) in wanted.items():
        row = rows.get(source_id)
        if row is None:
            row = PushSubscription(
                source_id=source_id, callback_token=secrets.token_urlsafe(32), pushes=0
            )
            session.add(row)
            _start(row, hub, topic)
            row.next_attempt_at = None
        elif (row.hub_url, row.topic_url) != (hub, topic) or row.state == PushState.UNSUBSCRIBING:
            _start(row, hub, topic)  # the old hub's pushes fail the new secret
            row.next_attempt_at = None
        elif row.state == PushState.ACTIVE and row.lease_until and row.lease_until <= now:
            log.warning(
                "websub lease at %s ran out; subscribing again", hub, extra={"source_id": source_id}
            )
            _start(row, hub, topic)
            row.next_attempt_at = None
        elif row.state == PushState.ENDED and _due(row, now):
            _start(row, hub, topic)
        if row.state == PushState.SUBSCRIBING and _due(row, now):
            requests.append(_ask(row, "subscribe", settings, now))
        elif row.state == PushState.ACTIVE and _due(row, now):
            renew_at = _renew_at(row, settings)
            if renew_at is not None and renew_at <= now:
                requests.append(_ask(row, "subscribe", settings, now))
    for source_id, row in rows.items():
        if source_id in wanted:
            continue
        if row.state in (PushState.ACTIVE, PushState.SUBSCRIBING):
            row.state, row.attempts, row.next_attempt_at = PushState.UNSUBSCRIBING, 0, None
            _push_ends(session, source_id)
        if row.state == PushState.UNSUBSCRIBING and _due(row, now):
            if row.attempts >= 3:  # the hub never confirmed: its lease ends on its own
                row.state, row.next_attempt_at = PushState.ENDED, None
            else:
                requests.append(_ask(row, "unsubscribe", settings, now))
    return requests


def _push_ends(session: Session, source_id: int) -> None:
    source = session.get(Source, source_id)
    if source is not None:
        source.push_until = None


async def _send(
    fetcher: Fetcher, settings: Settings, request: _Request
) -> tuple[_Request, str | None]:
    form = [
        ("hub.mode", request.mode),
        ("hub.topic", request.topic_url),
        ("hub.callback", callback_url(settings, request.token)),
    ]
    if request.mode == "subscribe":
        form += [
            ("hub.lease_seconds", str(settings.websub.lease_seconds)),
            ("hub.secret", request.secret),
        ]
    try:
        status, answer = await fetcher.post_form(request.hub_url, form)
    except FetchError as exc:
        return request, f"hub {request.hub_url} unreachable: {exc}"
    if 200 <= status < 300:
        return request, None
    detail = " ".join(answer.split())[:200]
    return request, f"hub {request.hub_url} refused {request.mode}: HTTP {status} {detail}".strip()


async def maintain(db: Database, settings: Settings, *, now: datetime | None = None) -> int:
    """On the leader: subscribe, renew and unsubscribe as the sources need; returns how many
    requests the hubs accepted (a refusal is logged and retried with backoff)."""
    now = now or utcnow()
    with db.session() as session:
        requests = plan(session, settings, now)
    if not requests:
        return 0
    async with Fetcher(settings.fetch, settings.user_agent) as fetcher:
        results = await asyncio.gather(*(_send(fetcher, settings, r) for r in requests))
    accepted = 0
    with db.session() as session:
        for request, error in results:
            row = session.get(PushSubscription, request.source_id)
            if row is None:
                continue
            row.last_error = error
            if error is None:
                accepted += 1
                log.info(
                    "websub %s requested at %s",
                    request.mode,
                    row.hub_url,
                    extra={"source_id": row.source_id},
                )
            else:
                log.warning("websub %s", error, extra={"source_id": row.source_id})
    return accepted


def maintain_now(db: Database, settings: Settings) -> int:
    """:func:`maintain` from synchronous code (the leader's tick)."""
    return asyncio.run(maintain(db, settings))


def _lease(value: str | None, settings: Settings) -> timedelta:
    """The lease the hub granted: its ``hub.lease_seconds`` when that is a plain number."""
    if value and value.isascii() and value.isdigit() and len(value) <= 10:
        return timedelta(seconds=min(max(int(value), 60), MAX_LEASE_SECONDS))
    return timedelta(seconds=settings.websub.lease_seconds)


def verify_intent(
    db: Database,
    settings: Settings,
    token: str,
    params: dict[str, str],
    *,
    now: datetime | None = None,
) -> str | None:
    """Answer a hub's verification of intent: the challenge to echo (``""`` for a denial we
    take note of), or None when this is no request of ours (answered 404)."""
    now = now or utcnow()
    mode, topic = params.get("hub.mode", ""), params.get("hub.topic", "")
    challenge = params.get("hub.challenge", "")
    if len(token) > 64 or len(challenge) > MAX_CHALLENGE:
        return None
    with db.session() as session:
        row = session.scalar(
            select(PushSubscription).where(PushSubscription.callback_token == token)
        )
        if row is None or row.topic_url != topic:
            return None
        if mode == "denied" and row.state in (PushState.SUBSCRIBING, PushState.ACTIVE):
            reason = " ".join(params.get("hub.reason", "").split())[:200]
            row.state, row.last_error = PushState.ENDED, f"hub denied the subscription: {reason}"
            row.next_attempt_at = now + _backoff(settings, max(row.attempts, 1))
            _push_ends(session, row.source_id)
            log.warning("websub %s", row.last_error, extra={"source_id": row.source_id})
            return ""
        if not challenge or row.requested_at is None:
            return None
        if mode == "subscribe" and row.state in (PushState.SUBSCRIBING, PushState.ACTIVE):
            row.state, row.verified_at = PushState.ACTIVE, now
            row.lease_until = now + _lease(params.get("hub.lease_seconds"), settings)
            row.requested_at, row.attempts, row.next_attempt_at = None, 0, None
            row.last_error = None
            source = session.get(Source, row.source_id)
            if source is not None:
                source.push_until = row.lease_until
            log.info(
                "websub verified, lease until %s",
                row.lease_until,
                extra={"source_id": row.source_id},
            )
            return challenge
        if mode == "unsubscribe" and row.state == PushState.UNSUBSCRIBING:
            row.state, row.requested_at, row.next_attempt_at = PushState.ENDED, None, None
            row.lease_until = None
            return challenge
    return None
