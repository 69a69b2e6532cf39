"""How things are shown: rich tables on a terminal, whole rows when piped, JSON for scripts.

This module is where text from outside (feed titles, addresses, errors, config values) meets the
terminal library's markup: ``styled`` and ``add_row`` escape every value they are given, so a
title such as ``Broken [/x] markup`` prints as written and never as markup.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

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


def styled(markup: str, **values: object) -> str:
    """``markup`` (our own rich markup, with ``{name}`` fields) filled with ``values``, escaped.

    A field may carry a format spec (``{result:>12}``); it applies to the value's text.
    """
    return markup.format(**{name: _Escaped(value) for name, value in values.items()})


class _Escaped:
    """A value that formats as its text with the markup escaped, after any format spec."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __format__(self, spec: str) -> str:
        return escape(format(str(self.value), spec))


def add_row(grid: Table, *cells: object) -> None:
    """One table row; every cell is plain text (never markup), ``None`` shown as "-".

    A ``Text`` cell is kept as it is (styled spans built from plain text, never parsed).
    """
    grid.add_row(*(c if isinstance(c, Text) else Text("-" if c is None else str(c)) for c in cells))


def date(when: datetime | None) -> str:
    """A full UTC date and time, or "-"."""
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else "-"
