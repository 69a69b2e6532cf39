"""Brief items: fetch article text for teasers, summarize (on every core), cache by hash."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from aggregator.briefs.extract import extract_main_text, is_teaser
from aggregator.briefs.glossary import GlossaryError, combined_glossary
from aggregator.briefs.llm import LLMSummarizer
from aggregator.briefs.llm_queue import still_fresh
from aggregator.briefs.summarize import brief_key, make_brief
from aggregator.config import Settings
from aggregator.ingest.children import process_pool
from aggregator.ingest.fetch import Fetcher, FetchError
from aggregator.model.brief import Brief
from aggregator.store.chunks import rows_in
from aggregator.store.claims import release
from aggregator.store.db import Database
from aggregator.store.models import ITEMS, BriefRow, Item, Source, source_label

log = logging.getLogger("aggregator.briefs")
BATCH = 200


@dataclass(slots=True)
class BriefReport:
    made: int = 0
    cached: int = 0


def glossary_for(settings: Settings) -> dict[str, str]:
    """The shipped glossary with the operator's on top; the shipped one alone (with a warning)
    when the operator's is missing or broken."""
    path = settings.path(settings.briefs.glossary) if settings.briefs.glossary else None
    if path is not None and not path.is_file():
        log.warning("glossary %s not found; using the shipped glossary only", path)
        path = None
    try:
        return combined_glossary(path)
    except GlossaryError as exc:
        log.warning("glossary %s unusable: %s", path, exc)
        return combined_glossary(None)


def llm_for(settings: Settings) -> LLMSummarizer | None:
    """The optional LLM back end, configured from [briefs.llm] and its API-key variable."""
    cfg = settings.briefs.llm
    if not cfg.enabled:
        return None
    return LLMSummarizer(
        base_url=cfg.base_url,
        model=cfg.model,
        api_key=settings.secret(cfg.api_key_env),
        timeout=cfg.timeout_seconds,
        max_calls=cfg.max_calls_per_run,
        max_tokens_per_run=cfg.max_tokens_per_run,
        max_tokens_per_source=cfg.max_tokens_per_source,
        tags=tuple(cfg.tags),
    )


POOL_AFTER = 100
"""A batch with fewer briefs to make than this is made in this process: starting the worker
processes costs one to two seconds of both cores, which a hundred briefs pay back, not the few
dozen a digest or the feed make on demand."""


