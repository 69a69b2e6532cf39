"""``aggregator deliveries`` and ``aggregator digest``: the outbox, runs and previews."""

from __future__ import annotations

import tempfile
import webbrowser
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from aggregator.briefs.pipeline import on_demand
from aggregator.cli.main import console, fail, get_app
from aggregator.cli.output import add_row, date, json_option, print_json, table
from aggregator.digest.compose import (
    choose_stories,
    digest_view,
    latest_fire_time,
    public_html,
    sign_up_url,
)
from aggregator.digest.outbox import story_translations, window_starts
from aggregator.digest.render import filled, personal_values
from aggregator.model.status import NOTHING_NEW, DeliveryState, SubscriberStatus
from aggregator.service import Pipeline
from aggregator.store.deliveries import requeue, unknown
from aggregator.store.listing import (
    list_deliveries,
    list_editions,
    list_runs,
    mailed_edition,
    run_states,
)
from aggregator.store.subscribers import find_subscriber
from aggregator.stories.listing import story_rows


@click.group()
def deliveries() -> None:
    """The outbox: one row per digest run and subscriber."""


@deliveries.command("list")
@click.option("--run", "run_id", type=int, help="show each delivery of this run")
@click.option("--limit", default=20, show_default=True, help="how many recent runs")
@json_option
@click.pass_context
def list_deliveries_cmd(ctx: click.Context, run_id: int | None, limit: int, as_json: bool) -> None:
    """Per run: how many deliveries are in each state (or every delivery of --run)."""
    app = get_app(ctx)
    if run_id is not None and (missing := unknown(app.db, run_id=run_id)):
        fail(ctx, f"no {missing[0]} (see `aggregator deliveries list`)")
    with app.db.session() as session:
        rows = list_deliveries(session, run_id) if run_id is not None else None
        runs = list_runs(session, limit) if rows is None else []
    if rows is not None:
        if as_json:
            print_json(rows)
            return
        grid = table(
            ("id", "subscriber", "state", "attempts", "next attempt", "sent", "last error")
        )
        for d in rows:
            add_row(
                grid,
                str(d.id),
                d.subscriber,
                d.state,
                str(d.attempts),
                date(d.next_attempt),
                date(d.sent_at),
                d.last_error or "",
            )
        console.print(grid if rows else f"Run {run_id} has no deliveries.")
        return
    if as_json:
        print_json(runs)
        return
    grid = table(("run", "digest", "scheduled for", "status", *tuple(DeliveryState)))
    for run in runs:
        add_row(
            grid,
            str(run.id),
            run.digest,
            date(run.scheduled_for),
            run.status,
            *(str(run.counts[s]) for s in tuple(DeliveryState)),
        )
    console.print(grid if runs else "No digest runs yet.")


@deliveries.command("requeue")
@click.option("--run", "run_id", type=int, help="only this run")
@click.argument("ids", nargs=-1, type=int)
@click.pass_context
def requeue_cmd(ctx: click.Context, run_id: int | None, ids: tuple[int, ...]) -> None:
    """Put failed or bounced deliveries back in the queue (the next `run` sends them): each
    subscriber's latest edition of a digest only, which holds what the older ones held."""
    app = get_app(ctx)
    if missing := unknown(app.db, run_id=run_id, delivery_ids=ids):
        fail(ctx, f"no {', no '.join(missing)} (see `aggregator deliveries list`)")
    done = requeue(app.db, run_id=run_id, delivery_ids=ids)
    line = f"requeued {done.requeued} deliveries"
    if done.superseded:
        line += f"; left {done.superseded} older edition(s) a later one already covers"
    console.print(line, markup=False)


@click.group()
def digest() -> None:
    """What was sent (list, show), a preview, or a send now."""


