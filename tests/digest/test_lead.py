"""The digest's lead is worth reading; undated items and site pages do not outrank the news."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from aggregator.briefs.pipeline import make_briefs
from aggregator.config import from_mapping
from aggregator.digest.compose import choose_stories, lead_brief, states_news, story_view
from aggregator.model.brief import Brief
from aggregator.model.entry import Entry
from aggregator.publish.model import entry_id
from aggregator.publish.publisher import story_entry
from aggregator.store.db import Database
from aggregator.store.items import store_entries
from aggregator.store.models import BriefRow, Item, Source
from aggregator.stories.assign import group_pending

NOW = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
SECTIONS = {
    "Vote": "The city council approved the new tram depot on Monday by a wide margin.",
    "Cost": "The depot will cost about forty million euros, shared with the regional government.",
    "Works": "Construction starts in spring and should take roughly two years to complete.",
    "Jobs": "Around two hundred workers will maintain the fleet once the depot opens.",
    "Critics": "Residents nearby asked for noise barriers along the access tracks.",
}
LONG = "".join(f"<h2>{h}</h2><p>{p}</p>" for h, p in SECTIONS.items())
TEASER = "<p>The mayor spoke about the tram today. Watch the full video on our channel now.</p>"
ABOUT = "<p>This is a small blog about trams and cities. I write about transport every week.</p>"


def _entries() -> list[Entry]:
    def entry(key: str, title: str, html: str, age_hours: float | None) -> Entry:
        published = NOW - timedelta(hours=age_hours) if age_hours is not None else None
        return Entry(key=key, title=title, url=f"https://t.example/{key}", content_html=html,
                     published=published)  # fmt: skip

    return [
        entry("teaser", "Mayor on trams", TEASER, 1),
        entry("about", "About", ABOUT, None),
        entry("untitled", "", LONG, 2),
        entry("undated", "Depot notes", LONG.replace("tram", "bus"), None),
        entry("depot", "Tram depot approved", LONG, 20),
    ]


def test_lead_has_substance_and_site_pages_and_undated_items_rank_down(
    sqlite_db: Database, tmp_path: Path
) -> None:
    settings = from_mapping(
        {
            "digests": [
                {"name": "daily", "schedule": "0 7 * * *", "max_items": 10, "per_publisher": 10}
            ]
        },
        root=tmp_path,
        origin="test",
    )
    with sqlite_db.session() as session:
        source = Source(url="https://t.example/feed", name="Trams", priority=3)
        session.add(source)
        session.flush()
        ids = store_entries(session, source, _entries(), NOW).new_ids
    make_briefs(sqlite_db, settings, ids)
    with sqlite_db.session() as session:
        dated = dict(session.execute(select(Item.title, Item.dated)).all())
        assert dated["About"] is False and dated["Depot notes"] is False
        assert dated["Tram depot approved"] is True
        stories = choose_stories(session, settings.digests[0], since=None, until=NOW)
        titles = [s.primary.title for s in stories]
        views = {s.primary.title: story_view(s, ZoneInfo("UTC")) for s in stories}
    assert titles[0] == "Tram depot approved"  # not the fresher teaser with little text
    assert set(titles[-2:]) == {"About", ""}  # site pages and untitled items rank last
    assert titles.index("Mayor on trams") < titles.index("Depot notes")  # undated: no freshness
    assert views["Depot notes"].published is None  # no invented date
    assert views["Tram depot approved"].published == NOW - timedelta(hours=20)


def test_a_lead_opens_on_a_statement_of_the_news_not_a_quote_or_an_exclamation() -> None:
    quote = "\u201cWe are thrilled beyond words,\u201d the founder said."
    shout = "What a day for the whole team!"
    news = "The company released version 2.4 of its database on Tuesday."
    brief = lead_brief(Brief(bullets=[quote, shout, news, "It fixes two crashes."]))
    assert brief.bullets == [news, quote, shout, "It fixes two crashes."]
    assert not states_news("'Never again', she wrote.") and not states_news("Why now?")
    assert not states_news("\u2014 and then it broke.") and not states_news("Big news.")
    only_quotes = Brief(bullets=[quote, shout])
    assert lead_brief(only_quotes).bullets == [quote, shout]  # nothing better: left as it is


def test_a_story_is_shown_from_the_member_whose_brief_says_most(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """Three outlets report one event (one link's copies, so one story); the first seen only
    restates its title, another says what happened: the edition shows that one's brief,
    briefing every member of the chosen story first; the feed entry keeps the first's id."""
    settings = from_mapping(
        {"digests": [{"name": "daily", "schedule": "0 7 * * *", "max_items": 5}]},
        root=tmp_path,
        origin="test",
    )
    title = "Council approves the new tram depot"
    texts = {
        "wire": f"<p>{title}.</p>",
        "paper": LONG,
        "radio": "<p>The council voted on the depot on Monday.</p>",
    }
    with sqlite_db.session() as session:
        for n, (name, html) in enumerate(texts.items()):
            source = Source(url=f"https://{name}.example/feed", name=name, priority=3)
            session.add(source)
            session.flush()
            entry = Entry(key=name, title=title, url="https://t.example/depot",
                          content_html=html, published=NOW - timedelta(hours=3 - n))  # fmt: skip
            store_entries(session, source, [entry], NOW - timedelta(hours=3 - n))
    group_pending(sqlite_db)
    with sqlite_db.session() as session:
        [story] = choose_stories(
            session,
            settings.digests[0],
            since=None,
            until=NOW,
            brief_missing=lambda ids: make_briefs(sqlite_db, settings, ids),
        )
        assert session.scalar(select(func.count()).select_from(BriefRow)) == 3
        entry = story_entry(story)
        first = min(story.items, key=lambda i: i.first_seen_at)
    assert story.primary.source.name == "paper"
    assert story.brief.bullets[0] == SECTIONS["Vote"]
    assert first.source.name == "wire"
    assert entry.id == entry_id("https://wire.example/feed", first.key_hash)
