"""Poll intervals and failure handling, with an explicit clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aggregator.config import FetchSettings
from aggregator.store.models import Source
from aggregator.store.schedule import (
    SUCCESS_COLUMNS,
    PolledSource,
    adaptive_interval,
    failure_backoff,
    is_due,
    record_failure,
    record_success,
)

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _source() -> Source:
    return Source(
        url="https://a.example/feed", enabled=True, status="active", consecutive_failures=0
    )


def test_interval_follows_entry_frequency_within_bounds() -> None:
    hourly = [NOW - timedelta(hours=h) for h in range(10)]
    assert adaptive_interval(hourly, min_minutes=5, max_minutes=600) == timedelta(minutes=30)
    assert adaptive_interval(hourly, min_minutes=45, max_minutes=600) == timedelta(minutes=45)
    daily = [NOW - timedelta(days=d) for d in range(10)]
    assert adaptive_interval(daily, min_minutes=5, max_minutes=600) == timedelta(minutes=600)
    assert adaptive_interval([], min_minutes=15, max_minutes=600) == timedelta(minutes=60)


def test_ttl_and_cache_headers_are_floors() -> None:
    hourly = [NOW - timedelta(hours=h) for h in range(10)]
    assert adaptive_interval(hourly, min_minutes=5, max_minutes=600, ttl_minutes=120) == timedelta(
        minutes=120
    )
    assert adaptive_interval(
        hourly, min_minutes=5, max_minutes=600, max_age_seconds=3 * 3600
    ) == timedelta(minutes=180)
    # never beyond the upper bound
    assert adaptive_interval(hourly, min_minutes=5, max_minutes=60, ttl_minutes=600) == timedelta(
        minutes=60
    )


def test_backoff_grows_and_is_capped() -> None:
    steps = [failure_backoff(n, min_minutes=15, cap_minutes=240) for n in range(1, 7)]
    assert [s.total_seconds() / 60 for s in steps] == [15, 30, 60, 120, 240, 240]


def test_failures_keep_the_source_active_and_visible() -> None:
    src = _source()
    fetch = FetchSettings()
    for n in range(1, 6):
        record_failure(
            src, now=NOW, error="HTTP 500 Internal Server Error", fetch=fetch, status=500
        )
        assert src.consecutive_failures == n
    assert src.status == "active" and src.enabled
    assert src.last_error == "HTTP 500 Internal Server Error"
    assert src.next_check_at > NOW
    assert not is_due(src, NOW) and is_due(src, src.next_check_at)
    record_success(
        src, now=NOW, status=200, etag='"v2"', last_modified=None, interval=timedelta(minutes=30)
    )
    assert src.consecutive_failures == 0 and src.last_error is None


def test_retry_after_is_honoured_and_410_retires() -> None:
    src = _source()
    record_failure(
        src, now=NOW, error="HTTP 429", fetch=FetchSettings(), status=429, retry_after=7200
    )
    assert src.next_check_at == NOW + timedelta(hours=2)
    record_failure(src, now=NOW, error="HTTP 410 Gone", fetch=FetchSettings(), status=410)
    assert src.status == "retired" and "retired" in src.last_error
    assert not is_due(src, NOW + timedelta(days=365))


def test_304_without_validators_keeps_the_old_ones() -> None:
    src = _source()
    record_success(
        src,
        now=NOW,
        status=200,
        etag='"a"',
        last_modified="Sun, 01 Nov 2026 10:00:00 GMT",
        interval=timedelta(minutes=15),
    )
    record_success(
        src, now=NOW, status=304, etag=None, last_modified=None, interval=timedelta(minutes=15)
    )
    assert src.etag == '"a"' and src.last_modified == "Sun, 01 Nov 2026 10:00:00 GMT"


def test_a_poll_writes_back_exactly_what_record_success_sets() -> None:
    """The batched 304 write lists its columns: record_success must set nothing outside them,
    and a source that was failing on an unusable document is healthy again afterwards."""
    polled = PolledSource(
        id=1,
        url="https://a.example/feed",
        name="",
        feed_title="A",
        etag='"old"',
        last_modified=None,
        document_error="not a feed",
        last_status=503,  # the last failure was another kind
        last_error="HTTP 503 Service Unavailable",
        consecutive_failures=3,
        min_interval_minutes=None,
        max_interval_minutes=None,
        last_checked_at=NOW - timedelta(hours=1),
        last_success_at=None,
        next_check_at=NOW,
        ttl_minutes=None,
    )
    before = {name: getattr(polled, name) for name in PolledSource.__slots__}
    record_success(
        polled,
        now=NOW,
        status=200,
        etag='"new"',
        last_modified="Sun, 01 Nov 2026 11:00:00 GMT",
        interval=timedelta(minutes=30),
    )
    changed = {n for n in PolledSource.__slots__ if getattr(polled, n) != before[n]}
    assert changed == set(SUCCESS_COLUMNS)
    assert polled.document_error is None and polled.consecutive_failures == 0
    assert polled.label == "A"
