"""A small entity referenced millions of times, or a huge field without any, within the body cap:
the expansion is refused in one line, and every stored field is bounded (a title is a line)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from aggregator.ingest.parse import parse_feed
from aggregator.ingest.parse.guard import MAX_EXPANSION_BYTES
from aggregator.ingest.parse.normalize import MAX_BODY_CHARS, MAX_TITLE_CHARS
from aggregator.model.entry import FeedParseError
from aggregator.store.db import Database
from aggregator.store.models import Item, Source
from tests.ingest.test_poll import add_sources, item_count, poll_all, settings_for
from tests.support.feedserver import FeedServer, rss_feed

ENTITY = "x" * 64


def entity_flood(references: int, where: str = "description") -> bytes:
    """A feed declaring one 64-character entity and referencing it ``references`` times."""
    refs = "&e;" * references
    title = refs if where == "title" else "Flood"
    body = refs if where == "description" else "b"
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e "{ENTITY}">]>'
        f'<rss version="2.0"><channel><title>{title}</title><link>https://f.example/</link>'
        f"<item><title>{title}</title><link>https://f.example/1</link>"
        f"<description>{body}</description></item></channel></rss>"
    ).encode()


@pytest.mark.parametrize("where", ["description", "title"])
def test_a_small_entity_referenced_millions_of_times_is_refused(where: str) -> None:
    with pytest.raises(FeedParseError) as caught:
        parse_feed(
            entity_flood(4_600_000 // (1 if where == "description" else 2), where),
            "https://f.example/feed",
        )
    assert "entity expansion refused" in str(caught.value) and "\n" not in str(caught.value)


def test_a_few_references_still_expand() -> None:
    parsed = parse_feed(entity_flood(100), "https://f.example/feed")
    assert ENTITY * 100 in parsed.entries[0].content_text
    assert MAX_EXPANSION_BYTES > 100 * 62


def _huge_fields(size: int) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel>'
        f"<title>{'T' * size}</title><link>https://f.example/</link>"
        f"<item><title>{'word ' * (size // 5)}</title><link>https://f.example/1</link>"
        f"<guid>{'g' * size}</guid><author>{'a' * size}</author>"
        f"<description>{'<p>para</p>' * (size // 11)}</description></item>"
        f"</channel></rss>"
    ).encode()


def test_every_field_is_bounded_in_a_poll(
    sqlite_db: Database, feed_server: FeedServer, tmp_path: Path
) -> None:
    huge = feed_server.add("/huge.xml", _huge_fields(2_000_000))
    flood = feed_server.add("/flood.xml", entity_flood(200_000))
    good = feed_server.add("/good.xml", rss_feed("Good"))
    ids = add_sources(sqlite_db, [huge, flood, good])
    report = poll_all(sqlite_db, settings_for(tmp_path))
    results = {o.source_id: o for o in report.outcomes}
    assert results[ids[good]].result == "new" and item_count(sqlite_db, ids[good]) == 3
    assert results[ids[flood]].result == "failed"
    assert "entity expansion refused" in results[ids[flood]].error
    with sqlite_db.session() as session:
        item = session.scalars(select(Item).where(Item.source_id == ids[huge])).one()
        source = session.get(Source, ids[huge])
        assert len(item.title) <= MAX_TITLE_CHARS and item.title.startswith("word word")
        assert len(source.feed_title) <= MAX_TITLE_CHARS
        assert len(item.content_html) <= MAX_BODY_CHARS and item.content_html.endswith("</p>")
        assert len(item.content_text) <= MAX_BODY_CHARS
        assert len(item.guid) <= 2048 and len(item.author or "") <= 2048
        longest = session.scalar(select(func.max(func.length(Item.content_html))))
        assert longest <= MAX_BODY_CHARS
