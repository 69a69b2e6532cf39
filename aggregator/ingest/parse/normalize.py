"""The tier-neutral raw shape of a parsed feed, and its normalisation into Entry/ParsedFeed.

Every tier (lxml, feedparser, JSON Feed) fills RawFeed/RawEntry with what the document says,
and only this module decides keys, URLs, dates, titles and sanitizing, so tiers agree.
"""

from __future__ import annotations

import hashlib
import html
import re
import time
from calendar import timegm
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from urllib.parse import urljoin, urlsplit

from feedparser.datetimes import _parse_date

from aggregator.ingest.sanitize import (
    collapse,
    html_to_text,
    sanitize_html,
    sanitized_html_to_text,
    strip_invalid_chars,
    strip_markup,
    text_to_html,
)
from aggregator.model.dates import sane_date
from aggregator.model.entry import Entry, ParsedFeed
from aggregator.model.links import without_tracking

MAX_ENTRY_TAGS = 20
"""Categories kept per entry: one entry with thousands of them must not fill the disk."""
MAX_TAG_CHARS = 100
MAX_TITLE_CHARS = 1000
"""Longest title kept (feed and entry): longer ones are cut; a title is a line, not a text."""
MAX_BODY_CHARS = 256 * 1024
"""Longest body read (before sanitizing) and kept: a field never stores more than this."""
MAX_LINE_CHARS = 2048
"""Longest guid or author kept; a link longer than MAX_URL_CHARS is no link."""
MAX_URL_CHARS = 8192

# HTML escaped once too often: "&lt;p&gt;" (or "&amp;lt;p&amp;gt;"), and real tags.
_ESCAPED_TAG = re.compile(r"&(?:amp;)?lt;/?(?:p|div|br|a|img|span|em|strong|b|i|ul|ol|li|h[1-6])\b")
_REAL_TAG = re.compile(r"<(?:p|div|br|a|img|span|em|strong|b|i|ul|ol|li|h[1-6])\b", re.IGNORECASE)
# Text that is most likely HTML (a tag or an entity reference) rather than plain text.
_LOOKS_HTML = re.compile(r"<[a-zA-Z/!]|&(?:#\d+|#x[\da-fA-F]+|[a-zA-Z]\w*);")


@dataclass(slots=True)
class Text:
    """A text construct: its value and whether that value is HTML markup."""

    value: str
    is_html: bool | None = None
    """True for HTML, False for plain text, None when unknown (RSS titles): guess from the value."""
    base: str | None = None
    """Base URL for relative links inside the value (xml:base or the entry's context)."""

    def looks_html(self) -> bool:
        return self.is_html if self.is_html is not None else bool(_LOOKS_HTML.search(self.value))

    def as_html(self) -> str:
        return self.value if self.looks_html() else text_to_html(self.value)


@dataclass(slots=True)
class RawEntry:
    """What one entry of the document says, before normalisation."""

    guid: str | None = None
    link: str | None = None
    title: Text | None = None
    author: str | None = None
    bodies: list[Text] = field(default_factory=list)
    """Content, summary and description candidates; the fullest one wins."""
    published: str | datetime | None = None
    updated: str | datetime | None = None
    tags: list[str] = field(default_factory=list)
    base: str | None = None
    """Base URL in force for the entry (xml:base resolved, else the feed URL)."""


@dataclass(slots=True)
class RawFeed:
    """What the document says about the feed itself."""

    title: Text | None = None
    site_url: str | None = None
    feed_id: str | None = None
    ttl: str | None = None
    hub_url: str | None = None
    self_url: str | None = None
    updated: str | datetime | None = None
    base: str | None = None
    entries: list[RawEntry] = field(default_factory=list)


_W3C_DATE = re.compile(
    r"(\d{4}-\d\d-\d\d)(?:(T\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d))?", re.ASCII
)
"""The W3C form of ISO 8601 that feeds write: a date, or a date and time with its offset."""
_MONTHS = {
    name: n
    for n, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_RFC822_DATE = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d\d?) "
    rf"({'|'.join(_MONTHS)}) (\d{{4}}) (\d\d):(\d\d):(\d\d) "
    r"(?:GMT|UTC|UT|Z|([+-])(\d\d)(\d\d))",
    re.ASCII,
)
"""RFC 822 as feeds write it: four-digit year, seconds, GMT or a numeric offset."""


