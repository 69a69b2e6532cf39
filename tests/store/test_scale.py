"""More new items than PostgreSQL allows parameters in one statement (65,535), end to end on the
read side: storing them, the full-text step of briefing, digest ranking and the published feed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from aggregator.briefs.pipeline import fetch_full_texts
from aggregator.config import Settings, from_mapping
from aggregator.digest.compose import choose_stories
from aggregator.model.entry import Entry
from aggregator.store.db import Database
from aggregator.store.items import store_entries
from aggregator.store.models import BriefRow, Item, Source
from aggregator.store.stories import newest_stories, story_heads_between
from tests.conftest import PG_URL, _pg_schema_url
from tests.support.feedserver import FeedServer

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
MANY = 66_000
"""Over 65,535: one IN list of all new ids fails on PostgreSQL."""
SHARED = 5
"""Stories the small source carries too (same canonical link)."""
BODY = "A full paragraph of plain prose that is long enough not to be a teaser at all."


def _entry(n: int, **overrides: object) -> Entry:
    fields: dict = {
        "key": f"guid:{n}",
        "title": f"Story {n}",
        "url": f"https://big.example/{n}",
        "content_html": f"<p>{BODY}</p>",
        "content_text": BODY,
        "published": NOW - timedelta(minutes=n),
    }
    return Entry(**(fields | overrides))


@pytest.fixture
def pg_db() -> Iterator[Database]:
    if not PG_URL:
        pytest.skip("AGGREGATOR_TEST_DATABASE_URL is not set")
    for url in _pg_schema_url():
        database = Database(url)
        yield database
        database.dispose()


def _settings(tmp_path: Path, *, full_text: bool) -> Settings:
    return from_mapping(
        {
            "fetch": {"allow_networks": ["127.0.0.1/32"], "timeout_seconds": 5},
            "briefs": {"full_text": full_text, "teaser_words": 8},
            "digests": [{"name": "daily", "schedule": "0 7 * * *", "max_items": 10}],
        },
        root=tmp_path,
        origin="test",
    )


def test_more_new_items_than_one_statement_takes(
    pg_db: Database, tmp_path: Path, feed_server: FeedServer
) -> None:
    page = feed_server.add(
        "/teaser.html",
        b"<html><body><article><p>The whole article, with every detail of the story told at"
        b" length, so that the extractor finds it.</p></article></body></html>",
        "text/html; charset=utf-8",
    )
    big = [_entry(0, url=page, content_html="<p>Read more…</p>", content_text="Read more…")]
    big += [_entry(n) for n in range(1, MANY)]
    small = [
        _entry(n, key=f"small:{n}", url=f"https://www.big.example/{n}/", tags=["Rare"])
        for n in range(1, SHARED + 1)
    ]
    with pg_db.session() as session:
        wide = Source(url="https://big.example/feed", name="Big", priority=2, full_text=True)
        narrow = Source(url="https://small.example/feed", name="Small", priority=1)
        session.add_all([wide, narrow])
        session.flush()
        new_ids = store_entries(session, wide, big, NOW).new_ids
        new_ids += store_entries(session, narrow, small, NOW).new_ids
        narrow_id = narrow.id
        briefed = session.scalar(select(Item).where(Item.title == "Story 100"))
        bullets = ["One whole sentence.", "Another.", "A third.", "A fourth."]
        session.add(BriefRow(item_id=briefed.id, content_hash="x", data={"bullets": bullets},
                             summarizer="test"))  # fmt: skip
        briefed_key, briefed_id = briefed.story_key, briefed.id
    assert len(new_ids) == MANY + SHARED

    assert asyncio.run(fetch_full_texts(pg_db, _settings(tmp_path, full_text=False), [])) == 0
    fetched = asyncio.run(fetch_full_texts(pg_db, _settings(tmp_path, full_text=False), new_ids))
    assert fetched == 1  # only the one teaser of the one source that wants full text
    assert len(feed_server.requests_for("/teaser.html")) == 1
    with pg_db.session() as session:
        assert "every detail" in session.scalar(select(Item.full_text).where(Item.url == page))

    settings = _settings(tmp_path, full_text=False)
    digest = settings.digest("daily")
    assert digest is not None
    with pg_db.session() as session:
        heads = list(story_heads_between(session, since=NOW - timedelta(hours=1), until=NOW))
        assert len(heads) == MANY  # the shared stories count once
        heads_by_key = {h.key: h for h in heads}
        assert briefed_id not in heads_by_key[briefed_key].unbriefed
        assert sum(len(h.unbriefed) for h in heads) == MANY + SHARED - 1  # all but the briefed
        chosen = choose_stories(session, digest, since=NOW - timedelta(hours=1), until=NOW)
        # Full objects only for the ten shown: their items, sources and (no) briefs.
        assert len(session.identity_map) <= 10 * 2 + 2
    assert len(chosen) == 10
    assert [len(s.sources) for s in chosen[:SHARED]] == [2] * SHARED  # carried twice: first
    assert [s.primary.source.name for s in chosen[:SHARED]] == ["Big"] * SHARED
    assert (
        chosen[SHARED].primary.title == "Story 0"
    )  # then the newest: a brief's bullets rank nothing

    with pg_db.session() as session:
        rare = choose_stories(session, digest, since=None, until=NOW, tags=["rare"])
        assert sorted(s.primary.title for s in rare) == [f"Story {n}" for n in range(1, 6)]
        only_small = list(
            story_heads_between(session, since=None, until=NOW, source_ids=[narrow_id])
        )
        assert {h.source_count for h in only_small} == {2} and len(only_small) == SHARED
        newest = newest_stories(session, 50)
    assert [s.primary.title for s in newest] == [f"Story {n}" for n in range(50)]
