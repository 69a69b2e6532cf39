"""``aggregator sources``: list, add (with discovery), remove, enable/disable, OPML import/export."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.text import Text

from aggregator.cli.main import console, errors, fail, get_app, source_or_exit
from aggregator.cli.output import add_row, date, json_option, print_json, table
from aggregator.inbound.newsletters import add_newsletter, latest_mails
from aggregator.ingest.discover import find_feed
from aggregator.ingest.fetch import Fetcher, FetchError
from aggregator.ingest.opml import OPMLError, Outline, outline_problem, read_opml, write_opml
from aggregator.model.entry import FeedParseError
from aggregator.model.status import SourceOrigin
from aggregator.store.listing import list_sources
from aggregator.store.sources import (
    add_source,
    delete_source,
    disable_source,
    enable_source,
    exported_sources,
    normalise_source_url,
    remove_source,
)


@click.group()
def sources() -> None:
    """Manage the feeds that are polled."""


def ago(when: datetime | None, now: datetime) -> str:
    """A moment relative to now, shortly: "45s ago", "in 30m", "2.5h ago" (or "-")."""
    if when is None:
        return "-"
    seconds = (when - now).total_seconds()
    span = abs(seconds)
    text = (
        f"{span:.0f}s"
        if span < 120
        else f"{span / 60:.0f}m"
        if span < 7200
        else f"{span / 3600:.1f}h"
    )
    return f"in {text}" if seconds > 0 else f"{text} ago"


@sources.command("list")
@json_option
@click.pass_context
def list_sources_cmd(ctx: click.Context, as_json: bool) -> None:
    """Every source with its state, push state (once a WebSub hub is subscribed), tags, items,
    last error, consecutive failures, next check."""
    app = get_app(ctx)
    now = datetime.now(UTC)
    with app.db.session() as session:
        rows = list_sources(session)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("No sources. Add some to config.toml or with `aggregator sources add URL`.")
        return
    pushing = any(s.push != "-" for s in rows)  # the column shows once a hub is subscribed
    grid = table(
        ("id", "name", "state")
        + (("push",) if pushing else ())
        + ("tags", "items", "last check", "next check", "fails", "url / last error")
    )
    # On a terminal the error goes under the URL; piped, each source stays on one line.
    between = "\n" if console.is_terminal else "  "
    for s in rows:
        detail = Text(s.url)
        if s.last_error:
            detail.append(between).append(s.last_error, style="red")
        add_row(
            grid,
            str(s.id),
            s.name[:40],
            s.state,
            *((s.push,) if pushing else ()),
            " ".join(s.tags) or "-",
            str(s.items),
            ago(s.last_check, now),
            ago(s.next_check, now),
            str(s.failures),
            detail,
        )
    console.print(grid)


@sources.command("add")
@click.argument("url", required=False, default="")
@click.option("--name", default="", help="display name (default: the feed's title)")
@click.option("--tag", "tags", multiple=True, help="a tag; repeat for more")
@click.option("--newsletter", default="", metavar="NAME", help="a newsletter source: mail to it")
@click.option(
    "--require-dkim",
    "dkim_domains",
    multiple=True,
    metavar="DOMAIN",
    help="newsletter: take only mail this domain signed (DKIM); repeat for more",
)
@click.option("--publisher", default="", help="the site's name in digests (default: its domain's)")
@click.pass_context
def add(
    ctx: click.Context,
    url: str,
    name: str,
    tags: tuple[str, ...],
    newsletter: str,
    dkim_domains: tuple[str, ...],
    publisher: str,
) -> None:
    """Add a feed by its URL, or by a web page that advertises its feed; or, with --newsletter
    NAME, a source fed by mail: its address is printed (subscribe the newsletter with it)."""
    app = get_app(ctx)
    if newsletter:
        with app.db.session() as session:
            domain = app.settings.mail.inbound.domain
            row = add_newsletter(
                session, newsletter.strip(), domain, list(tags), list(dkim_domains)
            )
            console.print(
                f"added newsletter source {row.id}: {row.label} <{row.newsletter_address}>",
                markup=False,
            )
        if not app.settings.mail.inbound.enabled:
            errors.print(
                "note: [mail.inbound] is not enabled; no mail is received yet", markup=False
            )
        return
    if not url:
        fail(ctx, "give a URL, or --newsletter NAME")
    url = normalise_source_url(url, Path.cwd())

    async def resolve() -> tuple[str, str]:
        async with Fetcher(app.settings.fetch, app.settings.user_agent) as fetcher:
            feed_url, parsed = await find_feed(fetcher, url, app.settings.file_folders)
            return feed_url, parsed.title

    try:
        feed_url, title = asyncio.run(resolve())
    except (FetchError, FeedParseError) as exc:
        fail(ctx, f"{url}: {exc}")
    with app.db.session() as session:
        row, created = add_source(
            session, feed_url, name=name or title, tags=list(tags), publisher=publisher
        )
        verb = "added" if created else "already present as"
        console.print(f"{verb} source {row.id}: {row.label} <{row.url}>", markup=False)


@sources.command("show")
@click.argument("ref")
@click.pass_context
def show(ctx: click.Context, ref: str) -> None:
    """A source's details; for a newsletter, its address and latest mails (with their DKIM
    result), where a newsletter's confirmation mail shows up too."""
    app = get_app(ctx)
    with app.db.session() as session:
        row = source_or_exit(ctx, session, ref)
        console.print(f"source {row.id}: {row.label} <{row.url}>", markup=False)
        if row.newsletter_address is None:
            return
        console.print(f"address: {row.newsletter_address}", markup=False)
        mails = latest_mails(session, row.id)
        if not mails:
            console.print("no mail received yet", markup=False)
            return
        grid = table(("received", "from", "subject", "dkim", "spf", "item"))
        for mail in mails:
            add_row(
                grid,
                date(mail.received_at),
                mail.from_header[:60],
                mail.subject[:80],
                mail.dkim + (f" ({mail.dkim_domain})" if mail.dkim_domain else ""),
                mail.spf,
                str(mail.item_id) if mail.item_id else "-",
            )
        console.print(grid)


