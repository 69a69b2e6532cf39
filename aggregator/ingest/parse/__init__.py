"""Parse a fetched feed document into a normalised ParsedFeed.

Tiers, in order: JSON Feed (when the body or content type is JSON); the fast lxml tier for
well-formed RSS 2.0 / Atom 1.0 / RSS 1.0 without a DTD subset, or for one that is well-formed
after the exact repairs of ``repair``; feedparser for everything else.
Entity declarations are screened first, so no tier ever expands a bomb or reads a file.
"""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree

from aggregator.model.entry import FeedParseError, ParsedFeed
from aggregator.stories.grouping import signature

from . import feedparser_tier, guard, jsonfeed, lxml_tier, repair
from .normalize import normalise_feed


def parse_feed(
    body: bytes,
    url: str,
    *,
    content_type: str | None = None,
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse ``body`` fetched from ``url`` (the final URL, the base for relative links).

    Entry dates later than ``now`` (default: the current time) are clamped to it, so a
    mis-dated entry cannot stay pinned on top; absent dates, and dates outside the calendar's
    sane bounds (``model.dates``: before 1970, a year or more ahead), stay None for the store
    to fill.
    Raises FeedParseError with a one-line message when no tier yields a feed.
    """
    now = now or datetime.now(UTC)
    if not body or not body.strip():
        raise FeedParseError("empty document")
    if guard.looks_like_json(body, content_type):
        return normalise_feed(jsonfeed.read_feed(jsonfeed.load(body), url), "json", now)

    root, problem = lxml_tier.read_tree(body, url)
    dtd = guard.internal_dtd(body) if root is None else root.getroottree().docinfo.internalDTD
    entities = guard.screen_entities(dtd, body)
    warning = None
    if root is None and not entities and (mended := repair.repair(body, url)) is not None:
        # The repair may have mended a DOCTYPE the first look could not read: screen it again.
        root = mended
        entities = guard.screen_entities(mended.getroottree().docinfo.internalDTD, body)
        warning = f"{problem} (repaired)"
    if root is not None and not entities and not _charset_overrides(content_type, root):
        raw = lxml_tier.read_feed(root)
        if raw is not None:
            return normalise_feed(raw, "fast", now, warning)
    if guard.looks_like_html(body):
        raise FeedParseError("not a feed: looks like an HTML page")
    return _feedparser_tier(body, url, content_type, now)


def parse_and_sign(
    body: bytes,
    url: str,
    *,
    content_type: str | None = None,
    now: datetime | None = None,
) -> ParsedFeed:
    """:func:`parse_feed`, each entry with its story signature: made here, in the parser
    processes beside the parsing, so the store thread's grouping only compares."""
    feed = parse_feed(body, url, content_type=content_type, now=now)
    for entry in feed.entries:
        entry.story_signature = signature(entry.title, entry.content_text).encode()
    return feed


def _charset_overrides(content_type: str | None, root: etree._Element) -> bool:
    """True when HTTP names a charset other than the one lxml decoded with (RFC 7303 rules)."""
    if not content_type or "charset=" not in content_type.lower():
        return False
    charset = content_type.lower().split("charset=", 1)[1].split(";")[0].strip(" \"'")
    encoding = (root.getroottree().docinfo.encoding or "utf-8").lower()
    return charset.replace("_", "-") != encoding.replace("_", "-")


def _feedparser_tier(body: bytes, url: str, content_type: str | None, now: datetime) -> ParsedFeed:
    raw, result = feedparser_tier.parse(body, url, content_type)
    exc = result.get("bozo_exception") if result.get("bozo") else None
    fatal = exc is not None and not isinstance(exc, feedparser_tier.BENIGN_BOZO)
    if raw.entries or (result.get("version") and not fatal):
        warning = f"{type(exc).__name__}: {exc}" if exc is not None else None
        return normalise_feed(raw, "feedparser", now, warning)
    if not guard.looks_like_markup(body):
        raise FeedParseError("not a feed: the document is not XML (binary or plain text)")
    if fatal:
        raise FeedParseError(f"malformed XML: {' '.join(str(exc).split())}")
    raise FeedParseError("not a feed: XML without RSS, Atom or RDF elements")
