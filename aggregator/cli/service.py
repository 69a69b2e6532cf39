"""``aggregator run``, ``status``, ``brief`` and ``publish``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from aggregator.briefs.pipeline import llm_for, make_briefs
from aggregator.cli.main import console, fail, get_app
from aggregator.cli.output import add_row, json_option, print_json, styled
from aggregator.cli.poll import outcome_line, summary_line
from aggregator.cli.sources import ago
from aggregator.config import DigestSettings, Settings
from aggregator.digest.compose import latest_fire_time, next_fire_time
from aggregator.logs import SERVICE_LOGGERS
from aggregator.service import ROLES, ListenError, Pipeline, Service
from aggregator.store.listing import ItemBrief, Overview, find_item, item_brief, overview
from aggregator.store.llm_usage import last_llm_run


@click.command()
@click.option(
    "--once", is_flag=True, help="one full cycle, then exit: poll, brief, digests, deliver, publish"
)
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="all",
    show_default=True,
    help="all: scheduler and web server; worker: poll, brief and deliver (no web server); "
    "web: serve pages and feeds only",
)
@click.pass_context
def run(ctx: click.Context, once: bool, role: str) -> None:
    """Run the service: scheduler and web server (or one cycle with --once).

    Any number of processes can run on one PostgreSQL database: they share polling, briefs
    and delivery, and one of them (the leader) runs cron digests and publishing.
    """
    app = get_app(ctx)
    pipeline = Pipeline(app)
    if not once:
        if ctx.meta.get("log_level") == logging.WARNING:  # the default: say what the service does
            for name in SERVICE_LOGGERS:
                logging.getLogger(name).setLevel(logging.INFO)
        try:
            Service(pipeline, role=role).run()
        except ListenError as exc:
            pipeline.give_back()
            fail(ctx, str(exc))
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
        item_id = find_item(session, item)
    if item_id is None:
        fail(ctx, f"no item {item!r} (give an id from `aggregator items list` or the story's URL)")
    make_briefs(app.db, app.settings, [item_id], llm=llm_for(app.settings), refresh=refresh)
    with app.db.session() as session:
        shown = item_brief(session, item_id)
    assert shown is not None  # make_briefs wrote it
    show_brief(shown)


def show_brief(item: ItemBrief) -> None:
    """A brief as a person reads it in the terminal."""
    b = item.brief
    console.print(styled("\n[bold]{title}[/]", title=item.title), soft_wrap=True)
    console.print(
        styled(
            "[dim]{source} · {day} · {minutes} min read · {language} · {summarizer}[/]",
            source=item.source,
            day=f"{item.published:%d %b %Y}",
            minutes=b.reading_minutes,
            language=b.language,
            summarizer=b.summarizer,
        )
    )
    if b.bullets:
        console.print("\n[bold]In brief[/]")
        for bullet in b.bullets:
            console.print(f"  • {bullet}", markup=False, soft_wrap=True)
    if b.terms:
        console.print("\n[bold]Terms in this brief[/]")
        for term in b.terms:
            console.print(styled("  [bold]{term}[/]: ", term=term.term), end="")
            console.print(term.definition, markup=False, soft_wrap=True)
    if item.url:
        console.print(
            f"\nRead full story at {item.source} → {item.url}", markup=False, soft_wrap=True
        )
    if b.paragraph:
        console.print('\n[dim]As a "More briefs" entry:[/]')
        console.print(b.paragraph, markup=False, soft_wrap=True)


@dataclass(frozen=True, slots=True)
class DigestDue:
    """A configured digest, when it last ran and when it runs next."""

    settings: DigestSettings
    last_run: datetime | None
    """The latest run's scheduled time (its slot)."""
    next_due: datetime | None
    """None when a catch-up run is due now."""
    last_mailed: datetime | None = None
    """When mail of this digest last went out (its latest sent delivery)."""


def digests_due(
    settings: Settings,
    last_runs: dict[str, datetime],
    now: datetime,
    last_mailed: dict[str, datetime] | None = None,
) -> list[DigestDue]:
    """Each configured digest with its last run, its last mailing and its next due time."""
    digests = []
    for d in settings.digests:
        last = last_runs.get(d.name)
        due = latest_fire_time(d, now)
        catch_up = due and (last is None or due > last)  # a catch-up run is due now: None
        next_due = None if catch_up else next_fire_time(d, now)
        digests.append(DigestDue(d, last, next_due, (last_mailed or {}).get(d.name)))
    return digests


