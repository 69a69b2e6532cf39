"""Read-only reports for the operator's lists: sources, items, digest runs and deliveries.

Each function returns plain rows; the command line decides how to show them (table or JSON).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from aggregator.model.brief import Brief
from aggregator.model.status import (
    NOTHING_NEW,
    UNDELIVERED,
    UNFINISHED,
    DeliveryFault,
    DeliveryState,
    SourceHealth,
    SourceOrigin,
    SourceStatus,
)
from aggregator.store.models import (
    BriefRow,
    Delivery,
    DigestRun,
    Edition,
    Item,
    PushSubscription,
    Source,
    Subscriber,
    utcnow,
)

SOURCE_HEALTH = case(
    (Source.status == SourceStatus.RETIRED, SourceHealth.RETIRED.value),
    (Source.origin == SourceOrigin.REMOVED, SourceHealth.REMOVED.value),
    (Source.enabled.is_(False), SourceHealth.DISABLED.value),
    (Source.consecutive_failures > 0, SourceHealth.FAILING.value),
    (Source.last_success_at.is_not(None), SourceHealth.OK.value),
    else_=SourceHealth.NEW.value,
).label("health")
"""A source's one-word ``SourceHealth``, the one definition every report uses."""


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One source as ``sources list`` shows it."""

    id: int
    name: str
    url: str
    state: str
    tags: list[str]
    items: int
    last_check: datetime | None
    next_check: datetime | None
    failures: int
    last_error: str | None
    push: str = "-"
    """Its WebSub subscription's state (a ``PushState``), "-" without one."""


def list_sources(session: Session) -> list[SourceRow]:
    """Every source with its state and item count, by id."""
    counts = dict(
        session.execute(select(Item.source_id, func.count()).group_by(Item.source_id)).all()
    )
    pushes = dict(session.execute(select(PushSubscription.source_id, PushSubscription.state)).all())
    return [
        SourceRow(
            id=s.id,
            name=s.label,
            url=s.url,
            state=health,
            tags=list(s.tags),
            items=counts.get(s.id, 0),
            last_check=s.last_checked_at,
            next_check=s.next_check_at if s.enabled and s.status == SourceStatus.ACTIVE else None,
            failures=s.consecutive_failures,
            last_error=s.last_error,
            push=pushes.get(s.id, "-"),
        )
        for s, health in session.execute(select(Source, SOURCE_HEALTH).order_by(Source.id))
    ]


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One item as ``items list`` shows it; ``id`` is what ``brief`` takes."""

    id: int
    published: datetime
    source_id: int
    source: str
    title: str
    url: str | None
    story: str
    """The item's story (the id ``stories list`` gives)."""


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_items(
    session: Session,
    *,
    source_id: int | None = None,
    since: datetime | None = None,
    search: str = "",
    limit: int = 50,
) -> list[ItemRow]:
    """The newest items (by publication date), optionally of one source, published since a
    moment, or whose title or text contains ``search`` (case-insensitive)."""
    query = (
        select(
            Item.id,
            Item.published_at,
            Item.source_id,
            Source.name,
            Source.feed_title,
            Source.url,
            Item.title,
            Item.url,
            Item.story_key,
        )
        .join(Source, Source.id == Item.source_id)
        .order_by(Item.published_at.desc(), Item.id.desc())
        .limit(limit)
    )
    if source_id is not None:
        query = query.where(Item.source_id == source_id)
    if since is not None:
        query = query.where(Item.published_at >= since)
    if search:
        pattern = _like(search)
        query = query.where(
            or_(
                Item.title.ilike(pattern, escape="\\"),
                Item.content_text.ilike(pattern, escape="\\"),
            )
        )
    return [
        ItemRow(
            id=item_id,
            published=published,
            source_id=sid,
            source=name or feed_title or source_url,
            title=title,
            url=url,
            story=story,
        )
        for item_id, published, sid, name, feed_title, source_url, title, url, story in (
            session.execute(query)
        )
    ]


def find_item(session: Session, ref: str) -> int | None:
    """The id of the item ``ref`` names: its id, its URL or its guid."""
    query = (
        select(Item.id).where(Item.id == int(ref))
        if ref.isdigit()
        else select(Item.id).where(or_(Item.url == ref, Item.guid == ref))
    )
    return session.scalars(query.limit(1)).first()


@dataclass(frozen=True, slots=True)
class ItemBrief:
    """An item and its brief, as ``brief`` prints them."""

    title: str
    source: str
    published: datetime
    url: str | None
    brief: Brief


