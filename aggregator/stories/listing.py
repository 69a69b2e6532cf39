"""Stories as ``stories list`` and ``digest preview --json`` print them: publishers and items."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from aggregator.store.models import Item
from aggregator.store.stories import Story, load_stories
from aggregator.stories.publishers import Publisher, load_publishers, publishers_of


@dataclass(frozen=True, slots=True)
class StoryItemRow:
    id: int
    title: str
    link: str | None
    source: str
    """The source's name (its configured name, else its feed's title, else its URL)."""
    feed_url: str
    published: datetime


@dataclass(frozen=True, slots=True)
class StoryRow:
    id: str
    """The story's key (what ``items list --json`` gives as each item's ``story``)."""
    title: str
    publishers: list[str]
    """Each publisher once, the primary item's first."""
    items: list[StoryItemRow]


def story_row(story: Story, publishers: Mapping[int, Publisher]) -> StoryRow:
    names: dict[str, str] = {}
    for item in story.items:
        owner = publishers.get(item.source_id) or publishers_of([item.source])[item.source_id]
        names.setdefault(owner.key, owner.name)
    return StoryRow(
        id=story.key,
        title=story.primary.title or story.brief.title,
        publishers=list(names.values()),
        items=[
            StoryItemRow(
                id=item.id,
                title=item.title,
                link=item.url,
                source=item.source.label,
                feed_url=item.source.url,
                published=item.published_at,
            )
            for item in story.items
        ],
    )


def story_rows(session: Session, stories: Iterable[Story]) -> list[StoryRow]:
    publishers = load_publishers(session)
    return [story_row(story, publishers) for story in stories]


def list_stories(session: Session, *, since: datetime | None = None) -> list[StoryRow]:
    """Every story with an item published since ``since`` (all without it), newest first."""
    query = select(Item.story_key, Item.published_at)
    if since is not None:
        query = query.where(Item.published_at >= since)
    newest: dict[str, datetime] = {}
    for key, published in session.execute(query):
        if key not in newest or published > newest[key]:
            newest[key] = published
    keys = sorted(newest, key=lambda k: (newest[k], k), reverse=True)
    return story_rows(session, load_stories(session, keys))
