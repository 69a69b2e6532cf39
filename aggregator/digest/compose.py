"""Compose a digest: choose the stories a subscriber gets, rank them, and build the view."""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from babel.dates import format_date
from sqlalchemy.orm import Session

from aggregator.config import DigestSettings, Settings
from aggregator.digest.model import DigestView, SourceRef, StoryView
from aggregator.digest.render import MAX_HTML_BYTES, render_html
from aggregator.model.brief import Brief
from aggregator.store.stories import (
    BriefMissing,
    Story,
    StoryHead,
    load_stories,
    story_heads_between,
)
from aggregator.stories.publishers import Publisher, load_publishers, publishers_of
from aggregator.templating import locale_for, translations

_LOOKBACK = (timedelta(hours=3), timedelta(days=2), timedelta(days=9), timedelta(days=35))
FRESHNESS_HOURS = 24.0
"""A story loses half its freshness bonus every this many hours."""
COVERAGE_WEIGHT = 3.0
"""Points per doubling of the publishers covering a story: two sites outrank any priority gap
of three, eight sites outrank everything else a story can score."""
SUBSTANCE_WORDS = 60
"""Words of text (a paragraph of four or five sentences) at which a story's best member counts
as fully substantial: a title alone or a video teaser does not lead."""
UNDATED_PER_SOURCE = 2
"""At most this many stories without a date of their own from one source in an edition."""
LEAD_CANDIDATES = 5
"""The lead is the best-ranked of this many that is not a site page."""
_SITE_PAGE_RE = re.compile(
    r"^(?:about(?: (?:us|me|this (?:site|blog)))?|contact(?: us| me)?|imprint|impressum|privacy"
    r"(?: policy)?|terms(?: of (?:service|use))?|subscribe|newsletter|archives?|home|search|tags"
    r"|categories|colophon|now|uses|support|donate)$",
    re.IGNORECASE,
)


def N_(message: str) -> str:  # noqa: N802 - the name the catalogue's extractor looks for
    """Mark a message for the catalogue; it is translated where it is shown."""
    return message


DEFAULT_TITLES = (N_("Daily digest"), N_("Weekly digest"), N_("Monthly digest"))
"""Titles a digest named daily, weekly or monthly gets when it has none: the catalogues have them."""
_OPENING_QUOTE = "\"'“”‘’«»„‚‹›「『-–—"
_WORD = re.compile(r"\w+")


def story_score(story: StoryHead, now: datetime) -> float:
    """News value: publishers covering it, source priority (1-5), freshness and substance.

    Coverage counts distinct publishers (sites), never feeds, so one site's twin feeds add
    nothing. Substance is the words of the story's longest text, so a title alone or a video
    link does not lead; a story without a date of its own gets no freshness bonus.
    """
    age_hours = max(0.0, (now - story.published).total_seconds() / 3600)
    # An undated story's date is only when we first saw it: no freshness claimed for it.
    freshness = 2.0 * math.pow(0.5, age_hours / FRESHNESS_HOURS) if story.dated else 0.0
    coverage = COVERAGE_WEIGHT * math.log2(max(1, story.publisher_count))
    words = max(story.best_chars, story.text_chars) / 6  # about six characters a word
    substance = 1.5 * min(words, SUBSTANCE_WORDS) / SUBSTANCE_WORDS
    return story.priority + coverage + freshness + substance


def _order(story: StoryHead, now: datetime) -> tuple[float, float, str]:
    return (-story_score(story, now), -story.published.timestamp(), story.key)


class _Best:
    """The best ``cap`` stories of each of many groups, holding at most twice that per group.

    What a group's cap leaves out goes to ``spill`` (when given), so it can fill an edition
    the capped stories leave short.
    """

    def __init__(self, cap: int, now: datetime, spill: _Best | None = None) -> None:
        self.cap, self.now, self.spill = cap, now, spill
        self.groups: dict[object, list[tuple[tuple[float, float, str], StoryHead]]] = {}

    def add(self, group: object, story: StoryHead) -> None:
        kept = self.groups.setdefault(group, [])
        kept.append((_order(story, self.now), story))
        if len(kept) >= 2 * self.cap:
            self._trim(kept)

    def _trim(self, kept: list[tuple[tuple[float, float, str], StoryHead]]) -> None:
        kept.sort(key=lambda pair: pair[0])
        if self.spill is not None:
            for _, story in kept[self.cap :]:
                self.spill.add(not story.dated, story)
        del kept[self.cap :]

    def stories(self) -> Iterable[StoryHead]:
        for kept in self.groups.values():
            self._trim(kept)
            yield from (story for _, story in kept)