def item_brief(session: Session, item_id: int) -> ItemBrief | None:
    """The item with its brief, or None when it has none (or there is no such item)."""
    item = session.scalars(
        select(Item)
        .options(selectinload(Item.source), selectinload(Item.brief))
        .where(Item.id == item_id)
    ).first()
    if item is None or item.brief is None:
        return None
    return ItemBrief(
        title=item.title,
        source=item.source.label,
        published=item.published_at,
        url=item.url,
        brief=Brief.from_dict(item.brief.data),
    )


@dataclass(frozen=True, slots=True)
class RunRow:
    """One digest run with how many of its deliveries are in each state."""

    id: int
    digest: str
    scheduled_for: datetime
    status: str
    counts: dict[str, int]


def list_runs(session: Session, limit: int) -> list[RunRow]:
    """The ``limit`` most recent digest runs, newest first."""
    runs = session.scalars(select(DigestRun).order_by(DigestRun.id.desc()).limit(limit)).all()
    counts: dict[tuple[int, str], int] = {
        (r, s): n
        for r, s, n in session.execute(
            select(Delivery.run_id, Delivery.state, func.count())
            .where(Delivery.run_id.in_([r.id for r in runs]))
            .group_by(Delivery.run_id, Delivery.state)
        ).all()
    }
    return [
        RunRow(
            id=run.id,
            digest=run.digest_name,
            scheduled_for=run.scheduled_for,
            status=run.status,
            counts={s: counts.get((run.id, s), 0) for s in DeliveryState},
        )
        for run in runs
    ]


def run_states(
    session: Session, digest_name: str, scheduled_for: datetime, subscriber_ids: Sequence[int] = ()
) -> dict[str, int]:
    """How many deliveries of one run (of ``subscriber_ids``, or all) are in each state; a
    delivery skipped for want of news counts as "nothing new", apart from the other skips."""
    nothing_new = (Delivery.state == DeliveryState.SKIPPED) & (Delivery.last_error == NOTHING_NEW)
    label = case((nothing_new, NOTHING_NEW), else_=Delivery.state)
    query = (
        select(label, func.count())
        .join(DigestRun)
        .where(DigestRun.digest_name == digest_name, DigestRun.scheduled_for == scheduled_for)
        .group_by(label)
    )
    if subscriber_ids:
        query = query.where(Delivery.subscriber_id.in_(subscriber_ids))
    found: dict[str, int] = dict(session.execute(query).tuples().all())
    return {state: found.get(state, 0) for state in (*DeliveryState, NOTHING_NEW)}


@dataclass(frozen=True, slots=True)
class EditionRow:
    """One edition (a digest run) as ``digest list`` shows it: what went out, when, to whom."""

    digest: str
    run: int
    scheduled_for: datetime
    sent_at: datetime | None
    """When mail actually went out: the run's last sent delivery (None: nothing sent)."""
    sent: int
    failed: int
    bounced: int
    skipped: int
    lead: str | None
    """The lead story's title in the edition most of its recipients got."""
    archive: str | None
    """The public archive page's URL, when it is published."""


def main_editions(session: Session, run_ids: Sequence[int]) -> dict[int, int]:
    """Per run, the edition most of its deliveries got (sent ones first; ties: the first)."""
    sent = func.sum(case((Delivery.state == DeliveryState.SENT, 1), else_=0))
    rows = session.execute(
        select(Delivery.run_id, Delivery.edition_id, sent, func.count())
        .where(Delivery.run_id.in_(run_ids), Delivery.edition_id.is_not(None))
        .group_by(Delivery.run_id, Delivery.edition_id)
    ).all()
    best: dict[int, tuple[tuple[int, int, int], int]] = {}
    for run_id, edition_id, n_sent, n_all in rows:
        rank = (int(n_sent or 0), int(n_all), -edition_id)
        if run_id not in best or rank > best[run_id][0]:
            best[run_id] = (rank, edition_id)
    return {run_id: edition_id for run_id, (_, edition_id) in best.items()}


def _lead_titles(session: Session, edition_ids: Sequence[int]) -> dict[int, str]:
    """Per edition, its lead story's title (its first item, the lead's primary item)."""
    firsts = {
        e_id: items[0]
        for e_id, items in session.execute(
            select(Edition.id, Edition.item_ids).where(Edition.id.in_(edition_ids))
        )
        if items
    }
    titles = {
        i: title or (brief or {}).get("title") or "(untitled)"
        for i, title, brief in session.execute(
            select(Item.id, Item.title, BriefRow.data)
            .outerjoin(BriefRow, BriefRow.item_id == Item.id)
            .where(Item.id.in_(set(firsts.values())))
        )
    }
    return {e_id: titles[i] for e_id, i in firsts.items() if i in titles}


