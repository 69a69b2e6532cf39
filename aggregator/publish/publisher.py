"""Publish: read the newest stories from the store and write the combined and per-tag feeds.

A tag's feed holds the newest stories of the sources carrying it (one bounded query per tag)
and the combined feed's stories whose items carry it as a category.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aggregator.briefs.pipeline import on_demand
from aggregator.config import Settings
from aggregator.publish.feeds import write_feeds, write_stylesheet, write_tag_feeds
from aggregator.publish.formats import FEED_SUFFIXES
from aggregator.publish.model import FeedEntry, FeedMeta, FeedSource, brief_html, entry_id
from aggregator.publish.tags import chosen_tags, tag_sources
from aggregator.publish.websub import send_due_pings, topic_url
from aggregator.store import pings
from aggregator.store.db import Database
from aggregator.store.models import Source
from aggregator.store.stories import BriefMissing, Story, newest_stories
from aggregator.stories.publishers import publishers_of

log = logging.getLogger("aggregator.publish")


@dataclass(slots=True)
class PublishResult:
    entries: int = 0
    changed: list[Path] = field(default_factory=list)


def feed_meta(settings: Settings) -> FeedMeta:
    base = settings.general.base_url
    return FeedMeta(
        title=settings.publish.title or settings.general.name,
        id=f"{base}/feed.atom",
        home_url=f"{base}/",
        base_url=f"{base}/",
        author=settings.general.name,
        hub_url=settings.publish.hub_url or None,
        description=f"Briefs of every story aggregated by {settings.general.name}",
    )


def _feed_source(source: Source) -> FeedSource:
    return FeedSource(
        id=source.feed_id or source.url,
        title=source.label,
        url=source.site_url,
        feed_url=source.url,
        updated=source.feed_updated_at or source.last_new_at or source.created_at,
    )


def coverage(story: Story) -> list[tuple[str, str]]:
    """Each publisher of the story once, with its article's link (the first it carried)."""
    owners = publishers_of(story.sources)
    found: dict[str, tuple[str, str]] = {}
    for item in story.items:
        if item.url:
            owner = owners[item.source_id]
            found.setdefault(owner.key, (owner.name, item.url))
    return list(found.values())


def story_entry(story: Story) -> FeedEntry:
    """A feed entry for one story, shown from its primary item; its id depends only on the
    source and key of the story's ``first_item``, so it stays while the primary changes."""
    item = story.primary
    brief = story.brief
    first = story.first_item
    return FeedEntry(
        id=entry_id(first.source.config_url or first.source.url, first.key_hash),
        title=item.title or "(untitled)",
        link=item.url,
        published=story.published,
        updated=story.updated,
        author=item.author,
        summary=brief.paragraph,
        content_html=brief_html(brief, item.url, story.sources[0].label, coverage(story)),
        tags=story.tags,
        sources=[_feed_source(s) for s in story.sources],
    )


def publish(
    db: Database, settings: Settings, *, brief_missing: BriefMissing | None = None
) -> PublishResult:
    """Write feed.atom/rss/json, the tag feeds and the stylesheet that shows them in a browser
    into the public folder; queue a hub ping for each changed feed and send the pings that are
    due. The stories' missing briefs are made first (by ``brief_missing``, else in this
    process)."""
    out = settings.public_dir
    out.mkdir(parents=True, exist_ok=True)
    limit = settings.publish.max_entries
    briefs = brief_missing or on_demand(db, settings)
    with db.session() as session:
        stories = newest_stories(session, limit, brief_missing=briefs)
        entries = [story_entry(s) for s in stories]
        tags = chosen_tags(session, settings.publish, entries)
        candidates = {tag: list(entries) for tag in tags}
        for tag, source_ids in tag_sources(session, tags).items():
            own = newest_stories(session, limit, source_ids=source_ids, brief_missing=briefs)
            candidates[tag] += (story_entry(s) for s in own)
    meta = feed_meta(settings)
    templates = settings.templates_dir
    changed = write_stylesheet(out, templates)
    changed += write_feeds(out, meta, entries, templates_dir=templates)
    changed += write_tag_feeds(out, meta, candidates, limit=limit, templates_dir=templates)
    result = PublishResult(entries=len(entries), changed=changed)
    if meta.hub_url:
        feeds = [p for p in changed if p.suffix in FEED_SUFFIXES]
        topics = [topic_url(meta.base_url, p.relative_to(out)) for p in feeds]
        with db.session() as session:
            pings.enqueue(session, meta.hub_url, topics, datetime.now(UTC))
        send_due_pings(db, settings)
    log.info("published entries=%d changed_files=%d", len(entries), len(changed))
    return result
