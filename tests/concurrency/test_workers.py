"""Several workers on one database, end to end: every piece of work done once, kills survived.

Workers are real `aggregator run --role worker` processes; feeds come from the loopback feed
server and mail goes to a real SMTP server that takes a while per message. The races depend on
timing, so the scenarios repeat (a few rounds here; `bench/workers.py` runs more).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.store.db import Database
from tests.concurrency.fleet import (
    Fleet,
    add_subscribers,
    briefs_made,
    by_recipient,
    rounds,
    snapshot,
    wait_until,
    write_config,
)
from tests.conftest import PG_URL, _pg_schema_url
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.smtpserver import ScriptedHandler, SMTPTestServer

FEEDS = 24
ITEMS_PER_FEED = 4
pytestmark = pytest.mark.slow


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("AGGREGATOR_TEST_DATABASE_URL is not set")
    yield from _pg_schema_url()


def serve_feeds(feed_server: FeedServer, tag: str, *, slow: bool = False) -> list[str]:
    urls = []
    for n in range(FEEDS):
        body = rss_feed(f"{tag} {n}", items=ITEMS_PER_FEED, link=f"https://{tag}{n}.example/")
        path = f"/{tag}/{n}.xml"
        if slow and n % 2:
            urls.append(feed_server.trickle(path, body, interval=0.1, chunk_size=256))
        else:
            urls.append(feed_server.add(path, body))
    return urls


def relay(delay: float) -> SMTPTestServer:
    return SMTPTestServer(handler=ScriptedHandler(delay=delay)).start()


@pytest.mark.parametrize("round_", rounds(2))
@pytest.mark.parametrize("workers", [2, 3])
def test_workers_share_the_work_and_do_each_piece_once(
    tmp_path: Path, feed_server: FeedServer, pg_url: str, workers: int, round_: int
) -> None:
    subscribers = add_subscribers(pg_url, 120)
    feeds = serve_feeds(feed_server, f"r{round_}")
    smtp = relay(0.01)
    config = write_config(tmp_path, database_url=pg_url, feeds=feeds, smtp_port=smtp.port)
    fleet = Fleet(config).start(workers)
    try:
        total_items = FEEDS * ITEMS_PER_FEED
        wait_until(
            lambda: (
                (s := snapshot(pg_url)).states["sent"] == len(subscribers)
                and s.polled == FEEDS
                and s.briefs == total_items
            ),
            90,
            "every mail sent, every source polled, every item briefed",
        )
    finally:
        codes = fleet.stop()
        smtp.stop()
    assert codes == [0] * workers, fleet.logs()
    state = snapshot(pg_url)
    fetched = {
        url: len(feed_server.requests_for(url.split(str(feed_server.port))[1])) for url in feeds
    }
    assert set(fetched.values()) == {1}, fetched  # each due source fetched once in all
    assert state.items == FEEDS * ITEMS_PER_FEED
    assert state.failing == []  # no conflict ever counted as a source failure
    assert briefs_made(fleet.logs()) == state.briefs  # each brief computed once
    assert state.runs == 1
    received = by_recipient(smtp.messages)
    assert sorted(received) == subscribers
    assert {len(ids) for ids in received.values()} == {1}
    assert state.claimed == 0  # a graceful stop leaves nothing claimed


@pytest.mark.parametrize("round_", rounds(3))
def test_killing_a_worker_loses_nothing(
    tmp_path: Path, feed_server: FeedServer, pg_url: str, round_: int
) -> None:
    """SIGKILL one of two workers at a random moment (polling, briefing, rendering or sending):
    after its leases run out the other finishes everything, repeating at most the mails that
    were in flight on its connections, with the same Message-ID."""
    subscribers = add_subscribers(pg_url, 300)
    feeds = serve_feeds(feed_server, f"k{round_}", slow=True)
    smtp = relay(0.02)
    config = write_config(tmp_path, database_url=pg_url, feeds=feeds, smtp_port=smtp.port)
    fleet = Fleet(config).start(2)
    try:
        time.sleep(random.uniform(1.0, 6.0))
        victim = random.choice(fleet.procs)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        wait_until(
            lambda: (
                (s := snapshot(pg_url)).states["sent"] == len(subscribers)
                and s.polled == FEEDS
                and s.briefs == FEEDS * ITEMS_PER_FEED
            ),
            120,
            "the survivor to finish the killed worker's work",
        )
    finally:
        codes = fleet.stop()
        smtp.stop()
    survivor = [code for proc, code in zip(fleet.procs, codes, strict=True) if proc is not victim]
    assert survivor == [0], fleet.logs()
    state = snapshot(pg_url)
    received = by_recipient(smtp.messages)
    assert sorted(received) == subscribers  # nobody is missing
    repeated = {r: ids for r, ids in received.items() if len(ids) > 1}
    assert len(repeated) <= 4, repeated  # at most one per SMTP connection of the victim
    assert all(len(set(ids)) == 1 for ids in repeated.values())  # the same mail again
    assert state.failing == []  # a poll cut short by the kill is not a failure
    assert state.runs == 1 and state.claimed == 0


def test_one_service_sends_each_subscriber_one_digest(tmp_path: Path) -> None:
    """One `aggregator run`, a relay taking 50 ms a message, a 5 s tick: the cron/catch-up
    path and the outbox tick never both send (it mailed hundreds twice before)."""
    url = f"sqlite:///{tmp_path / 'one.db'}"
    subscribers = add_subscribers(url, 500)
    smtp = relay(0.05)
    config = write_config(tmp_path, database_url=url, feeds=[], smtp_port=smtp.port)
    config.write_text(config.read_text().replace("tick_seconds = 1", "tick_seconds = 5"))
    fleet = Fleet(config).start(1)
    try:
        wait_until(lambda: snapshot(url).states["sent"] == 500, 120, "500 mails sent")
        time.sleep(6)  # one more tick: nothing else may go out
    finally:
        codes = fleet.stop()
        smtp.stop()
    assert codes == [0], fleet.logs()
    received = by_recipient(smtp.messages)
    assert len(smtp.messages) == 500 and sorted(received) == subscribers


def test_three_workers_start_at_once_on_an_empty_database(tmp_path: Path, pg_url: str) -> None:
    config = write_config(tmp_path, database_url=pg_url, feeds=[], smtp_port=25)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "aggregator", "--config", str(config), "sources", "list"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], [err.decode() for _, err in results]
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from aggregator.store.db import MIGRATIONS_DIR, Database

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    db = Database(pg_url, migrate=False)
    with db.engine.connect() as connection:
        assert connection.execute(
            text("SELECT version_num FROM alembic_version")
        ).scalars().all() == [head]
    db.dispose()


def test_a_poll_killed_midway_is_polled_again_without_a_failure(
    tmp_path: Path, feed_server: FeedServer, pg_url: str
) -> None:
    """SIGKILL while every fetch is under way (the feeds trickle): the next worker polls the
    sources again, once the dead worker's claims are freed, and records no failure."""
    feeds = [
        feed_server.trickle(
            f"/slow/{n}.xml", rss_feed(f"Slow {n}", items=2), interval=0.2, chunk_size=64
        )
        for n in range(6)
    ]
    config = write_config(tmp_path, database_url=pg_url, feeds=feeds, smtp_port=25)
    Database(pg_url).dispose()
    first = Fleet(config).start(1)
    wait_until(lambda: snapshot(pg_url).claimed >= 6, 60, "the poll to claim every source")
    time.sleep(0.5)
    first.procs[0].send_signal(signal.SIGKILL)
    first.procs[0].wait(timeout=10)
    assert snapshot(pg_url).polled == 0  # killed before any source was recorded
    second = Fleet(config).start(1)
    try:
        wait_until(lambda: snapshot(pg_url).polled == 6, 90, "the sources to be polled again")
    finally:
        assert second.stop() == [0]
    state = snapshot(pg_url)
    assert state.failing == [] and state.items == 12 and state.claimed == 0
    fetched = [len(feed_server.requests_for(f"/slow/{n}.xml")) for n in range(6)]
    # the first worker had 4 fetches under way (fetch.per_host), cut short and done again
    assert sorted(fetched) == [1, 1, 2, 2, 2, 2], fetched
