"""``aggregator items list``: find stored items; ``brief`` takes the ids it prints."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click

from aggregator.cli.main import console, get_app, source_or_exit
from aggregator.cli.output import add_row, date, json_option, print_json, table
from aggregator.store.listing import list_items

_SPAN = re.compile(r"(\d+)\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class Moment(click.ParamType):
    """A UTC moment: an ISO date or date-time, or a span back from now (30m, 24h, 7d, 2w)."""

    name = "when"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        span = _SPAN.fullmatch(text)
        if span:
            return datetime.now(UTC) - timedelta(**{_UNITS[span[2]]: int(span[1])})
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r} is neither a date (2026-11-29) nor a span (30m, 24h, 7d, 2w)")
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.group()
def items() -> None:
    """Find stored items (stories as each source carried them)."""


@items.command("list")
@click.option("--source", "source_ref", help="only this source (an id, a name or a URL)")
@click.option("--since", type=Moment(), help="published since: 2026-11-29, or 30m, 24h, 7d, 2w")
@click.option("--search", default="", help="only items whose title or text contains this")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@json_option
@click.pass_context
def list_items_cmd(
    ctx: click.Context,
    source_ref: str | None,
    since: datetime | None,
    search: str,
    limit: int,
    as_json: bool,
) -> None:
    """The newest items with id, date, source and title (`aggregator brief ID` shows one)."""
    app = get_app(ctx)
    with app.db.session() as session:
        source_id = source_or_exit(ctx, session, source_ref).id if source_ref else None
        rows = list_items(session, source_id=source_id, since=since, search=search, limit=limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("No items match." if source_ref or since or search else "No items yet.")
        return
    grid = table(("id", "published", "source", "title"))
    for row in rows:
        add_row(
            grid,
            str(row.id),
            date(row.published),
            row.source[:30],
            row.title or "(untitled)",
        )
    console.print(grid)
