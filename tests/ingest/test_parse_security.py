"""Entity bombs and XXE: refused up front, and harmless in every tier even without the screen."""

from __future__ import annotations

import pytest
from lxml import etree

from aggregator.ingest.parse import feedparser_tier, lxml_tier, parse_feed
from aggregator.model.entry import FeedParseError
from tests.support import bombs

HOSTILE = {
    "billion_laughs": bombs.BILLION_LAUGHS,
    "quadratic_blowup": bombs.QUADRATIC_BLOWUP,
    "xxe_file": bombs.XXE_FILE,
    "xxe_parameter": bombs.XXE_PARAMETER,
}
URL = "http://hostile.invalid/feed"


def _passwd_line() -> str:
    with open("/etc/passwd") as f:
        return f.readline().strip()


@pytest.mark.parametrize("name", HOSTILE)
def test_parse_feed_refuses_entity_declarations(name: str) -> None:
    with pytest.raises(FeedParseError, match=r"^entity expansion refused: ") as info:
        parse_feed(HOSTILE[name], URL)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", HOSTILE)
def test_feedparser_tier_alone_neither_expands_nor_reads(name: str) -> None:
    raw, result = feedparser_tier.parse(HOSTILE[name], URL, None)
    dumped = repr(result)
    assert _passwd_line() not in dumped
    assert len(dumped) < 20 * len(HOSTILE[name]) + 10_000  # nothing was inflated


@pytest.mark.parametrize("name", HOSTILE)
def test_lxml_tier_alone_neither_expands_nor_reads(name: str) -> None:
    root = lxml_tier.parse_tree(HOSTILE[name], URL)
    if root is None:  # libxml2 rejected it outright
        return
    text = etree.tostring(root, encoding=str)
    assert _passwd_line() not in text
    assert len(text) <= len(HOSTILE[name])


def test_short_character_entities_are_allowed() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY nbsp "&#160;">\n<!ENTITY co "(C)">\n]>\n'
        b'<rss version="2.0"><channel><title>A&nbsp;B &co;</title>'
        b"<item><title>x&nbsp;y</title><guid>g1</guid></item></channel></rss>"
    )
    feed = parse_feed(body, URL)
    assert feed.parser == "feedparser"
    assert feed.title == "A B (C)"  # titles collapse all whitespace, no-break spaces too
    assert feed.entries[0].title == "x y"


def test_markup_inside_an_entity_value_is_refused() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY % d "<!ENTITY x \'y\'>"> %d;]>\n'
        b'<rss version="2.0"><channel><title>t</title></channel></rss>'
    )
    with pytest.raises(FeedParseError, match="entity expansion refused"):
        parse_feed(body, URL)
