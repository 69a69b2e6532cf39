"""Storing entries: unique per source, changed content updated in place, cross-source stories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from aggregator.model.entry import Entry
from aggregator.store.db import Database
from aggregator.store.items import canonical_link, store_entries
from aggregator.store.models import Item, Source

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _entry(n: int, **kw) -> Entry:
    base = dict(
        key=f"guid:{n}",
        title=f"Story {n}",
        url=f"https://news.example/{n}",
        content_html=f"<p>Body {n}</p>",
        content_text=f"Body {n}",
        published=NOW - timedelta(hours=n),
    )
    base.update(kw)
    return Entry(**base)


def _source(db: Database, url: str) -> int:
    with db.session() as s:
        row = Source(url=url, name=url)
        s.add(row)
        s.flush()
        return row.id


def test_insert_then_dedup_then_change(db: Database) -> None:
    sid = _source(db, "https://a.example/feed")
    with db.session() as s:
        src = s.get(Source, sid)
        first = store_entries(s, src, [_entry(1), _entry(2), _entry(1)], NOW)
    assert (first.new, first.changed) == (2, 0)
    assert len(first.new_ids) == 2

    with db.session() as s:
        src = s.get(Source, sid)
        again = store_entries(s, src, [_entry(1), _entry(2)], NOW + timedelta(hours=1))
    assert (again.new, again.changed) == (0, 0)

    later = NOW + timedelta(hours=2)
    with db.session() as s:
        src = s.get(Source, sid)
        edited = store_entries(
            s, src, [_entry(1, content_html="<p>Corrected</p>"), _entry(3)], later
        )
    assert (edited.new, edited.changed) == (1, 1)
    with db.session() as s:
        item = s.scalar(select(Item).where(Item.id == edited.changed_ids[0]))
        assert item.content_html == "<p>Corrected</p>"
        assert item.changed_at == later
        assert item.first_seen_at == NOW  # first seen is kept
        assert s.scalar(select(func.count()).select_from(Item)) == 3


def test_undated_entries_get_first_seen(db: Database) -> None:
    sid = _source(db, "https://a.example/feed")
    with db.session() as s:
        store_entries(s, s.get(Source, sid), [_entry(1, published=None)], NOW)
    with db.session() as s:
        assert s.scalar(select(Item.published_at)) == NOW
        # a content change later does not move the date of an undated entry
        store_entries(
            s,
            s.get(Source, sid),
            [_entry(1, published=None, title="New title")],
            NOW + timedelta(days=1),
        )
    with db.session() as s:
        assert s.scalar(select(Item.published_at)) == NOW


def test_same_story_from_two_sources_shares_story_key(db: Database) -> None:
    a = _source(db, "https://a.example/feed")
    b = _source(db, "https://b.example/feed")
    with db.session() as s:
        store_entries(
            s, s.get(Source, a), [_entry(1, url="https://www.news.example/1/?utm_source=a")], NOW
        )
        store_entries(s, s.get(Source, b), [_entry(9, url="http://news.example/1#top")], NOW)
    with db.session() as s:
        keys = s.scalars(select(Item.story_key)).all()
    assert len(keys) == 2 and keys[0] == keys[1]


def test_same_key_in_two_sources_is_two_items(db: Database) -> None:
    a = _source(db, "https://a.example/feed")
    b = _source(db, "https://b.example/feed")
    with db.session() as s:
        store_entries(s, s.get(Source, a), [_entry(1, url=None)], NOW)
        store_entries(s, s.get(Source, b), [_entry(1, url=None)], NOW)
    with db.session() as s:
        keys = s.scalars(select(Item.story_key)).all()
    assert len(keys) == 2 and keys[0] != keys[1]


def test_canonical_link() -> None:
    assert (
        canonical_link("https://WWW.Example.com/a/?utm_medium=x&b=2&a=1#frag")
        == "example.com/a?a=1&b=2"
    )
    assert canonical_link("http://example.com:8080/a") == "example.com:8080/a"
    assert canonical_link("https://example.com/a") != canonical_link("https://example.com/b")
