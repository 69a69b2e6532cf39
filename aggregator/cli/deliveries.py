"""``aggregator deliveries`` and ``aggregator digest``: the outbox, runs and previews."""

from __future__ import annotations

import webbrowser
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.table import Table
from sqlalchemy import func, select

from aggregator.cli.main import console, errors, get_app
from aggregator.digest.compose import choose_stories, digest_view, public_html
from aggregator.digest.outbox import last_sent_cutoffs, requeue
from aggregator.store.models import Delivery, DigestRun, Subscriber

STATES = ("pending", "rendered", "sent", "failed", "bounced", "skipped")


@click.group()
def deliveries() -> None:
    """The outbox: one row per digest run and subscriber."""


@deliveries.command("list")
@click.option("--run", "run_id", type=int, help="show each delivery of this run")
@click.option("--limit", default=20, show_default=True, help="how many recent runs")
@click.pass_context
def list_deliveries(ctx: click.Context, run_id: int | None, limit: int) -> None:
    """Per run: how many deliveries are in each state (or every delivery of --run)."""
    app = get_app(ctx)
    with app.db.session() as session:
        if run_id is not None:
            table = Table(box=None, pad_edge=False)
            for column in ("id", "subscriber", "state", "attempts", "next attempt", "last error"):
                table.add_column(column, overflow="fold")
            rows = session.execute(
                select(Delivery, Subscriber.email)
                .join(Subscriber)
                .where(Delivery.run_id == run_id)
                .order_by(Delivery.id)
            ).all()
            for d, email in rows:
                nxt = (
                    d.next_attempt_at.strftime("%Y-%m-%d %H:%M")
                    if d.next_attempt_at and d.state == "rendered"
                    else "-"
                )
                table.add_row(str(d.id), email, d.state, str(d.attempts), nxt, d.last_error or "")
            console.print(table if rows else f"Run {run_id} has no deliveries.")
            return
        runs = session.scalars(select(DigestRun).order_by(DigestRun.id.desc()).limit(limit)).all()
        counts: dict[tuple[int, str], int] = {
            (r, s): n
            for r, s, n in session.execute(
                select(Delivery.run_id, Delivery.state, func.count())
                .where(Delivery.run_id.in_([r.id for r in runs]))
                .group_by(Delivery.run_id, Delivery.state)
            ).all()
        }
        table = Table(box=None, pad_edge=False)
        for column in ("run", "digest", "scheduled for", "status", *STATES):
            table.add_column(column)
        for run in runs:
            table.add_row(
                str(run.id),
                run.digest_name,
                run.scheduled_for.strftime("%Y-%m-%d %H:%M UTC"),
                run.status,
                *(str(counts.get((run.id, s), 0)) for s in STATES),
            )
    console.print(table if runs else "No digest runs yet.")


@deliveries.command("requeue")
@click.option("--run", "run_id", type=int, help="only this run")
@click.argument("ids", nargs=-1, type=int)
@click.pass_context
def requeue_cmd(ctx: click.Context, run_id: int | None, ids: tuple[int, ...]) -> None:
    """Put failed or bounced deliveries back in the queue (the next `run` sends them)."""
    app = get_app(ctx)
    count = requeue(app.db, run_id=run_id, delivery_ids=ids)
    console.print(f"requeued {count} deliveries", markup=False)


@click.group()
def digest() -> None:
    """Preview a digest as it would be sent now."""


@digest.command("preview")
@click.option("--name", "digest_name", help="which digest (default: the first configured)")
@click.option("--subscriber", help="email: use their filters and their last delivery")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("digest-preview.html"),
    show_default=True,
)
@click.option("--open", "open_browser", is_flag=True, help="open the file in a browser")
@click.pass_context
def preview(
    ctx: click.Context,
    digest_name: str | None,
    subscriber: str | None,
    output: Path,
    open_browser: bool,
) -> None:
    """Write the digest as it would be sent now to an HTML file."""
    app = get_app(ctx)
    settings = app.settings
    if not settings.digests:
        errors.print(f"error: {settings.origin} defines no [[digests]]", markup=False)
        ctx.exit(1)
    chosen = settings.digest(digest_name) if digest_name else settings.digests[0]
    if chosen is None:
        errors.print(f"error: no digest named {digest_name!r}", markup=False)
        ctx.exit(1)
    now = datetime.now(UTC)
    with app.db.session() as session:
        since, tags, sources, timezone = None, (), (), None
        if subscriber:
            row = session.scalar(
                select(Subscriber).where(Subscriber.email == subscriber.strip().lower())
            )
            if row is None:
                errors.print(f"error: no subscriber {subscriber!r}", markup=False)
                ctx.exit(1)
            tags, sources, timezone = row.tags, row.sources, row.timezone
            since = last_sent_cutoffs(session, chosen.name, [row.id]).get(row.id)
        stories = choose_stories(
            session, chosen, since=since, until=now, source_ids=sources, tags=tags
        )
        view = digest_view(settings, chosen, stories, moment=now, timezone=timezone)
    html = public_html(settings, view)
    output.write_text(html, encoding="utf-8")
    console.print(
        f"wrote {output} ({len(stories)} stories, {len(html.encode()) // 1024} KB)", markup=False
    )
    if open_browser:
        webbrowser.open(output.resolve().as_uri())