def _common_date(value: str) -> datetime | None:
    """The two forms nearly all feeds write (``2024-05-01T10:00:00.5+02:00``, ``Wed, 01 May
    2024 10:00:00 GMT``), read as feedparser reads them (fractions of a second dropped, the
    weekday ignored) in a third of the time; None for any other form or an impossible date."""
    try:
        if match := _W3C_DATE.fullmatch(value):
            day, time_of_day, offset = match.groups()
            if time_of_day is None:  # a date alone: midnight UTC
                return datetime.fromisoformat(day).replace(tzinfo=UTC)
            return datetime.fromisoformat(day + time_of_day + offset).astimezone(UTC)
        if match := _RFC822_DATE.fullmatch(value):
            day, month, year, hour, minute, second, sign, off_h, off_m = match.groups()
            date = datetime(
                int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=UTC
            )
            if sign:
                shift = timedelta(hours=int(off_h), minutes=int(off_m))
                date = date - shift if sign == "+" else date + shift
            return date
    except (ValueError, OverflowError):
        pass
    return None


def to_date(value: str | datetime | None) -> datetime | None:
    """A date string (RFC 822, ISO 8601 and the other forms feedparser knows) as aware UTC."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if not value or not (value := value.strip()):
        return None
    if (common := _common_date(value)) is not None:
        return common
    parsed: time.struct_time | None = _parse_date(value)
    if parsed is None:
        return None
    try:
        return datetime.fromtimestamp(timegm(parsed), UTC)
    except (OverflowError, OSError, ValueError):
        return None


_PLAIN_WEB_URL = re.compile(r"https?://[^/?#;\[\]\x00-\x20\x7f]+(?:/[^?#;\[\]\x00-\x20\x7f]*)?")
"""An absolute http(s) URL that ``urljoin`` returns unchanged whatever the base: ASCII, no
query, fragment or params (whose empty forms it drops), no brackets, spaces or controls."""


def join_url(base: str, url: str) -> str:
    """``urljoin(base, url)``, without parsing both when ``url`` is already a plain absolute
    web URL (most feed links, and every link the lxml tier has already resolved)."""
    if url.isascii() and _PLAIN_WEB_URL.fullmatch(url):
        return url
    return urljoin(base, url)


def absolute_url(url: str | None, base: str | None) -> str | None:
    """``url`` made absolute against ``base``; None for empty or non-web URLs."""
    if not url or len(url) > MAX_URL_CHARS:
        return None
    url = collapse(url)
    if base:
        try:
            url = join_url(base, url)
        except ValueError:
            return None
    scheme = urlsplit(url).scheme.lower() if ":" in url else ""
    return url if scheme in ("http", "https") else None


def plain_title(text: Text | None) -> str:
    """Title as plain text: markup stripped, entities decoded, whitespace collapsed.

    Markup that was escaped (or declared plain text) is removed too: a title is never written
    back out with anything a reader could take for a tag.
    """
    if text is None or not text.value:
        return ""
    value = text.value[: MAX_TITLE_CHARS * 8]  # markup and entities shrink; a bound on the work
    plain = strip_markup(html_to_text(value)) if text.looks_html() else strip_markup(value)
    return plain[:MAX_TITLE_CHARS].strip()


def _entry_key(guid: str | None, url: str | None, title: str, content_text: str) -> str:
    if guid:
        return f"guid:{guid}"
    if url:  # a link's tracking parameters change between fetches: the key leaves them out
        return f"link:{without_tracking(url)}"
    digest = hashlib.sha256(f"{title}\n{content_text}".encode()).hexdigest()
    return f"hash:{digest}"


def normalise_entry(raw: RawEntry, feed_base: str | None, now: datetime) -> Entry:
    """Build the normalised Entry for one raw entry."""
    base = raw.base or feed_base
    title = plain_title(raw.title)
    url = absolute_url(raw.link, base)
    body = max(_unescaped_bodies(raw.bodies), key=lambda t: len(t.value), default=None)
    content_html = ""
    if body:
        cut = Text(body.value[:MAX_BODY_CHARS], body.is_html, body.base)
        content_html = sanitize_html(cut.as_html(), body.base or base)
        if len(content_html) > MAX_BODY_CHARS:  # sanitized again: a tag cut at the end is mended
            content_html = sanitize_html(content_html[: MAX_BODY_CHARS - 4096], body.base or base)
        if len(content_html) > MAX_BODY_CHARS:  # thousands of open tags closed: keep the text
            text = sanitized_html_to_text(content_html)[: MAX_BODY_CHARS // 2]
            content_html = text_to_html(text)[:MAX_BODY_CHARS]
    content_text = sanitized_html_to_text(content_html)[:MAX_BODY_CHARS]
    guid = collapse(raw.guid[:MAX_LINE_CHARS]) if raw.guid else None
    published = sane_date(to_date(raw.published), now)
    updated = sane_date(to_date(raw.updated), now)
    return Entry(
        key=_entry_key(guid, url, title, content_text),
        title=title,
        url=url,
        guid=guid or None,
        author=strip_markup(raw.author[:MAX_LINE_CHARS]) or None if raw.author else None,
        content_html=content_html,
        content_text=content_text,
        published=published or updated,
        updated=updated,
        tags=_tags(raw.tags),
    )


def _tags(raw: list[str]) -> list[str]:
    """The entry's categories as plain text, without repeats, each and all of them capped."""
    unique = dict.fromkeys(t for t in (strip_markup(r)[:MAX_TAG_CHARS].strip() for r in raw) if t)
    return list(islice(unique, MAX_ENTRY_TAGS))


