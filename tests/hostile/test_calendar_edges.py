"""Dates at the calendar's edges (Go's zero time that Hugo writes, year 9999, 1969) are no dates:
the entry is undated everywhere (store, rank, digest, feeds), and a row stored dated before the
bounds held renders in every timezone from UTC−12 to UTC+14."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import insert, select

from aggregator.briefs.pipeline import make_briefs
from aggregator.config import from_mapping
from aggregator.digest.compose import choose_stories, digest_view
from aggregator.digest.render import prepare
from aggregator.ingest.parse import parse_feed
from aggregator.model.dates import in_bounds
from aggregator.publish.publisher import publish
from aggregator.store.db import Database
from aggregator.store.items import sha1, store_entries
from aggregator.store.models import Item, Source
from tests.conftest import CORPUS

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
ZONES = [f"Etc/GMT{n:+d}" if n else "Etc/GMT" for n in range(12, -15, -1)]
"""Every whole-hour zone: Etc/GMT+12 is UTC−12, Etc/GMT-14 is UTC+14."""
EDGES = [
    "Mon, 01 Jan 0001 00:00:00 +0000",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00-12:00",
    "0001-01-01T00:00:00+14:00",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59+14:00",
    "1969-12-31T23:59:59Z",
    "2099-01-01T00:00:00Z",
]
BODY = "<p>" + "A council voted on the tram line on Monday. " * 12 + "</p>"


def _rss(*dates: str) -> bytes:
    items = "".join(
        f"<item><title>Item {n}</title><link>https://edge.example/{n}</link>"
        f"<pubDate>{date}</pubDate><description>{BODY}</description></item>"
        for n, date in enumerate(dates)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Edges</title>'
        f"<link>https://edge.example/</link>{items}</channel></rss>"
    ).encode()


def _atom(date: str) -> bytes:
    return (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Edges</title>'
        f"<id>urn:edges</id><updated>{date}</updated><entry><title>One</title><id>urn:1</id>"
        f'<link href="https://edge.example/1"/><published>{date}</published>'
        f"<updated>{date}</updated><summary>s</summary></entry></feed>"
    ).encode()


@pytest.mark.parametrize("date", EDGES)
def test_a_date_at_the_calendars_edge_is_undated(date: str) -> None:
    rss = parse_feed(_rss(date), "https://edge.example/feed", now=NOW)
    assert rss.entries[0].published is None and rss.entries[0].updated is None
    if "T" in date:
        atom = parse_feed(_atom(date), "https://edge.example/feed", now=NOW)
        assert atom.entries[0].published is None and atom.entries[0].updated is None
        assert atom.updated is None


def test_a_date_a_little_ahead_is_now_and_one_in_1970_stands() -> None:
    ahead = (NOW + timedelta(hours=5)).isoformat()
    entries = parse_feed(
        _rss(ahead, "1970-01-01T00:00:00Z"), "https://edge.example/feed", now=NOW
    ).entries
    assert entries[0].published == NOW
    assert entries[1].published == datetime(1970, 1, 1, tzinfo=UTC)


def test_the_corpus_feeds_with_gos_zero_time_are_undated() -> None:
    zero = re.compile(rb"<pubDate>Mon, 01 Jan 0001")
    files = [
        p for p in sorted((CORPUS / "real-feeds").glob("*.xml")) if zero.search(p.read_bytes())
    ]
    assert len(files) >= 5
    for path in files:
        for entry in parse_feed(path.read_bytes(), "https://example.org/", now=NOW).entries:
            assert entry.published is None or in_bounds(entry.published, NOW), path.name


def _settings(tmp_path: Path):
    return from_mapping(
        {
            "general": {"base_url": "https://news.example.org"},
            "digests": [{"name": "daily", "timezone": "America/New_York"}],
        },
        root=tmp_path,
        origin="test",
    )


def _fill(db: Database, settings) -> None:
    """Edge-dated entries stored by a poll, and rows an older version stored dated in year 1
    and 9999 (written straight to the table, as they are on disk)."""
    with db.session() as session:
        source = Source(url="https://edge.example/feed", name="Edges")
        session.add(source)
        session.flush()
        parsed = parse_feed(_rss(*EDGES, NOW.isoformat()), source.url, now=NOW)
        ids = store_entries(session, source, parsed.entries, NOW).new_ids
        for n, when in enumerate(
            (datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
        ):
            ids.append(
                session.execute(
                    insert(Item)
                    .values(
                        source_id=source.id,
                        key_hash=sha1(f"old-{n}"),
                        url=f"https://old.example/{n}",
                        story_key=sha1(f"old-{n}"),
                        title=f"Stored before {n}",
                        content_html=BODY,
                        content_text=BODY[3:-4],
                        content_hash="x",
                        tags=[],
                        published_at=when,
                        updated_at=when,
                        dated=True,
                        first_seen_at=NOW,
                    )
                    .returning(Item.id)
                ).scalar_one()
            )
    with db.session() as session:
        dated = session.scalars(select(Item.title).where(Item.dated)).all()
    assert sorted(dated) == [f"Item {len(EDGES)}", "Stored before 0", "Stored before 1"]
    make_briefs(db, settings, ids)


def test_digest_and_feeds_in_every_timezone(db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _fill(db, settings)
    digest = settings.digests[0]
    with db.session() as session:
        stories = choose_stories(session, digest, since=None, until=NOW + timedelta(minutes=1))
        assert len(stories) == len(EDGES) + 3
        for zone in [*ZONES, "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago"]:
            view = digest_view(settings, digest, stories, moment=NOW, timezone=zone)
            shown = [s.published for s in [view.lead, *view.more] if s and s.published]
            assert len(shown) == 1, zone  # only the entry dated now shows a date
            html, text = prepare(view).personalise(
                unsubscribe_url="https://news.example.org/u/x",
                preferences_url="https://news.example.org/p/x",
                recipient="reader@example.org",
            )
            for year in ("0001", "9999", "1969", " 1 Jan 1 "):
                assert year not in text, (zone, year)
            assert "Dec 2026" in html or "Dec 2026" in text
    result = publish(db, settings)
    assert result.entries == len(EDGES) + 3
    atom = etree.parse(str(settings.public_dir / "feed.atom")).getroot()
    stamps = [  # the entries' dates (the feed's own <updated> is when it was written)
        e.text
        for entry in atom.iter("{http://www.w3.org/2005/Atom}entry")
        for e in entry
        if e.tag
        in ("{http://www.w3.org/2005/Atom}published", "{http://www.w3.org/2005/Atom}updated")
    ]
    assert stamps and all(s.startswith("2026-12-07") for s in stamps), stamps
    for name in ("feed.rss", "feed.json"):
        written = (settings.public_dir / name).read_text()
        assert "0001" not in written and "9999" not in written, name
