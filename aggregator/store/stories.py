"""Stories: items grouped across sources by their canonical link, with their briefs.

The digest and the published feeds both read stories from here, so a story carried by several
sources appears once everywhere and names every source.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, selectinload

from aggregator.model.brief import Brief
from aggregator.model.dates import in_bounds
from aggregator.store.chunks import scalars_in
from aggregator.store.db import chunked
from aggregator.store.models import BriefRow, Item, Source


def item_date(published_at: datetime, dated: bool, first_seen_at: datetime) -> datetime:
    """An item's date for ranking and showing: its own when in the calendar's sane bounds (a
    row stored before they held may be in year 1 or 9999), else when it was first seen."""
    return published_at if dated and in_bounds(published_at) else first_seen_at


def _latest(
    changed_at: datetime | None, updated_at: datetime | None, published: datetime
) -> datetime:
    """When an item last changed: its change, else its own updated date (in bounds), else its date."""
    if changed_at is not None:
        return changed_at
    return updated_at if updated_at is not None and in_bounds(updated_at) else published


@dataclass(slots=True)
class Story:
    """One story; ``items[0]`` is the primary item (:func:`primary_rank`)."""

    key: str
    items: list[Item]
    sources: list[Source] = field(default_factory=list)

    @property
    def primary(self) -> Item:
        return self.items[0]

    @property
    def first_item(self) -> Item:
        """The story's first item of its highest-priority source: what names the story while
        its primary changes as briefs are made."""
        return min(self.items, key=lambda i: (-i.source.priority, i.first_seen_at, i.id))

    @property
    def brief(self) -> Brief:
        """The primary item's brief; before one exists, the start of its text as the paragraph."""
        row = self.primary.brief
        if row is None:
            return Brief(bullets=[], paragraph=self.primary.content_text[:600])
        return Brief.from_dict(row.data)

    @property
    def published(self) -> datetime:
        return min(item_date(i.published_at, i.dated, i.first_seen_at) for i in self.items)

    @property
    def dated(self) -> bool:
        """True when an item has a date of its own (within the calendar's sane bounds)."""
        return any(i.dated and in_bounds(i.published_at) for i in self.items)

    @property
    def updated(self) -> datetime:
        return max(
            _latest(i.changed_at, i.updated_at, item_date(i.published_at, i.dated, i.first_seen_at))
            for i in self.items
        )

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


BriefMissing = Callable[[Sequence[int]], object]
"""Makes the briefs of the given items now (the pipeline's on-demand step)."""

STREAM_ROWS = 2000
"""Rows fetched at a time when streaming a digest window."""


@dataclass(slots=True, frozen=True)
class StoryHead:
    """A story as ranking sees it, read as narrow rows: no content and no ORM objects."""

    key: str
    published: datetime
    priority: int
    source_count: int
    dated: bool = True
    """False when no item of the story carried a date (``published`` is when it was first seen)."""
    unbriefed: tuple[int, ...] = ()
    """The story's items without a brief yet: made before it is shown, so that its primary is
    chosen among all of its members' briefs."""
    text_chars: int = 0
    """Length of the primary item's plain text (what its brief will be made from)."""
    publisher_count: int = 1
    """Distinct publishers (sites) among the story's sources."""
    publisher: str = ""
    """The primary item's publisher (what the per-publisher cap counts)."""
    source_id: int = 0
    """The primary item's source."""
    best_chars: int = 0
    """Length of the longest text among the story's items (its substance): the article's text,
    else the feed's plain text, else its HTML."""


SUBSTANTIAL_CHARS = 300
"""Characters of a brief's paragraph (three sentences or so) at which a member's brief carries
its story: among members whose briefs have them, the first report leads; a member whose brief
says less gives way to one that says this much."""


