"""One poll: fetch every chosen source concurrently, parse, store, and record each outcome.

Each source is handled in its own transaction, so a broken or hostile source records its error
and the others in the same poll are unaffected. A poll works on claimed sources
(``store/claims.py``): several workers polling at once fetch each source once, and a result is
recorded only while this worker's claim on the source still holds.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from aggregator.config import Settings
from aggregator.ingest.fetch import Fetcher, FetchError, FetchResult
from aggregator.ingest.parse import parse_feed
from aggregator.ingest.runner import ParserPool, StoreThread
from aggregator.ingest.websub import discover
from aggregator.logs import source_fields
from aggregator.model.entry import FeedParseError, ParsedFeed
from aggregator.model.status import PollResult, SourceStatus
from aggregator.store.chunks import rows_in, scalars_in
from aggregator.store.claims import (
    claim,
    claim_ids,
    new_token,
    release,
    release_all,
    write_transaction,
)
from aggregator.store.db import Database
from aggregator.store.items import first_seen_now, store_entries
from aggregator.store.models import SOURCES, Item, Source, utcnow
from aggregator.store.schedule import (
    RECOVERED,
    SUCCESS_COLUMNS,
    PolledSource,
    adaptive_interval,
    interval_bounds,
    is_due,
    record_failure,
    record_success,
    record_unusable,
    still_unusable,
    unchanged_interval,
    while_pushed,
)
from aggregator.stories.assign import group_pending

log = logging.getLogger("aggregator.poll")


@dataclass(slots=True)
class SourceOutcome:
    """What one source's poll came to."""

    source_id: int
    label: str
    result: PollResult
    new: int = 0
    changed: int = 0
    error: str | None = None
    status: int | None = None
    moved_to: str | None = None
    elapsed: float = 0.0
    url: str = ""


@dataclass(slots=True)
class PollReport:
    outcomes: list[SourceOutcome] = field(default_factory=list)
    new_item_ids: list[int] = field(default_factory=list)
    changed_item_ids: list[int] = field(default_factory=list)
    grouped: int = 0
    """Items grouped into stories after the sources were stored (this poll's and any left)."""
    grouping_seconds: float = 0.0

    def count(self, result: PollResult) -> int:
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def new(self) -> int:
        return sum(o.new for o in self.outcomes)

    @property
    def changed(self) -> int:
        return sum(o.changed for o in self.outcomes)

    @property
    def failed(self) -> int:
        return self.count(PollResult.FAILED) + self.count(PollResult.RETIRED)

    @property
    def not_modified(self) -> int:
        return self.count(PollResult.NOT_MODIFIED)

    @property
    def busy(self) -> int:
        """Sources named for this poll that another worker was polling."""
        return self.count(PollResult.BUSY)