@click.command()
@json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Sources, digests, the outbox and the published feed at a glance."""
    app = get_app(ctx)
    now = datetime.now(UTC)
    with app.db.session() as session:
        report = overview(session, now)
    digests = digests_due(app.settings, report.last_runs, now, report.last_mailed)
    feed = app.settings.public_dir / "feed.atom"
    published = datetime.fromtimestamp(feed.stat().st_mtime, UTC) if feed.exists() else None
    llm = last_llm_run(app.db)
    if as_json:
        print_json(status_json(report, digests, feed, published) | {"llm_last_run": llm})
    else:
        print_status(report, digests, feed, published, now)
        if llm:
            print_llm_run(llm)


def status_json(
    report: Overview, digests: list[DigestDue], feed: Path, published: datetime | None
) -> dict[str, Any]:
    """What ``status --json`` prints."""
    return {
        "sources": {
            "total": report.sources,
            "states": report.source_states,
            "next_check": report.next_check,
            "failing": [
                {"id": s.id, "name": s.name, "state": s.state, "last_error": s.last_error}
                for s in report.failing
            ],
        },
        "items": report.items,
        "briefs": report.briefs,
        "digests": [
            {
                "name": d.settings.name,
                "schedule": d.settings.schedule,
                "timezone": d.settings.timezone,
                "last_run": d.last_run,
                "last_mailed": d.last_mailed,
                "next_due": d.next_due or "now",
            }
            for d in digests
        ],
        "subscribers": report.subscribers,
        "outbox": {
            "pending": report.pending,
            "failed_or_bounced": report.failed,
            "relay_refused": report.relay.refused,
            "relay_unavailable": report.relay.unavailable,
            "last_refusal": report.relay.last_refusal,
            "last_refusal_at": report.relay.last_refusal_at,
        },
        "feed": {"path": str(feed), "published": published},
    }


def print_llm_run(usage: dict[str, Any]) -> None:
    """The last LLM run's calls and tokens against its limits, and its top sources."""
    budget = usage.get("max_tokens_per_run") or "no"
    per_source = usage.get("max_tokens_per_source") or "no"
    console.print(
        styled(
            "[bold]LLM[/] {model} last run {at}: {calls} of {max_calls} calls, {tokens} tokens "
            "({budget} run budget, {per_source} source budget)",
            model=usage.get("model"),
            at=usage.get("at"),
            calls=usage.get("calls"),
            max_calls=usage.get("max_calls"),
            tokens=usage.get("tokens"),
            budget=budget,
            per_source=per_source,
        )
        + (", breaker open" if usage.get("breaker_open") else "")
    )
    by_source = usage.get("by_source")
    if isinstance(by_source, dict):
        for name, tokens in list(by_source.items())[:5]:
            console.print(f"  {name}: {tokens} tokens", markup=False)


def print_status(
    report: Overview,
    digests: list[DigestDue],
    feed: Path,
    published: datetime | None,
    now: datetime,
) -> None:
    """``status`` as a person reads it in the terminal."""
    console.print(
        f"[bold]Sources[/] {report.sources}: "
        + ", ".join(f"{n} {k}" for k, n in report.source_states.items())
    )
    if report.next_check:
        console.print(f"  next check {ago(report.next_check, now)}")
    for s in report.failing[:10]:
        console.print(
            styled(
                "  [red]{state}[/] {name}: {error}",
                state=s.state,
                name=s.name,
                error=s.last_error or "",
            )
        )
    console.print(f"[bold]Items[/] {report.items}, briefs {report.briefs}")
    grid = Table(box=None, pad_edge=False, title=None)
    for column in ("digest", "schedule", "last mailed", "last run (slot)", "next due"):
        grid.add_column(column)
    for d in digests:
        add_row(
            grid,
            d.settings.name,
            f"{d.settings.schedule} ({d.settings.timezone})",
            ago(d.last_mailed, now) if d.last_mailed else "never",
            ago(d.last_run, now) if d.last_run else "never",
            ago(d.next_due, now) if d.next_due else "now (catch-up)",
        )
    console.print("[bold]Digests[/]")
    console.print(grid)
    console.print(
        "[bold]Subscribers[/] "
        + (", ".join(f"{n} {k}" for k, n in report.subscribers.items()) or "none")
    )
    console.print(f"[bold]Outbox[/] {report.pending} pending, {report.failed} failed or bounced")
    relay = report.relay
    if relay.refused:
        console.print(
            styled(
                "  [red]{n} mail(s) refused by the relay[/] in the last day (nobody bounced; "
                "mend the relay or mail.from_address), last {ago}: {reply}",
                n=relay.refused,
                ago=ago(relay.last_refusal_at, now) if relay.last_refusal_at else "",
                reply=relay.last_refusal or "",
            )
        )
    if relay.unavailable:
        console.print(
            styled(
                "  [red]{n} mail(s) not sent: the relay could not be used[/] in the last day",
                n=relay.unavailable,
            )
        )
    if published:
        console.print(
            styled("[bold]Feed[/] {feed} published {ago}", feed=feed, ago=ago(published, now))
        )
    else:
        console.print("[bold]Feed[/] not published yet")