@digest.command("list")
@click.option(
    "--limit",
    type=click.IntRange(1, 100_000),
    default=20,
    show_default=True,
    help="how many recent editions",
)
@json_option
@click.pass_context
def list_editions_cmd(ctx: click.Context, limit: int, as_json: bool) -> None:
    """Each edition, newest first: when it was mailed, to how many, its lead story and its
    archive page."""
    app = get_app(ctx)
    with app.db.session() as session:
        rows = list_editions(
            session,
            public_dir=app.settings.public_dir,
            base_url=app.settings.general.base_url,
            limit=limit,
        )
    if as_json:
        print_json(rows)
        return
    grid = table(
        ("run", "digest", "mailed", "sent", "failed", "bounced", "skipped", "lead story", "archive")
    )
    for row in rows:
        add_row(
            grid,
            str(row.run),
            row.digest,
            date(row.sent_at),
            str(row.sent),
            str(row.failed),
            str(row.bounced),
            str(row.skipped),
            row.lead,
            row.archive,
        )
    console.print(grid if rows else "No digest has been sent yet.")


@digest.command("show")
@click.argument("run_id", metavar="RUN", type=click.IntRange(1, 2**63 - 1))
@click.option("--text", "as_text", is_flag=True, help="the plain-text part instead of the HTML")
@click.option("--open", "open_browser", is_flag=True, help="write it to a file and open a browser")
@click.pass_context
def show(ctx: click.Context, run_id: int, as_text: bool, open_browser: bool) -> None:
    """The edition of run RUN as it was mailed (the one most of its recipients got); its
    personal links lead to the sign-up page, never to a subscriber's own."""
    app = get_app(ctx)
    if unknown(app.db, run_id=run_id):
        fail(ctx, f"no run {run_id} (see `aggregator digest list`)")
    with app.db.session() as session:
        edition = mailed_edition(session, run_id)
    if edition is None:
        fail(ctx, f"run {run_id} mailed nothing: none of its deliveries got an edition")
    sign_up = sign_up_url(app.settings)
    n = edition.recipients
    html_values, text_values = personal_values(
        unsubscribe_url=sign_up,
        preferences_url=sign_up,
        recipient=f"{n} recipient{'' if n == 1 else 's'}",
    )
    document = (
        filled(edition.text_pieces, text_values)
        if as_text
        else filled(edition.html_pieces, html_values)
    )
    if not open_browser:
        click.echo(document)
        return
    with tempfile.NamedTemporaryFile(
        "w",
        encoding="utf-8",
        prefix=f"digest-run-{run_id}-",
        suffix=".txt" if as_text else ".html",
        delete=False,
    ) as handle:
        handle.write(document)
    path = Path(handle.name)
    console.print(f"wrote {path}", markup=False)
    if not webbrowser.open(path.as_uri()):
        fail(ctx, f"no web browser found to open {path}; open the file yourself or set $BROWSER")


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
@json_option
@click.pass_context
def preview(
    ctx: click.Context,
    digest_name: str | None,
    subscriber: str | None,
    output: Path,
    open_browser: bool,
    as_json: bool,
) -> None:
    """Write the digest as it would be sent now to an HTML file (or print its stories)."""
    app = get_app(ctx)
    settings = app.settings
    if not settings.digests:
        fail(ctx, f"{settings.origin} defines no [[digests]]")
    chosen = settings.digest(digest_name) if digest_name else settings.digests[0]
    if chosen is None:
        known = ", ".join(d.name for d in settings.digests)
        fail(ctx, f"no digest named {digest_name!r} (configured: {known})")
    now = datetime.now(UTC)
    with app.db.session() as session:
        since: datetime | None = None
        tags: Sequence[str] = ()
        sources: Sequence[int] = ()
        timezone: str | None = None
        language = ""
        if subscriber:
            row = find_subscriber(session, subscriber)
            if row is None:
                fail(ctx, f"no subscriber {subscriber!r}")
            tags, sources, timezone, language = row.tags, row.sources, row.timezone, row.language
            since = window_starts(session, [(chosen.name, row.id)]).get((chosen.name, row.id))
        stories = choose_stories(
            session,
            chosen,
            since=since,
            until=now,
            source_ids=sources,
            tags=tags,
            brief_missing=on_demand(app.db, settings),
        )
        if as_json:
            print_json({"stories": story_rows(session, stories)})
            return
        view = digest_view(
            settings,
            chosen,
            stories,
            moment=now,
            timezone=timezone,
            language=language,
            translated=story_translations(app.db, stories, language, None) if language else None,
        )
    html = public_html(settings, view, as_mailed=True)
    output.write_text(html, encoding="utf-8")
    console.print(
        f"wrote {output} ({len(stories)} stories, {len(html.encode()) // 1024} KB)", markup=False
    )
    if open_browser and not webbrowser.open(output.resolve().as_uri()):
        fail(ctx, f"no web browser found to open {output}; open the file yourself or set $BROWSER")


