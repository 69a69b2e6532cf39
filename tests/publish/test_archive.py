"""The public archive: each edition's page invites a reader to subscribe (no subscriber footer),
and the index names each edition's lead story and how many stories it holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html

from aggregator.briefs.pipeline import make_briefs
from aggregator.config import Settings, from_mapping
from aggregator.model.entry import Entry
from aggregator.publish.archive import write_index, write_run_page
from aggregator.store.db import Database
from aggregator.store.items import store_entries
from aggregator.store.models import DigestRun, Source

MONDAY = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
TUESDAY = MONDAY + timedelta(days=1)
TEXT = (
    "<p>The council approved the {what} on {day}. Work starts in the spring and ends next year. "
    "The plan links the two hospitals with the station, officials said.</p>"
)


def _settings(tmp_path: Path) -> Settings:
    return from_mapping(
        {
            "general": {"name": "News <Site>", "base_url": "https://news.example.org"},
            "digests": [{"name": "daily", "title": "Morning digest", "schedule": "0 7 * * *"}],
        },
        root=tmp_path,
        origin="test",
    )


def _edition(db: Database, settings: Settings, moment: datetime, titles: list[str]) -> int:
    """A run at ``moment`` whose window holds one story per title, the first of priority 5."""
    with db.session() as session:
        ids = []
        for n, title in enumerate(titles):
            source = Source(
                url=f"https://site{n}-{moment:%d}.example/feed",
                name=f"Site {n}",
                priority=5 if n == 0 else 1,
            )
            session.add(source)
            session.flush()
            entry = Entry(
                key=f"guid:{moment:%d}-{n}",
                title=title,
                url=f"https://site{n}.example/{moment:%d}",
                content_html=TEXT.format(what=title.lower(), day=f"{moment:%A}"),
                published=moment - timedelta(hours=1),
            )
            ids += store_entries(session, source, [entry], moment - timedelta(minutes=30)).new_ids
        run = DigestRun(digest_name="daily", scheduled_for=moment, cutoff=moment, status="done")
        session.add(run)
        session.flush()
        run_id = run.id
    make_briefs(db, settings, ids)
    return run_id


def test_an_archive_page_tells_a_reader_how_to_subscribe(db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    run_id = _edition(db, settings, MONDAY, ["Tram line approved", "Library reopens"])
    assert write_run_page(db, settings, run_id)
    page = settings.public_dir / "digests" / "daily" / "2026-11-02-0700" / "index.html"
    doc = lxml.html.fromstring(page.read_bytes())
    footer = doc.xpath("//*[contains(@class, 'footer')]")[0]
    words = " ".join(footer.text_content().split())
    assert [(a.text_content(), a.get("href")) for a in footer.xpath(".//a")][0] == (
        "Subscribe",
        "https://news.example.org/subscribe",
    )
    for said in ("Unsubscribe", "Preferences", "One click", "You subscribed", "was sent to"):
        assert said not in words, words
    assert "Morning digest" in words and "by email" in words


def test_the_index_names_each_editions_lead_story_and_story_count(
    db: Database, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    monday = _edition(db, settings, MONDAY, ["Tram line <approved>", "Library reopens"])
    tuesday = _edition(
        db, settings, TUESDAY, ["Bridge closed for repairs", "Market moves", "Park opens"]
    )
    assert write_run_page(db, settings, monday) and write_run_page(db, settings, tuesday)
    assert write_index(db, settings)
    index = lxml.html.fromstring((settings.public_dir / "index.html").read_bytes())
    rows = [" ".join(li.text_content().split()) for li in index.xpath("//section[1]//li")]
    assert len(rows) == 2
    assert "Bridge closed for repairs" in rows[0] and "3 stories" in rows[0]
    assert "Tram line <approved>" in rows[1] and "2 stories" in rows[1]
    assert "Tuesday 3 November 2026" in rows[0] and "Monday 2 November 2026" in rows[1]
