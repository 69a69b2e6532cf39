"""Briefs off the critical path: a cycle briefs what it shows, the rest is a separate step.

Real feeds from the loopback server, real SQLite, real worker processes for the briefs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aggregator import service
from aggregator.app import App
from aggregator.briefs.pipeline import (
    POOL_AFTER,
    BriefJob,
    BriefWorkers,
    glossary_for,
    make_brief_batches,
)
from aggregator.config import from_mapping
from aggregator.mail.transport import MaildirTransport
from aggregator.model.entry import Entry
from aggregator.service import Pipeline
from aggregator.store.db import Database
from aggregator.store.items import store_entries
from aggregator.store.models import BriefRow, Edition, Item, Source
from aggregator.store.subscribers import upsert_subscriber
from tests.cli import config_text, run_cli
from tests.support.feedserver import FeedServer, distinct_text

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SENTENCES = (
    "The city council approved a new budget for public transport on {day}.",
    "Bus fares will fall by a tenth for students and pensioners from next spring.",
    "Officials said the plan depends on a grant that the regional government must still confirm.",
    "Opposition members argued that road repairs were being delayed to pay for it.",
    "A final vote on the grant is expected before the end of the year.",
)


def story_feed(title: str, items: int, link: str) -> bytes:
    """An RSS feed whose items have sentences, so each brief has bullets, each item about an
    event of its own (grouping keeps them apart)."""
    entries = "".join(
        f"<item><title>{title} story {n}</title><link>{link}{n}</link><guid>{title}-{n}</guid>"
        f"<pubDate>{(NOW.replace(hour=n % 9, minute=n)).strftime('%a, %d %b %Y %H:%M:%S GMT')}"
        f"</pubDate><description><![CDATA[<p>"
        + SENTENCES[0].format(day=f"day {n} of {title}")
        + " "
        + distinct_text(f"{title}-{n}", 5)
        + "</p>]]></description></item>"
        for n in range(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>{link}</link><description>d</description>{entries}</channel></rss>"
    ).encode()


def _pipeline(tmp_path: Path, feeds: list[str]) -> Pipeline:
    settings = from_mapping(
        {
            "fetch": {"allow_networks": ["127.0.0.1/32"], "timeout_seconds": 5},
            "sources": [{"url": url, "name": f"Feed {n}"} for n, url in enumerate(feeds)],
            "digests": [{"name": "daily", "schedule": "0 7 * * *", "max_items": 5}],
            "publish": {"max_entries": 8},
        },
        root=tmp_path,
        origin="test",
    )
    app = App(settings)
    return Pipeline(app, transport=MaildirTransport(tmp_path / "outbox"))


def _store_stories(db: Database, count: int) -> list[int]:
    """``count`` stories of one source, a day apart, story n the (n + 1)th oldest."""
    with db.session() as session:
        source = Source(url="https://s.example/feed", name="S")
        session.add(source)
        session.flush()
        entries = [
            Entry(
                key=f"k{n}",
                title=f"Story {n}",
                url=f"https://s.example/{n}",
                content_html=f"<p>{' '.join(SENTENCES).format(day=n)}</p>",
                content_text=" ".join(SENTENCES).format(day=n),
                published=NOW - timedelta(days=count - n),
            )
            for n in range(count)
        ]
        return store_entries(session, source, entries, NOW).new_ids


def test_a_cycle_briefs_only_what_it_shows_and_the_brief_step_the_rest(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feeds = [
        feed_server.add(f"/f{n}.xml", story_feed(f"F{n}", 30, f"https://f{n}.example/"))
        for n in range(3)
    ]
    pipeline = _pipeline(tmp_path, feeds)
    db = pipeline.app.db
    with db.session() as session:
        upsert_subscriber(session, "reader@example.com", digests=["daily"])
    report = pipeline.run_once()
    assert report.poll.new == 90 and report.delivery.sent == 1
    with db.session() as session:
        briefs = dict(session.execute(select(BriefRow.item_id, BriefRow.created_at)).all())
        editions = session.execute(select(Edition.item_ids, Edition.created_at)).all()
        urls = dict(session.execute(select(Item.url, Item.id)).all())
    assert len(editions) == 1 and editions[0].item_ids
    for item_id in editions[0].item_ids:  # every story the mail shows had its brief first
        assert item_id in briefs and briefs[item_id] <= editions[0].created_at
    feed = json.loads((tmp_path / "public" / "feed.json").read_text())
    assert len(feed["items"]) == 8
    for entry in feed["items"]:  # and every story of the published feed
        assert urls[entry["url"]] in briefs
        assert "<ul>" in entry["content_html"]  # bullets, not the start of the text
    assert len(briefs) < 30  # the backlog was left for the brief step

    made = pipeline.brief()
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(BriefRow)) == 90
    assert made == 90 - len(briefs)
    assert pipeline.brief() == 0  # nothing left, nothing made twice
    pipeline.give_back()
    pipeline.app.close()


def test_the_brief_step_takes_the_newest_items_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = _pipeline(tmp_path, [])
    db = pipeline.app.db
    _store_stories(db, 25)
    # one batch of five: the five newest stories are briefed, the older ones wait
    monkeypatch.setattr(service, "BRIEF_BATCH", 5)
    pipeline.stopping.set()  # the step stops after the batch under way...
    assert pipeline.brief() == 0  # ...and a stopped step starts none
    pipeline.stopping.clear()
    claim = service.claim

    def claim_then_stop(*args: object, **kwargs: object) -> list[int]:
        pipeline.stopping.set()  # a shutdown while the first batch is claimed
        return claim(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "claim", claim_then_stop)
    assert pipeline.brief() == 5
    with db.session() as session:
        titles = set(
            session.scalars(select(Item.title).join(BriefRow, BriefRow.item_id == Item.id)).all()
        )
    assert titles == {f"Story {n}" for n in range(20, 25)}
    pipeline.give_back()
    pipeline.app.close()


def test_a_changed_item_loses_its_brief_and_is_briefed_again(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, [])
    db = pipeline.app.db

    def store(text: str) -> list[int]:
        with db.session() as session:
            source = session.scalar(select(Source)) or Source(url="https://s.example/f", name="S")
            session.add(source)
            session.flush()
            entry = Entry(key="k", title="T", url="https://s.example/1", content_html=text)
            result = store_entries(session, source, [entry], NOW)
            return result.new_ids + result.changed_ids

    ids = store("<p>" + " ".join(SENTENCES).format(day="Monday") + "</p>")
    assert pipeline.brief() == 1
    assert store("<p>" + " ".join(SENTENCES).format(day="Friday") + "</p>") == ids
    with db.session() as session:
        assert session.get(BriefRow, ids[0]) is None
    assert pipeline.brief() == 1
    with db.session() as session:
        row = session.get(BriefRow, ids[0])
        assert row is not None and "Friday" in json.dumps(row.data)
    pipeline.give_back()
    pipeline.app.close()


def test_worker_processes_make_the_same_briefs_as_one_process(tmp_path: Path) -> None:
    settings = from_mapping({}, root=tmp_path, origin="test")
    workers = BriefWorkers(glossary_for(settings))
    jobs = [
        BriefJob(n, f"Story {n}", "<p>" + " ".join(SENTENCES).format(day=n) + "</p>", "S")
        for n in range(POOL_AFTER + 8)
    ]
    try:
        in_processes = workers.start(jobs)()
        assert workers._pool is not None and workers.enabled  # the processes did the work
    finally:
        workers.shutdown()
    workers.enabled = False
    assert [b.to_dict() for b in in_processes] == [b.to_dict() for b in workers.start(jobs)()]
    assert all(len(b.bullets) >= 3 for b in in_processes)


def test_workers_make_one_batch_while_the_next_is_read(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, [])
    db = pipeline.app.db
    ids = _store_stories(db, 3 * POOL_AFTER)
    written_when_asked: list[int] = []

    def batches() -> Iterator[list[int]]:
        for start in range(0, len(ids), POOL_AFTER):
            with db.session() as session:
                written_when_asked.append(session.scalar(select(func.count(BriefRow.item_id))))
            yield ids[start : start + POOL_AFTER]

    workers = BriefWorkers(glossary_for(pipeline.app.settings))
    try:
        report = make_brief_batches(db, pipeline.app.settings, batches(), workers=workers)
        assert workers.enabled and workers._pool is not None  # the processes did the work
    finally:
        workers.shutdown()
        pipeline.app.close()
    assert report.made == len(ids)
    # each batch is asked for while the workers still make the one before: it is written after
    assert written_when_asked == [0, 0, POOL_AFTER]


def test_poll_without_briefs_then_with(tmp_path: Path, feed_server: FeedServer) -> None:
    url = feed_server.add("/p.xml", story_feed("P", 12, "https://p.example/"))
    config = tmp_path / "config.toml"
    config.write_text(config_text([{"url": url, "name": "P"}]))
    stored = run_cli(config, "poll", "--no-briefs")
    assert stored.returncode == 0, stored.stderr[-2000:]
    assert "12 new item(s)" in stored.stdout and "brief(s) made" not in stored.stdout
    briefed = run_cli(config, "poll")
    assert briefed.returncode == 0, briefed.stderr[-2000:]
    assert "0 new item(s)" in briefed.stdout and "12 brief(s) made" in briefed.stdout