def rank(
    stories: Iterable[StoryHead],
    now: datetime,
    limit: int,
    *,
    per_publisher: int | None = None,
    undated_per_source: int = UNDATED_PER_SOURCE,
) -> list[StoryHead]:
    """The best ``limit`` stories, best first; ties go to the newer story.

    At most ``per_publisher`` come from one publisher (the primary item's), and at most
    ``undated_per_source`` stories without a date from one source, so a feed of undated pages
    never pushes dated news out and one busy site cannot fill an edition. The caps spread an
    edition, they never leave it short: when the capped stories do not fill ``limit``, the best
    of those the caps left out fill it (dated ones first). Holds a few stories per publisher
    and source, and ``limit`` more, not the window.
    """
    spill = _Best(limit, now)
    undated = _Best(undated_per_source, now, spill)
    by_publisher = _Best(per_publisher or limit, now, spill)
    for story in stories:
        if story.dated:
            by_publisher.add(story.publisher or story.key, story)
        else:
            undated.add(story.source_id, story)
    for story in undated.stories():
        by_publisher.add(story.publisher or story.key, story)
    chosen = heapq.nsmallest(limit, by_publisher.stories(), key=lambda s: _order(s, now))
    if len(chosen) < limit:
        left = []
        for undated_left in (False, True):  # the dated ones first
            kept = spill.groups.get(undated_left, [])
            spill._trim(kept)
            left += [story for _, story in kept]
        chosen += left[: limit - len(chosen)]
        chosen.sort(key=lambda s: _order(s, now))
    return chosen


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
    ``brief_missing``, the chosen stories' items without a brief are briefed (ranking does not wait
    for briefs: it reads the items' text).
    """
    owners = {sid: p.key for sid, p in load_publishers(session).items()}
    found = story_heads_between(
        session, since=since, until=until, source_ids=source_ids, tags=tags, publishers=owners
    )
    chosen = rank(found, until, digest.max_items, per_publisher=digest.per_publisher)
    missing = [item_id for head in chosen for item_id in head.unbriefed]
    if missing and brief_missing is not None:
        brief_missing(missing)
        session.expire_all()
    return with_lead(distinct_events(load_stories(session, [head.key for head in chosen])))


def _title_key(story: Story) -> str:
    return " ".join(_WORD.findall((story.primary.title or "").casefold()))


def distinct_events(stories: Sequence[Story]) -> list[Story]:
    """The stories with any that repeats an earlier one's title or link left out (a last guard:
    one event is one story, even where grouping kept two)."""
    seen: set[str] = set()
    kept = []
    for story in stories:
        marks = {f"u:{i.url}" for i in story.items if i.url}
        if title := _title_key(story):
            marks.add(f"t:{title}")
        if marks & seen:
            continue
        seen |= marks
        kept.append(story)
    return kept


def is_site_page(story: Story) -> bool:
    """An untitled item or a site's own page (About, Contact, Privacy …): never a lead."""
    item = story.primary
    title = " ".join((item.title or story.brief.title).split()).strip(" .:|-")
    path = urlsplit(item.url or "").path.strip("/").rsplit("/", 1)[-1]
    path = path.rsplit(".", 1)[0].replace("-", " ").replace("_", " ")
    return not title or bool(_SITE_PAGE_RE.match(title) or (path and _SITE_PAGE_RE.match(path)))


def with_lead(stories: Sequence[Story]) -> list[Story]:
    """The ranked stories with site pages moved to the end: the lead is the best by news value
    that is not a site page (never chosen by how many bullets its brief has)."""
    return [s for s in stories if not is_site_page(s)] + [s for s in stories if is_site_page(s)]


def states_news(sentence: str) -> bool:
    """Whether a sentence is a plain statement: not opened by a quotation or a dash, not an
    exclamation or a question, and long enough to say something (four words or more)."""
    text = sentence.strip()
    if not text or text[0] in _OPENING_QUOTE:
        return False
    if text.rstrip(_OPENING_QUOTE + ")]. ").endswith(("!", "?")) or "!" in text[-3:]:
        return False
    return len(_WORD.findall(text)) >= 4


def lead_brief(brief: Brief) -> Brief:
    """The brief with its first statement of the news first: a lead does not open on a quote
    or an exclamation when another bullet states what happened."""
    first = next((i for i, b in enumerate(brief.bullets) if states_news(b)), 0)
    if first == 0:
        return brief
    bullets = [brief.bullets[first], *brief.bullets[:first], *brief.bullets[first + 1 :]]
    return replace(brief, bullets=bullets)


