"""Text that used to be lost before the briefs: media:description, HTML escaped twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aggregator.briefs.summarize import make_brief
from aggregator.ingest.parse import parse_feed

URL = "https://feeds.example/feed"
DESCRIPTION = (
    "For 2,600 years people have asked what stuff is made of. This video traces the history "
    "of that question through the analogies physicists used."
)


def atom(entry_body: str) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
 <title>Channel</title><id>urn:x</id><updated>2026-02-13T07:15:21Z</updated>
 <entry><id>yt:video:1</id><title>A Rock Is Trapped Light</title>
  <link rel="alternate" href="https://video.example/watch?v=1"/>
  <updated>2026-02-13T07:15:21Z</updated>{entry_body}</entry>
</feed>""".encode()


def test_youtube_media_group_description_is_the_text() -> None:
    body = f"<media:group><media:title>A Rock</media:title><media:description>{DESCRIPTION}</media:description></media:group>"
    (entry,) = parse_feed(atom(body), URL).entries
    assert entry.content_text == DESCRIPTION
    assert "analogies physicists used" in " ".join(
        make_brief(entry.title, entry.content_html).bullets
    )


def test_rss_media_description_only_when_there_is_no_other_text() -> None:
    rss = f"""<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>P</title>
<item><title>One</title><link>https://p.example/1</link><media:description>{DESCRIPTION}</media:description></item>
<item><title>Two</title><link>https://p.example/2</link><description>Own text.</description>
<media:description>Media text.</media:description></item></channel></rss>""".encode()
    one, two = parse_feed(rss, URL).entries
    assert one.content_text == DESCRIPTION
    assert two.content_text == "Own text."


def test_untyped_atom_content_holding_escaped_html_is_html() -> None:
    body = "<content>&lt;p&gt;First paragraph.&lt;/p&gt;&lt;p&gt;Second &lt;b&gt;bold&lt;/b&gt;.&lt;/p&gt;</content>"
    (entry,) = parse_feed(atom(body), URL).entries
    assert "<p>First paragraph.</p>" in entry.content_html
    assert "&lt;" not in entry.content_html and "<p>" not in entry.content_text
    typed = body.replace("<content>", '<content type="text">')
    (plain,) = parse_feed(atom(typed), URL).entries
    assert "&lt;p&gt;" in plain.content_html  # declared text stays text


def jsonfeed(item: dict) -> bytes:
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "J",
            "items": [{"id": "1", **item}],
        }
    ).encode()


@pytest.mark.parametrize(
    ("item", "text"),
    [
        (
            {
                "content_html": "&lt;p&gt;Escaped twice.&lt;/p&gt;",
                "content_text": "The clean text.",
            },
            "The clean text.",
        ),
        ({"content_html": "&lt;p&gt;Escaped twice, alone.&lt;/p&gt;"}, "Escaped twice, alone."),
        (
            {
                "content_html": "&amp;lt;p&amp;gt;Escaped thrice.&amp;lt;/p&amp;gt;",
                "summary": "Sum.",
            },
            "Sum.",
        ),
        ({"content_html": "<p>Real &lt;p&gt; talk.</p>", "content_text": "x"}, "Real <p> talk."),
    ],
)
def test_json_feed_html_escaped_twice(item: dict, text: str) -> None:
    (entry,) = parse_feed(jsonfeed(item), URL, content_type="application/feed+json").entries
    assert entry.content_text == text
    assert "&lt;" not in entry.content_text


def test_every_youtube_item_of_the_corpus_has_text_and_the_long_ones_a_brief() -> None:
    path = Path("/work/shared/corpus/real-feeds/021a787a782817fc.xml")
    if not path.is_file():
        pytest.skip("shared corpus not present")
    entries = parse_feed(path.read_bytes(), URL).entries
    long = [e for e in entries if len(e.content_text.split()) >= 80]
    assert entries and long
    assert all(e.content_text for e in entries)
    for e in long:
        assert make_brief(e.title, e.content_html).bullets, e.title
