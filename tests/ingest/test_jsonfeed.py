"""JSON Feed 1.0 and 1.1 through parse_feed; the 1.1 sample is checked against the schema first."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import pytest

from aggregator.ingest.parse import parse_feed
from aggregator.model.entry import FeedParseError
from tests.conftest import SHARED

URL = "https://j.example/feed.json"
V11 = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "J &amp; son",
    "home_page_url": "https://j.example/",
    "feed_url": URL,
    "hubs": [{"type": "WebSub", "url": "https://hub.example/"}],
    "authors": [{"name": "Jo"}],
    "items": [
        {
            "id": "1",
            "url": "/posts/1",
            "title": "First <post>",
            "content_html": '<p onclick="x()">Hi <img src="/a.png"><script>bad()</script></p>',
            "date_published": "2024-02-03T04:05:06+01:00",
            "date_modified": "2024-02-04T00:00:00Z",
            "authors": [{"name": "Ann"}, {"name": "Bob"}],
            "tags": ["a", "b"],
        },
        {"id": "2", "content_text": "plain\\nsecond", "external_url": "https://else.example/2"},
    ],
}
V10 = {
    "version": "https://jsonfeed.org/version/1",
    "title": "Old",
    "items": [
        {"id": "x", "summary": "sum", "author": {"name": "Al"}, "url": "https://o.example/x"},
        {"id": 3, "title": "numeric ids occur in the wild"},
    ],
}


def test_jsonfeed_11_sample_is_valid_and_parses() -> None:
    schema = SHARED / "schemas" / "jsonfeed-1.1.schema.json"
    if schema.is_file():
        jsonschema.validate(V11, json.loads(schema.read_text()))
    feed = parse_feed(json.dumps(V11).encode(), URL, content_type="application/feed+json")
    assert (feed.parser, feed.title, feed.site_url) == ("json", "J &amp; son", "https://j.example/")
    assert feed.hub_url == "https://hub.example/" and feed.feed_id == URL
    first, second = feed.entries
    assert first.key == "guid:1" and first.url == "https://j.example/posts/1"
    # plain text by the spec, but RSS readers read titles as HTML: what looks like a tag goes
    assert first.title == "First" and first.author == "Ann, Bob" and first.tags == ["a", "b"]
    assert first.published == datetime(2024, 2, 3, 3, 5, 6, tzinfo=UTC)
    assert first.updated == datetime(2024, 2, 4, tzinfo=UTC)
    assert "script" not in first.content_html and "onclick" not in first.content_html
    assert 'src="https://j.example/a.png"' in first.content_html and first.content_text == "Hi"
    assert second.key == "guid:2" and second.url == "https://else.example/2"
    assert second.content_text == "plain\\nsecond" and second.published is None


def test_jsonfeed_10_is_sniffed_without_content_type() -> None:
    feed = parse_feed(b"\xef\xbb\xbf " + json.dumps(V10).encode(), URL)
    entry, numeric = feed.entries
    assert (feed.parser, entry.author, entry.content_text) == ("json", "Al", "sum")
    assert numeric.key == "guid:3"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[1, 2]", "not an object"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": {}}', "'items' is not a list"),
        (b"[" * 100_000, "malformed JSON"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "title": "\xff"}', None),
    ],
)
def test_bad_json_documents(body: bytes, message: str | None) -> None:
    if message is None:  # invalid UTF-8 is replaced, not fatal
        assert parse_feed(body, URL, content_type="application/json").title == "\ufffd"
        return
    with pytest.raises(FeedParseError, match=message):
        parse_feed(body, URL, content_type="application/json")
