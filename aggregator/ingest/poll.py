"""One poll: fetch every chosen source concurrently, parse, store, and record each outcome.

Each source is handled in its own transaction, so a broken or hostile source records its error
and the others in the same poll are unaffected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from aggregator.config import Settings
from aggregator.ingest.entry import FeedParseError
from aggregator.ingest.fetch import Fetcher, FetchError, FetchResult
from aggregator.ingest.parse import parse_feed
from aggregator.ingest.schedule import (
    adaptive_interval,
    interval_bounds,
    is_due,
    record_failure,
    record_success,
)
from aggregator.store.db import Database
from aggregator.store.items import store_entries
from aggregator.store.models import Item, Source

log = logging.getLogger("aggregator.poll")
RECOVERED = "recovered from:"


@dataclass(slots=True)
class SourceOutcome:
    """What one source's poll came to."""

    source_id: int
    label: str
    result: str
    """"new", "unchanged", "not-modified", "failed" or "retired"."""
    new: int = 0
    changed: int = 0
    error: str | None = None
    status: int | None = None
    moved_to: str | None = None
    elapsed: float = 0.0


@dataclass(slots=True)
class PollReport:
    outcomes: list[SourceOutcome] = field(default_factory=list)
    new_item_ids: list[int] = field(default_factory=list)
    changed_item_ids: list[int] = field(default_factory=list)

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def new(self) -> int:
        return sum(o.new for o in self.outcomes)

    @property
    def changed(self) -> int:
        return sum(o.changed for o in self.outcomes)

    @property
    def failed(self) -> int:
        return self.count("failed") + self.count("retired")

    @property
    def not_modified(self) -> int:
        return self.count("not-modified")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Poller:
    """Polls sources with one shared Fetcher and records everything in the store."""

    def __init__(
        self, db: Database, settings: Settings, *, clock: Callable[[], datetime] = _utcnow
    ):
        self.db = db
        self.settings = settings
        self.clock = clock

    def choose(self, *, due_only: bool, refs: Sequence[int] | None = None) -> list[int]:
        """Ids of the sources to poll: enabled and active, optionally only those that are due."""
        now = self.clock()
        with self.db.session() as session:
            query = select(Source).order_by(Source.id)
            if refs:
                query = query.where(Source.id.in_(refs))
            rows = session.scalars(query).all()
            if refs:
                return [r.id for r in rows if r.status == "active"]
            return [
                r.id
                for r in rows
                if r.enabled and r.status == "active" and (not due_only or is_due(r, now))
            ]

    async def poll(
        self,
        source_ids: Sequence[int],
        *,
        on_outcome: Callable[[SourceOutcome], None] | None = None,
    ) -> PollReport:
        report = PollReport()
        # Parsing and storing are CPU and database work: one worker thread keeps them off the
        # event loop (so fetch timeouts stay honest) and serialises the writes.
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="poll-store")
        loop = asyncio.get_running_loop()

        def off_loop(fn: Callable[..., SourceOutcome], *args: object) -> asyncio.Future:
            return loop.run_in_executor(worker, fn, *args)

        async def one(source_id: int) -> None:
            outcome = await self._poll_one(fetcher, source_id, report, off_loop)
            report.outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

        try:
            async with Fetcher(self.settings.fetch, self.settings.user_agent) as fetcher:
                await asyncio.gather(*(one(sid) for sid in source_ids))
        finally:
            worker.shutdown(wait=True)
        report.outcomes.sort(key=lambda o: o.source_id)
        return report

    def _validators(self, source_id: int) -> tuple[str, str | None, str | None, str]:
        with self.db.session() as session:
            source = session.get(Source, source_id)
            assert source is not None
            return source.url, source.etag, source.last_modified, source.label

    async def _poll_one(
        self, fetcher: Fetcher, source_id: int, report: PollReport, off_loop: Callable
    ) -> SourceOutcome:
        url, etag, last_modified, label = await off_loop(self._validators, source_id)
        try:
            result = await fetcher.fetch(url, etag=etag, last_modified=last_modified)
        except FetchError as exc:
            return await off_loop(
                self._failed, source_id, label, str(exc), exc.status, exc.retry_after
            )
        except Exception as exc:  # a bug must not stop the other sources
            log.exception("source=%s internal error while fetching", label)
            return await off_loop(
                self._failed, source_id, label, f"internal error: {exc!r}", None, None
            )
        try:
            return await off_loop(self._store, source_id, result, report)
        except FeedParseError as exc:
            error, status = str(exc), result.status
        except Exception as exc:
            log.exception("source=%s internal error while storing", label)
            error, status = f"internal error: {exc!r}", None
        return await off_loop(self._failed, source_id, label, error, status, None, result)

    def _store(self, source_id: int, result: FetchResult, report: PollReport) -> SourceOutcome:
        now = self.clock()
        parsed = None
        if not result.not_modified:
            parsed = parse_feed(result.body, result.url, content_type=result.content_type, now=now)
        with self.db.session() as session:
            source = session.get(Source, source_id)
            assert source is not None
            moved = self._apply_move(session, source, result)
            stored = None
            if parsed is not None:
                stored = store_entries(session, source, parsed.entries, now)
                source.feed_title = parsed.title or source.feed_title
                source.site_url = parsed.site_url or source.site_url
                source.feed_id = parsed.feed_id or source.feed_id
                source.ttl_minutes = parsed.ttl_minutes
                source.hub_url = parsed.hub_url
                if stored.new:
                    source.last_new_at = now
            lo, hi = interval_bounds(source, self.settings.fetch)
            recent = session.scalars(
                select(Item.published_at)
                .where(Item.source_id == source.id)
                .order_by(Item.published_at.desc())
                .limit(10)
            ).all()
            kept = source.last_error if result.not_modified else None
            record_success(
                source,
                now=now,
                status=result.status,
                etag=result.etag,
                last_modified=result.last_modified,
                interval=adaptive_interval(
                    recent,
                    min_minutes=lo,
                    max_minutes=hi,
                    ttl_minutes=source.ttl_minutes,
                    max_age_seconds=result.max_age,
                ),
            )
            warning = None
            if parsed is not None and parsed.warning:
                warning = source.last_error = f"{RECOVERED} {parsed.warning}"
            elif kept and kept.startswith(RECOVERED):
                source.last_error = kept  # same document as before: same problem
            label = source.label
        if stored is None:
            return SourceOutcome(
                source_id, label, "not-modified", status=304, moved_to=moved, elapsed=result.elapsed
            )
        report.new_item_ids.extend(stored.new_ids or [])
        report.changed_item_ids.extend(stored.changed_ids or [])
        return SourceOutcome(
            source_id,
            label,
            "new" if stored.new or stored.changed else "unchanged",
            new=stored.new,
            changed=stored.changed,
            error=warning,
            status=result.status,
            moved_to=moved,
            elapsed=result.elapsed,
        )

    @staticmethod
    def _apply_move(session, source: Source, result: FetchResult) -> str | None:  # noqa: ANN001
        """301/308 all the way: remember the new URL, unless another source already has it."""
        if not result.moved_to or result.moved_to == source.url:
            return None
        clash = session.scalar(select(Source.id).where(Source.url == result.moved_to))
        if clash is not None:
            log.warning(
                "source=%s moved to %s, which is already source %s; URL kept",
                source.label,
                result.moved_to,
                clash,
            )
            return None
        log.info("source=%s moved permanently to %s", source.label, result.moved_to)
        source.url = result.moved_to
        return result.moved_to

    def _failed(
        self,
        source_id: int,
        label: str,
        error: str,
        status: int | None,
        retry_after: float | None,
        result: FetchResult | None = None,
    ) -> SourceOutcome:
        now = self.clock()
        with self.db.session() as session:
            source = session.get(Source, source_id)
            assert source is not None
            if result is not None:
                self._apply_move(session, source, result)
            record_failure(
                source,
                now=now,
                error=error,
                fetch=self.settings.fetch,
                status=status,
                retry_after=retry_after,
            )
            retired = source.status == "retired"
            message = source.last_error
        log.warning("source=%s poll failed: %s", label, message)
        return SourceOutcome(
            source_id, label, "retired" if retired else "failed", error=message, status=status
        )