class Poller:
    """Polls sources with one shared Fetcher and records everything in the store."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        token: str | None = None,
    ):
        self.db = db
        self.settings = settings
        self.clock = clock
        self.token = token or new_token()
        """This worker's claim token."""
        self.lease = timedelta(seconds=settings.general.lease_seconds)
        self.stopping = threading.Event()
        """Set on shutdown: no new source is claimed and fetches under way are cancelled."""

    def choose(self, *, due_only: bool, refs: Sequence[int] | None = None) -> list[int]:
        """Ids of the sources to poll: enabled and active, optionally only those that are due."""
        now = self.clock()
        with self.db.session() as session:
            if refs:  # ids in bounded chunks (see store/chunks.py)
                named = scalars_in(session, select(Source), Source.id, refs)
                return sorted(r.id for r in named if r.status == SourceStatus.ACTIVE)
            rows = session.scalars(select(Source).order_by(Source.id)).all()
            return [
                r.id
                for r in rows
                if r.enabled
                and r.status == SourceStatus.ACTIVE
                and r.newsletter_address is None
                and (not due_only or is_due(r, now))
            ]

    async def poll(
        self,
        source_ids: Sequence[int],
        *,
        on_outcome: Callable[[SourceOutcome], None] | None = None,
    ) -> PollReport:
        """Poll the given sources (those no other worker is polling now), due or not."""
        claimed = claim_ids(
            self.db,
            SOURCES,
            source_ids,
            token=self.token,
            lease=self.lease,
            now=self.clock(),
            where=[SOURCES.c.status == SourceStatus.ACTIVE],
        )
        busy = sorted(set(source_ids) - set(claimed))
        batches = iter([claimed])
        report = await self._poll(lambda _room: next(batches, []), on_outcome)
        if busy:
            for source in self._load(busy).values():
                outcome = SourceOutcome(
                    source.id,
                    source.label,
                    PollResult.BUSY,
                    error="another worker is polling it",
                    url=source.url,
                )
                report.outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
            report.outcomes.sort(key=lambda o: o.source_id)
        return report

    async def poll_due(
        self, *, on_outcome: Callable[[SourceOutcome], None] | None = None
    ) -> PollReport:
        """Poll every due source, claiming them a batch at a time, so workers share them."""

        def next_batch(room: int) -> list[int]:
            now = self.clock()
            return claim(
                self.db,
                SOURCES,
                token=self.token,
                lease=self.lease,
                now=now,
                where=[
                    SOURCES.c.enabled.is_(True),
                    SOURCES.c.status == SourceStatus.ACTIVE,
                    SOURCES.c.newsletter_address.is_(None),  # mail brings its items
                    or_(SOURCES.c.next_check_at.is_(None), SOURCES.c.next_check_at <= now),
                ],
                order_by=[
                    SOURCES.c.next_check_at.is_not(None),
                    SOURCES.c.next_check_at,
                    SOURCES.c.id,
                ],
                limit=room,
            )

        return await self._poll(next_batch, on_outcome)

    async def _poll(
        self,
        next_batch: Callable[[int], list[int]],
        on_outcome: Callable[[SourceOutcome], None] | None,
    ) -> PollReport:
        """Poll batches of claimed sources until ``next_batch`` has none (or on shutdown)."""
        report = PollReport()
        store = StoreThread(self.db)
        parsers = ParserPool()
        loop = asyncio.get_running_loop()
        known: dict[int, PolledSource] = {}
        unchanged: list[tuple[PolledSource, FetchResult]] = []
        # Bodies must not pile up in memory while they wait for a parser.
        limit = 2 * self.settings.fetch.concurrency
        in_flight = asyncio.Semaphore(limit)
        active: set[asyncio.Task] = set()

        async def one(source_id: int) -> None:
            started = loop.time()
            async with in_flight:
                outcome = await self._poll_one(
                    fetcher, known[source_id], report, store, parsers, unchanged
                )
            outcome.elapsed = outcome.elapsed or loop.time() - started
            report.outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

        async def claim_and_poll() -> None:
            while not self.stopping.is_set():
                if len(active) > limit // 2:  # claim more only when there is room for them
                    await asyncio.wait(active, return_when=asyncio.FIRST_COMPLETED)
                    continue
                batch = await store.call(next_batch, limit - len(active))
                if not batch:
                    break
                known.update(await store.call(self._load, batch))
                for source_id in batch:
                    task = asyncio.create_task(one(source_id))
                    active.add(task)
                    task.add_done_callback(active.discard)
            if active:
                await asyncio.gather(*active)

        async def cancel_on_stop(task: asyncio.Task) -> None:
            while not task.done():
                if self.stopping.is_set():
                    task.cancel()
                    return
                await asyncio.sleep(0.2)

        try:
            async with Fetcher(self.settings.fetch, self.settings.user_agent) as fetcher:
                polling = asyncio.create_task(claim_and_poll())
                watcher = asyncio.create_task(cancel_on_stop(polling))
                try:
                    await polling
                except asyncio.CancelledError:
                    cut_short = list(active)
                    for task in cut_short:
                        task.cancel()
                    await asyncio.gather(*cut_short, return_exceptions=True)
                    log.info("poll stopped: %d source(s) left to the next poll", len(cut_short))
                watcher.cancel()
            await store.call(self._store_not_modified, unchanged)
            started = loop.time()
            report.grouped = await store.call(group_pending, self.db)
            report.grouping_seconds = loop.time() - started
        finally:
            store.close()
            parsers.shutdown()
            release_all(self.db, SOURCES, token=self.token)  # whatever was not recorded
        report.outcomes.sort(key=lambda o: o.source_id)
        return report

    def store_pushed(
        self, source_id: int, body: bytes, content_type: str | None
    ) -> SourceOutcome | None:
        """Store a document a WebSub hub pushed for the source as a poll stores a fetched one
        (same parsing, dedup and claim); None when another worker holds the source now.

        Raises FeedParseError when the body is not a feed (nothing is stored then).
        """
        now = self.clock()
        claimed = claim_ids(
            self.db,
            SOURCES,
            [source_id],
            token=self.token,
            lease=self.lease,
            now=now,
            where=[SOURCES.c.status == SourceStatus.ACTIVE],
        )
        if not claimed:
            return None
        try:
            known = self._load(claimed)[source_id]
            parsed = parse_feed(body, known.url, content_type=content_type, now=now)
            result = FetchResult(
                url=known.url,
                status=200,
                content_type=content_type,
                etag=known.etag,
                last_modified=known.last_modified,
            )
            with write_transaction(self.db) as connection, Session(bind=connection) as session:
                outcome = self._store(session, known, result, parsed, PollReport(), pushed=True)
                session.commit()
        except BaseException:  # not a feed, or the store failed: give the claim back
            with write_transaction(self.db) as connection:
                release(connection, SOURCES, [source_id], token=self.token)
            raise
        return outcome

    def _load(self, source_ids: Sequence[int]) -> dict[int, PolledSource]:
        """The sources, read as plain rows (ids in bounded chunks): their validators for the
        requests, and their state for recording a 304 without reading them again."""
        columns = [Source.__table__.c[name] for name in PolledSource.__slots__]
        with self.db.session() as session:
            rows = rows_in(session, select(*columns), Source.id, source_ids)
            return {row.id: PolledSource(**row._mapping) for row in rows}

    async def _poll_one(
        self,
        fetcher: Fetcher,
        known: PolledSource,
        report: PollReport,
        store: StoreThread,
        parsers: ParserPool,
        unchanged: list[tuple[PolledSource, FetchResult]],
    ) -> SourceOutcome:
        """Fetch and parse one source; its outcome is recorded by the store thread."""
        source_id, label = known.id, known.label
        try:
            result = await fetcher.fetch(
                known.url, etag=known.etag, last_modified=known.last_modified
            )
        except FetchError as exc:
            return await store.record(
                self._failed, source_id, label, str(exc), exc.status, exc.retry_after
            )
        except Exception as exc:  # a bug must not stop the other sources
            log.exception("internal error while fetching", extra=_fields(known))
            return await store.record(
                self._failed, source_id, label, f"internal error: {exc!r}", None, None
            )
        if result.not_modified and still_unusable(known):  # the same unusable document
            error = f"{known.document_error} (unchanged since)"
            return await store.record(self._failed, source_id, label, error, 304, None, result)
        if result.not_modified and not result.moved_to:
            unchanged.append((known, result))  # recorded in one batch at the end
            return SourceOutcome(
                source_id,
                label,
                PollResult.NOT_MODIFIED,
                status=304,
                elapsed=result.elapsed,
                url=known.url,
            )
        now = self.clock()
        try:
            parsed = None
            if not result.not_modified:
                parsed = await parsers.parse(result, now, fallback=store.call)
            result.body = b""  # parsed: the bytes are no longer needed
            return await store.record(self._store, known, result, parsed, report)
        except FeedParseError as exc:
            failed = partial(self._failed, unusable=True)
            return await store.record(
                failed, source_id, label, str(exc), result.status, None, result
            )
        except Exception as exc:
            log.exception("internal error while storing", extra=_fields(known))
            error = f"internal error: {exc!r}"
        return await store.record(self._failed, source_id, label, error, None, None, result)

    def _store_not_modified(self, unchanged: list[tuple[PolledSource, FetchResult]]) -> None:
        """Record every 304 of a poll in one executemany, from the sources read at the start."""
        if not unchanged:
            return
        now = self.clock()
        rows = []
        for source, result in unchanged:
            interval = while_pushed(
                source,
                self.settings.fetch,
                now,
                unchanged_interval(source, self.settings.fetch, max_age_seconds=result.max_age),
            )
            record_success(
                source,
                now=now,
                status=304,
                etag=result.etag,
                last_modified=result.last_modified,
                interval=interval,
            )
            rows.append(
                {"_id": source.id, "_token": self.token}
                | {c: getattr(source, c) for c in SUCCESS_COLUMNS}
            )
        with self.db.engine.begin() as connection:
            recorded = connection.execute(_RECORD_SUCCESS, rows).rowcount
        if 0 <= recorded < len(rows):
            log.warning(
                "claim lost on %d source(s) answering 304: not recorded", len(rows) - recorded
            )

    def _store(
        self,
        session: Session,
        source: PolledSource,
        result: FetchResult,
        parsed: ParsedFeed | None,
        report: PollReport,
        *,
        pushed: bool = False,
    ) -> SourceOutcome:
        """Record a fetched document: its items, the source's state and next check.

        The source is the plain copy read when it was claimed; its new state is written with one
        UPDATE of the columns a poll owns (no ORM object is loaded). A document a hub ``pushed``
        may be a part of the feed: the feed's hub and topic stay as the last poll found them.
        """
        connection = session.connection()
        now = first_seen_now(connection, self.clock)  # in this transaction, under the fence
        if not release(connection, SOURCES, [source.id], token=self.token):
            return self._lost(source.id, result.elapsed)
        moved = self._apply_move(session, source, result)
        stored = None
        values: dict[str, object] = {"_id": source.id}
        if parsed is not None:
            stored = store_entries(session, source, parsed.entries, now)
            source.feed_title = parsed.title or source.feed_title
            source.ttl_minutes = parsed.ttl_minutes
            if not pushed:
                source.hub_url, source.self_url = discover(parsed, result.links, result.url)
            values |= {
                "feed_title": source.feed_title,
                "ttl_minutes": parsed.ttl_minutes,
                "hub_url": source.hub_url,
                "self_url": source.self_url,
                "site_url": parsed.site_url,
                "feed_id": parsed.feed_id,
                "feed_updated_at": parsed.updated,
                "last_new_at": now if stored.new else None,
            }
        lo, hi = interval_bounds(source, self.settings.fetch)
        recent = connection.execute(_RECENT_DATES, {"source_id": source.id}).scalars().all()
        record_success(
            source,
            now=now,
            status=result.status,
            etag=result.etag,
            last_modified=result.last_modified,
            interval=while_pushed(
                source,
                self.settings.fetch,
                now,
                adaptive_interval(
                    recent,
                    min_minutes=lo,
                    max_minutes=hi,
                    ttl_minutes=source.ttl_minutes,
                    max_age_seconds=result.max_age,
                ),
            ),
        )
        warning = None
        if parsed is not None and parsed.warning:
            warning = source.last_error = f"{RECOVERED} {parsed.warning}"
        values |= {c: getattr(source, c) for c in SUCCESS_COLUMNS}
        connection.execute(_RECORD_FETCH if parsed is None else _RECORD_DOCUMENT, values)
        if stored is None:
            return SourceOutcome(
                source.id,
                source.label,
                PollResult.NOT_MODIFIED,
                status=304,
                moved_to=moved,
                elapsed=result.elapsed,
                url=source.url,
            )
        report.new_item_ids.extend(stored.new_ids)
        report.changed_item_ids.extend(stored.changed_ids)
        return SourceOutcome(
            source.id,
            source.label,
            PollResult.NEW if stored.new or stored.changed else PollResult.UNCHANGED,
            new=stored.new,
            changed=stored.changed,
            error=warning,
            status=result.status,
            moved_to=moved,
            elapsed=result.elapsed,
            url=source.url,
        )

    @staticmethod
    def _lost(source_id: int, elapsed: float) -> SourceOutcome:
        """The outcome of a source whose claim another worker took over: nothing recorded."""
        error = "claim lost (another worker took the source over); result not recorded"
        return SourceOutcome(
            source_id, f"source {source_id}", PollResult.LOST, error=error, elapsed=elapsed
        )

    @staticmethod
    def _apply_move(
        session: Session, source: Source | PolledSource, result: FetchResult
    ) -> str | None:
        """301/308 all the way: remember the new URL, unless another source already has it."""
        if not result.moved_to or result.moved_to == source.url:
            return None
        clash = session.scalar(select(Source.id).where(Source.url == result.moved_to))
        if clash is not None:
            log.warning(
                "moved to %s, which is already source %s; URL kept",
                result.moved_to,
                clash,
                extra=_fields(source),
            )
            return None
        log.info("moved permanently to %s", result.moved_to, extra=_fields(source))
        session.execute(
            update(SOURCES).where(SOURCES.c.id == source.id).values(url=result.moved_to)
        )
        source.url = result.moved_to  # an ORM row (a failure's) would otherwise write it back
        return result.moved_to

    def _failed(
        self,
        session: Session,
        source_id: int,
        label: str,
        error: str,
        status: int | None,
        retry_after: float | None,
        result: FetchResult | None = None,
        *,
        unusable: bool = False,
    ) -> SourceOutcome:
        """Record a failure; ``unusable``: the document of ``result`` could not be used."""
        now = self.clock()
        if not release(session.connection(), SOURCES, [source_id], token=self.token):
            return self._lost(source_id, result.elapsed if result else 0.0)
        source = session.get(Source, source_id)
        assert source is not None
        if result is not None:
            self._apply_move(session, source, result)
        if unusable and result is not None:
            record_unusable(
                source, error=error, etag=result.etag, last_modified=result.last_modified
            )
        record_failure(
            source,
            now=now,
            error=error,
            fetch=self.settings.fetch,
            status=status,
            retry_after=retry_after,
        )
        retired = source.status == SourceStatus.RETIRED
        message = source.last_error
        # what the caller shows (the command's line per source, the service's warning)
        log.debug("poll failed: %s", message, extra=_fields(source))
        return SourceOutcome(
            source_id,
            label,
            PollResult.RETIRED if retired else PollResult.FAILED,
            error=message,
            status=status,
            url=source.url,
        )


