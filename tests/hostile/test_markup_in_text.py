"""Raw markup in text fields: titles, authors and categories are plain text.
Markup is removed at ingest (however it was escaped) and never written back into a feed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from aggregator.config import from_mapping
from aggregator.ingest.parse import parse_feed
from aggregator.ingest.sanitize import strip_markup
from aggregator.model.entry import Entry
from aggregator.publish.publisher import publish
from aggregator.store.db import Database
from aggregator.store.items import store_entries
from aggregator.store.models import Item, Source

NOW = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)
IMG = "<img src=x onerror=alert(1)>"

RSS = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>&lt;b&gt;Feed&lt;/b&gt;</title><link>https://s.example/</link>
<item><title>&amp;lt;img src=x onerror=alert(1)&amp;gt;Double</title><link>https://s.example/1</link>
<author>x@s.example (&lt;script&gt;evil()&lt;/script&gt;Ann)</author>
<category>&lt;script&gt;alert(2)&lt;/script&gt;</category><category>ok</category></item>
</channel></rss>"""
ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title><id>urn:f</id><updated>2026-01-01T00:00:00Z</updated>
<entry><title type="text">&lt;img src=x onerror=alert(1)&gt;Plain</title><id>urn:1</id>
<link href="https://s.example/2"/><updated>2026-01-01T00:00:00Z</updated></entry></feed>"""


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        (f"{IMG}Title", "Title"),
        ("<<img>img src=x onerror=alert(1)>Nested", "Nested"),
        ("<script>alert(1)</script>", "alert(1)"),
        ("<img src=x onerror=alert(1) Unclosed", "< img src=x onerror=alert(1) Unclosed"),
        ("a < b and c > d", "a < b and c > d"),
        ("x<y", "x< y"),
        ("<!-- c -->Kept", "Kept"),
    ],
)
def test_no_markup_survives_in_plain_text(text: str, plain: str) -> None:
    assert strip_markup(text) == plain


def test_titles_authors_and_categories_lose_escaped_markup_at_ingest() -> None:
    rss = parse_feed(RSS, "https://s.example/feed", now=NOW)
    (entry,) = rss.entries
    assert (rss.title, entry.title) == ("Feed", "Double")
    assert "<" not in (entry.author or "") and "Ann" in (entry.author or "")
    assert entry.tags == ["alert(2)", "ok"]
    atom = parse_feed(ATOM, "https://s.example/atom", now=NOW)
    assert atom.entries[0].title == "Plain"


def test_a_stored_hostile_title_is_never_written_back_as_markup(
    db: Database, tmp_path: Path
) -> None:
    settings = from_mapping(
        {"general": {"base_url": "https://news.example.org"}}, root=tmp_path, origin="test"
    )
    with db.session() as session:
        source = Source(url="https://s.example/feed", name="S")
        session.add(source)
        session.flush()
        entry = Entry(key="guid:1", title="Title", url="https://s.example/1", published=NOW)
        (item_id,) = store_entries(session, source, [entry], NOW).new_ids
        session.get(Item, item_id).title = f"{IMG}Title"  # as rows stored before this fix
    publish(db, settings)
    for name in ("feed.rss", "feed.atom"):
        parsed = feedparser.parse((settings.public_dir / name).read_bytes())
        assert [e.title for e in parsed.entries] == ["Title"], name
    assert "onerror" not in (settings.public_dir / "feed.rss").read_text()
