"""What a scheduled poll takes: only due sources (backoff and Retry-After hold), and honest timings."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aggregator.ingest.poll import Poller
from aggregator.store.db import Database
from tests.cli import run_cli
from tests.ingest.test_poll import add_sources, settings_for
from tests.support.feedserver import FeedServer, rss_feed


def test_run_once_respects_retry_after_and_poll_id_overrides(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    limited = feed_server.status("/limited.xml", 429, retry_after=3600)
    fine = feed_server.add("/fine.xml", rss_feed("Fine", items=2))
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[fetch]
allow_networks = ["127.0.0.1/32"]
[[sources]]
url = "{limited}"
name = "Limited"
[[sources]]
url = "{fine}"
name = "Fine"
"""
    )
    assert run_cli(config, "run", "--once").returncode == 0
    assert len(feed_server.requests_for("/limited.xml")) == 1
    again = run_cli(config, "run", "--once")
    assert again.returncode == 0, again.stderr
    assert len(feed_server.requests_for("/limited.xml")) == 1  # Retry-After: 3600 holds
    # an explicit poll of that source is the operator's override
    forced = run_cli(config, "poll", "1")
    assert forced.returncode == 0, forced.stderr
    assert len(feed_server.requests_for("/limited.xml")) == 2


def test_a_failed_poll_records_how_long_it_took(
    sqlite_db: Database, tmp_path: Path, feed_server: FeedServer
) -> None:
    stalled = feed_server.stall("/stalled.xml")
    ids = add_sources(sqlite_db, [stalled])
    settings = settings_for(tmp_path, timeout_seconds=1)
    report = asyncio.run(Poller(sqlite_db, settings).poll(list(ids.values())))
    [outcome] = report.outcomes
    assert outcome.result == "failed"
    assert outcome.elapsed >= 0.9  # the timeout, not 0.0, goes into the duration histogram
