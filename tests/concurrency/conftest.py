"""No worker outlives its test, whatever the test's outcome."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.concurrency.fleet import kill_leftovers


@pytest.fixture(autouse=True)
def _no_leftover_workers() -> Iterator[None]:
    yield
    kill_leftovers()
