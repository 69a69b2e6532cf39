"""``aggregator poll``: poll sources now, with a progress bar and one line per source."""

from __future__ import annotations

import time

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aggregator.cli.main import console, errors, get_app, source_or_exit
from aggregator.cli.output import styled
from aggregator.ingest.poll import PollReport, SourceOutcome
from aggregator.model.status import PollResult, SourceStatus
from aggregator.service import Pipeline

_STYLE = {
    PollResult.NEW: "green",
    PollResult.UNCHANGED: "dim",
    PollResult.NOT_MODIFIED: "dim",
    PollResult.FAILED: "red",
    PollResult.RETIRED: "red",
    PollResult.BUSY: "yellow",
}


def outcome_line(o: SourceOutcome) -> str:
    """One line per source: result, counts, error."""
    style = _STYLE.get(o.result, "")
    detail = (
        f"{o.new} new, {o.changed} changed"
        if o.result in (PollResult.NEW, PollResult.UNCHANGED)
        else ""
    )
    if o.error:
        detail = o.error
    if o.moved_to:
        detail += f" (moved to {o.moved_to})"
    line = styled(f"[{style}]{{result:>12}}[/] {{label}}", result=o.result, label=o.label[:50])
    return line + styled(": {detail}", detail=detail) if detail else line


def summary_line(report: PollReport) -> str:
    line = (
        f"{len(report.outcomes)} source(s): {report.new} new item(s), {report.changed} changed, "
        f"{report.not_modified} not modified, {report.failed} failed"
    )
    return f"{line}, {report.busy} busy" if report.busy else line


@click.command()
@click.option("--due", is_flag=True, help="only the sources whose next check is due")
@click.option(
    "--no-briefs",
    "briefs",
    flag_value=False,
    default=True,
    help="store new items only (the service, a digest or the feed briefs them when needed)",
)
@click.argument("refs", nargs=-1)
@click.pass_context
def poll(ctx: click.Context, due: bool, briefs: bool, refs: tuple[str, ...]) -> None:
    """Poll sources now (all enabled ones, or each REF: an id, a name or a URL), then make the
    briefs still missing, newest first, on every core."""
    app = get_app(ctx)
    with app.db.session() as session:
        named = [source_or_exit(ctx, session, ref) for ref in refs]
        for row in named:
            if row.status == SourceStatus.RETIRED:
                errors.print(
                    f"skipped source {row.id} ({row.label}): retired after 410 Gone "
                    f"(`aggregator sources enable {row.id}` brings it back)",
                    markup=False,
                    soft_wrap=True,
                )
    pipeline = Pipeline(app)
    ids = pipeline.poller.choose(due_only=due, refs=[row.id for row in named] or None)
    with Progress(
        TextColumn("polling"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # piped: the lines and the summary only
    ) as progress:
        task = progress.add_task("poll", total=len(ids))

        def show(outcome: SourceOutcome) -> None:
            # counted and redrawn first: the line printed next redraws the bar as it is now
            progress.update(task, advance=1, refresh=True)
            progress.console.print(outcome_line(outcome), soft_wrap=True)

        report = pipeline.poll(ids=ids, on_outcome=show)
    console.print(summary_line(report))
    if briefs:
        started = time.monotonic()
        with console.status("briefing", spinner="dots"):
            made = pipeline.brief()
        console.print(f"{made} brief(s) made in {time.monotonic() - started:.1f} s")
    pipeline.give_back()
