"""Subscription state changes: subscribe (double opt-in), confirm, preferences, pause, unsubscribe.

Statuses: ``pending`` (waiting for confirmation), ``active``, ``paused``, ``unsubscribed`` and
``suspended`` (set by bounce handling). The digest composer mails only ``active`` subscribers, so
every change here takes effect at the next digest run.

Submitting the subscribe form never changes an active subscriber's choices: only someone holding
a signed link may do that. What the form answers is the same in every case; only the mail differs
(see :func:`request_subscription`).
"""

from __future__ import annotations

import unicodedata
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Literal, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from aggregator.config import Settings
from aggregator.mail.mailer import MailKind, Recipient
from aggregator.model.status import STICKY, SourceStatus, SubscriberStatus
from aggregator.store import subscribers as store_subscribers
from aggregator.store.db import Database
from aggregator.store.models import Source, Subscriber

MAX_CHOICES = 200
T = TypeVar("T")


class FormError(ValueError):
    """Unusable form input; the message is one sentence fit to show back."""


class FormData(Protocol):
    def getlist(self, key: str) -> Sequence[object]: ...


@dataclass(frozen=True, slots=True)
class Catalogue:
    """What a subscriber may choose from."""

    digests: list[tuple[str, str]]
    """(name, title) of each configured digest."""
    tags: list[str]
    sources: list[tuple[int, str]]
    """(id, label) of each enabled, live source."""


@dataclass(frozen=True, slots=True)
class Choices:
    digests: list[str]
    tags: list[str]
    sources: list[int]


def load_catalogue(db: Database, settings: Settings) -> Catalogue:
    digests = [(d.name, d.title or d.name.capitalize()) for d in settings.digests]
    with db.session() as session:
        rows = session.scalars(
            select(Source).where(Source.enabled.is_(True), Source.status == SourceStatus.ACTIVE)
        ).all()
        sources = sorted(((s.id, s.label) for s in rows), key=lambda pair: pair[1].lower())
        tags = sorted({str(tag) for s in rows for tag in (s.tags or [])})
    return Catalogue(digests, tags, sources)


@cache
def timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def normalise_email(raw: object) -> str:
    """A syntactically valid address in lower case (no DNS lookups), else FormError."""
    if not isinstance(raw, str) or not raw.strip():
        raise FormError("Enter your email address.")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in raw.strip()):
        raise FormError("That does not look like an email address.")
    try:
        return store_subscribers.normalise_email(raw)
    except store_subscribers.SubscriberError:
        raise FormError("That does not look like an email address.") from None


def _pick(form: FormData, field: str, allowed: dict[str, T], label: str) -> list[T]:
    values = form.getlist(field)
    if len(values) > MAX_CHOICES:
        raise FormError(f"Too many {label} selected.")
    picked: list[T] = []
    for value in values:
        if not isinstance(value, str) or value not in allowed:
            raise FormError(f"Unknown {label[:-1]} selected; reload the page and try again.")
        if allowed[value] not in picked:
            picked.append(allowed[value])
    return picked


def parse_choices(form: FormData, catalogue: Catalogue) -> Choices:
    """The digests, tags and sources ticked on a form; at least one digest is required."""
    digests = _pick(form, "digest", {n: n for n, _ in catalogue.digests}, "digests")
    if not digests:
        raise FormError("Choose at least one digest.")
    tags = _pick(form, "tag", {t: t for t in catalogue.tags}, "topics")
    sources = _pick(form, "source", {str(i): i for i, _ in catalogue.sources}, "sources")
    return Choices(digests, tags, sources)


def parse_timezone(value: object) -> str:
    if not isinstance(value, str) or value not in timezones():
        raise FormError("Choose a time zone from the list.")
    return value


def _retry_once(work: Callable[[], T]) -> T:
    """Run ``work``; if a concurrent insert won a unique constraint, run it again."""
    try:
        return work()
    except IntegrityError:
        return work()


def _recipient(row: Subscriber) -> Recipient:
    return Recipient(row.id, row.email, row.status, list(row.digests or []))


