"""The web archive: every digest run as an HTML page, and an index that links the feeds."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
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
from aggregator.digest.outbox import archive_slug, archive_url
from aggregator.publish.atomic import write_if_changed
from aggregator.publish.formats import FORMATS
from aggregator.store.db import Database
from aggregator.store.models import DigestRun
from aggregator.store.stories import BriefMissing
from aggregator.templating import render

log = logging.getLogger("aggregator.archive")


@dataclass(slots=True)
class ArchiveLink:
    title: str
    label: str
    url: str
    when: datetime


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
        slug = archive_slug(run)
    if view.lead is None:
        return False
    html = public_html(settings, view, max_html_bytes=None)  # every story the mail had no room for
    path = settings.public_dir / "digests" / digest.name / slug / "index.html"
    return write_if_changed(path, html.encode("utf-8"))


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
            if (
                digest is None
                or not (out / "digests" / run.digest_name / archive_slug(run)).is_dir()
            ):
                continue
            links.append(
                ArchiveLink(
                    title=digest.title or digest.name.title(),
                    label=period_label(run.scheduled_for, ZoneInfo(digest.timezone)),
                    url=archive_url(settings, run),
                    when=run.scheduled_for,
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
