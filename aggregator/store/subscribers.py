"""Subscribers: addresses, the operator's add and CSV import, and every status change (sign-up,
confirmation, preferences, unsubscribe, resubscribe, bounce suspension)."""

from __future__ import annotations

import csv
import re
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aggregator.mail.mailer import MailKind, Recipient
from aggregator.model.status import STICKY, SubscriberStatus
from aggregator.store.db import Database
from aggregator.store.models import Subscriber, utcnow

T = TypeVar("T")


class SubscriberError(ValueError):
    """A bad address or value; one line for the operator."""


def normalise_email(address: str) -> str:
    """A syntactically valid address as mail can carry it without SMTPUTF8, lower-cased.

    No DNS look-up. An internationalised domain becomes its ASCII (IDNA) form, so
    ``x@bücher.example`` is stored as ``x@xn--bcher-kva.example``; a non-ASCII local part
    cannot be sent and raises SubscriberError.
    """
    address = address.strip()
    if any(c in address for c in "\r\n\0") or len(address) > 254:
        raise SubscriberError("not a valid email address")
    try:
        result = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise SubscriberError(str(exc)) from None
    if result.ascii_email is None:  # only when SMTPUTF8 is allowed, which it is not here
        raise SubscriberError("the address needs SMTPUTF8, which is not supported")
    return result.ascii_email.lower()


def find_subscriber(session: Session, address: str) -> Subscriber | None:
    """The subscriber with ``address`` as typed, or as stored (an IDN domain in ASCII form)."""
    try:
        key = normalise_email(address)
    except SubscriberError:
        key = address.strip().lower()
    return session.scalar(select(Subscriber).where(Subscriber.email == key))


def check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SubscriberError(f"unknown timezone {name!r}") from None
    return name


MAX_LANGUAGE_CHARS = 16
_LANGUAGE_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_]([A-Za-z]{4}))?(?:[-_]([A-Za-z]{2}|[0-9]{3}))?")


def check_language(value: str) -> str:
    """A digest language as a short BCP 47 tag ("fr", "de", "pt-BR", "zh-Hant"), normalised;
    "" (the sources' own language) for an empty value; SubscriberError otherwise.

    The language must be one Babel knows: a tag nobody speaks is refused, not stored.
    """
    value = value.strip()
    if not value:
        return ""
    match = _LANGUAGE_TAG.fullmatch(value) if len(value) <= MAX_LANGUAGE_CHARS else None
    if match is None:
        raise SubscriberError(
            f"not a language tag (like fr, de or pt-BR): {value[:MAX_LANGUAGE_CHARS]!r}"
        )
    language, script, region = match.groups()
    try:
        Locale.parse(language.lower())
    except (UnknownLocaleError, ValueError):
        raise SubscriberError(f"unknown language {value!r}") from None
    return "-".join(
        part
        for part in (language.lower(), script and script.title(), region and region.upper())
        if part
    )


def check_digests(names: Sequence[str], known: Sequence[str]) -> list[str]:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SubscriberError(
            f"unknown digest {unknown[0]!r} (configured: {', '.join(known) or 'none'})"
        )
    return list(dict.fromkeys(names))


def upsert_subscriber(
    session: Session,
    email: str,
    *,
    digests: Sequence[str] | None,
    tags: Sequence[str] | None = (),
    sources: Sequence[int] | None = (),
    timezone: str | None = "UTC",
    language: str | None = "",
) -> tuple[Subscriber, str]:
    """Add or update one subscriber, active; returns (row, "added" | "updated" | "kept").

    A value given as None is left as it is for a subscriber already here (a new one gets the
    default: no digests, tags or sources, UTC). An unsubscribed or suspended subscriber keeps
    that status ("kept"): an operator's list must never re-subscribe someone who left.
    """
    row = session.scalar(select(Subscriber).where(Subscriber.email == email))
    if row is not None and row.status in STICKY:
        return row, "kept"
    outcome = "updated"
    if row is None:
        row = Subscriber(
            email=email, created_at=utcnow(), digests=[], tags=[], sources=[], timezone="UTC"
        )
        session.add(row)
        outcome = "added"
    if digests is not None:
        row.digests = list(digests)
    if tags is not None:
        row.tags = [t.lower() for t in tags]
    if sources is not None:
        row.sources = list(sources)
    if timezone is not None:
        row.timezone = timezone
    if language is not None:
        row.language = language
    if row.status != SubscriberStatus.ACTIVE:
        row.status = SubscriberStatus.ACTIVE
        row.confirmed_at = row.confirmed_at or utcnow()
    session.flush()
    return row, outcome


@dataclass(slots=True)
class ImportReport:
    added: int = 0
    updated: int = 0
    kept: int = 0
    errors: list[str] = field(default_factory=list)


