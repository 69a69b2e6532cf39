"""Publishing from the store: one entry per story, atom:source, WebSub pings and Link headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import lxml.html
from lxml import etree

from aggregator.app import App
from aggregator.briefs.pipeline import make_briefs
from aggregator.config import from_mapping
from aggregator.model.entry import Entry
from aggregator.publish.archive import write_index
from aggregator.publish.publisher import publish
from aggregator.store.db import Database
from aggregator.store.items import store_entries
from aggregator.store.models import Source
from aggregator.web.app import create_app
from tests.conftest import SHARED
from tests.support.feedcheck import ATOM, check_published
from tests.support.feedserver import FeedServer
from tests.web.conftest import Client, LiveServer

NOW = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)
SCHEMA = SHARED / "schemas" / "jsonfeed-1.1.schema.json"
BODY = "<p>The council approved the new tram line. Construction starts in spring. It will link the two hospitals.</p>"


def _settings(tmp_path: Path, hub: str = ""):
    return from_mapping(
        {
            "general": {"base_url": "https://news.example.org"},
            "publish": {"hub_url": hub, "max_entries": 10},
        },
        root=tmp_path,
        origin="test",
    )


def _fill(db: Database, settings) -> None:
    with db.session() as session:
        ids = []
        for name, tags, priority in (("City Paper", ["city"], 4), ("Wire", ["news"], 2)):
            source = Source(
                url=f"https://{name.split()[0].lower()}.example/feed",
                name=name,
                tags=tags,
                priority=priority,
            )
            session.add(source)
            session.flush()
            shared = Entry(
                key=f"guid:{name}-tram",
                title="Tram line approved",
                url="https://city.example/tram?utm_source=rss",
                content_html=BODY,
                published=NOW - timedelta(hours=1),
            )
            own = Entry(
                key=f"guid:{name}-own",
                title=f"Only in {name}",
                url=f"https://{name.split()[0].lower()}.example/own",
                content_html=BODY,
                published=NOW - timedelta(hours=2),
            )
            ids += store_entries(session, source, [shared, own], NOW).new_ids
    make_briefs(db, settings, ids)


def test_feeds_from_the_store_name_every_source_once(db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _fill(db, settings)
    result = publish(db, settings)
    assert result.entries == 3
    titles = check_published(settings.public_dir, SCHEMA)
    assert sorted(titles["feed.atom"]) == [
        "Only in City Paper",
        "Only in Wire",
        "Tram line approved",
    ]
    atom = etree.parse(str(settings.public_dir / "feed.atom")).getroot()
    tram = next(
        e
        for e in atom.findall(f"{ATOM}entry")
        if e.findtext(f"{ATOM}title") == "Tram line approved"
    )
    assert (
        tram.find(f"{ATOM}source/{ATOM}title").text == "City Paper"
    )  # the higher-priority source leads
    vias = [link.get("href") for link in tram.findall(f"{ATOM}link") if link.get("rel") == "via"]
    assert vias == ["https://wire.example/feed"]
    content = tram.findtext(f"{ATOM}content")
    assert "<li>" in content and "Read full story at City Paper" in content
    assert {p.name for p in (settings.public_dir / "tags").iterdir()} >= {
        "city.atom",
        "news.rss",
        "news.json",
    }
    # ids are stable: publishing again changes nothing
    assert publish(db, settings).changed == []


def test_websub_ping_and_link_headers(
    sqlite_db: Database, tmp_path: Path, feed_server: FeedServer
) -> None:
    hub = feed_server.record_posts("/hub")
    settings = _settings(tmp_path, hub=hub)
    _fill(sqlite_db, settings)
    publish(sqlite_db, settings)
    posts = feed_server.posts("/hub")
    assert posts and posts[0].form["hub.mode"] == "publish"
    topics = parse_qs(posts[0].body.decode())["hub.url"]
    assert {"https://news.example.org/feed.atom", "https://news.example.org/feed.json"} <= set(
        topics
    )
    publish(sqlite_db, settings)
    assert len(feed_server.posts("/hub")) == len(posts)  # unchanged: no ping

    write_index(sqlite_db, settings)
    app = App(settings)
    app.__dict__["db"] = sqlite_db
    server = LiveServer().start(create_app(app))
    try:
        client = Client(server.url)
        response = client.get("/feed.atom")
        assert response.status == 200
        assert response.headers["content-type"].startswith("application/atom+xml")
        assert f'<{hub}>; rel="hub"' in response.headers["link"]
        assert '<https://news.example.org/feed.atom>; rel="self"' in response.headers["link"]
        etag = response.headers["etag"]
        assert client.get("/feed.atom", headers={"If-None-Match": etag}).status == 304
        index = lxml.html.fromstring(client.get("/").text)
    finally:
        server.stop()
    alternates = {link.get("type") for link in index.xpath("//link[@rel='alternate']")}
    assert alternates >= {"application/atom+xml", "application/rss+xml", "application/feed+json"}
