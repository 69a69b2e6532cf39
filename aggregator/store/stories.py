"""Stories: items grouped across sources by their canonical link, with their briefs.

The digest and the published feeds both read stories from here, so a story carried by several
sources appears once everywhere and names every source.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from aggregator.briefs.model import Brief
from aggregator.store.models import Item, Source


@dataclass(slots=True)
class Story:
    """One story; ``items[0]`` is the primary item (from the highest-priority source)."""

    key: str
    items: list[Item]
    sources: list[Source] = field(default_factory=list)

    @property
    def primary(self) -> Item:
        return self.items[0]

    @property
    def brief(self) -> Brief:
        """The primary item's brief; before one exists, the start of its text as the paragraph."""
        row = self.primary.brief
        if row is None:
            return Brief(bullets=[], paragraph=self.primary.content_text[:600])
        return Brief.from_dict(row.data)

    @property
    def published(self) -> datetime:
        return min(i.published_at for i in self.items)

    @property
    def updated(self) -> datetime:
        return max((i.changed_at or i.updated_at or i.published_at) for i in self.items)

    @property
    def first_seen(self) -> datetime:
        return min(i.first_seen_at for i in self.items)

    @property
    def priority(self) -> int:
        return max(s.priority for s in self.sources)

    @property
    def tags(self) -> list[str]:
        seen: dict[str, None] = {}
        for source in self.sources:
            seen.update(dict.fromkeys(source.tags))
        for item in self.items:
            seen.update(dict.fromkeys(t.lower() for t in item.tags))
        return list(seen)


def group_stories(items: Iterable[Item]) -> list[Story]:
    """Group items by story key; the primary item comes from the highest-priority source."""
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(item.story_key, []).append(item)
    stories = []
    for key, members in groups.items():
        members.sort(key=lambda i: (-i.source.priority, i.first_seen_at, i.id))
        sources = list({i.source_id: i.source for i in members}.values())
        stories.append(Story(key=key, items=members, sources=sources))
    return stories


def _with_relations(query: Select) -> Select:
    return query.options(selectinload(Item.source), selectinload(Item.brief))


def stories_between(
    session: Session,
    *,
    since: datetime | None,
    until: datetime,
    source_ids: Sequence[int] = (),
    tags: Sequence[str] = (),
) -> list[Story]:
    """Stories first seen in (since, until], optionally only from some sources or tags.

    A story counts when any of its items is new in the window; all of its items are loaded so
    every source is named.
    """
    query = select(Item.story_key).join(Source).where(Item.first_seen_at <= until)
    if since is not None:
        query = query.where(Item.first_seen_at > since)
    keys = set(session.scalars(query).all())
    if not keys:
        return []
    items = session.scalars(_with_relations(select(Item).where(Item.story_key.in_(keys)))).all()
    stories = group_stories(items)
    return [s for s in stories if _matches(s, source_ids, tags)]


def _matches(story: Story, source_ids: Sequence[int], tags: Sequence[str]) -> bool:
    if source_ids and not any(s.id in source_ids for s in story.sources):
        return False
    return not tags or bool(set(tags) & set(story.tags))


def newest_stories(session: Session, limit: int) -> list[Story]:
    """The newest ``limit`` stories by publication date, for the combined feed."""
    keys: dict[str, None] = {}
    offset, page = 0, max(limit * 2, 50)
    while len(keys) < limit:
        batch = session.scalars(
            select(Item.story_key)
            .order_by(Item.published_at.desc(), Item.id.desc())
            .offset(offset)
            .limit(page)
        ).all()
        if not batch:
            break
        keys.update(dict.fromkeys(batch))
        offset += page
    chosen = list(keys)[:limit]
    if not chosen:
        return []
    items = session.scalars(_with_relations(select(Item).where(Item.story_key.in_(chosen)))).all()
    stories = group_stories(items)
    stories.sort(key=lambda s: s.published, reverse=True)
    return stories