@sources.command("remove")
@click.argument("ref")
@click.option("--keep-items/--delete-items", default=True, show_default=True)
@click.pass_context
def remove(ctx: click.Context, ref: str, keep_items: bool) -> None:
    """Remove a source (by id, name or URL): it is no longer polled and is listed as "removed";
    its items stay in digests' history and feeds unless --delete-items deletes it for good."""
    app = get_app(ctx)
    with app.db.session() as session:
        row = source_or_exit(ctx, session, ref)
        if row.origin == SourceOrigin.CONFIG:
            fail(ctx, f"source {row.id} comes from {app.settings.origin}; remove it there")
        if keep_items:
            remove_source(row)
            console.print(
                f"removed source {row.id} ({row.label}): no longer polled, listed as removed, "
                "its items kept (`sources add` with its URL brings it back; --delete-items "
                "deletes it and its items)",
                markup=False,
                soft_wrap=True,
            )
        else:
            delete_source(session, row)
            console.print(f"deleted source {row.id} ({row.label}) and its items", markup=False)


def _set_enabled(ctx: click.Context, ref: str, enabled: bool) -> None:
    app = get_app(ctx)
    with app.db.session() as session:
        row = source_or_exit(ctx, session, ref)
        if enabled:
            enable_source(row)
        else:
            disable_source(row)
        console.print(
            f"source {row.id} ({row.label}) {'enabled' if enabled else 'disabled'}", markup=False
        )


@sources.command("enable")
@click.argument("ref")
@click.pass_context
def enable(ctx: click.Context, ref: str) -> None:
    """Enable a source again (also brings back one retired after a 410)."""
    _set_enabled(ctx, ref, True)


@sources.command("disable")
@click.argument("ref")
@click.pass_context
def disable(ctx: click.Context, ref: str) -> None:
    """Stop polling a source; its items stay."""
    _set_enabled(ctx, ref, False)


@sources.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def import_opml(ctx: click.Context, path: Path) -> None:
    """Add every feed of an OPML file (folders become tags); one marked enabled="false" is
    added disabled. Sources already here are left as they are."""
    try:
        outlines = read_opml(path.read_bytes())
    except OPMLError as exc:
        fail(ctx, f"{path.name}: {exc}")
    app = get_app(ctx)
    added = 0
    with app.db.session() as session:
        for number, outline in enumerate(outlines, 1):
            problem = outline_problem(outline.url, app.settings.file_folders)
            if problem:
                errors.print(
                    f"{path.name}: outline {number}: skipped, {problem}: {outline.url!r}",
                    markup=False,
                )
                continue
            row, created = add_source(session, outline.url, name=outline.title, tags=outline.tags)
            if created and not outline.enabled:
                disable_source(row)  # a source already here keeps its state
            added += created
    console.print(f"imported {added} new source(s) of {len(outlines)} in {path.name}", markup=False)


@sources.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def export_opml(ctx: click.Context, path: Path) -> None:
    """Write every source (but removed ones) to an OPML file (- for standard output), a
    disabled one marked enabled="false", so importing the file restores them as they are."""
    app = get_app(ctx)
    with app.db.session() as session:
        outlines = [
            Outline(url=s.url, title=s.label, tags=list(s.tags), enabled=s.enabled)
            for s in exported_sources(session)
        ]
    data = write_opml(outlines, app.settings.general.name)
    if str(path) == "-":
        click.echo(data.decode())
    else:
        path.write_bytes(data)
        console.print(f"exported {len(outlines)} source(s) to {path}", markup=False)
