"""The store's reports behind the command line's lists, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from aggregator.store.db import Database
from aggregator.store.listing import find_item, list_items, list_sources
from aggregator.store.models import Item, Source


def _item(source: Source, n: int, title: str, text: str, day: int) -> Item:
    return Item(
        source=source,
        key_hash=f"key-{n}",
        guid=f"guid-{n}",
        url=f"https://example.test/{n}",
        story_key=f"story-{n}",
        title=title,
        content_text=text,
        content_hash=f"hash-{n}",
        published_at=datetime(2024, 5, day, 10, tzinfo=UTC),
    )


def test_items_are_found_by_source_date_and_literal_text(db: Database) -> None:
    with db.session() as session:
        blog = Source(url="https://blog.test/feed", name="Blog", tags=["search"])
        news = Source(url="https://news.test/rss", feed_title="News Daily")
        session.add_all(
            [
                _item(blog, 1, "Search engine news", "An engine for the small web.", 1),
                _item(blog, 2, "100% pure_gold", "Wildcards, literally.", 2),
                _item(news, 3, "Markets", "Rates rose 5%; nothing else.", 3),
            ]
        )
    with db.session() as session:
        titles = [r.title for r in list_items(session)]
        assert titles == ["Markets", "100% pure_gold", "Search engine news"]  # newest first
        assert list_items(session, limit=1)[0].source == "News Daily"  # its feed's title
        blog_id = session.scalar(select(Source.id).where(Source.name == "Blog"))
        assert [r.title for r in list_items(session, source_id=blog_id)] == titles[1:]
        since = datetime(2024, 5, 2, tzinfo=UTC)
        assert [r.title for r in list_items(session, since=since)] == titles[:2]
        # `_` and `%` are literal ("e_g" would match "engine" as a pattern); case is ignored
        assert [r.title for r in list_items(session, search="E_G")] == ["100% pure_gold"]
        assert [r.title for r in list_items(session, search="5%;")] == ["Markets"]
        assert [r.title for r in list_items(session, search="SMALL WEB")] == [titles[2]]
        first = list_items(session, search="Markets")[0]
        assert find_item(session, str(first.id)) == first.id
        assert find_item(session, "https://example.test/3") == first.id
        assert find_item(session, "guid-3") == first.id
        assert find_item(session, "999999") is None
        rows = list_sources(session)
        assert [(r.name, r.state, r.tags, r.items) for r in rows] == [
            ("Blog", "new", ["search"], 2),
            ("News Daily", "new", [], 1),
        ]
