"""What the published feeds say: the same brief in every format, and each source's own date."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import lxml.html
from lxml import etree
from sqlalchemy import select

from aggregator.briefs.pipeline import make_briefs
from aggregator.config import Settings, from_mapping
from aggregator.ingest.poll import Poller
from aggregator.model.brief import Brief, Term
from aggregator.publish.feeds import write_feeds
from aggregator.publish.model import FeedEntry, FeedMeta, FeedSource, brief_html, entry_id
from aggregator.publish.publisher import publish
from aggregator.store.db import Database
from aggregator.store.models import Item, Source
from aggregator.store.sources import add_source
from tests.support.feedcheck import ATOM
from tests.support.feedserver import FeedServer, rss_feed

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
META = FeedMeta(
    title="Briefs",
    id="urn:uuid:0b7f8a52-2f55-4c0e-8f3b-6f1d2b1a9c01",
    home_url="https://agg.example/",
    base_url="https://agg.example/",
    author="Desk",
)
SOURCE = FeedSource(
    id="urn:s", title="Source", url=None, feed_url="https://s.example/feed", updated=T0
)
BODY = (
    "<p>The council approved the new tram line on Monday. Construction starts in spring and "
    "lasts two years. The line will link the two hospitals with the station.</p>"
)


def _entry(brief: Brief, n: int = 1) -> FeedEntry:
    link = f"https://s.example/story/{n}"
    return FeedEntry(
        id=entry_id(SOURCE.feed_url, str(n)),
        title=f"Story {n}",
        link=link,
        published=T0,
        summary=brief.paragraph,
        content_html=brief_html(brief, link, SOURCE.title),
        sources=[SOURCE],
    )


def _texts(tmp_path: Path) -> dict[str, str]:
    """Per format, the visible text of the entry: summary (where the format has one) + content."""
    atom = feedparser.parse((tmp_path / "feed.atom").read_bytes()).entries[0]
    rss = etree.parse(tmp_path / "feed.rss").findtext("channel/item/description")
    item = json.loads((tmp_path / "feed.json").read_bytes())["items"][0]

    def text(html: str) -> str:
        return lxml.html.fragment_fromstring(html, create_parent="div").text_content()

    return {
        "atom": atom.summary + "\n" + text(atom.content[0].value),
        "rss": text(rss),
        "json": item.get("summary", "") + "\n" + text(item["content_html"]),
    }


def test_rss_description_carries_the_whole_brief_like_atom_and_json(tmp_path: Path) -> None:
    brief = Brief(
        bullets=["The council approved the tram.", "Work starts in spring."],
        terms=[Term(term="Tram", definition="A rail vehicle running on streets.")],
        paragraph="The council approved a tram line that will link the hospitals & station.",
    )
    write_feeds(tmp_path, META, [_entry(brief)])
    pieces = [
        brief.paragraph,
        *brief.bullets,
        "Tram",
        "A rail vehicle running on streets.",
        "Read full story at Source \u2192",
    ]
    for name, text in _texts(tmp_path).items():
        for piece in pieces:
            assert text.count(piece) == 1, (name, piece, text)
    rss = etree.parse(tmp_path / "feed.rss").findtext("channel/item/description")
    assert rss.startswith(f"<p>{brief.paragraph.replace('&', '&amp;')}</p>\n<ul>")
    assert 'href="https://s.example/story/1"' in rss


def test_brief_without_bullets_shows_its_paragraph_once_in_rss(tmp_path: Path) -> None:
    brief = Brief(bullets=[], paragraph="Only a paragraph here.")
    write_feeds(tmp_path, META, [_entry(brief)])
    assert _texts(tmp_path)["rss"].count("Only a paragraph here.") == 1


def test_hostile_paragraph_stays_text_in_rss(tmp_path: Path) -> None:
    paragraph = "Ends ]]> the CDATA <script>alert(1)</script> <b>bold</b> & more"
    write_feeds(tmp_path, META, [_entry(Brief(bullets=["One sentence."], paragraph=paragraph))])
    rss = etree.parse(tmp_path / "feed.rss").findtext("channel/item/description")
    fragment = lxml.html.fragment_fromstring(rss, create_parent="div")
    assert fragment.xpath("//script | //b") == []
    assert fragment.xpath("string(p[1])") == paragraph


# -- atom:source/updated is the source feed's own date -------------------------------------

ATOM_DOC = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <id>urn:atom-source</id><title>Atom Source</title><updated>2026-10-01T08:00:00Z</updated>
  <link href="https://atom.example/"/>
  <entry><id>urn:a1</id><title>Tram line approved</title><link href="https://atom.example/1"/>
    <updated>2026-09-30T08:00:00Z</updated><content type="html">{BODY.replace("<", "&lt;")}</content>
  </entry>
</feed>
""".encode()
RSS_DOC = rss_feed("RSS Source", items=1, link="https://rss.example/").replace(
    b"<description>d</description>",
    b"<description>d</description><lastBuildDate>Thu, 01 Oct 2026 09:30:00 GMT</lastBuildDate>",
)


def _settings(tmp_path: Path) -> Settings:
    return from_mapping(
        {
            "general": {"base_url": "https://agg.example"},
            "fetch": {"allow_networks": ["127.0.0.1/32"], "timeout_seconds": 5},
        },
        root=tmp_path,
        origin="test",
    )


def _poll_and_publish(db: Database, settings: Settings) -> dict[str, str]:
    """Poll every source, brief, publish; return atom:source/updated per source title."""
    poller = Poller(db, settings)
    asyncio.run(poller.poll(poller.choose(due_only=False)))
    with db.session() as session:
        ids = list(session.scalars(select(Item.id)))
    make_briefs(db, settings, ids)
    publish(db, settings)
    atom = etree.parse(settings.public_dir / "feed.atom")
    return {
        source.findtext(f"{ATOM}title"): source.findtext(f"{ATOM}updated")
        for source in atom.iter(f"{ATOM}source")
    }


def test_atom_source_updated_is_the_source_feeds_own_date(
    db: Database, tmp_path: Path, feed_server: FeedServer
) -> None:
    urls = [
        feed_server.add("/atom", ATOM_DOC, "application/atom+xml"),
        feed_server.add("/rss", RSS_DOC),
        feed_server.add("/plain", rss_feed("Plain Source", items=1)),
    ]
    with db.session() as session:
        for url in urls:
            add_source(session, url)
    settings = _settings(tmp_path)
    updated = _poll_and_publish(db, settings)
    with db.session() as session:
        last_new = {s.feed_title: s.last_new_at for s in session.scalars(select(Source))}
    assert updated["Atom Source"] == "2026-10-01T08:00:00Z"
    assert updated["RSS Source"] == "2026-10-01T09:30:00Z"
    # a feed without its own date falls back to when it last brought something new
    expected = last_new["Plain Source"].replace(microsecond=0).isoformat().replace("+00:00", "Z")
    assert updated["Plain Source"] == expected
    feed = json.loads((settings.public_dir / "feed.json").read_bytes())
    dates = {s["title"]: s["updated"] for i in feed["items"] for s in i["_aggregator"]["sources"]}
    assert dates["Atom Source"] == "2026-10-01T08:00:00Z"

    # the feed drops its date on the next poll: the last one it gave is kept
    feed_server.add(
        "/atom",
        ATOM_DOC.replace(b"<updated>2026-10-01T08:00:00Z</updated>", b""),
        "application/atom+xml",
    )
    assert _poll_and_publish(db, settings)["Atom Source"] == "2026-10-01T08:00:00Z"
