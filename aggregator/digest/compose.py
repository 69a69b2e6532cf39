"""Compose a digest: choose the stories a subscriber gets, rank them, and build the view."""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session

from aggregator.briefs.summarize import bullet_count
from aggregator.config import DigestSettings, Settings
from aggregator.digest.model import DigestView, SourceRef, StoryView
from aggregator.digest.render import MAX_HTML_BYTES, render_html
from aggregator.store.stories import (
    BriefMissing,
    Story,
    StoryHead,
    load_stories,
    story_heads_between,
)

_LOOKBACK = (timedelta(hours=3), timedelta(days=2), timedelta(days=9), timedelta(days=35))
FRESHNESS_HOURS = 24.0
"""A story loses half its freshness bonus every this many hours."""
LEAD_BULLETS = 4
"""A lead needs a substantial brief: at least this many bullets."""
LEAD_CANDIDATES = 5
"""The lead is chosen among this many of the best-ranked stories."""
_SITE_PAGE_RE = re.compile(
    r"^(?:about(?: (?:us|me|this (?:site|blog)))?|contact(?: us| me)?|imprint|impressum|privacy"
    r"(?: policy)?|terms(?: of (?:service|use))?|subscribe|newsletter|archives?|home|search|tags"
    r"|categories|colophon|now|uses|support|donate)$",
    re.IGNORECASE,
)


def story_score(story: StoryHead, now: datetime) -> float:
    """Rank by source priority (1-5), how many sources carried it, freshness and substance.

    Substance keeps a story with nothing to brief (a video link, a title alone) from leading;
    a story without a date of its own gets no freshness bonus.
    """
    age_hours = max(0.0, (now - story.published).total_seconds() / 3600)
    # An undated story's date is only when we first saw it: no freshness claimed for it.
    freshness = 2.0 * math.pow(0.5, age_hours / FRESHNESS_HOURS) if story.dated else 0.0
    coverage = 1.5 * math.log2(story.source_count)
    substance = 1.5 * min(expected_bullets(story), LEAD_BULLETS) / LEAD_BULLETS
    return story.priority + coverage + freshness + substance


