"""How lists are shown: rich tables on a terminal, whole rows when piped, JSON for scripts."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import click
from rich.table import Table

json_option = click.option("--json", "as_json", is_flag=True, help="print JSON (for scripts)")
"""The ``--json`` flag every list command takes."""


def _plain(value: Any) -> Any:
    """JSON for what ``json`` cannot write itself: dataclass rows and datetimes (ISO 8601)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def print_json(data: Any) -> None:
    """``data`` (dataclass rows, lists, dicts, datetimes) as indented JSON on standard output."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=_plain))


def table(columns: Iterable[str]) -> Table:
    """A borderless table; long cells fold on a terminal (piped output is never wrapped)."""
    grid = Table(box=None, pad_edge=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    return grid


def date(when: datetime | None) -> str:
    """A full UTC date and time, or "-"."""
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else "-"