def list_editions(
    session: Session, *, public_dir: Path, base_url: str, limit: int = 20
) -> list[EditionRow]:
    """The ``limit`` latest editions, newest first (by when they were mailed, else queued);
    an archive link for those whose page is in ``public_dir``, under ``base_url``."""
    last_sent = (
        select(Delivery.run_id, func.max(Delivery.sent_at).label("at"))
        .where(Delivery.state == DeliveryState.SENT)
        .group_by(Delivery.run_id)
        .subquery()
    )
    runs = session.execute(
        select(DigestRun, last_sent.c.at)
        .outerjoin(last_sent, last_sent.c.run_id == DigestRun.id)
        .order_by(func.coalesce(last_sent.c.at, DigestRun.created_at).desc(), DigestRun.id.desc())
        .limit(limit)
    ).all()
    ids = [run.id for run, _ in runs]
    counts: dict[tuple[int, str], int] = {
        (r, s): n
        for r, s, n in session.execute(
            select(Delivery.run_id, Delivery.state, func.count())
            .where(Delivery.run_id.in_(ids))
            .group_by(Delivery.run_id, Delivery.state)
        ).all()
    }
    editions = main_editions(session, ids)
    leads = _lead_titles(session, list(editions.values()))
    rows = []
    for run, at in runs:
        published = (public_dir / run.archive_path / "index.html").is_file()
        rows.append(
            EditionRow(
                digest=run.digest_name,
                run=run.id,
                scheduled_for=run.scheduled_for,
                sent_at=at,
                sent=counts.get((run.id, DeliveryState.SENT), 0),
                failed=counts.get((run.id, DeliveryState.FAILED), 0),
                bounced=counts.get((run.id, DeliveryState.BOUNCED), 0),
                skipped=counts.get((run.id, DeliveryState.SKIPPED), 0),
                lead=leads.get(editions.get(run.id, -1)),
                archive=f"{base_url}/{run.archive_path}" if published else None,
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class MailedEdition:
    """The edition of a run most of its recipients got, split at the personal values."""

    digest: str
    subject: str
    html_pieces: list[Any]
    text_pieces: list[Any]
    recipients: int
    """How many deliveries of this edition were sent."""


def mailed_edition(session: Session, run_id: int) -> MailedEdition | None:
    """The run's main edition (see ``main_editions``), or None when it rendered none."""
    edition_id = main_editions(session, [run_id]).get(run_id)
    edition = session.get(Edition, edition_id) if edition_id is not None else None
    if edition is None:
        return None
    sent = session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.edition_id == edition.id, Delivery.state == DeliveryState.SENT)
    )
    run = session.get(DigestRun, run_id)
    assert run is not None
    return MailedEdition(
        digest=run.digest_name,
        subject=edition.subject,
        html_pieces=list(edition.html_pieces),
        text_pieces=list(edition.text_pieces),
        recipients=sent or 0,
    )


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One delivery of a run."""

    id: int
    subscriber: str
    state: str
    attempts: int
    next_attempt: datetime | None
    sent_at: datetime | None
    last_error: str | None


def list_deliveries(session: Session, run_id: int) -> list[DeliveryRow]:
    """Every delivery of one run, by id; ``next_attempt`` only while one is planned."""
    rows = session.execute(
        select(Delivery, Subscriber.email)
        .join(Subscriber)
        .where(Delivery.run_id == run_id)
        .order_by(Delivery.id)
    ).all()
    return [
        DeliveryRow(
            id=d.id,
            subscriber=email,
            state=d.state,
            attempts=d.attempts,
            next_attempt=d.next_attempt_at if d.state == DeliveryState.RENDERED else None,
            sent_at=d.sent_at,
            last_error=d.last_error,
        )
        for d, email in rows
    ]


@dataclass(frozen=True, slots=True)
class SubscriberRow:
    """One subscriber as ``subscribers list`` shows it."""

    id: int
    email: str
    status: str
    digests: list[str]
    tags: list[str]
    sources: list[int]
    timezone: str
    language: str
    bounces: int
    note: str | None
    created: datetime


def list_subscribers(session: Session, status: str | None = None) -> list[SubscriberRow]:
    """Every subscriber (or those with ``status``), by id."""
    query = select(Subscriber).order_by(Subscriber.id)
    if status:
        query = query.where(Subscriber.status == status)
    return [
        SubscriberRow(
            id=s.id,
            email=s.email,
            status=s.status,
            digests=list(s.digests),
            tags=list(s.tags),
            sources=list(s.sources),
            timezone=s.timezone,
            language=s.language,
            bounces=s.hard_bounces,
            note=s.status_reason,
            created=s.created_at,
        )
        for s in session.scalars(query)
    ]


RECENT_FAULTS = timedelta(hours=24)
"""How far back ``status`` and ``/metrics`` look for sends the relay refused or failed."""


@dataclass(frozen=True, slots=True)
class RelayFaults:
    """Mail not yet delivered whose last try in the last day failed for the relay's fault."""

    refused: int
    """The relay refused the sender or the message."""
    unavailable: int
    """The relay could not be reached or used."""
    last_refusal: str | None
    """The relay's reply to the latest refused one ("relay refused the sender: 550 ...")."""
    last_refusal_at: datetime | None


