"""parse_feed on odd inputs and on the normalisation rules every tier shares."""

from __future__ import annotations

from calendar import timegm
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import pytest
from feedparser.datetimes import _parse_date
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aggregator.ingest.parse import parse_feed
from aggregator.ingest.parse.normalize import join_url, to_date
from aggregator.ingest.sanitize import strip_invalid_chars
from aggregator.model.entry import FeedParseError

URL = "https://example.org/blog/feed.xml"
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _rss(items: str, channel: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<link>/</link>{channel}{items}</channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty document"),
        (b"  \n\t ", "empty document"),
        (b"<!DOCTYPE html><html><head><title>x</title></head><body>hi</body></html>", "HTML page"),
        (b"<html><body><p>not a feed</p></body></html>", "HTML page"),
        (bytes(range(256)) * 40, "not XML"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00\xff" * 500, "not XML"),
        (b"<?xml version='1.0'?><note><to>x</to></note>", "XML without RSS, Atom or RDF"),
        (b"<rss version='2.0'><channel><title>broken", "malformed XML"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "malformed JSON"),
        (b'{"hello": "world"}', "JSON without a jsonfeed.org version"),
    ],
)
def test_non_feeds_raise_one_line_errors(body: bytes, message: str) -> None:
    with pytest.raises(FeedParseError, match=message) as info:
        parse_feed(body, URL)
    assert "\n" not in str(info.value)


def test_cdata_end_marker_in_content_and_title() -> None:
    body = _rss(
        "<item><title>a ]]&gt; b</title><guid>g</guid>"
        "<description><![CDATA[<p>x ]]]]><![CDATA[> y</p>]]></description></item>"
    )
    entry = parse_feed(body, URL).entries[0]
    assert entry.title == "a ]]> b"
    assert entry.content_text == "x ]]> y"


def test_control_characters_are_removed_from_every_string() -> None:
    body = _rss(
        "<item><title>bell&#x85;tab\ttitle\u200b</title><guid>g</guid>"
        "<description>&lt;p&gt;a&amp;#1;b&amp;#xFFFE;c&lt;/p&gt;</description></item>"
    )
    entry = parse_feed(body, URL).entries[0]
    assert entry.title == "bell\u2026tab title\u200b"  # C1 &#x85; read as windows-1252
    for text in (entry.title, entry.content_html, entry.content_text):
        assert strip_invalid_chars(text) == text


def test_invalid_utf8_and_raw_controls_in_a_title() -> None:
    body = _rss("<item><title>caf\xe9 \x01\x1b ok</title><guid>g</guid></item>").replace(
        "caf\xe9".encode(),
        b"caf\xe9",  # a latin-1 byte in a UTF-8 document: not well-formed
    )
    feed = parse_feed(body, URL)
    title = feed.entries[0].title
    assert feed.parser == "feedparser" and feed.warning
    assert title.startswith("caf") and title.endswith("ok")
    assert strip_invalid_chars(title) == title
    assert "\ufffd" not in title or title == "caf\ufffd ok"


def test_keys_urls_and_dates_are_normalised() -> None:
    body = _rss(
        "<item><title>with guid</title><guid isPermaLink='false'>abc-1</guid>"
        "<link>posts/1</link><pubDate>Tue, 10 Jun 2003 04:00:00 +0200</pubDate></item>"
        "<item><title>link only</title><link>https://other.example/2</link>"
        f"<pubDate>{(NOW + timedelta(hours=3)).isoformat()}</pubDate></item>"
        "<item><title>neither</title><description>body</description></item>"
        "<item><title>far ahead</title><link>https://other.example/3</link>"
        "<pubDate>2099-01-01T00:00:00Z</pubDate></item>"
    )
    a, b, c, d = parse_feed(body, URL, now=NOW).entries
    assert a.key == "guid:abc-1" and a.url == "https://example.org/blog/posts/1"
    assert a.published == datetime(2003, 6, 10, 2, 0, tzinfo=UTC)
    assert b.key == "link:https://other.example/2"
    assert b.published == NOW  # a date a little ahead is clamped to now
    assert c.key.startswith("hash:") and len(c.key) == 5 + 64 and c.published is None
    assert d.published is None  # decades ahead is no date at all


def _feedparser_date(value: str) -> datetime | None:
    """How feedparser alone reads a date (what to_date did for every form before its fast path)."""
    parsed = _parse_date(value.strip())
    try:
        return datetime.fromtimestamp(timegm(parsed), UTC) if parsed else None
    except (OverflowError, OSError, ValueError):
        return None


_TWO = st.integers(0, 99).map("{:02}".format)
_OFFSET = st.tuples(st.sampled_from("+-"), _TWO, _TWO)
_W3C = st.builds(
    "{:04}-{}-{}{}".format,
    st.integers(1, 9999),
    _TWO,
    _TWO,
    st.one_of(
        st.just(""),
        st.builds(
            "T{}:{}:{}{}{}".format,
            _TWO,
            _TWO,
            _TWO,
            st.sampled_from(["", ".5", ".123", ".1234567"]),
            st.one_of(st.sampled_from(["Z", "", "z"]), _OFFSET.map("{0[0]}{0[1]}:{0[2]}".format)),
        ),
    ),
)
_RFC822 = st.builds(
    "{}{} {} {:04} {}:{}:{} {}".format,
    st.sampled_from(["", "Mon, ", "Sun, ", "Foo, "]),
    st.one_of(_TWO, st.integers(0, 9).map(str)),
    st.sampled_from(["Jan", "Feb", "Jun", "Dec", "Foo"]),
    st.integers(1, 9999),
    _TWO,
    _TWO,
    _TWO,
    st.one_of(st.sampled_from(["GMT", "UT", "UTC", "Z", "EST"]), _OFFSET.map("".join)),
)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(_W3C, _RFC822))
@example("2024-05-01T10:00:00.123-05:00")
@example("Tue, 10 Jun 2003 04:00:00 +0200")
@example("2024-02-30")  # no such day: feedparser's own reading
@example("Wed, 01 May 2024 24:00:00 GMT")
def test_the_common_date_forms_read_as_feedparser_reads_them(value: str) -> None:
    assert to_date(value) == _feedparser_date(value)


