"""Numbers and dates from outside (Retry-After, Cache-Control max-age, Expires, Last-Modified,
Content-Length, a feed's ``<ttl>``) are bounded before any arithmetic: a poll serving one absurd
value beside good feeds records a one-line error or a clamped interval for it, and stores the
others."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from aggregator.ingest.fetch import MAX_HEADER_SECONDS, parse_max_age, parse_retry_after
from aggregator.ingest.parse import parse_feed
from aggregator.store.db import Database
from aggregator.store.models import Source
from tests.ingest.test_poll import add_sources, item_count, poll_all, settings_for
from tests.support.feedserver import FeedServer, rss_feed

ABSURD = ["99999999999999999999", "9" * 400, "1e400", "²", "-5", " 12 ", "inf", "nan"]


@pytest.mark.parametrize("value", ABSURD)
def test_header_seconds_are_bounded_or_refused(value: str) -> None:
    for seconds in (
        parse_retry_after(value),
        parse_max_age({"Cache-Control": f"max-age={value}"}),
        parse_max_age({"Cache-Control": f'public, max-age="{value}"'}),
    ):
        assert seconds is None or 0 <= seconds <= MAX_HEADER_SECONDS
        if seconds is not None:
            timedelta(seconds=seconds)  # no OverflowError


@pytest.mark.parametrize(
    "date",
    [
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Mon, 01 Jan 0001 00:00:00 GMT",
        "Thu, 01 Jan 99999 00:00:00 GMT",
        "Sun, 06 Nov 1994 08:49:37 +9999",
    ],
)
def test_header_dates_are_bounded(date: str) -> None:
    for seconds in (parse_retry_after(date), parse_max_age({"Expires": date})):
        assert seconds is None or 0 <= seconds <= MAX_HEADER_SECONDS


def _feed_with_ttl(ttl: str) -> bytes:
    return rss_feed("TTL").replace(b"<description>d</description>", f"<ttl>{ttl}</ttl>".encode())


@pytest.mark.parametrize("ttl", ["99999999999999999999", "9" * 5000, "²", "٣", "-1", "0"])
def test_a_feeds_ttl_is_bounded(ttl: str) -> None:
    parsed = parse_feed(_feed_with_ttl(ttl), "http://example.test/feed")
    assert parsed.ttl_minutes is None or 0 < parsed.ttl_minutes <= MAX_HEADER_SECONDS / 60
    assert len(parsed.entries) == 3


def test_absurd_header_numbers_beside_good_feeds(
    db: Database, feed_server: FeedServer, tmp_path: Path
) -> None:
    huge = "99999999999999999999"
    good = [feed_server.add(f"/good{n}.xml", rss_feed(f"Good {n}")) for n in range(3)]
    bad = [
        feed_server.status("/busy.xml", 503, retry_after=huge),
        feed_server.status("/slow-down.xml", 429, retry_after="Fri, 31 Dec 9999 23:59:59 GMT"),
        feed_server.add(
            "/cached.xml", rss_feed("Cached"), headers={"Cache-Control": f"max-age={huge}"}
        ),
        feed_server.add(
            "/expires.xml",
            rss_feed("Expires"),
            headers={"Expires": "Fri, 31 Dec 9999 23:59:59 GMT"},
        ),
        feed_server.add("/ttl.xml", _feed_with_ttl(huge)),
        feed_server.add(
            "/length.xml",
            rss_feed("Length"),
            headers={"Last-Modified": "Mon, 01 Jan 0001 00:00:00 GMT"},
        ),
    ]
    ids = add_sources(db, good + bad)
    settings = settings_for(tmp_path)
    report = poll_all(db, settings)
    by_url = {url: next(o for o in report.outcomes if o.source_id == ids[url]) for url in ids}
    for url in good:
        assert by_url[url].result == "new", by_url[url]
        assert item_count(db, ids[url]) == 3
    for url in bad[:2]:
        assert by_url[url].result == "failed" and "\n" not in by_url[url].error
    for url in bad[2:]:
        assert by_url[url].result == "new", by_url[url]
    _assert_delays_bounded(
        db, settings.fetch.max_interval_minutes, settings.fetch.max_backoff_minutes
    )
    # The next poll (304s, whose Cache-Control schedules them, and the failures again) too.
    again = poll_all(db, settings)
    results = {o.source_id: o.result for o in again.outcomes}
    assert all(results[ids[url]] == "not-modified" for url in good + bad[2:])
    _assert_delays_bounded(
        db, settings.fetch.max_interval_minutes, settings.fetch.max_backoff_minutes
    )


def _assert_delays_bounded(db: Database, *caps_minutes: float) -> None:
    cap = timedelta(minutes=max(caps_minutes))
    with db.session() as session:
        for source in session.scalars(select(Source)):
            delay = source.next_check_at - source.last_checked_at
            assert timedelta(0) < delay <= cap, source.url
