"""``aggregator subscribers``: add, remove, list and import subscribers."""

from __future__ import annotations

from pathlib import Path

import click

from aggregator.cli.main import console, errors, fail, get_app, source_or_exit
from aggregator.cli.output import add_row, json_option, print_json, table
from aggregator.model.status import SubscriberStatus
from aggregator.store.listing import list_subscribers
from aggregator.store.models import Subscriber
from aggregator.store.subscribers import (
    SubscriberError,
    check_digests,
    check_language,
    check_timezone,
    find_subscriber,
    forget_subscriber,
    import_csv,
    normalise_email,
    reactivate_subscriber,
    remove_subscriber,
    upsert_subscriber,
)


@click.group()
def subscribers() -> None:
    """Manage who receives digests (people can also sign up on the web pages)."""


@subscribers.command("add")
@click.argument("email")
@click.option(
    "--digest", "digests", multiple=True, help="digest name; repeat for more (default: all)"
)
@click.option("--tag", "tags", multiple=True, help="only stories with this tag; repeat for more")
@click.option(
    "--source", "sources", multiple=True, help="only this source (id, name or URL); repeat"
)
@click.option("--timezone", default="UTC", show_default=True)
@click.option(
    "--language",
    default="",
    help="the digest's language, e.g. fr or pt-BR (default: the sources' own)",
)
@click.pass_context
def add(
    ctx: click.Context, email: str, digests, tags, sources, timezone: str, language: str
) -> None:  # noqa: ANN001
    """Add (or update) an active subscriber. An unsubscribed or suspended one stays so."""
    app = get_app(ctx)
    known = [d.name for d in app.settings.digests]
    try:
        address = normalise_email(email)
        chosen = check_digests(list(digests) or known, known)
        check_timezone(timezone)
        language = check_language(language)
        with app.db.session() as session:
            source_ids = [source_or_exit(ctx, session, ref).id for ref in sources]
            row, outcome = upsert_subscriber(
                session,
                address,
                digests=chosen,
                tags=tags,
                sources=source_ids,
                timezone=timezone,
                language=language,
            )
            message = (
                f"{outcome} {row.email} ({row.status}; digests: {', '.join(row.digests) or '-'})"
            )
    except SubscriberError as exc:
        errors.print(f"error: {email!r}: {exc}", markup=False)
        ctx.exit(1)
    if outcome == "kept":
        message += " — left unchanged: they unsubscribed or were suspended"
    console.print(message, markup=False)


@subscribers.command("remove")
@click.argument("email")
@click.option("--forget", is_flag=True, help="delete the row and its delivery history")
@click.pass_context
def remove(ctx: click.Context, email: str, forget: bool) -> None:
    """Unsubscribe someone (or --forget them entirely)."""
    app = get_app(ctx)
    with app.db.session() as session:
        row = find_subscriber(session, email)
        if row is None:
            errors.print(f"error: no subscriber {email!r}", markup=False)
            ctx.exit(1)
        if forget:
            forget_subscriber(session, row)
            console.print(f"deleted {row.email}", markup=False)
        else:
            remove_subscriber(row)
            console.print(f"unsubscribed {row.email}", markup=False)


@subscribers.command("reactivate")
@click.argument("subscriber")
@click.pass_context
def reactivate(ctx: click.Context, subscriber: str) -> None:
    """Make a subscriber suspended after hard bounces active again (SUBSCRIBER is an address or
    an id), with the bounce count reset: after a relay fault wrongly bounced them."""
    app = get_app(ctx)
    with app.db.session() as session:
        ref = subscriber.strip()
        row = (
            session.get(Subscriber, int(ref))
            if ref.isascii() and ref.isdigit() and len(ref) <= 18
            else find_subscriber(session, ref)
        )
        if row is None:
            fail(ctx, f"no subscriber {subscriber!r}")
        try:
            reactivate_subscriber(row)
        except SubscriberError as exc:
            fail(ctx, str(exc))
        console.print(f"reactivated {row.email} (bounce count reset)", markup=False)


@subscribers.command("list")
@click.option(
    "--status", type=click.Choice([s.value for s in SubscriberStatus], case_sensitive=False)
)
@json_option
@click.pass_context
def list_subscribers_cmd(ctx: click.Context, status: str | None, as_json: bool) -> None:
    """Subscribers with status, digests, filters and bounce count."""
    app = get_app(ctx)
    with app.db.session() as session:
        rows = list_subscribers(session, status)
    if as_json:
        print_json(rows)
        return
    grid = table(("id", "email", "status", "digests", "tags", "tz", "lang", "bounces", "note"))
    for s in rows:
        add_row(
            grid,
            str(s.id),
            s.email,
            s.status,
            " ".join(s.digests),
            " ".join(s.tags) or "-",
            s.timezone,
            s.language or "-",
            str(s.bounces),
            s.note or "",
        )
    console.print(grid if rows else "No subscribers.")


@subscribers.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def import_file(ctx: click.Context, path: Path) -> None:
    """Import a CSV of email[,digests][,tags][,timezone][,language]; bad rows are reported and
    skipped, and an empty cell keeps a subscriber's current value."""
    app = get_app(ctx)
    known = [d.name for d in app.settings.digests]
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        errors.print(f"error: {path.name}: not UTF-8 text", markup=False)
        ctx.exit(1)
    with app.db.session() as session:
        report = import_csv(
            session, text, name=path.name, known_digests=known, default_digests=known
        )
    for line in report.errors:
        errors.print(line, markup=False, soft_wrap=True)
    console.print(
        f"{path.name}: {report.added} added, {report.updated} updated, "
        f"{report.kept} kept unsubscribed/suspended, {len(report.errors)} skipped",
        markup=False,
    )
