"""The web archive: every digest run as an HTML page, and an index that links the feeds."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from aggregator.briefs.pipeline import on_demand
from aggregator.config import Settings
from aggregator.digest.compose import (
    choose_stories,
    digest_view,
    period_label,
    previous_fire_time,
    public_html,
)
from aggregator.digest.outbox import archive_url
from aggregator.digest.render import TITLE_CHARS
from aggregator.mail.text import clipped_line
from aggregator.publish.atomic import write_if_changed
from aggregator.publish.formats import FORMATS
from aggregator.store.db import Database
from aggregator.store.models import DigestRun
from aggregator.store.stories import BriefMissing
from aggregator.templating import render

log = logging.getLogger("aggregator.archive")


EDITION_FILE = "edition.json"
"""Beside each archive page: its lead story's title and story count, for the index."""


@dataclass(slots=True)
class ArchiveLink:
    title: str
    label: str
    url: str
    when: datetime
    lead: str | None = None
    """The edition's lead story's title (None for a page written before the index showed it)."""
    stories: int | None = None


def run_page(settings: Settings, run: DigestRun) -> Path:
    """The file of the run's archive page in the published folder."""
    return settings.public_dir / run.archive_path / "index.html"


def write_run_page(
    db: Database, settings: Settings, run_id: int, *, brief_missing: BriefMissing | None = None
) -> bool:
    """Write ``digests/<name>/<slug>/index.html``: the run's edition with no personal filters
    (its stories' missing briefs made first, by ``brief_missing`` or else in this process).

    The page has no size cap: a mail over Gmail's clipping size ends with "And N more briefs in
    the archive", and this page must show them.
    """
    with db.session() as session:
        run = session.get(DigestRun, run_id)
        digest = settings.digest(run.digest_name) if run else None
        if run is None or digest is None:
            return False
        since = previous_fire_time(digest, run.scheduled_for)
        stories = choose_stories(
            session,
            digest,
            since=since,
            until=run.cutoff,
            brief_missing=brief_missing or on_demand(db, settings),
        )
        view = digest_view(settings, digest, stories, moment=run.scheduled_for)
        path = run_page(settings, run)
    if view.lead is None:
        return False
    html = public_html(settings, view, max_html_bytes=None)  # every story the mail had no room for
    summary = {"lead": clipped_line(view.lead.title, TITLE_CHARS), "stories": 1 + len(view.more)}
    written = write_if_changed(path, html.encode("utf-8"))
    write_if_changed(path.with_name(EDITION_FILE), json.dumps(summary).encode("utf-8"))
    return written


def _summary(page: Path) -> tuple[str | None, int | None]:
    """The lead title and story count written beside an archive page (None, None if unreadable)."""
    try:
        data = json.loads(page.with_name(EDITION_FILE).read_text(encoding="utf-8"))
        lead, stories = data["lead"], data["stories"]
    except (OSError, ValueError, KeyError, TypeError):
        return None, None
    if not isinstance(lead, str) or not isinstance(stories, int):
        return None, None
    return lead, stories


def write_index(db: Database, settings: Settings) -> bool:
    """Write ``index.html``: past digests, newest first, and the feeds as <link rel=alternate>."""
    out = settings.public_dir
    links: list[ArchiveLink] = []
    with db.session() as session:
        runs = session.scalars(
            select(DigestRun).order_by(DigestRun.scheduled_for.desc()).limit(500)
        ).all()
        for run in runs:
            digest = settings.digest(run.digest_name)
            page = run_page(settings, run)
            if digest is None or not page.is_file():
                continue
            lead, stories = _summary(page)
            links.append(
                ArchiveLink(
                    title=digest.title or digest.name.title(),
                    label=period_label(run.scheduled_for, ZoneInfo(digest.timezone)),
                    url=archive_url(settings, run),
                    when=run.scheduled_for,
                    lead=lead,
                    stories=stories,
                )
            )
    tags = sorted(p.stem for p in (out / "tags").glob("*.atom")) if (out / "tags").is_dir() else []
    html = render(
        "archive/index.html.j2",
        {
            "site_name": settings.general.name,
            "title": settings.publish.title or settings.general.name,
            "base_url": settings.general.base_url,
            "digests": links,
            "formats": FORMATS,
            "tags": tags,
            "digest_names": [d.title or d.name for d in settings.digests],
        },
        settings.templates_dir,
    )
    return write_if_changed(out / "index.html", html.encode("utf-8"))
