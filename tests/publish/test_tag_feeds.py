"""Tag feeds from the store: each operator tag's own newest stories, and empty tags' empty feeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser

from aggregator.app import App
from aggregator.config import from_mapping
from aggregator.model.entry import Entry
from aggregator.publish.publisher import publish
from aggregator.store.db import Database
from aggregator.store.items import store_entries
from aggregator.store.models import Source
from aggregator.web.app import create_app
from tests.web.conftest import Client, LiveServer

NOW = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)
BODY = "<p>The council approved the new tram line. Construction starts in spring.</p>"


def _settings(tmp_path: Path):
    return from_mapping(
        {"general": {"base_url": "https://news.example.org"}, "publish": {"max_entries": 5}},
        root=tmp_path,
        origin="test",
    )


def _source(session, name: str, tags: list[str], items: int, age: timedelta, enabled=True) -> None:
    source = Source(url=f"https://{name}.example/feed", name=name, tags=tags, enabled=enabled)
    session.add(source)
    session.flush()
    entries = [
        Entry(
            key=f"guid:{name}-{n}",
            title=f"{name} story {n}",
            url=f"https://{name}.example/{n}",
            content_html=BODY.replace("tram", f"tram {name} {n}"),
            published=NOW - age - timedelta(minutes=n),
        )
        for n in range(items)
    ]
    store_entries(session, source, entries, NOW)


def _fill(db: Database) -> None:
    with db.session() as session:
        _source(session, "busy", ["News"], 8, timedelta(hours=1))
        _source(session, "quiet", ["rare", "News"], 3, timedelta(days=30))
        _source(session, "empty", ["void"], 0, timedelta(0))
        _source(session, "off", ["gone"], 2, timedelta(days=60), enabled=False)


def _titles(path: Path) -> list[str]:
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo, (path, parsed.get("bozo_exception"))
    return [e.title for e in parsed.entries]


def test_each_operator_tag_gets_its_own_newest_entries(db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _fill(db)
    publish(db, settings)
    public = settings.public_dir
    assert _titles(public / "feed.atom") == [f"busy story {n}" for n in range(5)]
    # the quiet source's stories are outside the combined feed, yet its tag has them
    for suffix in ("atom", "rss"):
        assert _titles(public / "tags" / f"rare.{suffix}") == [f"quiet story {n}" for n in range(3)]
    # a tag shared by both sources is bounded like the combined feed
    assert _titles(public / "tags" / "news.atom") == [f"busy story {n}" for n in range(5)]
    # a tag with nothing yet has an empty, valid feed
    for suffix in ("atom", "rss"):
        assert _titles(public / "tags" / f"void.{suffix}") == []
    assert (public / "tags" / "void.json").read_text().count('"items": []') == 1
    # a disabled source's tag has no feed
    assert not (public / "tags" / "gone.atom").exists()
    assert publish(db, settings).changed == []


def test_tag_feeds_are_served_by_the_web_app(db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _fill(db)
    publish(db, settings)
    app = App(settings)
    app.__dict__["db"] = db
    server = LiveServer().start(create_app(app))
    try:
        client = Client(server.url)
        rare = client.get("/tags/rare.atom")
        void = client.get("/tags/void.rss")
        gone = client.get("/tags/gone.atom")
    finally:
        server.stop()
    assert rare.status == 200 and "quiet story 2" in rare.text
    assert void.status == 200 and void.headers["content-type"].startswith("application/rss+xml")
    assert feedparser.parse(void.body).entries == []
    assert gone.status == 404
