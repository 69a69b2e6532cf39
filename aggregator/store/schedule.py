"""When to poll a source next, and what each fetch outcome does to its state.

Pure functions of the source row, the outcome and ``now``: the scheduler and ``poll`` share them,
and tests drive them with any clock.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aggregator.config import FetchSettings
from aggregator.model.status import SourceStatus
from aggregator.store.models import Source, source_label

RECENT_ENTRIES = 10
RECOVERED = "recovered from:"
"""Prefix of a source's error when feedparser recovered its entries from a broken document."""
QUIET_FACTOR = 4
SUCCESS_COLUMNS = (
    "last_status",
    "last_error",
    "consecutive_failures",
    "last_checked_at",
    "last_success_at",
    "etag",
    "last_modified",
    "document_error",
    "next_check_at",
)
"""The source columns that record_success sets (and nothing else: an operator's concurrent
change to, say, the status is never overwritten by a poll's copy)."""


@dataclass(slots=True)
class PolledSource:
    """A plain copy of the source columns a poll reads (what a request needs) and the state
    the functions here update: cheaper than an ORM row when a poll records a thousand 304s.
    Every function here takes either."""

    id: int
    url: str
    name: str
    feed_title: str | None
    etag: str | None
    last_modified: str | None
    document_error: str | None
    last_status: int | None
    last_error: str | None
    consecutive_failures: int
    min_interval_minutes: float | None
    max_interval_minutes: float | None
    last_checked_at: datetime | None
    last_success_at: datetime | None
    next_check_at: datetime | None
    ttl_minutes: float | None
    hub_url: str | None = None
    self_url: str | None = None
    push_until: datetime | None = None

    @property
    def label(self) -> str:
        return source_label(self.name, self.feed_title, self.url)


def interval_bounds(source: Source | PolledSource, fetch: FetchSettings) -> tuple[float, float]:
    """The source's (min, max) poll interval in minutes."""
    lo = source.min_interval_minutes or fetch.min_interval_minutes
    hi = source.max_interval_minutes or fetch.max_interval_minutes
    return lo, max(lo, hi)


def while_pushed(
    source: Source | PolledSource, fetch: FetchSettings, now: datetime, interval: timedelta
) -> timedelta:
    """A source a hub pushes (a verified lease running) is polled at its maximum interval only,
    as a safety net; once the lease is over it is back on ``interval``, its own rhythm."""
    if source.push_until is not None and source.push_until > now:
        return timedelta(minutes=interval_bounds(source, fetch)[1])
    return interval


def adaptive_interval(
    recent_dates: Sequence[datetime],
    *,
    min_minutes: float,
    max_minutes: float,
    ttl_minutes: float | None = None,
    max_age_seconds: float | None = None,
) -> timedelta:
    """Poll about twice per typical gap between entries, within the bounds.

    Never sooner than the feed's ``<ttl>`` or the response's Cache-Control/Expires allow, as long
    as that stays within ``max_minutes``.
    """
    dates = sorted(set(recent_dates), reverse=True)[:RECENT_ENTRIES]
    if len(dates) >= 2:
        gaps = [(a - b).total_seconds() / 60 for a, b in zip(dates, dates[1:], strict=False)]
        minutes = statistics.median(gaps) / 2
    else:
        minutes = min_minutes * QUIET_FACTOR  # too few entries to tell: a quiet feed
    floor = max(ttl_minutes or 0.0, (max_age_seconds or 0.0) / 60)
    minutes = max(minutes, min(floor, max_minutes))
    return timedelta(minutes=min(max(minutes, min_minutes), max_minutes))


def unchanged_interval(
    source: Source | PolledSource, fetch: FetchSettings, *, max_age_seconds: float | None
) -> timedelta:
    """After a 304 the feed's rhythm is unchanged: keep the last interval (the minimum after a
    failure or before any success), never sooner than Cache-Control allows, within the bounds.
    """
    lo, hi = interval_bounds(source, fetch)
    previous = timedelta(minutes=lo)
    if source.last_checked_at and source.next_check_at and not source.consecutive_failures:
        previous = source.next_check_at - source.last_checked_at
    floor = timedelta(seconds=min(max_age_seconds or 0.0, hi * 60))
    return min(max(previous, floor, timedelta(minutes=lo)), timedelta(minutes=hi))


def failure_backoff(failures: int, *, min_minutes: float, cap_minutes: float) -> timedelta:
    """Exponential backoff: min, 2·min, 4·min … up to the cap. Retried for ever, never disabled."""
    minutes = min_minutes * (2 ** max(0, failures - 1))
    return timedelta(minutes=min(minutes, cap_minutes))


def record_success(
    source: Source | PolledSource,
    *,
    now: datetime,
    status: int,
    etag: str | None,
    last_modified: str | None,
    interval: timedelta,
) -> None:
    """A 200 or 304: clear the error state, keep validators the response did not replace.

    A 304 is the same document as before, so a "recovered from" warning about it still holds.
    """
    source.last_status = status
    if status != 304 or not (source.last_error or "").startswith(RECOVERED):
        source.last_error = None
    source.consecutive_failures = 0
    source.document_error = None
    source.last_checked_at = now
    source.last_success_at = now
    if etag:
        source.etag = etag
    if last_modified:
        source.last_modified = last_modified
    source.next_check_at = now + interval


def record_failure(
    source: Source,
    *,
    now: datetime,
    error: str,
    fetch: FetchSettings,
    status: int | None = None,
    retry_after: float | None = None,
) -> None:
    """Any failure: count it, back off (or honour Retry-After), and keep retrying.

    A 410 retires the source: it is not polled again until an operator re-enables it.
    """
    source.last_status = status
    source.consecutive_failures += 1
    source.last_checked_at = now
    if status == 410:
        source.status = SourceStatus.RETIRED
        source.last_error = f"{error}: the feed is gone; retired (re-enable with `aggregator sources enable {source.id}`)"
        source.next_check_at = None
        return
    source.last_error = error
    lo, _hi = interval_bounds(source, fetch)
    delay = failure_backoff(
        source.consecutive_failures, min_minutes=lo, cap_minutes=fetch.max_backoff_minutes
    )
    if retry_after is not None and status in (429, 503):
        cap = fetch.max_backoff_minutes * 60
        delay = timedelta(seconds=min(max(retry_after, 1.0), cap))
    source.next_check_at = now + delay


def record_unusable(
    source: Source | PolledSource, *, error: str, etag: str | None, last_modified: str | None
) -> None:
    """The fetched document could not be used: keep its validators, so that while it stays the
    same the server answers 304 and the failure is recorded without downloading it again."""
    source.etag, source.last_modified = etag, last_modified
    source.document_error = error


def still_unusable(source: Source | PolledSource) -> bool:
    """True when a 304 now means the document that could not be used: the failure stands."""
    return source.document_error is not None


def is_due(source: Source, now: datetime) -> bool:
    return (
        source.enabled
        and source.status == SourceStatus.ACTIVE
        and (source.next_check_at is None or source.next_check_at <= now)
    )