def expected_bullets(story: StoryHead) -> int:
    """The bullets of the story's brief; before it has one, what its text's length promises
    (about six characters a word, fifteen words a sentence)."""
    if story.briefed:
        return story.bullet_count
    n_words = story.text_chars // 6
    return bullet_count(n_words, n_words // 15)


def rank(stories: Iterable[StoryHead], now: datetime, limit: int) -> list[StoryHead]:
    """The best ``limit`` stories, best first; ties go to the newer story (holds ``limit``)."""
    return heapq.nsmallest(
        limit, stories, key=lambda s: (-story_score(s, now), -s.published.timestamp(), s.key)
    )


BRIEF_ROUNDS = 5
"""Rounds of ranking and briefing on demand before an edition settles for what it has."""


def choose_stories(
    session: Session,
    digest: DigestSettings,
    *,
    since: datetime | None,
    until: datetime,
    source_ids: Sequence[int] = (),
    tags: Sequence[str] = (),
    brief_missing: BriefMissing | None = None,
) -> list[Story]:
    """An edition's stories: first seen in (since, until], filtered, ranked best first, capped.

    Ranking reads narrow rows; only the stories shown are loaded as full objects. With
    ``brief_missing``, a story not yet briefed ranks by the bullets its text promises; the
    chosen ones without a brief are briefed and the ranking runs again, until every story
    chosen has its brief (so a cold start need not brief everything before the first digest).
    """
    for _round in range(BRIEF_ROUNDS):
        found = story_heads_between(
            session, since=since, until=until, source_ids=source_ids, tags=tags
        )
        chosen = rank(found, until, digest.max_items)
        missing = [head.primary_id for head in chosen if not head.briefed]
        if not missing or brief_missing is None:
            break
        brief_missing(missing)
    return with_lead(load_stories(session, [head.key for head in chosen]))


def is_site_page(story: Story) -> bool:
    """An untitled item or a site's own page (About, Contact, Privacy …): never a lead."""
    item = story.primary
    title = " ".join((item.title or story.brief.title).split()).strip(" .:|-")
    path = urlsplit(item.url or "").path.strip("/").rsplit("/", 1)[-1]
    path = path.rsplit(".", 1)[0].replace("-", " ").replace("_", " ")
    return not title or bool(_SITE_PAGE_RE.match(title) or (path and _SITE_PAGE_RE.match(path)))


def with_lead(stories: Sequence[Story]) -> list[Story]:
    """The ranked stories with site pages moved to the end and a lead worth reading first.

    The lead is the best-ranked of the top few with a substantial brief (four or more bullets),
    one with terms preferred; else the best-ranked story that is not a site page.
    """
    ordered = [s for s in stories if not is_site_page(s)] + [s for s in stories if is_site_page(s)]
    top = [s for s in ordered[:LEAD_CANDIDATES] if not is_site_page(s)]
    full = [s for s in top if len(s.brief.bullets) >= LEAD_BULLETS]
    lead = next((s for s in full if s.brief.terms), full[0] if full else None)
    if lead is None:
        return ordered
    return [lead, *(s for s in ordered if s is not lead)]


def story_view(story: Story, zone: ZoneInfo) -> StoryView:
    item, brief = story.primary, story.brief
    return StoryView(
        title=item.title or brief.title or "(untitled)",
        url=item.url,
        sources=[SourceRef(name=s.label, url=s.site_url) for s in story.sources],
        brief=brief,
        published=story.published.astimezone(zone) if story.dated else None,
    )


def period_label(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%A} {local.day} {local:%B %Y}"


def digest_view(
    settings: Settings,
    digest: DigestSettings,
    stories: Sequence[Story],
    *,
    moment: datetime,
    timezone: str | None = None,
    archive_url: str | None = None,
) -> DigestView:
    """The view of one edition: the first story leads, the rest are "More briefs".

    Dates are shown in ``timezone`` (the subscriber's), else in the digest's own.
    """
    zone = ZoneInfo(timezone or digest.timezone)
    views = [story_view(s, zone) for s in stories]
    return DigestView(
        name=digest.name,
        title=digest.title or f"{digest.name.title()} digest",
        period_label=period_label(moment, zone),
        site_name=settings.general.name,
        lead=views[0] if views else None,
        more=views[1:],
        archive_url=archive_url,
        site_url=settings.general.base_url + "/",
    )


def public_html(
    settings: Settings, view: DigestView, *, max_html_bytes: int | None = MAX_HTML_BYTES
) -> str:
    """The edition as a page anyone may see: its personal links lead to the sign-up page."""
    view.unsubscribe_url = view.preferences_url = f"{settings.general.base_url}/subscribe"
    return render_html(view, max_html_bytes=max_html_bytes)


def subject_line(digest: DigestSettings, view: DigestView, count: int) -> str:
    """The configured subject template, filled in (header safety is the message builder's job)."""
    return digest.subject.format(
        title=view.title,
        date=view.period_label,
        count=count,
        lead=view.lead.title if view.lead else "nothing new",
    )


def previous_fire_time(digest: DigestSettings, fire_time: datetime) -> datetime | None:
    """The schedule's last firing strictly before ``fire_time``, looking back up to 35 days."""
    trigger = CronTrigger.from_crontab(digest.schedule, timezone=ZoneInfo(digest.timezone))
    for window in _LOOKBACK:
        probe, previous = fire_time - window, None
        while (nxt := trigger.get_next_fire_time(None, probe)) is not None and nxt < fire_time:
            previous, probe = nxt, nxt + timedelta(seconds=1)
        if previous is not None:
            return previous
    return None


def latest_fire_time(digest: DigestSettings, now: datetime) -> datetime | None:
    """The most recent scheduled time at or before ``now`` (what a catch-up run is for)."""
    return previous_fire_time(digest, now + timedelta(seconds=1))


def next_fire_time(digest: DigestSettings, now: datetime) -> datetime | None:
    """The schedule's next firing after ``now``."""
    trigger = CronTrigger.from_crontab(digest.schedule, timezone=ZoneInfo(digest.timezone))
    return trigger.get_next_fire_time(None, now)
