"""Waiting for a per-host slot is not the request's time: many healthy but slow feeds on one host
are each given the whole timeout from when their request is sent, so none of them times out
unrequested, while the host still never sees more than ``per_host`` requests at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aggregator.ingest.fetch import Fetcher
from aggregator.store.db import Database
from tests.ingest.test_poll import add_sources, poll_all, settings_for
from tests.support.feedserver import FeedServer, rss_feed


def test_queued_requests_to_one_slow_host_do_not_time_out(
    sqlite_db: Database, feed_server: FeedServer, tmp_path: Path
) -> None:
    # 12 feeds answering in 1 s, two at a time: the last is sent after ~5 s of waiting, well
    # past the 3 s timeout, and answers 1 s later.
    urls = [feed_server.slow(f"/slow{n}.xml", rss_feed(f"Slow {n}"), delay=1.0) for n in range(12)]
    add_sources(sqlite_db, urls)
    settings = settings_for(tmp_path, per_host=2, timeout_seconds=3)
    report = poll_all(sqlite_db, settings)
    failed = [o.error for o in report.outcomes if o.result == "failed"]
    assert failed == []
    assert report.new == 12 * 3
    assert sorted(r.path for r in feed_server.requests) == sorted(
        f"/slow{n}.xml" for n in range(12)
    )
    arrivals = sorted(r.time for r in feed_server.requests)
    # Never more than per_host at once: the third request waits for the first answer.
    assert all(
        later - earlier >= 0.9 for earlier, later in zip(arrivals, arrivals[2:], strict=False)
    )


def test_a_request_that_is_sent_still_times_out(feed_server: FeedServer, tmp_path: Path) -> None:
    url = feed_server.slow("/slower.xml", rss_feed("Slower"), delay=5.0)
    settings = settings_for(tmp_path, timeout_seconds=1)

    async def fetch() -> str:
        async with Fetcher(settings.fetch, "test") as fetcher:
            try:
                await fetcher.fetch(url)
            except Exception as exc:  # noqa: BLE001 - the message is what is checked
                return str(exc)
        return "fetched"

    assert asyncio.run(fetch()) == "timed out after 1 s"