def request_subscription(
    db: Database, email: str, choices: Choices, *, now: datetime, window: timedelta
) -> tuple[Recipient, MailKind | None]:
    """Record a subscribe request; say which mail (if any) to send.

    - new, pending or unsubscribed address: becomes/stays ``pending`` with these choices, and a
      confirmation mail is due;
    - active or paused: nothing changes, and a "you are already subscribed" mail with the
      preferences and unsubscribe links is due;
    - suspended (its mail bounced): nothing changes and nothing is sent;
    - whatever the case, at most one mail per address per ``window`` (``confirmation_sent_at``).
    """

    def work() -> tuple[Recipient, MailKind | None]:
        with db.session() as session:
            row = session.scalar(select(Subscriber).where(Subscriber.email == email))
            if row is None:
                row = Subscriber(email=email, status=SubscriberStatus.PENDING)
                session.add(row)
            kind: MailKind | None
            if row.status in (SubscriberStatus.PENDING, SubscriberStatus.UNSUBSCRIBED):
                row.status, row.status_reason = SubscriberStatus.PENDING, None
                row.digests, row.tags, row.sources = choices.digests, choices.tags, choices.sources
                kind = "confirm"
            elif row.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PAUSED):
                kind = "manage"
            else:
                kind = None
            recent = row.confirmation_sent_at and now - row.confirmation_sent_at < window
            if kind and recent:
                kind = None
            if kind:
                row.confirmation_sent_at = now
            session.flush()
            return _recipient(row), kind

    return _retry_once(work)


def mail_not_sent(db: Database, subscriber_id: int) -> None:
    """The mail could not be handed over: let the next request try again at once."""
    with db.session() as session:
        row = session.get(Subscriber, subscriber_id)
        if row is not None:
            row.confirmation_sent_at = None


Outcome = Literal["done", "unchanged", "refused"]


def _change(
    db: Database, subscriber_id: int, change: Callable[[Subscriber], Outcome]
) -> tuple[Recipient | None, Outcome]:
    with db.session() as session:
        row = session.get(Subscriber, subscriber_id, with_for_update=True)
        if row is None:
            return None, "refused"
        outcome = change(row)
        session.flush()
        return _recipient(row), outcome


def get(db: Database, subscriber_id: int) -> Subscriber | None:
    with db.session() as session:
        return session.get(Subscriber, subscriber_id)


def confirm(db: Database, subscriber_id: int, *, now: datetime) -> tuple[Recipient | None, Outcome]:
    """pending → active. Already active or paused: unchanged. Otherwise refused."""

    def change(row: Subscriber) -> Outcome:
        if row.status == SubscriberStatus.PENDING:
            row.status, row.confirmed_at, row.status_reason = SubscriberStatus.ACTIVE, now, None
            return "done"
        return (
            "unchanged"
            if row.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PAUSED)
            else "refused"
        )

    return _change(db, subscriber_id, change)


def update_preferences(
    db: Database, subscriber_id: int, choices: Choices, *, timezone: str, paused: bool
) -> tuple[Recipient | None, Outcome]:
    """New choices, time zone and pause state for an active or paused subscriber."""

    def change(row: Subscriber) -> Outcome:
        if row.status not in (SubscriberStatus.ACTIVE, SubscriberStatus.PAUSED):
            return "refused"
        row.digests, row.tags, row.sources = choices.digests, choices.tags, choices.sources
        row.timezone = timezone
        row.status = SubscriberStatus.PAUSED if paused else SubscriberStatus.ACTIVE
        row.status_reason = "paused by subscriber" if paused else None
        return "done"

    return _change(db, subscriber_id, change)


def unsubscribe(
    db: Database, subscriber_id: int, *, reason: str
) -> tuple[Recipient | None, Outcome]:
    """Any status → unsubscribed (suspended stays suspended: no more mail either way)."""

    def change(row: Subscriber) -> Outcome:
        if row.status in STICKY:
            return "unchanged"
        row.status, row.status_reason = SubscriberStatus.UNSUBSCRIBED, reason
        return "done"

    return _change(db, subscriber_id, change)


def resubscribe(
    db: Database, subscriber_id: int, *, now: datetime
) -> tuple[Recipient | None, Outcome]:
    """unsubscribed → active, from a signed link (which proves the mailbox is theirs)."""

    def change(row: Subscriber) -> Outcome:
        if row.status != SubscriberStatus.UNSUBSCRIBED:
            return (
                "unchanged"
                if row.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PAUSED)
                else "refused"
            )
        row.status, row.status_reason = SubscriberStatus.ACTIVE, None
        row.confirmed_at = row.confirmed_at or now
        return "done"

    return _change(db, subscriber_id, change)
