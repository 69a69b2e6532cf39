"""WebSub pings the hub refused are retried with backoff from the store, across a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

from sqlalchemy import select

from aggregator.publish.publisher import publish
from aggregator.publish.websub import send_due_pings
from aggregator.store import pings
from aggregator.store.db import Database
from aggregator.store.models import WebSubPing
from tests.publish.test_publisher import _fill, _settings
from tests.support.feedserver import FeedServer

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _rows(db: Database) -> list[WebSubPing]:
    with db.session() as session:
        return list(session.scalars(select(WebSubPing).order_by(WebSubPing.topic)))


def _pinged(feed_server: FeedServer) -> list[list[str]]:
    """The topics of each ping the hub received, oldest first."""
    return [sorted(parse_qs(post.body.decode())["hub.url"]) for post in feed_server.posts("/hub")]


def test_refused_ping_is_retried_until_accepted_and_survives_a_restart(
    database_url: str, tmp_path: Path, feed_server: FeedServer
) -> None:
    hub = feed_server.record_posts("/hub", status=500)
    settings = _settings(tmp_path, hub=hub)
    db = Database(database_url)
    _fill(db, settings)
    before = datetime.now(UTC)
    publish(db, settings)
    (topics,) = _pinged(feed_server)
    assert "https://news.example.org/feed.atom" in topics
    rows = _rows(db)
    assert [r.topic for r in rows] == topics
    assert {(r.attempts, r.hub_url) for r in rows} == {(1, hub)}
    assert all("HTTP 500" in (r.last_error or "") for r in rows)
    retry_at = rows[0].next_attempt_at
    assert timedelta(seconds=59) <= retry_at - before <= timedelta(seconds=70)

    assert send_due_pings(db, settings) == 0  # not due yet: the hub hears nothing
    assert len(_pinged(feed_server)) == 1
    db.dispose()

    feed_server.record_posts("/hub", status=202)
    restarted = Database(database_url)
    try:
        assert send_due_pings(restarted, settings, now=retry_at) == len(topics)
        assert _pinged(feed_server) == [topics, topics]
        assert _rows(restarted) == []
        assert send_due_pings(restarted, settings, now=retry_at + timedelta(hours=2)) == 0
        publish(restarted, settings)  # nothing changed: nothing to announce
        assert len(_pinged(feed_server)) == 2
    finally:
        restarted.dispose()


def test_backoff_doubles_from_a_minute_and_stops_at_an_hour(
    sqlite_db: Database, tmp_path: Path, feed_server: FeedServer
) -> None:
    hub = feed_server.record_posts("/hub", status=503)
    settings = _settings(tmp_path, hub=hub)
    with sqlite_db.session() as session:
        pings.enqueue(session, hub, ["https://news.example.org/feed.rss"], T0)
    waits, now = [], T0
    for _ in range(8):
        assert send_due_pings(sqlite_db, settings, now=now - timedelta(seconds=1)) == 0
        assert send_due_pings(sqlite_db, settings, now=now) == 0
        (row,) = _rows(sqlite_db)
        waits.append(int((row.next_attempt_at - now).total_seconds() // 60))
        now = row.next_attempt_at
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    assert len(_pinged(feed_server)) == 8 and row.attempts == 8


def test_a_change_during_a_ping_is_announced_again(db: Database) -> None:
    hub, topic = "https://hub.example/", "https://news.example.org/feed.json"
    with db.session() as session:
        pings.enqueue(session, hub, [topic], T0)
    sent_at = T0 + timedelta(seconds=1)
    with db.session() as session:  # the feed changes while the ping is on its way
        pings.enqueue(session, hub, [topic], T0 + timedelta(seconds=2))
        pings.mark_done(session, hub, [topic], sent_at)
    (row,) = _rows(db)
    assert (row.created_at, row.next_attempt_at) == (T0 + timedelta(seconds=2), T0)
    with db.session() as session:
        assert [p.topic for p in pings.due(session, T0)] == [topic]
        pings.mark_done(session, hub, [topic], T0 + timedelta(seconds=3))
    assert _rows(db) == []


def test_a_new_hub_takes_over_waiting_pings_and_the_old_hubs_are_dropped(
    db: Database, tmp_path: Path, feed_server: FeedServer
) -> None:
    old = feed_server.record_posts("/old-hub", status=202)
    hub = feed_server.record_posts("/hub", status=202)
    moved, stale = "https://news.example.org/a.atom", "https://news.example.org/b.atom"
    with db.session() as session:
        pings.enqueue(session, old, [moved, stale], T0)
        pings.mark_failed(session, old, [moved, stale], "HTTP 500", T0)
        pings.enqueue(session, hub, [moved], T0)  # the config names a new hub; a.atom changed
    assert [(r.topic, r.hub_url, r.attempts) for r in _rows(db)] == [
        (moved, hub, 0),
        (stale, old, 1),
    ]
    settings = _settings(tmp_path, hub=hub)
    assert send_due_pings(db, settings, now=T0) == 1  # the old hub's ping is not due yet
    assert [r.topic for r in _rows(db)] == [stale]
    assert send_due_pings(db, settings, now=T0 + timedelta(minutes=1)) == 0  # due: dropped
    assert feed_server.posts("/old-hub") == []
    assert _pinged(feed_server) == [[moved]]
    assert _rows(db) == []
