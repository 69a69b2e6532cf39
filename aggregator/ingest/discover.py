"""Find the feed of an HTML page from its ``<link rel="alternate">`` elements."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import lxml.html

from aggregator.ingest.fetch import Fetcher, FetchError
from aggregator.ingest.opml import outline_problem
from aggregator.ingest.parse import guard, parse_feed
from aggregator.model.entry import FeedParseError, ParsedFeed

FEED_TYPES = (
    "application/atom+xml",
    "application/rss+xml",
    "application/feed+json",
    "application/json",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
)


def is_html_page(body: bytes, content_type: str | None) -> bool:
    """True for an HTML page rather than a feed document."""
    return bool(content_type and "html" in content_type.lower()) or guard.looks_like_html(body)


def discover_feeds(html: bytes, page_url: str) -> list[str]:
    """Absolute feed URLs advertised by an HTML page, best first (Atom/RSS before JSON)."""
    try:
        doc = lxml.html.fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return []
    base = doc.xpath("string(//base/@href)") or page_url
    found: list[tuple[int, str]] = []
    for link in doc.xpath("//link[@href]"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        if "alternate" in rels and kind in FEED_TYPES:
            url = urljoin(urljoin(page_url, base), link.get("href").strip())
            if urlsplit(url).scheme not in ("http", "https", urlsplit(page_url).scheme):
                continue  # a web page may not point the poller at local files
            if url not in (u for _, u in found):
                found.append((FEED_TYPES.index(kind), url))
    return [url for _, url in sorted(found, key=lambda pair: pair[0])]


async def find_feed(
    fetcher: Fetcher, url: str, file_folders: Sequence[Path] = ()
) -> tuple[str, ParsedFeed]:
    """The feed behind ``url``: the URL itself when it is a feed, else the page's advertised feed.

    The operator named ``url``, which may be any local file; a feed the page names is fetched
    only if it passes :func:`outline_problem` (a ``file:`` one only inside ``file_folders``),
    checked before it is opened, so the answer says nothing of whether the file exists.
    Raises FetchError or FeedParseError with a one-line reason.
    """
    result = await fetcher.fetch(url)
    if is_html_page(result.body, result.content_type):
        candidates = discover_feeds(result.body, result.url)
        if not candidates:
            raise FeedParseError(f"{url} is an HTML page that advertises no feed")
        errors = []
        for candidate in candidates:
            if problem := outline_problem(candidate, file_folders):
                errors.append(f"{candidate}: {problem}")
                continue
            try:
                feed_result = await fetcher.fetch(candidate)
                return feed_result.url, parse_feed(
                    feed_result.body, feed_result.url, content_type=feed_result.content_type
                )
            except (FetchError, FeedParseError) as exc:
                errors.append(f"{candidate}: {exc}")
        raise FeedParseError("no advertised feed works: " + "; ".join(errors))
    return result.url, parse_feed(result.body, result.url, content_type=result.content_type)
