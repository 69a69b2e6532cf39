"""Brief every new or changed item: fetch article text for teasers, summarize, cache by hash."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import selectinload

from aggregator.briefs.extract import extract_main_text, is_teaser
from aggregator.briefs.glossary import GlossaryError, combined_glossary
from aggregator.briefs.llm import LLMSummarizer
from aggregator.briefs.llm_queue import still_fresh
from aggregator.briefs.summarize import content_hash, make_brief
from aggregator.config import Settings
from aggregator.ingest.fetch import Fetcher, FetchError
from aggregator.store.chunks import rows_in
from aggregator.store.claims import release
from aggregator.store.db import Database
from aggregator.store.models import ITEMS, BriefRow, Item, Source

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
    )


def item_text(item: Item) -> str:
    """What the brief is made from: the extracted article when we have one, else the feed's content."""
    return item.full_text or item.content_html or item.content_text


def make_briefs(
    db: Database,
    settings: Settings,
    item_ids: Sequence[int],
    *,
    llm: LLMSummarizer | None = None,
    refresh: bool = False,
    claim_token: str | None = None,
) -> BriefReport:
    """Brief the given items, skipping those whose cached brief matches their content hash
    (unless ``refresh``).

    With ``claim_token`` the items are claimed by that worker (``store/claims.py``): a brief is
    written only for the items whose claim still holds, and the claims are released.
    """
    glossary = glossary_for(settings)
    report = BriefReport()
    for start in range(0, len(item_ids), BATCH):
        chunk = item_ids[start : start + BATCH]
        made: dict[int, dict] = {}
        with db.session() as session:
            items = session.scalars(
                select(Item)
                .where(Item.id.in_(chunk))
                .options(selectinload(Item.brief), selectinload(Item.source))
            ).all()
            for item in items:
                text = item_text(item)
                if not refresh and still_fresh(item.brief, item.title, text, glossary, llm):
                    report.cached += 1
                    continue
                label = f"item={item.id} source={item.source.label!r}"
                brief = make_brief(item.title, text, glossary=glossary, llm=llm, item_label=label)
                digest = content_hash(item.title, text, glossary, brief.summarizer)
                made[item.id] = {
                    "item_id": item.id,
                    "content_hash": digest,
                    "data": brief.to_dict(),
                    "summarizer": brief.summarizer,
                    "created_at": datetime.now(UTC),
                }
        report.made += _write_briefs(db, made, chunk, claim_token)
    return report


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
        columns = ("content_hash", "data", "summarizer", "created_at")
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
