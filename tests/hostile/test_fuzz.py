"""Fuzzing the feed parser and the sanitizer with Hypothesis, bounded to a few seconds.

Feeds are built from hostile fragments (feedparser's 745 sanitizer cases and our own) written
escaped, as CDATA or raw (raw fragments break the XML and drive the repair and feedparser
tiers). Whatever comes in, ``parse_feed`` gives a ParsedFeed or a one-line FeedParseError, and
what it gives holds no live markup. A failing input Hypothesis finds is kept as an ``@example``
here (and in its local example database until then), so it is tested on every run after.
"""

from __future__ import annotations

import html
import os
import re
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aggregator.ingest.parse import parse_feed
from aggregator.ingest.parse.normalize import MAX_ENTRY_TAGS
from aggregator.ingest.sanitize import html_to_text, sanitize_html, strip_markup
from aggregator.model.entry import FeedParseError
from tests.ingest.test_sanitize import SANITIZE, assert_safe

FUZZ = settings(  # a few seconds; AGGREGATOR_FUZZ_EXAMPLES=2000 for a deeper run
    max_examples=int(os.environ.get("AGGREGATOR_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_BODY = re.compile(r"<(content|description|summary|title)[^>]*>(.*?)</\1>", re.S)
_MARKUP = re.compile(r"<[a-zA-Z/!?]")


def _corpus_fragments() -> list[str]:
    """The hostile markup of feedparser's sanitizer cases, unescaped."""
    found = []
    for path in sorted(SANITIZE.glob("*.xml")) if SANITIZE.is_dir() else []:
        for _tag, body in _BODY.findall(path.read_text(encoding="utf-8", errors="replace")):
            found.append(html.unescape(body.replace("<![CDATA[", "").replace("]]>", "")))
    return found


OURS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "&lt;img src=x onerror=alert(1)&gt;",
    "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;",
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    "<svg><script>alert(1)</script></svg>",
    "<math><mi xlink:href=javascript:alert(1)>x</mi></math>",
    "<<img>img src=x onerror=alert(1)>",
    "]]>",
    "<![CDATA[",
    "<!--",
    "-->",
    "\x00\x01\x1b",
    "&#0;&#x1F;&#xD800;",
    "<iframe src=//evil.example>",
    '" onmouseover="alert(1)',
    "<base href=//evil.example/>",
    "<form action=javascript:alert(1)><input></form>",
]
FRAGMENTS = OURS + _corpus_fragments()
text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=5).map(
    "".join
)


@st.composite
def fields(draw: st.DrawFn) -> str:
    """A text field written escaped, as CDATA, or raw."""
    value = draw(text)
    how = draw(st.sampled_from(["escaped", "cdata", "raw"]))
    if how == "escaped":
        return escape(value)
    if how == "cdata":
        return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"
    return value


@st.composite
def feeds(draw: st.DrawFn) -> bytes:
    """An RSS 2.0 or Atom document with hostile titles, links, bodies, authors and categories."""
    items = []
    for n in range(draw(st.integers(1, 3))):
        title, body, author, link = draw(fields()), draw(fields()), draw(fields()), draw(fields())
        categories = draw(st.lists(fields(), max_size=4))
        if draw(st.booleans()):
            cats = "".join(f"<category>{c}</category>" for c in categories)
            items.append(
                f"<item><title>{title}</title><link>{link}</link><guid>g{n}</guid>"
                f"<author>{author}</author><description>{body}</description>{cats}</item>"
            )
        else:
            cats = "".join(f"<category term={quoteattr(c)}/>" for c in categories)
            items.append(
                f'<entry><title type="{draw(st.sampled_from(["text", "html"]))}">{title}</title>'
                f"<id>urn:e{n}</id><link href={quoteattr(draw(text))}/>"
                f'<author><name>{author}</name></author><content type="html">{body}</content>'
                f"{cats}</entry>"
            )
    body = "".join(items)
    if body.startswith("<item>"):
        doc = f'<rss version="2.0"><channel><title>{draw(fields())}</title>{body}</channel></rss>'
    else:
        doc = (
            f'<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:f</id>{body}</feed>'
        )
    return doc.encode("utf-8", "surrogatepass").decode("utf-8", "replace").encode("utf-8")


@FUZZ
@given(feeds())
@example(  # found by this test: feedparser raised UnicodeEncodeError on &#xD800;
    b'<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:f</id><entry>'
    b'<title type="text"></title><id>urn:e0</id><link href=""/><author><name></name></author>'
    b'<content type="html"></content></entry><item><title></title><link>&#0;&#x1F;&#xD800;'
    b"</link><guid>g1</guid><author></author><description></description></item></feed>"
)
def test_parse_feed_gives_a_feed_or_one_line_error_and_no_live_markup(body: bytes) -> None:
    try:
        feed = parse_feed(body, "https://fuzz.example/feed")
    except FeedParseError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    assert not _MARKUP.search(feed.title)
    for entry in feed.entries:
        for plain in (entry.title, entry.author or "", *entry.tags):
            assert not _MARKUP.search(plain), plain
        assert len(entry.tags) <= MAX_ENTRY_TAGS
        assert entry.url is None or entry.url.startswith(("http://", "https://"))
        assert_safe(entry.content_html)


@pytest.mark.parametrize("reference", ["&#xD800;", "&#55296;", "&#x110000;", "&#99999999999;"])
def test_impossible_character_references_do_not_crash_the_tolerant_tier(reference: str) -> None:
    body = (
        f'<rss version="2.0"><channel><item><title>x</title><link>{reference}</link>'
        f"<description>a {reference} b</description></item></channel></rss>"
    )
    (entry,) = parse_feed(body.encode(), "https://fuzz.example/feed").entries
    assert entry.content_text == "a b"


def test_a_whole_page_without_a_body_reads_as_text() -> None:
    # found by this test: lxml.html asserts "too many bodies" on a page without <body>
    assert html_to_text("<html><head><title>x</title></head></html>") == "x"


@FUZZ
@given(text, st.sampled_from([None, "https://fuzz.example/a/", "javascript:alert(1)//"]))
def test_sanitizer_output_is_inert_and_stable(fragment: str, base: str | None) -> None:
    cleaned = sanitize_html(fragment, base)
    assert_safe(cleaned)
    assert sanitize_html(cleaned, base) == cleaned


@FUZZ
@given(text)
@example("<\x1f?")  # found by this test: the control character went after the tags did
def test_plain_text_never_reads_as_markup(value: str) -> None:
    plain = strip_markup(value)
    assert not _MARKUP.search(plain)
    assert strip_markup(plain) == plain