def _fields(source: Source | PolledSource) -> dict[str, object]:
    return source_fields(source.id, source.label, source.url)


_RECENT_DATES = (
    select(Item.published_at)
    .where(Item.source_id == bindparam("source_id"))
    .order_by(Item.published_at.desc())
    .limit(10)
)
"""A source's ten newest dates, for its next check (built once: a poll records many)."""
_RECORD_FETCH = (
    update(SOURCES)
    .where(SOURCES.c.id == bindparam("_id"))
    .values({c: bindparam(c) for c in SUCCESS_COLUMNS})
)
"""A fetch's outcome on a source whose claim was released in the same transaction."""
_RECORD_DOCUMENT = _RECORD_FETCH.values(
    {c: bindparam(c) for c in ("feed_title", "ttl_minutes", "hub_url", "self_url")}
    | {
        # What a document may leave out keeps its last known value.
        c: func.coalesce(bindparam(c, type_=SOURCES.c[c].type), SOURCES.c[c])
        for c in ("site_url", "feed_id", "feed_updated_at", "last_new_at")
    }
)
"""And what its document says of the feed (both statements built once: a poll records many)."""
_RECORD_SUCCESS = _RECORD_FETCH.where(SOURCES.c.claimed_by == bindparam("_token")).values(
    claimed_by=None, claimed_until=None
)
