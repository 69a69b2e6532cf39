"""Where the LLM's calls go: a stored brief that still fits, and the items that want one most.

A brief is kept while its content hash matches the item's content under the summarizer that made
it, so an LLM brief survives extractive runs and a model change rebriefs lazily. With an LLM
configured and calls left, an item whose brief is not by that model is briefed again: first the
stories readers will see (the highest-priority sources, newest first: the next digest and the top
of the published feed), then the long tail, within the per-run cap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import func, or_, select

from aggregator.briefs.llm import LLMSummarizer
from aggregator.briefs.summarize import brief_key
from aggregator.store.db import Database
from aggregator.store.models import BriefRow, Item, Source


def still_fresh(
    stored: tuple[str, str, str | None] | None,
    title: str,
    text: str,
    glossary: Mapping[str, str],
    llm: LLMSummarizer | None,
) -> bool:
    """True when the stored brief (its content hash, summarizer, and the model that answered for
    this content without a usable brief) fits the item's content and no better one is due now:
    the same content is never sent to the same model and prompt twice."""
    if stored is None:
        return False
    stored_hash, summarizer, tried = stored
    if stored_hash != brief_key(title, text, glossary, summarizer):
        return False
    return llm is None or not llm.available or llm.name in (summarizer, tried)


def llm_order(db: Database, llm: LLMSummarizer, limit: int, skip: Sequence[int] = ()) -> list[int]:
    """Up to ``limit`` items of the sources the model serves whose brief is not by it, the ones
    readers see first."""
    seen = func.coalesce(Item.published_at, Item.first_seen_at)
    query = (
        select(Item.id, Source.tags, Source.llm)
        .join(Source, Source.id == Item.source_id)
        .outerjoin(BriefRow, BriefRow.item_id == Item.id)
        .where(
            Source.enabled,
            or_(BriefRow.item_id.is_(None), BriefRow.summarizer != llm.name),
            or_(BriefRow.llm_tried.is_(None), BriefRow.llm_tried != llm.name),
        )
        .order_by(Source.priority.desc(), seen.desc(), Item.id.desc())
    )
    if skip:
        query = query.where(Item.id.not_in(list(skip)))
    if not llm.tags:  # every source unless it says no: the database can leave them out
        query = query.where(or_(Source.llm.is_(None), Source.llm.is_(True)))
    with db.session() as session:
        out: list[int] = []
        for row in session.execute(query.execution_options(yield_per=500)):
            if llm.serves(row.tags or (), row.llm):
                out.append(row.id)
                if len(out) == limit:
                    break
        return out


def spend_llm_calls(
    db: Database, llm: LLMSummarizer, brief: Callable[[list[int]], object], batch: int = 20
) -> None:
    """Offer the LLM the items readers see first, ``batch`` at a time, while it has calls left
    and its breaker is closed; ``brief`` briefs (and claims) one batch of item ids."""
    tried: list[int] = []
    while llm.available:
        ids = llm_order(db, llm, min(batch, llm.max_calls - llm.calls), skip=tried)
        if not ids:
            return
        tried += ids
        brief(ids)
