"""A feed cannot fill the disk with tag feeds: categories per entry are
capped at ingest, tag feeds are written for the tags an operator named (and for feed categories
only when the operator opts in, up to a number), stale tag feeds are removed, and the archive
index lists only those that remain."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aggregator.config import Settings, from_mapping
from aggregator.ingest.parse import parse_feed
from aggregator.publish.archive import write_index
from aggregator.publish.publisher import publish
from aggregator.store.db import Database
from aggregator.store.items import store_entries
from aggregator.store.models import Source

NOW = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)


def _flood(categories: int) -> bytes:
    """One RSS item with ``categories`` distinct categories, one of them hostile markup."""
    tags = "".join(f"<category>topic {n}</category>" for n in range(categories))
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Flood</title>'
        "<link>https://flood.example/</link><item><title>Many tags</title>"
        "<link>https://flood.example/1</link><pubDate>Tue, 03 Nov 2026 08:00:00 GMT</pubDate>"
        f"<category>&lt;script&gt;alert(1)&lt;/script&gt;</category>{tags}</item></channel></rss>"
    ).encode()


def _settings(tmp_path: Path, **publish: Any) -> Settings:
    return from_mapping(
        {"general": {"base_url": "https://news.example.org"}, "publish": publish},
        root=tmp_path,
        origin="test",
    )


def _store(db: Database, tags: list[str], body: bytes) -> None:
    parsed = parse_feed(body, "https://flood.example/feed", now=NOW)
    with db.session() as session:
        source = Source(url="https://flood.example/feed", name="Flood", tags=tags)
        session.add(source)
        session.flush()
        store_entries(session, source, parsed.entries, NOW)


def _tag_files(settings: Settings) -> set[str]:
    return {p.name for p in (settings.public_dir / "tags").glob("*")}


def test_categories_per_entry_are_capped_at_ingest() -> None:
    (entry,) = parse_feed(_flood(3000), "https://flood.example/feed", now=NOW).entries
    assert len(entry.tags) == 20 and entry.tags[0] == "alert(1)"


def test_only_the_operators_tags_get_feeds_and_stale_ones_go(db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    stale = settings.public_dir / "tags" / "topic-7.atom"
    stale.parent.mkdir(parents=True)
    stale.write_text("<feed/>")
    _store(db, ["alignment"], _flood(3000))
    started = time.monotonic()
    publish(db, settings)
    assert time.monotonic() - started < 5
    assert _tag_files(settings) == {"alignment.atom", "alignment.rss", "alignment.json"}
    write_index(db, settings)
    index = (settings.public_dir / "index.html").read_text()
    assert "tags/alignment.atom" in index and "topic-" not in index

    with db.session() as session:
        session.query(Source).one().tags = ["safety"]  # the operator renamed the tag
    publish(db, settings)
    assert _tag_files(settings) == {"safety.atom", "safety.rss", "safety.json"}


def test_feed_categories_get_feeds_only_when_opted_in_and_capped(
    db: Database, tmp_path: Path
) -> None:
    _store(db, ["alignment"], _flood(3000))
    settings = _settings(tmp_path, category_tag_feeds=True, max_category_tag_feeds=4)
    publish(db, settings)
    stems = {name.rsplit(".", 1)[0] for name in _tag_files(settings)}
    assert len(stems) == 5 and "alignment" in stems
    for path in (settings.public_dir / "tags").glob("*.rss"):
        assert "<script" not in path.read_text() and "&lt;script" not in path.read_text()

    publish(db, _settings(tmp_path, category_tag_feeds=False))
    assert {n.rsplit(".", 1)[0] for n in _tag_files(settings)} == {"alignment"}
