"""Briefs in the store: cached by content hash, redone on change, article text for teasers, LLM."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from aggregator.briefs.pipeline import fetch_full_texts, llm_for, make_briefs
from aggregator.config import from_mapping
from aggregator.ingest.sanitize import html_to_text
from aggregator.model.brief import Brief
from aggregator.model.entry import Entry
from aggregator.store.db import Database
from aggregator.store.items import store_entries
from aggregator.store.models import BriefRow, Item, Source
from tests.support.feedserver import FeedServer
from tests.support.llmserver import LLMServer, completion

NOW = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
ARTICLE = """<!doctype html><html><head><title>Full story</title></head><body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<article><h1>Solar farm opens</h1>
<p>The largest solar farm in the region opened on Tuesday after two years of construction.
It will supply power to about forty thousand homes. Engineers installed more than two hundred
thousand panels across the former quarry site.</p>
<p>The project cost 120 million euros and was financed by a regional energy cooperative.
Local residents own a third of the cooperative's shares. The operators expect the farm to pay
for itself within eleven years.</p>
<p>Critics had warned about the loss of habitat for ground-nesting birds. The developers set
aside twenty hectares as a protected meadow in response.</p>
</article><footer>Share this: Twitter Facebook. Cookie settings.</footer></body></html>"""
TEXT = (
    "<p>Researchers released a new benchmark for language models on Monday. The benchmark tests "
    "long-context reasoning over legal documents. Retrieval Augmented Generation (RAG) is a technique "
    "that finds relevant passages before answering. Early results show large gaps between open and closed models. The "
    "authors plan to update the leaderboard every quarter.</p>"
)


def _settings(tmp_path: Path, **briefs):
    return from_mapping(
        {"fetch": {"allow_networks": ["127.0.0.1/32"], "timeout_seconds": 5}, "briefs": briefs},
        root=tmp_path,
        origin="test",
    )


def _store(db: Database, entries: list[Entry], *, full_text: bool | None = None) -> list[int]:
    with db.session() as session:
        source = session.scalar(select(Source)) or Source(
            url="https://s.example/feed", name="S", full_text=full_text
        )
        session.add(source)
        session.flush()
        result = store_entries(session, source, entries, NOW)
        return result.new_ids + result.changed_ids


def _brief_count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(BriefRow))


def _brief(db: Database, item_id: int) -> Brief:
    with db.session() as session:
        return Brief.from_dict(session.get(BriefRow, item_id).data)


def test_briefs_are_cached_and_redone_when_content_changes(db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    entry = Entry(
        key="guid:1", title="Benchmark", url="https://s.example/1", content_html=TEXT, published=NOW
    )
    [item_id] = _store(db, [entry])
    assert _brief_count(db) == 0
    first = make_briefs(db, settings, [item_id])
    assert (first.made, first.cached) == (1, 0)
    assert _brief_count(db) == 1
    brief = _brief(db, item_id)
    assert brief.bullets[0] == "Researchers released a new benchmark for language models on Monday."
    # the item's own definition first; "RAG" is the same term again, and the broad "language
    # model" is not in the title
    assert [t.term for t in brief.terms] == ["Retrieval Augmented Generation"]
    assert brief.terms[0].definition.startswith("Retrieval Augmented Generation (RAG) is a")
    assert make_briefs(db, settings, [item_id]).cached == 1

    changed = Entry(
        key=entry.key,
        title=entry.title,
        url=entry.url,
        published=NOW,
        content_html=TEXT.replace("on Monday", "on Tuesday"),
    )
    assert _store(db, [changed]) == [item_id]
    again = make_briefs(db, settings, [item_id])
    assert again.made == 1
    assert _brief(db, item_id).bullets[0].endswith("on Tuesday.")


def test_teasers_get_the_article_text(
    sqlite_db: Database, tmp_path: Path, feed_server: FeedServer
) -> None:
    page = feed_server.add("/story.html", ARTICLE.encode(), "text/html; charset=utf-8")
    settings = _settings(tmp_path, full_text=True, teaser_words=40)
    short = "<p>A solar farm opened. Read more…</p>"
    teaser = Entry(
        key="guid:t",
        title="Solar farm opens",
        url=page,
        content_html=short,
        content_text=html_to_text(short),
        published=NOW,
    )
    long_one = Entry(
        key="guid:l",
        title="Benchmark",
        url=feed_server.url("/never.html"),
        content_html=TEXT,
        content_text=html_to_text(TEXT),
        published=NOW,
    )
    ids = _store(sqlite_db, [teaser, long_one])
    fetched = asyncio.run(fetch_full_texts(sqlite_db, settings, ids))
    assert fetched == 1
    assert feed_server.requests_for("/never.html") == []  # not a teaser: no fetch
    with sqlite_db.session() as session:
        item = session.scalar(select(Item).where(Item.title == "Solar farm opens"))
        assert "forty thousand homes" in item.full_text
        assert "Cookie" not in item.full_text and "Home" not in item.full_text
        teaser_id = item.id
    make_briefs(sqlite_db, settings, ids)
    bullets = _brief(sqlite_db, teaser_id).bullets
    assert len(bullets) >= 3
    assert any("120 million euros" in b for b in bullets)  # only the article says so
    # cached: a second pass does not fetch again
    feed_server.clear_log()
    assert asyncio.run(fetch_full_texts(sqlite_db, settings, ids)) == 0
    assert feed_server.requests_for("/story.html") == []


def test_llm_back_end_from_config_and_fallback(
    sqlite_db: Database, tmp_path: Path, monkeypatch
) -> None:
    with LLMServer() as server:
        monkeypatch.setenv("TEST_LLM_KEY", "sk-test")
        settings = from_mapping(
            {
                "briefs": {
                    "llm": {
                        "enabled": True,
                        "base_url": server.base_url,
                        "model": "tiny",
                        "api_key_env": "TEST_LLM_KEY",
                        "max_calls_per_run": 1,
                    }
                }
            },
            root=tmp_path,
            origin="test",
        )
        reply = {
            "bullets": [
                "Researchers released a new benchmark for language models on Monday.",
                "The benchmark tests long-context reasoning over legal documents.",
                "Early results show large gaps between open and closed models.",
            ],
            "terms": [],
            "paragraph": "A new benchmark tests long-context legal reasoning and shows gaps between models.",
        }
        server.reply(200, completion(json.dumps(reply)))
        entries = [
            Entry(
                key=f"guid:{n}",
                title=f"Benchmark {n}",
                url=f"https://s.example/{n}",
                content_html=TEXT,
                published=NOW,
            )
            for n in range(2)
        ]
        ids = _store(sqlite_db, entries)
        make_briefs(sqlite_db, settings, ids, llm=llm_for(settings))
        summarizers = sorted(_brief(sqlite_db, i).summarizer for i in ids)
        assert summarizers == ["extractive", "llm:tiny:p2"]  # the cap of one call per run holds
        assert len(server.requests) == 1
        assert server.requests[0].headers.get("Authorization") == "Bearer sk-test"