def relay_faults(session: Session, now: datetime | None = None) -> RelayFaults:
    """Deliveries still to send or given up whose last try, in the last day, failed because of
    the relay, by fault; and the latest refusal's reply."""
    recent = (
        Delivery.state.in_((DeliveryState.RENDERED, DeliveryState.FAILED)),
        Delivery.last_attempt_at >= (now or utcnow()) - RECENT_FAULTS,
    )
    counts: dict[str | None, int] = {
        fault: n
        for fault, n in session.execute(
            select(Delivery.fault, func.count())
            .where(Delivery.fault.is_not(None), *recent)
            .group_by(Delivery.fault)
        )
    }
    last = session.execute(
        select(Delivery.last_error, Delivery.last_attempt_at)
        .where(Delivery.fault == DeliveryFault.REFUSED, *recent)
        .order_by(Delivery.last_attempt_at.desc(), Delivery.id.desc())
        .limit(1)
    ).first()
    return RelayFaults(
        refused=counts.get(DeliveryFault.REFUSED, 0),
        unavailable=counts.get(DeliveryFault.UNAVAILABLE, 0),
        last_refusal=last[0] if last else None,
        last_refusal_at=last[1] if last else None,
    )


@dataclass(frozen=True, slots=True)
class Overview:
    """What ``status`` reports from the store."""

    sources: int
    source_states: dict[str, int]
    """How many sources are in each ``SourceHealth`` state, by state."""
    next_check: datetime | None
    """The soonest planned poll of any source."""
    failing: list[SourceRow]
    """The failing and retired sources, by id."""
    items: int
    briefs: int
    subscribers: dict[str, int]
    """How many subscribers have each status, by status."""
    pending: int
    failed: int
    last_runs: dict[str, datetime]
    """Each digest's latest scheduled run."""
    last_mailed: dict[str, datetime]
    """When each digest last went out: its latest sent delivery."""
    relay: RelayFaults
    """Recent sends the relay refused or failed."""


def overview(session: Session, now: datetime | None = None) -> Overview:
    """Counts of sources by state, items, briefs, subscribers and the outbox; last runs."""

    def count(query) -> int:  # noqa: ANN001 - a select of one count
        return session.scalar(query) or 0

    sources = list_sources(session)
    deliveries = select(func.count()).select_from(Delivery)
    subscribers = session.execute(
        select(Subscriber.status, func.count()).group_by(Subscriber.status)
    ).all()
    return Overview(
        sources=len(sources),
        source_states=dict(sorted(Counter(s.state for s in sources).items())),
        next_check=min((s.next_check for s in sources if s.next_check), default=None),
        failing=[s for s in sources if s.state in (SourceHealth.FAILING, SourceHealth.RETIRED)],
        items=count(select(func.count()).select_from(Item)),
        briefs=count(select(func.count()).select_from(BriefRow)),
        subscribers={str(status): n for status, n in sorted(subscribers)},
        pending=count(deliveries.where(Delivery.state.in_(UNFINISHED))),
        failed=count(deliveries.where(Delivery.state.in_(UNDELIVERED))),
        last_runs=dict(
            session.execute(
                select(DigestRun.digest_name, func.max(DigestRun.scheduled_for)).group_by(
                    DigestRun.digest_name
                )
            ).all()
        ),
        last_mailed={
            name: at
            for name, at in session.execute(
                select(DigestRun.digest_name, func.max(Delivery.sent_at))
                .join(Delivery)
                .where(Delivery.state == DeliveryState.SENT)
                .group_by(DigestRun.digest_name)
            )
            if at is not None
        },
        relay=relay_faults(session, now),
    )


def live_sources(session: Session) -> list[Source]:
    """The sources a subscriber can choose: enabled and live (not retired or removed), by label."""
    rows = session.scalars(
        select(Source).where(Source.enabled.is_(True), Source.status == SourceStatus.ACTIVE)
    ).all()
    return sorted(rows, key=lambda s: s.label.lower())