MAX_CSV_LINE_CHARS = 4096
"""A subscriber row is an address and a few names; a longer line is refused unread."""
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def import_csv(
    session: Session,
    text: str,
    *,
    name: str,
    known_digests: Sequence[str],
    default_digests: Sequence[str],
) -> ImportReport:
    """Import ``email[,digests][,tags][,timezone][,language]`` rows (a header row is optional).

    ``digests`` and ``tags`` are space- or semicolon-separated. An empty cell (or a column the
    file lacks) keeps a subscriber's current value, and gives a new one the default (every
    digest in ``default_digests``, no tags, UTC); a subscriber's source filter is kept. Each line is one row, read on
    its own: a bad row (an unterminated quote, an overlong line, a bad address) is reported by
    its line number and skipped, and never swallows the next row.
    """
    report = ImportReport()
    columns = ["email", "digests", "tags", "timezone", "language"]
    for line, raw in enumerate(_LINE_BREAK.split(text), start=1):
        try:
            row = _csv_row(raw)
        except SubscriberError as exc:
            report.errors.append(f"{name}: line {line}: {exc}")
            continue
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if line == 1 and row[0].strip().lower() == "email":
            columns = [c.strip().lower() for c in row]
            continue
        values = dict(zip(columns, (v.strip() for v in row), strict=False))
        try:
            email = normalise_email(values.get("email", ""))
            new = find_subscriber(session, email) is None
            digests = _split(values.get("digests", "")) or (list(default_digests) if new else [])
            tags = _split(values.get("tags", ""))
            timezone = values.get("timezone") or None
            language = values.get("language", "")
            _row, outcome = upsert_subscriber(
                session,
                email,
                digests=check_digests(digests, known_digests) if digests else None,
                tags=tags if tags or new else None,
                sources=[] if new else None,
                timezone=check_timezone(timezone) if timezone else None,
                language=check_language(language) if language or new else None,
            )
        except SubscriberError as exc:
            report.errors.append(f"{name}: line {line}: {exc}")
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _csv_row(line: str) -> list[str]:
    """The fields of one CSV line; SubscriberError for an overlong or malformed one."""
    if len(line) > MAX_CSV_LINE_CHARS:
        raise SubscriberError(f"longer than {MAX_CSV_LINE_CHARS} characters, skipped unread")
    try:
        return next(csv.reader([line], strict=True), [])
    except csv.Error as exc:
        raise SubscriberError(f"not valid CSV ({exc})") from None


def _split(value: str) -> list[str]:
    return [v for v in value.replace(";", " ").split() if v]


# --- the lifecycle: every status change of a subscriber happens here -----------------------
#
# Statuses: pending (waiting for confirmation), active, paused, unsubscribed and suspended (hard
# bounces). Only active subscribers get digests, so each change takes effect at the next run.
# Submitting the subscribe form never changes an active subscriber's choices: only someone
# holding a signed link may. What the form answers is the same in every case; only the mail
# differs (see :func:`request_subscription`).


@dataclass(frozen=True, slots=True)
class Choices:
    digests: list[str]
    tags: list[str]
    sources: list[int]


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
    db: Database,
    subscriber_id: int,
    choices: Choices,
    *,
    timezone: str,
    paused: bool,
    language: str | None = None,
) -> tuple[Recipient | None, Outcome]:
    """New choices, time zone, pause state and (unless None) language for an active or paused
    subscriber."""

    def change(row: Subscriber) -> Outcome:
        if row.status not in (SubscriberStatus.ACTIVE, SubscriberStatus.PAUSED):
            return "refused"
        row.digests, row.tags, row.sources = choices.digests, choices.tags, choices.sources
        row.timezone = timezone
        if language is not None:
            row.language = language
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


def remove_subscriber(row: Subscriber) -> None:
    """The operator's ``subscribers remove``: unsubscribed, whatever the status was."""
    row.status, row.status_reason = SubscriberStatus.UNSUBSCRIBED, "removed by the operator"


def reactivate_subscriber(row: Subscriber) -> None:
    """The operator's ``subscribers reactivate``: a bounce-suspended subscriber is active again,
    their bounce count reset; SubscriberError for any other status (their own choices stand)."""
    if row.status != SubscriberStatus.SUSPENDED:
        raise SubscriberError(f"{row.email} is {row.status}, not suspended; nothing to reactivate")
    row.status, row.status_reason, row.hard_bounces = SubscriberStatus.ACTIVE, None, 0


def forget_subscriber(session: Session, row: Subscriber) -> None:
    """Delete the subscriber and their delivery history."""
    session.delete(row)


def record_hard_bounce(row: Subscriber, error: str, *, threshold: int) -> bool:
    """Count a permanent failure; at ``threshold`` an active subscriber is suspended (returns
    True then)."""
    row.hard_bounces += 1
    if row.hard_bounces < threshold or row.status != SubscriberStatus.ACTIVE:
        return False
    row.status = SubscriberStatus.SUSPENDED
    row.status_reason = f"suspended after {row.hard_bounces} hard bounce(s); last: {error}"[:1000]
    return True
