"""Fixtures for the command-line tests: a config writer and a reader of the config's database."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from aggregator.config import load
from aggregator.store.db import Database
from tests.cli import config_text


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """``make_config(sources, smtp_port=None, extra="", folder="")`` writes a config.toml.

    Each source is a mapping of [[sources]] keys. ``folder`` puts a second installation beside
    the first (in its own sub-folder of tmp_path).
    """

    def write(
        sources: Sequence[Mapping[str, object]] = (),
        *,
        smtp_port: int | None = None,
        extra: str = "",
        folder: str = "",
    ) -> Path:
        root = tmp_path / folder if folder else tmp_path
        root.mkdir(parents=True, exist_ok=True)
        path = root / "config.toml"
        path.write_text(config_text(sources, smtp_port=smtp_port, extra=extra))
        return path

    return write


@pytest.fixture
def open_db() -> Iterator[Callable[[Path], Database]]:
    """``open_db(config)``: that installation's database, disposed after the test."""
    opened: list[Database] = []

    def open_(config: Path) -> Database:
        opened.append(Database(load(config).database_url))
        return opened[-1]

    yield open_
    for db in opened:
        db.dispose()
