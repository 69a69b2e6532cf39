"""Which tags get a feed of their own.

By default only the tags an operator named: the tags of enabled sources, which come from
``config.toml``, ``sources add --tag`` and OPML folders and categories. Categories that the
feeds themselves give their items get feeds only with ``publish.category_tag_feeds``, and then
only the ``publish.max_category_tag_feeds`` most used, so no feed can make the publisher write a
file per category it invents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from aggregator.config import PublishSettings
from aggregator.publish.model import FeedEntry
from aggregator.store.models import Source


def operator_tags(session: Session) -> list[str]:
    """The tags of every enabled source, lower-cased, in first-seen order."""
    rows = session.scalars(select(Source.tags).where(Source.enabled.is_(True)).order_by(Source.id))
    return list(dict.fromkeys(str(tag).lower() for tags in rows for tag in tags or []))


def tag_sources(session: Session, tags: Collection[str]) -> dict[str, list[int]]:
    """For each of ``tags`` that a source carries (enabled or not, as the combined feed keeps
    a disabled source's stories), the ids of the sources carrying it."""
    wanted = set(tags)
    found: dict[str, list[int]] = {}
    for source_id, source_tags in session.execute(select(Source.id, Source.tags)):
        for tag in dict.fromkeys(str(tag).lower() for tag in source_tags or []):
            if tag in wanted:
                found.setdefault(tag, []).append(source_id)
    return found


def chosen_tags(
    session: Session, settings: PublishSettings, entries: Sequence[FeedEntry]
) -> list[str]:
    """The tags to write feeds for (none when ``publish.tag_feeds`` is off)."""
    if not settings.tag_feeds:
        return []
    chosen = dict.fromkeys(operator_tags(session))
    if settings.category_tag_feeds:
        used = Counter(t for e in entries for t in dict.fromkeys(e.tags) if t not in chosen)
        chosen.update((t, None) for t, _ in used.most_common(settings.max_category_tag_feeds))
    return list(chosen)
