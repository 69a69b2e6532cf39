"""Marks every test here ``hostile``, and lends the web tests' live-server fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import make_config, open_db  # noqa: F401  (fixtures)
from tests.web.conftest import make_site, site, smtp  # noqa: F401  (fixtures)

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.hostile)
