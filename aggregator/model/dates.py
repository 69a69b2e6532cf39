"""The calendar's sane bounds for dates from outside: an entry's published or updated date.

Feeds write Go's zero time (``0001-01-01``), year 9999, and every date in between. A date before
:data:`EARLIEST` or further ahead than :data:`FUTURE_SLACK` is no date at all: the entry is
undated (ranked by when it was first seen, no date shown). One a little ahead (a wrong clock or
zone) is taken as now. Within these bounds a date can be shown in any timezone (UTC−12 to +14)
without leaving the range ``datetime`` can hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=366)


def aware(moment: datetime) -> datetime:
    """``moment`` as aware UTC; a naive one (as SQLite returns them) is UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def in_bounds(moment: datetime, now: datetime | None = None) -> bool:
    """True when ``moment`` is a believable date: not before 1970, not years ahead of ``now``."""
    now = now or datetime.now(UTC)
    try:
        return EARLIEST <= aware(moment) <= aware(now) + FUTURE_SLACK
    except (OverflowError, ValueError):  # year 1 west of UTC, year 9999 east of it
        return False


def sane_date(moment: datetime | None, now: datetime) -> datetime | None:
    """``moment`` (aware UTC) when in bounds, at most ``now``; None when absent or out of bounds."""
    if moment is None or not in_bounds(moment, now):
        return None
    return min(aware(moment), aware(now))