def story_view(
    story: Story,
    zone: ZoneInfo,
    publishers: Mapping[int, Publisher] | None = None,
    translation: Brief | None = None,
) -> StoryView:
    """One story as the templates read it: named by its publishers, each once; a story from
    several publishers lists each one's article (its "Covered by" line). With ``translation``
    (the brief in the reader's language, its ``title`` the story's), that is shown instead."""
    item, brief = story.primary, translation or story.brief
    owners = publishers if publishers is not None else publishers_of(story.sources)
    names: dict[str, SourceRef] = {}
    coverage: dict[str, SourceRef] = {}
    for member in story.items:
        owner = owners.get(member.source_id) or publishers_of([member.source])[member.source_id]
        names.setdefault(owner.key, SourceRef(name=owner.name, url=owner.url))
        if member.url:
            coverage.setdefault(owner.key, SourceRef(name=owner.name, url=member.url))
    title = (translation.title if translation else "") or item.title or brief.title
    return StoryView(
        title=title or "(untitled)",
        url=item.url,
        sources=list(names.values()),
        brief=brief,
        published=story.published.astimezone(zone) if story.dated else None,
        coverage=list(coverage.values()) if len(coverage) > 1 else [],
    )


def period_label(moment: datetime, zone: ZoneInfo, language: str = "") -> str:
    """``"Tuesday 14 May 2024"`` (``"mardi 14 mai 2024"`` in French)."""
    local = moment.astimezone(zone)
    locale = locale_for(language)
    if locale is None:
        return f"{local:%A} {local.day} {local:%B %Y}"
    return format_date(local, "EEEE d MMMM y", locale=locale)


def same_language(a: str, b: str) -> bool:
    """True when two language tags name one language ("pt-BR" and "pt" do)."""
    return a.split("-")[0].casefold() == b.split("-")[0].casefold()


def digest_view(
    settings: Settings,
    digest: DigestSettings,
    stories: Sequence[Story],
    *,
    moment: datetime,
    timezone: str | None = None,
    archive_url: str | None = None,
    language: str = "",
    translated: Mapping[int, Brief] | None = None,
) -> DigestView:
    """The view of one edition: the first story leads, the rest are "More briefs".

    Dates are shown in ``timezone`` (the subscriber's), else in the digest's own. With
    ``language`` (the reader's), a story shows its brief from ``translated`` (by primary item id)
    when there is one, and counts as untranslated when its brief is in another language.
    """
    zone = ZoneInfo(timezone or digest.timezone)
    owners = publishers_of(s for story in stories for s in story.sources)
    translated = translated or {}
    views = [story_view(s, zone, owners, translated.get(s.primary.id)) for s in stories]
    untranslated = (
        sum(
            s.primary.id not in translated and not same_language(s.brief.language, language)
            for s in stories
        )
        if language
        else 0
    )
    if views:
        views[0].brief = lead_brief(views[0].brief)
    title = digest.title or f"{digest.name.title()} digest"
    return DigestView(
        name=digest.name,
        title=translations(language).gettext(title),
        period_label=period_label(moment, zone, language),
        site_name=settings.general.name,
        lead=views[0] if views else None,
        more=views[1:],
        archive_url=archive_url,
        site_url=settings.general.base_url + "/",
        language=language,
        untranslated=untranslated,
    )


def sign_up_url(settings: Settings) -> str:
    """The web app's sign-up page: where a copy of an edition that is not a subscriber's own
    sends its personal links."""
    return f"{settings.general.base_url}/subscribe"


def public_html(
    settings: Settings,
    view: DigestView,
    *,
    max_html_bytes: int | None = MAX_HTML_BYTES,
    as_mailed: bool = False,
) -> str:
    """The edition as a page anyone may see: its footer says how to subscribe. ``as_mailed``
    (a preview) keeps the subscriber's footer, its personal links leading to the sign-up page."""
    sign_up = sign_up_url(settings)
    view.unsubscribe_url = view.preferences_url = sign_up
    view.subscribe_url = None if as_mailed else sign_up
    return render_html(view, max_html_bytes=max_html_bytes, templates_dir=settings.templates_dir)


def subject_line(digest: DigestSettings, view: DigestView, count: int) -> str:
    """The configured subject template, filled in (header safety is the message builder's job)."""
    return digest.subject.format(
        title=view.title,
        date=view.period_label,
        count=count,
        lead=view.lead.title if view.lead else translations(view.language).gettext("nothing new"),
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
