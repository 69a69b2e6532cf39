"""The root command: loads the config once and reports errors as one line each, no traceback."""

from __future__ import annotations

import errno
import importlib
import logging
import sys
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from aggregator import __version__, config
from aggregator.app import App
from aggregator.cli.output import styled
from aggregator.store.models import Source
from aggregator.store.sources import find_source
from aggregator.templating import TemplateError

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)
for _out in (console, errors):
    if not _out.is_terminal:
        _out.width = 100_000  # piped or logged: whole rows, never wrapped at 80 columns


COMMANDS = {
    "sources": "aggregator.cli.sources:sources",
    "poll": "aggregator.cli.poll:poll",
    "items": "aggregator.cli.items:items",
    "stories": "aggregator.cli.stories:stories",
    "brief": "aggregator.cli.service:brief",
    "subscribers": "aggregator.cli.subscribers:subscribers",
    "digest": "aggregator.cli.deliveries:digest",
    "deliveries": "aggregator.cli.deliveries:deliveries",
    "publish": "aggregator.cli.service:publish",
    "run": "aggregator.cli.service:run",
    "status": "aggregator.cli.service:status",
}
"""Each command's module is imported only when the command runs, so every command starts fast."""


class AggregatorGroup(click.Group):
    """Loads commands lazily; turns known failures into one-line messages and a non-zero exit."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, _, attr = COMMANDS[name].partition(":")
        return getattr(importlib.import_module(module), attr)

    def make_context(self, *args, **kwargs) -> click.Context:  # noqa: ANN002, ANN003
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            _usage_error(exc)

    def invoke(self, ctx: click.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            _usage_error(exc)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            errors.print(f"error: {where}{exc.strerror or exc}", markup=False, soft_wrap=True)
            sys.exit(1)
        except config.ConfigError as exc:
            for line in exc.problems:
                errors.print(styled("[red]error:[/] {line}", line=line), soft_wrap=True)
            sys.exit(2)
        except TemplateError as exc:
            errors.print(f"error: {exc}", markup=False, soft_wrap=True)
            sys.exit(1)
        except OperationalError as exc:
            reason = " ".join(str(exc.orig).split())  # psycopg adds an indented hint line
            errors.print(f"error: database: {reason}", markup=False, soft_wrap=True)
            sys.exit(3)


def _usage_error(exc: click.UsageError) -> NoReturn:
    """A mistyped command line, on one line with where to find help; exit 2."""
    hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
    errors.print(f"error: {exc.format_message()}{hint}", markup=False, soft_wrap=True)
    sys.exit(2)


def fail(ctx: click.Context, message: str) -> NoReturn:
    """Report ``message`` as one ``error:`` line on standard error and exit 1."""
    errors.print(f"error: {message}", markup=False, soft_wrap=True)
    ctx.exit(1)


def source_or_exit(ctx: click.Context, session: Session, ref: str) -> Source:
    """The source ``ref`` names (an id, a name or a URL), or exit 1 saying it was not found."""
    row = find_source(session, ref)
    if row is None:
        fail(ctx, f"no source {ref!r} (give an id, a name or a URL from `aggregator sources list`)")
    return row


def get_app(ctx: click.Context) -> App:
    """The App for this invocation, loading config.toml on first use."""
    root = ctx.find_root()
    app = root.meta.get("aggregator.app")
    if app is None:
        app = App(config.load(root.params.get("config_path")))
        root.meta["aggregator.app"] = app
        ctx.call_on_close(app.close)
    return app


@click.group(cls=AggregatorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="config file (default: $AGGREGATOR_CONFIG, else ./config.toml, else built-in defaults)",
)
@click.option("-v", "--verbose", count=True, help="more log output (-vv for debug)")
@click.option("-q", "--quiet", is_flag=True, help="log errors only")
@click.option("--log-json", is_flag=True, help="log one JSON object per line (for log shippers)")
@click.version_option(__version__, prog_name="aggregator")
@click.pass_context
def main(
    ctx: click.Context, config_path: Path | None, verbose: int, quiet: bool, log_json: bool
) -> None:
    """Poll feeds, write a brief for every story, mail digests and publish one combined feed."""
    level = (
        logging.ERROR if quiet else [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    )
    from aggregator.logs import setup_logging

    setup_logging(level, as_json=log_json)
    ctx.meta["log_level"] = level