class BriefWorkers:
    """Makes extractive briefs in worker processes, one per core (up to four), started on the
    first batch big enough to pay for them; on one core, or when they break, in this process."""

    def __init__(self, glossary: dict[str, str]):
        self.glossary = glossary
        self.workers = min(os.cpu_count() or 1, 4)
        self.enabled = self.workers >= 2
        self._pool: ProcessPoolExecutor | None = None

    def start(self, jobs: Sequence[BriefJob]) -> Callable[[], list[Brief]]:
        """Start making the jobs' extractive briefs; the call returned waits for them, in order.
        Between the two, this process is free to read the next jobs or write the last briefs."""
        if self.enabled and len(jobs) >= POOL_AFTER:
            try:
                if self._pool is None:
                    self._pool = process_pool(
                        self.workers, [__name__], _set_glossary, (self.glossary,)
                    )
                chunk = max(1, len(jobs) // (self.workers * 4))
                results = self._pool.map(_brief, jobs, chunksize=chunk)  # submitted now
            except (BrokenProcessPool, OSError) as exc:
                self._give_up(exc)
            else:

                def wait() -> list[Brief]:
                    try:
                        return list(results)
                    except (BrokenProcessPool, OSError) as exc:
                        self._give_up(exc)
                        return self._here(jobs)

                return wait
        return lambda: self._here(jobs)

    def _here(self, jobs: Sequence[BriefJob]) -> list[Brief]:
        return [_brief(job, self.glossary) for job in jobs]

    def _give_up(self, exc: BaseException) -> None:
        log.error("brief worker processes failed (%s); briefing in this process", exc)
        self.enabled = False

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


@dataclass(frozen=True, slots=True)
class BriefJob:
    """What a brief is made from: the item's title and text (its extracted article when it has
    one, else its feed content), and its source's name for log lines."""

    item_id: int
    title: str
    text: str
    label: str
    tags: tuple[str, ...] = ()
    llm: bool | None = None
    """The source's ``llm`` setting (None: by its tags)."""


_GLOSSARY: dict[str, str] = {}
"""The glossary of a worker process, set once when it starts."""


def _set_glossary(glossary: dict[str, str]) -> None:
    _GLOSSARY.update(glossary)


def _brief(
    job: BriefJob,
    glossary: dict[str, str] | None = None,
    llm: LLMSummarizer | None = None,
    answered: set[int] | None = None,
) -> Brief:
    """The brief of one job; without ``glossary``, the worker process's. The model's tokens
    are charged to the job's source, and the item joins ``answered`` when the model answered."""

    def brief(llm: LLMSummarizer | None) -> Brief:
        return make_brief(
            job.title,
            job.text,
            glossary=_GLOSSARY if glossary is None else glossary,
            llm=llm,
            item_label=f"item={job.item_id} source={job.label!r}",
        )

    if llm is None:
        return brief(None)
    with llm.call_for(job.label) as call:
        made = brief(llm)
    if call.answered and answered is not None:
        answered.add(job.item_id)
    return made


def _llm_for_job(job: BriefJob, llm: LLMSummarizer | None) -> LLMSummarizer | None:
    """The model when it serves the job's source, else None."""
    return llm if llm is not None and llm.serves(job.tags, job.llm) else None


def _jobs(session: Session, item_ids: Sequence[int]) -> Iterator[tuple[BriefJob, tuple | None]]:
    """Each item as a brief job (narrow rows, no ORM objects), with its stored brief's content
    hash and summarizer (None without one)."""
    text = func.coalesce(
        func.nullif(Item.full_text, ""), func.nullif(Item.content_html, ""), Item.content_text
    )
    query = (
        select(
            Item.id,
            Item.title,
            text.label("text"),
            Source.name,
            Source.feed_title,
            Source.url,
            Source.tags,
            Source.llm,
            BriefRow.content_hash,
            BriefRow.summarizer,
            BriefRow.llm_tried,
        )
        .join(Source, Source.id == Item.source_id)
        .outerjoin(BriefRow, BriefRow.item_id == Item.id)
    )
    for row in rows_in(session, query, Item.id, item_ids):
        label = source_label(row.name, row.feed_title, row.url)
        stored = (
            (row.content_hash, row.summarizer, row.llm_tried)
            if row.content_hash is not None
            else None
        )
        tags = tuple(str(t) for t in row.tags or ())
        yield BriefJob(row.id, row.title, row.text or "", label, tags, row.llm), stored


def make_briefs(
    db: Database,
    settings: Settings,
    item_ids: Sequence[int],
    *,
    llm: LLMSummarizer | None = None,
    refresh: bool = False,
    claim_token: str | None = None,
    workers: BriefWorkers | None = None,
) -> BriefReport:
    """Brief the given items, skipping those whose cached brief matches their content hash
    (unless ``refresh``); extractive briefs are made by ``workers`` when given.

    With ``claim_token`` the items are claimed by that worker (``store/claims.py``): a brief is
    written only for the items whose claim still holds, and the claims are released.
    """
    batches = (item_ids[start : start + BATCH] for start in range(0, len(item_ids), BATCH))
    return make_brief_batches(
        db, settings, batches, llm=llm, refresh=refresh, claim_token=claim_token, workers=workers
    )


def make_brief_batches(
    db: Database,
    settings: Settings,
    batches: Iterable[Sequence[int]],
    *,
    llm: LLMSummarizer | None = None,
    refresh: bool = False,
    claim_token: str | None = None,
    workers: BriefWorkers | None = None,
) -> BriefReport:
    """:func:`make_briefs` over batches of items, taken one at a time from ``batches``. With
    ``workers``, they make one batch while this process reads (or claims) the next and writes
    the one before, so the workers never wait for the database."""
    glossary = workers.glossary if workers is not None else glossary_for(settings)
    report = BriefReport()
    in_hand: tuple[Sequence[int], list[BriefJob], Callable[[], list[Brief]], set[int]] | None = None
    for chunk in batches:
        answered: set[int] = set()
        with db.session() as session:
            jobs = []
            for job, stored in _jobs(session, chunk):
                fits = still_fresh(stored, job.title, job.text, glossary, _llm_for_job(job, llm))
                if not refresh and fits:
                    report.cached += 1
                else:
                    jobs.append(job)
        if llm is None and workers is not None:
            briefs = workers.start(jobs)
        else:
            made = [_brief(job, glossary, _llm_for_job(job, llm), answered) for job in jobs]
            briefs = made.copy  # made already; the same shape as workers.start
        if in_hand is not None:
            report.made += _finish(db, glossary, *in_hand, llm, claim_token)
        in_hand = (chunk, jobs, briefs, answered)
    if in_hand is not None:
        report.made += _finish(db, glossary, *in_hand, llm, claim_token)
    return report


def _finish(
    db: Database,
    glossary: dict[str, str],
    chunk: Sequence[int],
    jobs: list[BriefJob],
    briefs: Callable[[], list[Brief]],
    answered: set[int],
    llm: LLMSummarizer | None,
    claim_token: str | None,
) -> int:
    """Wait for a batch's briefs and write them; returns how many were written. An item the
    model answered without a usable brief records it, so unchanged it is not sent again."""
    now = datetime.now(UTC)
    made = {
        job.item_id: {
            "item_id": job.item_id,
            "content_hash": brief_key(job.title, job.text, glossary, brief.summarizer),
            "data": brief.to_dict(),
            "summarizer": brief.summarizer,
            "llm_tried": (
                llm.name
                if llm is not None and job.item_id in answered and brief.summarizer != llm.name
                else None
            ),
            "created_at": now,
        }
        for job, brief in zip(jobs, briefs(), strict=True)
    }
    return _write_briefs(db, made, chunk, claim_token)


def on_demand(db: Database, settings: Settings) -> Callable[[Sequence[int]], object]:
    """Briefs made now, in this process, for the items a digest or feed is about to show (the
    default of callers that have no pipeline to claim them with)."""
    return lambda item_ids: make_briefs(db, settings, item_ids)


def _write_briefs(
    db: Database, briefs: dict[int, dict], claimed: Sequence[int], claim_token: str | None
) -> int:
    """Store ``briefs`` (insert, or update the item's older brief); with a claim token, only
    those of the ``claimed`` items whose claim still holds. Returns how many were written."""
    with db.engine.begin() as connection:
        if claim_token is not None:
            held = release(connection, ITEMS, claimed, token=claim_token, what="item")
            briefs = {i: row for i, row in briefs.items() if i in held}
        if not briefs:
            return 0
        upsert = db.insert(BriefRow)
        columns = ("content_hash", "data", "summarizer", "llm_tried", "created_at")
        connection.execute(
            upsert.on_conflict_do_update(
                index_elements=[BriefRow.item_id],
                set_={c: upsert.excluded[c] for c in columns},
            ),
            list(briefs.values()),
        )
    return len(briefs)


async def fetch_full_texts(db: Database, settings: Settings, item_ids: Sequence[int]) -> int:
    """Fetch and extract the article page of teaser items (same limits and address checks).

    Only items of sources with full text on (their own setting, else ``[briefs] full_text``) are
    read, three columns each, in chunks of ids.
    """
    enabled: ColumnElement[bool] = Source.full_text.is_(True)
    if settings.briefs.full_text:
        enabled = or_(enabled, Source.full_text.is_(None))
    query = (
        select(Item.id, Item.url, Item.content_text)
        .join(Source)
        .where(enabled, Item.url.is_not(None), Item.url != "", Item.full_text.is_(None))
    )
    with db.session() as session:
        wanted = [
            (row.id, row.url)
            for row in rows_in(session, query, Item.id, item_ids)
            if is_teaser(row.content_text, settings.briefs.teaser_words)
        ]
    if not wanted:
        return 0
    fetched = 0
    async with Fetcher(settings.fetch, settings.user_agent) as fetcher:

        async def one(item_id: int, url: str) -> tuple[int, str]:
            try:
                page = await fetcher.fetch(url, accept="text/html,application/xhtml+xml")
            except FetchError as exc:
                log.info("item=%d full text of %s not fetched: %s", item_id, url, exc)
                return item_id, ""
            text = await asyncio.to_thread(extract_main_text, page.body, page.url)
            return item_id, text

        results = await asyncio.gather(*(one(i, u) for i, u in wanted))
    with db.session() as session:
        for item_id, text in results:
            item = session.get(Item, item_id)
            if item is not None:
                item.full_text = text  # "" caches a failed extraction too
                fetched += bool(text)
    return fetched
