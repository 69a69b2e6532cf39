"""The tolerant tier: feedparser 6 for ill-formed markup, odd encodings and rare formats."""

from __future__ import annotations

import re
from typing import Any

import feedparser

from .normalize import RawEntry, RawFeed, Text

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
_REFERENCE = re.compile(rb"&#([xX][0-9a-fA-F]+|[0-9]+);")
BENIGN_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
"""bozo exceptions that only say the HTTP and XML encodings disagree; the parse itself is sound."""


def parse(body: bytes, url: str, content_type: str | None) -> tuple[RawFeed, Any]:
    """Run feedparser (its sanitizer and URI rewriting off) and map its result to RawFeed.

    Returns the raw feed and feedparser's result, whose ``bozo``, ``bozo_exception`` and
    ``version`` the caller judges.
    """
    # Without a content type feedparser would assume ISO-8859-1 (RFC 3023 for headers that
    # lack one); application/xml lets it use the XML declaration, BOM and chardet instead.
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    if b"&#" in body:
        body = _REFERENCE.sub(_drop_impossible, body)
    result = feedparser.parse(
        body, sanitize_html=False, resolve_relative_uris=False, response_headers=headers
    )
    atom = str(result.get("version", "")).startswith("atom")
    feed = result.feed
    links = feed.get("links", [])
    hub = next((ln.get("href") for ln in links if ln.get("rel") == "hub"), None)
    self_url = next((ln.get("href") for ln in links if ln.get("rel") == "self"), None)
    raw = RawFeed(
        title=_text(feed.get("title_detail"), atom),
        site_url=feed.get("link"),
        feed_id=feed.get("id"),
        ttl=feed.get("ttl"),
        hub_url=hub,
        self_url=self_url,
        updated=dict.get(feed, "updated"),  # FeedParserDict falls back to published
        base=url,
        entries=[_entry(e, atom, url) for e in result.entries],
    )
    return raw, result


def _drop_impossible(match: re.Match[bytes]) -> bytes:
    """A character reference to a surrogate or beyond U+10FFFF goes: feedparser's loose parser
    raises on those (UnicodeEncodeError, ValueError, OverflowError) instead of ignoring them."""
    digits = match.group(1)
    code = int(digits[1:], 16) if digits[:1] in b"xX" else int(digits)
    return b"" if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF else match.group(0)


def _text(detail: dict[str, Any] | None, atom: bool) -> Text | None:
    if not detail or detail.get("value") is None:
        return None
    kind = str(detail.get("type", "text/plain")).lower()
    is_html = True if kind in _HTML_TYPES else (False if atom else None)
    return Text(str(detail["value"]), is_html, detail.get("base") or None)


def _entry(e: dict[str, Any], atom: bool, url: str) -> RawEntry:
    candidates = [*e.get("content", []), e.get("summary_detail")]
    bodies = [t for t in (_text(c, atom) for c in candidates) if t is not None and t.value]
    return RawEntry(
        guid=e.get("id") or None,
        link=e.get("link") or None,
        title=_text(e.get("title_detail"), atom),
        author=e.get("author"),
        bodies=bodies,
        published=e.get("published"),
        updated=dict.get(e, "updated"),  # FeedParserDict falls back to published
        tags=[t.get("term") or "" for t in e.get("tags", [])],
        base=next((b.base for b in bodies if b.base), url),
    )
