"""Log events name their source in fields of their own: ``key=value`` after the message, or keys
of the JSON object, never inside the message text."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.logs import setup_logging
from aggregator.store.db import Database
from tests.ingest.test_poll import add_sources, poll_all, settings_for
from tests.support.feedserver import FeedServer, rss_feed


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """setup_logging replaces the root handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_polls_source_lines_carry_the_source_as_fields(
    sqlite_db: Database,
    feed_server: FeedServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    restored_logging: None,
) -> None:
    broken = feed_server.url("/gone.xml")
    moved = feed_server.add("/new.xml", rss_feed("Moved"))
    old = feed_server.redirect("/old.xml", moved, status=301)
    ids = add_sources(sqlite_db, [broken, old])
    setup_logging(logging.DEBUG, as_json=True)
    poll_all(sqlite_db, settings_for(tmp_path))
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    about = {e["source_id"]: e for e in events if e.get("logger") == "aggregator.poll"}
    assert set(about) == set(ids.values()), events
    failed, move = about[ids[broken]], about[ids[old]]
    assert failed["url"] == broken and failed["source"] == broken  # unnamed: labelled by URL
    assert failed["message"] == "poll failed: HTTP 404 Not Found"
    assert move["url"] == old and move["message"] == f"moved permanently to {moved}"
    assert not any("source=" in e["message"] for e in events)


def test_fields_follow_the_message_as_pairs(
    capsys: pytest.CaptureFixture[str], restored_logging: None
) -> None:
    setup_logging(logging.INFO)
    logging.getLogger("aggregator.test").info(
        "poll failed", extra={"source": "Daily News", "source_id": 3, "url": "http://x.test/a"}
    )
    line = capsys.readouterr().err.strip()
    assert line.endswith(
        'logger=aggregator.test poll failed source="Daily News" source_id=3 url=http://x.test/a'
    )