def primary_rank(
    priority: int, paragraph_chars: int, first_seen_at: datetime, item_id: int
) -> tuple[int, int, datetime, int]:
    """The order of a story's members, its primary first: from the highest-priority source, then
    the one whose brief carries the story (``SUBSTANTIAL_CHARS``: a wire copy whose one sentence
    restates its title gives way to a report that says more), then the first seen."""
    return (-priority, -min(paragraph_chars, SUBSTANTIAL_CHARS), first_seen_at, item_id)


def _paragraph_chars(item: Item) -> int:
    return len(item.brief.data.get("paragraph") or "") if item.brief is not None else 0


def group_stories(items: Iterable[Item]) -> list[Story]:
    """Group items by story key, each story's members in :func:`primary_rank` order."""
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(item.story_key, []).append(item)
    stories = []
    for key, members in groups.items():
        members.sort(
            key=lambda i: primary_rank(
                i.source.priority, _paragraph_chars(i), i.first_seen_at, i.id
            )
        )
        sources = list({i.source_id: i.source for i in members}.values())
        stories.append(Story(key=key, items=members, sources=sources))
    return stories


def _with_relations(query: Select) -> Select:
    return query.options(selectinload(Item.source), selectinload(Item.brief))


def load_stories(session: Session, keys: Sequence[str]) -> list[Story]:
    """The stories with these keys as full objects (items, sources, briefs), in that order."""
    items = scalars_in(session, _with_relations(select(Item)), Item.story_key, keys)
    found = {story.key: story for story in group_stories(items)}
    return [found[key] for key in keys if key in found]


def _paragraph_length(session: Session) -> ColumnElement[int]:
    """SQL for the length of the paragraph in a brief's stored JSON (0 without a brief)."""
    paragraph: ColumnElement[str]
    if session.get_bind().dialect.name == "postgresql":
        paragraph = BriefRow.data.op("->>")("paragraph")
    else:
        paragraph = func.json_extract(BriefRow.data, "$.paragraph")
    return func.coalesce(func.length(paragraph), 0)


def _text_length() -> ColumnElement[int]:
    """SQL for the length of an item's best text: fetched article, plain text, else HTML."""
    text = func.coalesce(
        func.nullif(Item.full_text, ""), func.nullif(Item.content_text, ""), Item.content_html
    )
    return func.length(text)


def story_heads_between(
    session: Session,
    *,
    since: datetime | None,
    until: datetime,
    source_ids: Sequence[int] = (),
    tags: Sequence[str] = (),
    publishers: Mapping[int, str] | None = None,
) -> Iterator[StoryHead]:
    """Stories first seen in (since, until], optionally only from some sources or tags.

    ``publishers`` maps source ids to their publisher's key; without it each source is its
    own publisher.

    A story counts when any of its items is new in the window, and all of its items count for
    its sources and tags. A few columns per item are streamed in story order and each story is
    yielded once its rows are read, so a caller that keeps the best N holds N, however many
    items the window has; :func:`load_stories` then loads those N in full.
    """
    window = select(Item.story_key).where(Item.first_seen_at <= until)
    if since is not None:
        window = window.where(Item.first_seen_at > since)
    sources = {
        row.id: row for row in session.execute(select(Source.id, Source.priority, Source.tags))
    }
    columns = [Item.story_key, Item.source_id, Item.first_seen_at, Item.id, Item.published_at]
    columns.append(Item.dated)
    query = (
        select(
            *columns,
            _paragraph_length(session).label("paragraph_chars"),
            BriefRow.item_id.is_not(None).label("briefed"),
            func.length(Item.content_text).label("text_chars"),
            _text_length().label("body_chars"),
            *([Item.tags] if tags else []),
        )
        .outerjoin(BriefRow, BriefRow.item_id == Item.id)
        .where(Item.story_key.in_(window))
        .order_by(Item.story_key)
        .execution_options(yield_per=STREAM_ROWS)
    )
    wanted_sources, wanted_tags = set(source_ids), set(tags)
    for key, group in groupby(session.execute(query), key=lambda row: row.story_key):
        rows = list(group)
        ids = {row.source_id for row in rows}
        if wanted_sources and not ids & wanted_sources:
            continue
        if wanted_tags:
            story_tags = {t for i in ids for t in sources[i].tags}
            story_tags.update(t.lower() for row in rows for t in row.tags)
            if not wanted_tags & story_tags:
                continue
        primary = min(
            rows,
            key=lambda r: primary_rank(
                sources[r.source_id].priority, r.paragraph_chars or 0, r.first_seen_at, r.id
            ),
        )
        owners = {(publishers or {}).get(i, f"source:{i}") for i in ids}
        yield StoryHead(
            key=key,
            published=min(item_date(r.published_at, r.dated, r.first_seen_at) for r in rows),
            priority=max(sources[i].priority for i in ids),
            source_count=len(ids),
            dated=any(row.dated and in_bounds(row.published_at) for row in rows),
            unbriefed=tuple(row.id for row in rows if not row.briefed),
            text_chars=primary.text_chars or 0,
            publisher_count=len(owners),
            publisher=(publishers or {}).get(primary.source_id, f"source:{primary.source_id}"),
            source_id=primary.source_id,
            best_chars=max(row.body_chars or 0 for row in rows),
        )


