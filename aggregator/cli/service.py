"""``aggregator run``, ``status``, ``brief`` and ``publish``."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from apscheduler.triggers.cron import CronTrigger
from rich.table import Table
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from aggregator.briefs.model import Brief
from aggregator.briefs.pipeline import llm_for, make_briefs
from aggregator.cli.main import console, errors, get_app
from aggregator.cli.poll import outcome_line, summary_line
from aggregator.cli.sources import _ago, health
from aggregator.digest.compose import latest_fire_time
from aggregator.service import Pipeline, Service
from aggregator.store.models import BriefRow, Delivery, DigestRun, Item, Source, Subscriber


@click.command()
@click.option(
    "--once", is_flag=True, help="one full cycle, then exit: poll, brief, digests, deliver, publish"
)
@click.pass_context
def run(ctx: click.Context, once: bool) -> None:
    """Run the service: scheduler and web server (or one cycle with --once)."""
    app = get_app(ctx)
    pipeline = Pipeline(app)
    if not once:
        Service(pipeline).run()
        return
    report = pipeline.run_once()
    for outcome in report.poll.outcomes:
        console.print(outcome_line(outcome), soft_wrap=True)
    console.print(summary_line(report.poll))
    delivery = report.delivery
    console.print(
        f"digests: {len(report.runs)} run(s) started; mail: {delivery.sent} sent, {delivery.retried} to retry, "
        f"{delivery.bounced} bounced, {delivery.failed} failed"
    )
    published = report.published
    console.print(
        f"published {published.entries} entries to {app.settings.public_dir} "
        f"({len(published.changed)} file(s) changed)",
        markup=False,
    )


@click.command()
@click.pass_context
def publish(ctx: click.Context) -> None:
    """Write the combined feeds and the archive index now."""
    app = get_app(ctx)
    result = Pipeline(app).publish()
    console.print(
        f"published {result.entries} entries; {len(result.changed)} file(s) changed", markup=False
    )


@click.command()
@click.argument("item")
@click.option("--refresh", is_flag=True, help="summarize again even if a brief is cached")
@click.pass_context
def brief(ctx: click.Context, item: str, refresh: bool) -> None:
    """Print the brief of one item (ITEM is an id or the story's URL)."""
    app = get_app(ctx)
    with app.db.session() as session:
        query = (
            select(Item.id).where(Item.id == int(item))
            if item.isdigit()
            else select(Item.id).where(or_(Item.url == item, Item.guid == item))
        )
        item_id = session.scalars(query.limit(1)).first()
    if item_id is None:
        errors.print(f"error: no item {item!r} (give an item id or its URL)", markup=False)
        ctx.exit(1)
    make_briefs(app.db, app.settings, [item_id], llm=llm_for(app.settings), refresh=refresh)
    with app.db.session() as session:
        row = session.scalars(
            select(Item)
            .options(selectinload(Item.source), selectinload(Item.brief))
            .where(Item.id == item_id)
        ).one()
        show_brief(row, Brief.from_dict(row.brief.data))


def show_brief(item: Item, b: Brief) -> None:
    """A brief as a person reads it in the terminal."""
    console.print(f"\n[bold]{item.title}[/]", soft_wrap=True, highlight=False, markup=True)
    console.print(
        f"[dim]{item.source.label} · {item.published_at:%d %b %Y} · {b.reading_minutes} min read · {b.language} · {b.summarizer}[/]"
    )
    if b.bullets:
        console.print("\n[bold]In brief[/]")
        for bullet in b.bullets:
            console.print(f"  • {bullet}", markup=False, soft_wrap=True)
    if b.terms:
        console.print("\n[bold]Terms in this brief[/]")
        for term in b.terms:
            console.print(f"  [bold]{term.term}[/]: ", end="")
            console.print(term.definition, markup=False, soft_wrap=True)
    if item.url:
        console.print(
            f"\nRead full story at {item.source.label} → {item.url}", markup=False, soft_wrap=True
        )
    if b.paragraph:
        console.print('\n[dim]As a "More briefs" entry:[/]')
        console.print(b.paragraph, markup=False, soft_wrap=True)


@click.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Sources, digests, the outbox and the published feed at a glance."""
    app = get_app(ctx)
    settings = app.settings
    now = datetime.now(UTC)
    with app.db.session() as session:
        sources = session.scalars(select(Source).order_by(Source.id)).all()
        states: dict[str, int] = {}
        for s in sources:
            states[health(s)] = states.get(health(s), 0) + 1
        upcoming = [
            s.next_check_at
            for s in sources
            if s.enabled and s.status == "active" and s.next_check_at
        ]
        items = session.scalar(select(func.count()).select_from(Item))
        briefs = session.scalar(select(func.count()).select_from(BriefRow))
        subs = dict(
            session.execute(
                select(Subscriber.status, func.count()).group_by(Subscriber.status)
            ).all()
        )
        pending = session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.state.in_(("pending", "rendered")))
        )
        failed = session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.state.in_(("failed", "bounced")))
        )
        last_runs = {
            name: when
            for name, when in session.execute(
                select(DigestRun.digest_name, func.max(DigestRun.scheduled_for)).group_by(
                    DigestRun.digest_name
                )
            ).all()
        }
        failing = [s for s in sources if health(s) in ("failing", "retired")]
    console.print(
        f"[bold]Sources[/] {len(sources)}: "
        + ", ".join(f"{n} {k}" for k, n in sorted(states.items()))
    )
    if upcoming:
        console.print(f"  next check {_ago(min(upcoming), now)}")
    for s in failing[:10]:
        console.print(f"  [red]{health(s)}[/] {s.label}: {s.last_error}", soft_wrap=True)
    console.print(f"[bold]Items[/] {items}, briefs {briefs}")
    table = Table(box=None, pad_edge=False, title=None)
    for column in ("digest", "schedule", "last run", "next due"):
        table.add_column(column)
    for d in settings.digests:
        last = last_runs.get(d.name)
        due = latest_fire_time(d, now)
        next_due = "now (catch-up)" if due and (last is None or due > last) else "-"
        if next_due == "-":
            nxt = CronTrigger.from_crontab(d.schedule, timezone=d.timezone).get_next_fire_time(
                None, now
            )
            next_due = _ago(nxt, now) if nxt else "-"
        table.add_row(
            d.name, f"{d.schedule} ({d.timezone})", _ago(last, now) if last else "never", next_due
        )
    console.print("[bold]Digests[/]")
    console.print(table)
    console.print(
        "[bold]Subscribers[/] " + (", ".join(f"{n} {k}" for k, n in sorted(subs.items())) or "none")
    )
    console.print(f"[bold]Outbox[/] {pending} pending, {failed} failed or bounced")
    feed = settings.public_dir / "feed.atom"
    if feed.exists():
        stamp = datetime.fromtimestamp(feed.stat().st_mtime, UTC)
        console.print(
            f"[bold]Feed[/] {feed} published {_ago(stamp, now)}", markup=True, soft_wrap=True
        )
    else:
        console.print("[bold]Feed[/] not published yet")