def _unescaped_bodies(bodies: list[Text]) -> list[Text]:
    """Bodies without HTML escaped once too often: a clean one is preferred, else it is
    unescaped once (JSON Feed ``content_html`` and untyped Atom ``content`` in the wild)."""
    clean = [b for b in bodies if not _escaped_twice(b)]
    if clean:
        return clean
    return [Text(html.unescape(b.value), True, b.base) for b in bodies]


def _escaped_twice(text: Text) -> bool:
    """True when HTML arrives as text of HTML: escaped tags and no real ones.

    A real tag is looked for first: HTML bodies start with one, so most bodies are not scanned
    to the end."""
    return not _REAL_TAG.search(text.value) and bool(_ESCAPED_TAG.search(text.value))


MAX_TTL_MINUTES = 366 * 24 * 60
"""Longest ``<ttl>`` taken (a year); a longer one is clamped to it."""


def _ttl_minutes(ttl: str | None) -> int | None:
    """An RSS ``<ttl>`` in minutes: ASCII digits, positive, at most MAX_TTL_MINUTES."""
    ttl = ttl.strip() if ttl else ""
    if not (ttl.isascii() and ttl.isdigit()) or not ttl.strip("0"):
        return None
    return MAX_TTL_MINUTES if len(ttl) > 9 else min(int(ttl), MAX_TTL_MINUTES)


def normalise_feed(
    raw: RawFeed, parser: str, now: datetime, warning: str | None = None
) -> ParsedFeed:
    """Build the ParsedFeed for a raw feed parsed by tier ``parser``."""
    return ParsedFeed(
        title=plain_title(raw.title),
        site_url=absolute_url(raw.site_url, raw.base),
        feed_id=collapse(raw.feed_id) or None if raw.feed_id else None,
        entries=[normalise_entry(e, raw.base, now) for e in raw.entries],
        ttl_minutes=_ttl_minutes(raw.ttl),
        hub_url=absolute_url(raw.hub_url, raw.base),
        self_url=absolute_url(raw.self_url, raw.base),
        updated=sane_date(to_date(raw.updated), now),
        parser=parser,
        warning=strip_invalid_chars(warning).replace("\n", " ").strip() or None
        if warning
        else None,
    )