@digest.command("send")
@click.option("--name", "names", multiple=True, help="which digest (repeatable; default: all)")
@click.option(
    "--now",
    is_flag=True,
    help="a new edition as of now, instead of the latest scheduled one",
)
@click.option(
    "--subscriber", help="email: a test send to this subscriber only (their digests; not archived)"
)
@click.pass_context
def send(ctx: click.Context, names: tuple[str, ...], now: bool, subscriber: str | None) -> None:
    """Send a digest now to everyone due: the latest scheduled edition to each active
    subscriber who has not had it (or, with --now, a new edition as of now)."""
    app = get_app(ctx)
    settings = app.settings
    unknown = [n for n in names if settings.digest(n) is None]
    if unknown or not settings.digests:
        known = ", ".join(d.name for d in settings.digests) or "none"
        fail(ctx, f"no digest named {', '.join(map(repr, unknown))} (configured: {known})")
    chosen = [d for n in names if (d := settings.digest(n))] if names else list(settings.digests)
    only: list[int] = []
    if subscriber:
        with app.db.session() as session:
            row = find_subscriber(session, subscriber)
            if row is None or row.status != SubscriberStatus.ACTIVE:
                state = "no such subscriber" if row is None else f"the subscriber is {row.status}"
                fail(ctx, f"{subscriber}: {state}; only active subscribers get digests")
            only, theirs = [row.id], list(row.digests or [])
        if not_theirs := [d.name for d in chosen if d.name not in theirs and names]:
            fail(
                ctx,
                f"{row.email} does not get the digest {', '.join(map(repr, not_theirs))} "
                f"(they get: {', '.join(theirs) or 'none'})",
            )
        chosen = [d for d in chosen if d.name in theirs]
        if not chosen:
            fail(ctx, f"{row.email} gets no digest (see `aggregator subscribers list`)")
    pipeline = Pipeline(app)
    planned: list[tuple[str, datetime | None, bool]] = []
    for digest_settings in chosen:
        moment = datetime.now(UTC) if now else latest_fire_time(digest_settings, datetime.now(UTC))
        added = moment is not None and bool(
            pipeline.queue_digest(digest_settings, moment, only=only, publish=not only)
        )
        planned.append((digest_settings.name, moment, added))
    report = pipeline.deliver()
    pipeline.give_back()
    with app.db.session() as session:
        for name, moment, added in planned:
            counts = run_states(session, name, moment, only) if moment is not None else None
            console.print(_send_line(name, moment, added, counts), markup=False)
    console.print(
        f"mail: {report.sent} sent, {report.retried} to retry, {report.bounced} bounced, "
        f"{report.failed} failed",
        markup=False,
    )


def _send_line(
    name: str, moment: datetime | None, added: bool, counts: dict[str, int] | None
) -> str:
    """What ``digest send`` did for one digest, and why, in one line."""
    if moment is None or counts is None:
        return f"{name}: no scheduled time in the last 35 days (use --now for an edition now)"
    head = f"{name}, edition of {moment:%Y-%m-%d %H:%M} UTC"
    if not any(counts.values()):
        return f"{head}: nothing to send: no active subscriber gets this digest"
    tally = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    if added:
        return f"{head}: queued now; its deliveries: {tally}"
    why = []
    if counts[DeliveryState.SENT]:
        why.append(f"{counts[DeliveryState.SENT]} already had it")
    if counts[NOTHING_NEW]:
        why.append(
            f"{counts[NOTHING_NEW]} had no story new to them yet (they get it once news comes)"
        )
    reason = "; ".join(why) or tally
    return f"{head}: nothing to send now: {reason}; use --now for a new edition"
