"""Subscriber rows as the operator manages them: add, remove, import from CSV."""

from __future__ import annotations

import csv
import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from aggregator.model.status import STICKY, SubscriberStatus
from aggregator.store.models import Subscriber, utcnow

"""States an import or a re-add never resets: only the subscriber (or an explicit command) can."""


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
    digests: Sequence[str],
    tags: Sequence[str] = (),
    sources: Sequence[int] = (),
    timezone: str = "UTC",
) -> tuple[Subscriber, str]:
    """Add or update one subscriber, active; returns (row, "added" | "updated" | "kept").

    An unsubscribed or suspended subscriber keeps that status ("kept"): an operator's list must
    never re-subscribe someone who left.
    """
    row = session.scalar(select(Subscriber).where(Subscriber.email == email))
    if row is not None and row.status in STICKY:
        return row, "kept"
    outcome = "updated"
    if row is None:
        row = Subscriber(email=email, created_at=utcnow())
        session.add(row)
        outcome = "added"
    row.digests = list(digests)
    row.tags = [t.lower() for t in tags]
    row.sources = list(sources)
    row.timezone = timezone
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
    """Import ``email[,digests][,tags][,timezone]`` rows (a header row is optional).

    ``digests`` and ``tags`` are space- or semicolon-separated. Each line is one row, read on
    its own: a bad row (an unterminated quote, an overlong line, a bad address) is reported by
    its line number and skipped, and never swallows the next row.
    """
    report = ImportReport()
    columns = ["email", "digests", "tags", "timezone"]
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
            digests = check_digests(
                _split(values.get("digests", "")) or list(default_digests), known_digests
            )
            timezone = check_timezone(values.get("timezone") or "UTC")
            _row, outcome = upsert_subscriber(
                session,
                email,
                digests=digests,
                tags=_split(values.get("tags", "")),
                timezone=timezone,
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
