"""``aggregator stories list``: every story with its publishers and its items."""

from __future__ import annotations

from datetime import datetime

import click

from aggregator.cli.items import Moment
from aggregator.cli.main import console, get_app
from aggregator.cli.output import add_row, date, json_option, print_json, table
from aggregator.stories.listing import list_stories


@click.group()
def stories() -> None:
    """Stories: the items of every source that report one event, and who published them."""


@stories.command("list")
@click.option("--since", type=Moment(), help="published since: 2026-11-29, or 30m, 24h, 7d, 2w")
@json_option
@click.pass_context
def list_stories_cmd(ctx: click.Context, since: datetime | None, as_json: bool) -> None:
    """Every story, newest first, with its publishers and its items."""
    app = get_app(ctx)
    with app.db.session() as session:
        rows = list_stories(session, since=since)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("No stories match." if since else "No stories yet.")
        return
    grid = table(("story", "published", "publishers", "items", "title"))
    for row in rows:
        add_row(
            grid,
            row.id[:12],
            date(max(i.published for i in row.items)),
            ", ".join(row.publishers),
            " ".join(str(i.id) for i in row.items),
            row.title or "(untitled)",
        )
    console.print(grid)
