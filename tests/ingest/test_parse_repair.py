"""The exact repairs that let the fast tier read common broken feeds, and what they leave alone."""

from __future__ import annotations

import pytest

from aggregator.ingest.parse import parse_feed
from aggregator.model.entry import FeedParseError
from tests.support import bombs

URL = "https://example.org/feed.xml"


def _rss(item: str, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return (
        f'{declaration}<rss version="2.0"><channel><title>T</title>'
        f"<item><guid>g</guid>{item}</item></channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("item", "title", "text", "problem"),
    [
        (
            "<title>Re&colon; accounting&nbsp;at scale</title>",
            "Re: accounting at scale",
            "",
            "colon",
        ),
        ("<title>Tom & Jerry</title>", "Tom & Jerry", "", "EntityRef"),
        ("<title>bell\x07 and\x02 tab</title>", "bell and tab", "", "Char value"),
        (
            "<title>A &mdash; B</title><description><![CDATA[<p>x & y &nbsp;z</p>]]></description>",
            "A — B",
            "x & y z",
            "mdash",
        ),
        ("<title>&unknown; thing</title>", "&unknown; thing", "", "unknown"),
    ],
)
def test_broken_markup_is_repaired_for_the_fast_tier(
    item: str, title: str, text: str, problem: str
) -> None:
    feed = parse_feed(_rss(item), URL)
    assert feed.parser == "fast"
    entry = feed.entries[0]
    assert entry.title == title.replace("\xa0", " ")
    assert entry.content_text.replace("\xa0", " ") == text
    assert feed.warning and feed.warning.endswith("(repaired)") and problem in feed.warning


def test_junk_after_the_root_element_is_cut_off() -> None:
    injected = (
        b'<script data-cfasync="false" src="/cdn-cgi/scripts/x/email-decode.min.js"></script>'
    )
    feed = parse_feed(_rss("<title>Post</title>") + b"\n" + injected, URL)
    assert feed.parser == "fast" and [e.title for e in feed.entries] == ["Post"]
    assert feed.warning and "Extra content" in feed.warning


def test_wrongly_declared_encoding_is_read_as_utf8() -> None:
    body = _rss("<title>Café</title>", '<?xml version="1.0" encoding="utf-16"?>')
    feed = parse_feed(body, URL)
    assert feed.parser == "fast" and feed.entries[0].title == "Café"
    assert feed.warning and feed.warning.endswith("(repaired)")


@pytest.mark.parametrize(
    "item",
    [
        "<title>A &amp B</title>",  # a reference without its semicolon: read as HTML would
        "<link>https://e.example/?a=1&b=2</link><title>x</title>",
        "<title>unclosed",  # structure is never repaired
    ],
)
def test_ambiguous_breakage_is_left_to_feedparser(item: str) -> None:
    feed = parse_feed(_rss(item), URL)
    assert feed.parser == "feedparser"


def test_utf16_and_declared_entities_are_not_repaired() -> None:
    utf16 = _rss("<title>Tom & Jerry</title>", '<?xml version="1.0" encoding="utf-16"?>')
    assert parse_feed(utf16.decode().encode("utf-16"), URL).parser == "feedparser"
    with_dtd = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY me "Me">]><rss version="2.0"><channel>'
        b"<title>T</title><item><guid>g</guid><title>&me; & you</title></item></channel></rss>"
    )
    assert parse_feed(with_dtd, URL).parser == "feedparser"


def test_repair_expands_no_undeclared_entity() -> None:
    """An undeclared entity that is not an HTML one stays text: nothing is read or expanded."""
    feed = parse_feed(_rss("<title>&xxe; &#38;x</title>"), URL)
    assert feed.entries[0].title == "&xxe; &x"


def test_a_doctype_mended_by_the_repair_is_screened_again() -> None:
    """A control character hides the entity declarations from the first look; once the repair
    removes it, the billion-laughs subset must still be refused."""
    start = bombs.BILLION_LAUGHS.index(b"<!ENTITY")
    hidden = bombs.BILLION_LAUGHS[:start] + b"\x01" + bombs.BILLION_LAUGHS[start:]
    with pytest.raises(FeedParseError, match="entity expansion refused"):
        parse_feed(hidden, URL)
