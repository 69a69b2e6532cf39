"""Both tiers on every corpus feed the fast tier reads (repaired or not): same keys, titles,
links and dates.

Allowed differences in titles: feedparser "repairs" text that looks like double-encoded UTF-8
(Ã© -> é), where we keep text as the document wrote it (a corpus feed writes Ã© on purpose); and
it leaves HTML5 named entities it does not know (&colon;) as text, where the repair decodes them.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest

from aggregator.ingest.parse import feedparser_tier, lxml_tier, repair
from aggregator.ingest.parse.normalize import normalise_feed
from tests.ingest.test_parse_corpus import REAL, real_feeds

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="shared corpus is not present")
NOW = datetime(2100, 1, 1, tzinfo=UTC)


def _undo_double_encoding(text: str) -> str:
    try:
        return text.encode("cp1252").decode("utf-8")
    except UnicodeError:
        return text


def _titles_agree(fast: str, slow: str) -> bool:
    """Equal, but for feedparser's double-encoding repair, or an HTML5 named entity (&colon;)
    that feedparser does not know and leaves as text where the repaired fast tier decodes it."""
    return fast in (slow, html.unescape(slow)) or _undo_double_encoding(fast) == slow


@pytest.mark.slow  # ~25 s: feedparser over 193 real feeds
def test_tiers_agree_on_corpus() -> None:
    compared = entries = 0
    problems = []
    for path, url in real_feeds():
        body = path.read_bytes()
        root = lxml_tier.parse_tree(body, url)
        if root is None:
            root = repair.repair(body, url)
        raw = lxml_tier.read_feed(root) if root is not None else None
        if raw is None:
            continue
        fast = normalise_feed(raw, "fast", NOW)
        slow = normalise_feed(feedparser_tier.parse(body, url, None)[0], "feedparser", NOW)
        compared += 1
        if len(fast.entries) != len(slow.entries):
            problems.append((path.name, "entry count", len(fast.entries), len(slow.entries)))
            continue
        for field in ("title", "site_url", "feed_id", "hub_url", "ttl_minutes", "updated"):
            if getattr(fast, field) != getattr(slow, field):
                problems.append(
                    (path.name, f"feed.{field}", getattr(fast, field), getattr(slow, field))
                )
        for a, b in zip(fast.entries, slow.entries, strict=True):
            entries += 1
            for field in ("key", "url", "published", "updated"):
                if getattr(a, field) != getattr(b, field):
                    problems.append((path.name, field, getattr(a, field), getattr(b, field)))
            if not _titles_agree(a.title, b.title):
                problems.append((path.name, "title", a.title, b.title))
    print(f"tier agreement: {compared} feeds, {entries} entries compared")
    assert compared >= 180 and entries >= 6000
    assert not problems, problems[:10]
