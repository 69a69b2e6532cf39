"""Source rows: syncing them with config.toml and the operator's add/remove/enable commands."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from aggregator.config import Settings, SourceSettings
from aggregator.model.status import DisabledBy, SourceOrigin, SourceStatus
from aggregator.store.models import Source


def normalise_source_url(url: str, root: Path) -> str:
    """Local paths become file:// URLs (resolved against the config folder); others are kept."""
    if urlsplit(url).scheme:
        return url
    path = Path(url).expanduser()
    return (path if path.is_absolute() else root / path).resolve().as_uri()


def sync_config_sources(session: Session, settings: Settings) -> list[Source]:
    """Make the source rows match config.toml.

    A source is matched by the URL written in the config, so a 301 that moved it does not create
    a twin. Sources that left the config are disabled, never deleted: their items stay.
    """
    wanted: dict[str, SourceSettings] = {
        normalise_source_url(s.url, settings.root): s for s in settings.sources
    }
    rows = {
        row.config_url: row
        for row in session.scalars(select(Source).where(Source.origin == SourceOrigin.CONFIG))
    }
    synced = []
    for url, cfg in wanted.items():
        row = rows.get(url)
        if row is None:
            row = session.scalar(select(Source).where(Source.url == url))
            if row is None:
                row = Source(url=url, origin=SourceOrigin.CONFIG)
                session.add(row)
            row.origin, row.config_url = SourceOrigin.CONFIG, url
        row.name = cfg.name
        row.publisher = cfg.publisher.strip()
        row.tags = list(cfg.tags)
        row.priority = cfg.priority
        if not cfg.enabled:
            row.enabled, row.disabled_by = False, DisabledBy.CONFIG
        elif (
            row.disabled_by != DisabledBy.OPERATOR
        ):  # an operator's `sources disable` outlasts restarts
            row.enabled, row.disabled_by = True, None
        row.full_text = cfg.full_text
        row.llm = cfg.llm
        row.min_interval_minutes = cfg.min_interval_minutes
        row.max_interval_minutes = cfg.max_interval_minutes
        synced.append(row)
    for config_url, row in rows.items():
        if config_url not in wanted:
            row.enabled, row.disabled_by = False, DisabledBy.CONFIG
    session.flush()
    return synced


def find_source(session: Session, ref: str) -> Source | None:
    """A source by id, name or URL."""
    if ref.isdigit():
        return session.get(Source, int(ref))
    return session.scalar(
        select(Source).where(or_(Source.url == ref, Source.config_url == ref, Source.name == ref))
    )


def exported_sources(session: Session) -> list[Source]:
    """Every source but the removed ones, enabled or not, by id (what ``sources export``
    writes)."""
    query = select(Source).where(Source.origin != SourceOrigin.REMOVED).order_by(Source.id)
    return list(session.scalars(query))


def enable_source(row: Source) -> None:
    """Poll the source again, now: enabled, active (even after a 410) and no backoff left; a
    removed one is the operator's again (origin "cli")."""
    row.enabled, row.disabled_by = True, None
    row.status, row.next_check_at, row.consecutive_failures = SourceStatus.ACTIVE, None, 0
    if row.origin == SourceOrigin.REMOVED:
        row.origin = SourceOrigin.CLI


def disable_source(row: Source) -> None:
    """Stop polling the source on the operator's word; a restart's config sync keeps it so."""
    row.enabled, row.disabled_by = False, DisabledBy.OPERATOR


def remove_source(row: Source) -> None:
    """Stop polling the source and list it as removed; its items stay (``add_source`` with its
    URL brings it back)."""
    disable_source(row)
    row.origin = SourceOrigin.REMOVED


def delete_source(session: Session, row: Source) -> None:
    """Delete the source and, with it, its items."""
    session.delete(row)


def add_source(
    session: Session,
    url: str,
    *,
    name: str = "",
    tags: list[str] | None = None,
    publisher: str = "",
) -> tuple[Source, bool]:
    """Add a source from the command line (or OPML); returns (row, created).

    Adding a source that was removed earlier brings it back, with its items. ``publisher``
    names the site in digests (empty: named from its domain).
    """
    publisher = " ".join(publisher.split())
    existing = session.scalar(
        select(Source).where(or_(Source.url == url, Source.config_url == url))
    )
    if existing is not None and existing.origin == SourceOrigin.REMOVED:
        enable_source(existing)
        existing.name = name or existing.name
        existing.tags = [t.lower() for t in tags or []] or existing.tags
        existing.publisher = publisher or existing.publisher
        return existing, True
    if existing is not None:
        return existing, False
    row = Source(
        url=url,
        origin=SourceOrigin.CLI,
        name=name,
        tags=[t.lower() for t in tags or []],
        publisher=publisher,
    )
    session.add(row)
    session.flush()
    return row, True
