"""The archive page behind a mail's overflow line: a digest too large for one
mail says "And N more briefs in the archive", so the archive page shows every story."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html

from aggregator.briefs.pipeline import make_briefs
from aggregator.config import from_mapping
from aggregator.digest.compose import choose_stories, digest_view
from aggregator.digest.render import MAX_HTML_BYTES, prepare
from aggregator.model.entry import Entry
from aggregator.publish.archive import write_run_page
from aggregator.store.db import Database
from aggregator.store.items import store_entries
from aggregator.store.models import DigestRun, Source

NOW = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)
STORIES = 120
SENTENCES = (
    "The committee published its review of the regional rail timetable on Monday. "
    "Trains on the coastal line will run every fifteen minutes from the spring. "
    "Night services return to the northern branch after a two-year pause. "
    "Ticket prices stay frozen until the end of next year, the operator said. "
)


def test_the_archive_page_shows_every_story_the_mail_had_no_room_for(
    db: Database, tmp_path: Path
) -> None:
    settings = from_mapping(
        {
            "general": {"base_url": "https://news.example.org"},
            "digests": [{"name": "daily", "max_items": 200}],
        },
        root=tmp_path,
        origin="test",
    )
    digest = settings.digests[0]
    with db.session() as session:
        source = Source(url="https://wire.example/feed", name="Wire")
        session.add(source)
        session.flush()
        entries = [
            Entry(
                key=f"guid:{n}",
                title=f"Story {n:03d} about the regional timetable",
                url=f"https://wire.example/{n}",
                content_html=f"<p>{SENTENCES * 3}</p>",
                published=NOW - timedelta(minutes=n),
            )
            for n in range(STORIES)
        ]
        ids = store_entries(session, source, entries, NOW - timedelta(minutes=1)).new_ids
        run = DigestRun(digest_name="daily", scheduled_for=NOW, cutoff=NOW, status="done")
        session.add(run)
        session.flush()
        run_id = run.id
    make_briefs(db, settings, ids)
    with db.session() as session:
        stories = choose_stories(session, digest, since=None, until=NOW)
        mail = prepare(digest_view(settings, digest, stories, moment=NOW))
    assert len(stories) == STORIES and mail.hidden > 0  # the mail overflows

    assert write_run_page(db, settings, run_id)
    page = settings.public_dir / "digests" / "daily" / "2026-11-04-0900" / "index.html"
    html = page.read_text(encoding="utf-8")
    doc = lxml.html.fromstring(html)
    titles = doc.xpath("//*[@class='lead-title' or @class='brief-title']//a")
    assert {a.text_content() for a in titles} == {e.title for e in entries}
    assert not doc.xpath("//*[@class='overflow']")
    assert len(html.encode()) > MAX_HTML_BYTES