def test_xml_base_resolves_links_and_content_urls() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://a.example/root/">
      <title type="html">A &amp;amp; B &lt;b&gt;bold&lt;/b&gt;</title><id>urn:x</id>
      <link rel="alternate" href="home"/><link rel="hub" href="https://hub.example/"/>
      <entry xml:base="posts/"><id>tag:a,2024:1</id><title>One</title>
        <link href="one.html"/><updated>2024-01-02T03:04:05-01:00</updated>
        <content type="html" xml:base="/media/">&lt;img src="x.png"&gt;&lt;a href="p"&gt;p&lt;/a&gt;</content>
        <category term="py"/><category term="py"/><author><name>Ann</name></author>
      </entry></feed>"""
    feed = parse_feed(body, URL, now=NOW)
    assert (feed.parser, feed.title, feed.site_url) == (
        "fast",
        "A & B bold",
        "https://a.example/root/home",
    )
    assert feed.hub_url == "https://hub.example/" and feed.feed_id == "urn:x"
    entry = feed.entries[0]
    assert entry.url == "https://a.example/root/posts/one.html"
    assert entry.key == "guid:tag:a,2024:1" and entry.author == "Ann" and entry.tags == ["py"]
    assert entry.published == entry.updated == datetime(2024, 1, 2, 4, 4, 5, tzinfo=UTC)
    assert 'src="https://a.example/media/x.png"' in entry.content_html
    assert 'href="https://a.example/media/p"' in entry.content_html


def test_ttl_and_fullest_body() -> None:
    body = _rss(
        '<item xmlns:content="http://purl.org/rss/1.0/modules/content/"><guid>g</guid>'
        "<description>short</description>"
        "<content:encoded><![CDATA[<p>the much longer full text</p>]]></content:encoded></item>",
        channel="<ttl>90</ttl>",
    )
    feed = parse_feed(body, URL)
    assert feed.ttl_minutes == 90
    assert feed.entries[0].content_text == "the much longer full text"


def test_rss1_rdf_feed_uses_fast_tier() -> None:
    body = b"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
      xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
      <channel rdf:about="https://r.example/"><title>R</title><link>https://r.example/</link></channel>
      <item rdf:about="https://r.example/1"><title>One</title><link>https://r.example/1</link>
      <dc:date>2024-05-06T07:08:09Z</dc:date></item></rdf:RDF>"""
    feed = parse_feed(body, URL)
    assert feed.parser == "fast" and feed.site_url == "https://r.example/"
    entry = feed.entries[0]
    assert entry.key == "guid:https://r.example/1" and entry.title == "One"
    assert entry.published == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_bozo_feed_with_entries_is_accepted_with_a_warning() -> None:
    body = _rss("<item><title>A &amp B</title><guid>g</guid></item>")
    feed = parse_feed(body, URL)
    assert feed.parser == "feedparser" and feed.entries[0].title == "A & B"
    assert feed.warning and "\n" not in feed.warning


def test_http_charset_overrides_the_xml_declaration() -> None:
    body = '<?xml version="1.0"?><rss version="2.0"><channel><title>Café</title></channel></rss>'
    feed = parse_feed(
        body.encode("cp1252"), URL, content_type="application/rss+xml; charset=windows-1252"
    )
    assert feed.title == "Café"


_URL_PARTS = st.sampled_from(
    ["http://", "https://", "HTTP://", "ftp://", "//", "/", "a", "b.c", ":80", "@", "?", "#", ";"]
    + ["[", "]", "::1", " ", "\t", "\x01", "..", ".", "%2F", "é", "x=1", "&", "http:", "https:"]
)


@settings(max_examples=2000, deadline=None)
@given(
    base=st.sampled_from(
        ["http://ex.org/a/b", "https://ex.org/a/", "ftp://x/y", "https://h/p;q?r"]
    ),
    url=st.lists(_URL_PARTS, min_size=1, max_size=8).map("".join),
)
@example(base="http://ex.org/a", url="http://ex.org/b?")  # urljoin drops an empty query
@example(base="http://ex.org/a", url="http://ex.org/b;")  # and empty params
@example(base="http://ex.org/a", url="HTTP://ex.org/b")  # and lowers the scheme
def test_join_url_is_urljoin(base: str, url: str) -> None:
    """The parser's shortcut for links that are already absolute answers as urljoin does."""
    try:
        expected: str | type[ValueError] = urljoin(base, url)
    except ValueError:
        expected = ValueError
    try:
        got: str | type[ValueError] = join_url(base, url)
    except ValueError:
        got = ValueError
    assert got == expected