UNDATED_PER_SOURCE = 2
"""At most this many undated stories of one source in the combined feed."""


def newest_stories(
    session: Session,
    limit: int,
    *,
    source_ids: Collection[int] | None = None,
    brief_missing: BriefMissing | None = None,
) -> list[Story]:
    """The newest ``limit`` stories by publication date, for the combined feed (or, with
    ``source_ids``, the stories with an item from one of those sources); with
    ``brief_missing``, the stories' items without a brief are briefed first.

    An undated item's date is when it was first seen, so a feed of undated pages would fill
    the feed: at most :data:`UNDATED_PER_SOURCE` undated stories of each source are taken
    while others can fill it; the ones left out fill what the rest leave short.
    """
    if source_ids is None:
        kept, spare = _newest_keys(session, limit, None)
    else:
        kept, spare = {}, {}
        for chunk in chunked(sorted(source_ids)):  # a source's items all fall in one chunk
            some, extra = _newest_keys(session, limit, Item.source_id.in_(chunk))
            for found, into in ((some, kept), (extra, spare)):
                for key, moment in found.items():
                    into[key] = max(moment, into.get(key, moment))
    keys = sorted(kept, key=kept.__getitem__, reverse=True)[:limit]
    keys += [k for k in sorted(spare, key=spare.__getitem__, reverse=True) if k not in kept]
    keys = keys[:limit]
    stories = load_stories(session, keys)
    missing = [i.id for s in stories for i in s.items if i.brief is None]
    if missing and brief_missing is not None:
        brief_missing(missing)
        session.expire_all()
        stories = load_stories(session, keys)
    stories.sort(key=lambda s: s.published, reverse=True)
    return stories


def _newest_keys(
    session: Session, limit: int, where: ColumnElement[bool] | None
) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """The keys of the newest ``limit`` stories of the items matching ``where``, newest first,
    each with its newest item's date; and the undated ones the per-source cap left out."""
    keys: dict[str, datetime] = {}
    undated: dict[int, set[str]] = {}
    spare: dict[str, datetime] = {}
    offset, page = 0, max(limit * 2, 50)
    query = select(Item.story_key, Item.dated, Item.source_id, Item.published_at)
    if where is not None:
        query = query.where(where)
    while len(keys) < limit:
        batch = session.execute(
            query.order_by(Item.published_at.desc(), Item.id.desc()).offset(offset).limit(page)
        ).all()
        if not batch:
            break
        for key, dated, source_id, published_at in batch:
            if key in keys:
                continue
            if not dated:
                seen = undated.setdefault(source_id, set())
                if len(seen) >= UNDATED_PER_SOURCE:
                    if len(spare) < limit:
                        spare.setdefault(key, published_at)
                    continue
                seen.add(key)
            keys[key] = published_at
        offset += page
    return keys, spare
