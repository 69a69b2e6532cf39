"""One inbound newsletter mail as an entry: title from Subject, author from From, date from
Date (within sane bounds), body from the HTML part (sanitized like a feed's) else the text part.
"""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from aggregator.ingest.sanitize import (
    collapse,
    sanitize_html,
    sanitized_html_to_text,
    strip_invalid_chars,
    text_to_html,
)
from aggregator.model.entry import Entry

MAX_PARTS = 50
"""Parts looked at for a body; a deeper or wider tree is read no further."""
MAX_HEADER = 998
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class Newsletter:
    entry: Entry
    message_id: str
    from_header: str
    subject: str


def header(message: EmailMessage, name: str) -> str:
    """A header as one clean line, bounded; "" when missing or undecodable."""
    try:
        value = message.get(name)
    except Exception:  # a header the policy cannot parse
        return ""
    text = collapse(strip_invalid_chars(str(value))) if value is not None else ""
    return text[:MAX_HEADER]


def _date(message: EmailMessage, now: datetime) -> datetime | None:
    raw = header(message, "Date")
    if not raw:
        return None
    try:
        when = email.utils.parsedate_to_datetime(raw)
        when = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):  # year 9999 west of UTC too
        return None
    if when < EARLIEST or when > now + timedelta(days=1):
        return None  # not believable: the store uses the time it arrived
    return min(when, now)


def _body(message: EmailMessage) -> tuple[str, str]:
    """The first HTML part and the first text part (not attachments), as str."""
    html = text = ""
    for count, part in enumerate(message.walk()):
        if count > MAX_PARTS or (html and text):
            break
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind not in ("text/html", "text/plain"):
            continue
        try:
            content = part.get_content()
        except (LookupError, ValueError, AssertionError, KeyError):
            payload = part.get_payload(decode=True)
            content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        if not isinstance(content, str):
            continue
        if kind == "text/html" and not html:
            html = content
        elif kind == "text/plain" and not text:
            text = content
    return html, text


def parse_mail(data: bytes, now: datetime) -> Newsletter:
    """The entry a newsletter mail becomes (never raises on a malformed message)."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    subject = header(message, "Subject")
    sender = header(message, "From")
    message_id = header(message, "Message-ID")
    html, text = _body(message)
    content = sanitize_html(html) if html.strip() else text_to_html(strip_invalid_chars(text))
    key = message_id or "mail:" + hashlib.sha1(data).hexdigest()
    name, address = email.utils.parseaddr(sender)
    entry = Entry(
        key=key,
        title=subject or "(no subject)",
        guid=message_id or None,
        author=collapse(name) or address or None,
        content_html=content,
        content_text=sanitized_html_to_text(content),
        published=_date(message, now),
    )
    return Newsletter(entry, message_id, sender, subject)
