"""Grouping through the real store (SQLite, and PostgreSQL when configured): items of different
feeds about one event share a story key, a changed item can leave its story, and two workers
grouping at once reach what one reaches."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from aggregator.ingest.parse import parse_and_sign
from aggregator.model.entry import Entry
from aggregator.store.db import Database
from aggregator.store.items import store_entries
from aggregator.store.models import Item, Source
from aggregator.stories.assign import group_pending
from aggregator.stories.grouping import signature
from tests.stories.labeled import TUNING_HARD_MERGES, figures, grouped, load

NOW = datetime(2026, 2, 18, 6, 0, tzinfo=UTC)
WIRE = (
    "Rescue teams in northern California searched on Tuesday for ten backcountry skiers missing "
    "after an avalanche near Lake Tahoe buried a guided group, the Nevada County sheriff said. "
    "Six skiers were found alive. The avalanche struck at about 11 a.m. near Castle Peak."
)
OTHER = (
    "The city council of Lyon approved a new tram line on Monday, the first extension of the "
    "network since 2019. Construction of the 14-kilometre line starts in spring."
)


def _source(db: Database, url: str) -> int:
    with db.session() as s:
        row = Source(url=url, name=url)
        s.add(row)
        s.flush()
        return row.id


def _store(db: Database, source_id: int, entries: list[Entry], now: datetime = NOW) -> list[int]:
    with db.session() as s:
        source = s.get(Source, source_id)
        assert source is not None
        return store_entries(s, source, entries, now).new_ids


def _keys(db: Database) -> dict[int, str]:
    with db.session() as s:
        return dict(s.execute(select(Item.id, Item.story_key)).all())


def test_two_sites_reporting_one_event_share_a_story(db: Database) -> None:
    a = _source(db, "https://news-one.example/feed")
    b = _source(db, "https://other-paper.example/rss")
    [first] = _store(
        db,
        a,
        [
            Entry(
                key="1",
                title="Six skiers found alive, ten missing after California avalanche",
                url="https://news-one.example/2026/avalanche",
                content_text=WIRE,
                published=NOW - timedelta(hours=5),
            )
        ],
    )
    group_pending(db)
    second, unrelated = _store(
        db,
        b,
        [
            Entry(
                key="x",
                title="Rescuers search for 10 missing skiers after avalanche in California",
                url="https://other-paper.example/world/skiers-missing",
                content_text=WIRE.replace("Rescue teams", "Rescuers").replace("Tuesday", "Monday"),
                published=NOW - timedelta(hours=2),
            ),
            Entry(
                key="y",
                title="Lyon approves a new tram line",
                url="https://other-paper.example/lyon-tram",
                content_text=OTHER,
                published=NOW - timedelta(hours=1),
            ),
        ],
    )
    assert group_pending(db) == 2
    keys = _keys(db)
    assert keys[second] == keys[first]  # joined the story: took its key
    assert keys[unrelated] not in (keys[first],)
    assert group_pending(db) == 0  # nothing left awaiting grouping


def test_a_changed_item_leaves_its_story(db: Database) -> None:
    a = _source(db, "https://news-one.example/feed")
    b = _source(db, "https://other-paper.example/rss")
    title = "Six skiers found alive, ten missing after California avalanche"
    [opener] = _store(
        db,
        a,
        [
            Entry(
                key="1",
                title=title,
                url="https://a.example/1",
                content_text=WIRE,
                published=NOW - timedelta(hours=5),
            )
        ],
    )
    later = Entry(
        key="2",
        title=title,
        url="https://b.example/2",
        content_text=WIRE,
        published=NOW - timedelta(hours=3),
    )
    [joiner] = _store(db, b, [later])
    group_pending(db)
    assert _keys(db)[joiner] == _keys(db)[opener]

    changed = Entry(
        key="2",
        title="Lyon approves a new tram line",
        url="https://b.example/2",
        content_text=OTHER,
        published=later.published,
    )
    with db.session() as s:
        source = s.get(Source, b)
        assert source is not None
        assert store_entries(s, source, [changed], NOW + timedelta(hours=1)).changed == 1
    assert group_pending(db) == 1
    keys = _keys(db)
    assert keys[joiner] != keys[opener]
    with db.session() as s:
        link_key = s.scalar(select(Item.link_key).where(Item.id == joiner))
    assert keys[joiner] == link_key  # it opens a story of its own again


def test_an_opener_that_changes_leaves_the_others_together(db: Database) -> None:
    sources = [_source(db, f"https://site{i}.example/feed") for i in range(3)]
    title = "Six skiers found alive, ten missing after California avalanche"
    ids = [
        _store(
            db,
            sid,
            [
                Entry(
                    key="k",
                    title=title,
                    url=f"https://site{i}.example/a",
                    content_text=WIRE,
                    published=NOW - timedelta(hours=5 - i),
                )
            ],
        )[0]
        for i, sid in enumerate(sources)
    ]
    group_pending(db)
    assert len(set(_keys(db).values())) == 1
    with db.session() as s:
        source = s.get(Source, sources[0])
        assert source is not None
        store_entries(
            s,
            source,
            [
                Entry(
                    key="k",
                    title="Lyon approves a new tram line",
                    url="https://site0.example/a",
                    content_text=OTHER,
                    published=NOW - timedelta(hours=5),
                )
            ],
            NOW,
        )
    group_pending(db)
    keys = _keys(db)
    assert keys[ids[1]] == keys[ids[2]] != keys[ids[0]]


def _entry(item: dict) -> Entry:
    """A labeled item as its feed's entry."""
    return Entry(
        key=item["id"],
        title=item["title"],
        url=item["link"],
        content_text=item["text"],
        published=datetime.fromisoformat(item["published"]),
    )


def _store_labeled(db: Database, name: str) -> dict[int, str]:
    """Store a labeled set's items (one source per feed); returns item id → labeled id."""
    labeled = load(name)
    by_feed: dict[str, list[dict]] = defaultdict(list)
    for item in labeled.items:
        by_feed[item["source"]].append(item)
    labels: dict[int, str] = {}
    for feed, items in by_feed.items():
        source = _source(db, feed)
        entries = [_entry(item) for item in items]
        for item, item_id in zip(items, _store(db, source, entries), strict=True):
            labels[item_id] = item["id"]
    return labels


def test_the_labeled_news_week_through_the_store(db: Database) -> None:
    labels = _store_labeled(db, "news-tuning.json")
    group_pending(db, batch=64)  # batches much smaller than the set
    story_of = {labels[i]: key for i, key in _keys(db).items()}
    result = figures(load("news-tuning.json"), story_of)
    assert _stories(story_of) == _stories(grouped(load("news-tuning.json")))  # as components
    assert set(result.hard_merges) <= TUNING_HARD_MERGES
    assert result.precision >= 0.95, result.wrong
    assert result.recall >= 0.75, result.missed


def _stories(story_of: dict[str, object]) -> set[frozenset[str]]:
    stories: dict[object, set[str]] = defaultdict(set)
    for item, story in story_of.items():
        stories[story].add(item)
    return {frozenset(s) for s in stories.values()}


def _partition(db: Database) -> set[frozenset[int]]:
    stories: dict[str, set[int]] = defaultdict(set)
    for item_id, key in _keys(db).items():
        stories[key].add(item_id)
    return {frozenset(s) for s in stories.values()}


def test_two_workers_grouping_at_once_reach_what_one_reaches(database_url: str) -> None:
    db = Database(database_url)
    try:
        _store_labeled(db, "news-tuning.json")
        for _ in range(3):  # bounded repetition: the workers' turns fall differently each time
            workers = [Database(database_url) for _ in range(2)]
            done: list[int] = []

            def work(worker: Database, done: list[int] = done) -> None:
                done.append(group_pending(worker, batch=25))

            threads = [threading.Thread(target=work, args=(w,)) for w in workers]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for w in workers:
                w.dispose()
            assert sum(done) == len(_keys(db))  # every item grouped once
            together = _partition(db)
            with db.session() as s:  # back to ungrouped, then one worker alone
                s.execute(
                    update(Item).values(
                        story_key=Item.link_key, story_signature=None, story_pending=True
                    )
                )
            group_pending(db, batch=25)
            assert _partition(db) == together
            with db.session() as s:
                s.execute(
                    update(Item).values(
                        story_key=Item.link_key, story_signature=None, story_pending=True
                    )
                )
    finally:
        db.dispose()


def test_items_dated_at_the_calendars_ends_are_grouped(db: Database) -> None:
    a = _source(db, "https://a.example/feed")
    oldest = datetime(1, 1, 1, tzinfo=UTC)
    latest = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    _store(
        db,
        a,
        [
            Entry(key="1", title="Year one", content_text=WIRE, published=oldest),
            Entry(key="2", title="Year 9999", content_text=OTHER, published=latest),
        ],
    )
    assert group_pending(db) == 2


def test_the_parser_signs_entries_and_grouping_keeps_the_signature(db: Database) -> None:
    body = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
    <item><title>Six skiers found alive, ten missing after California avalanche</title>
    <link>https://news-one.example/2026/avalanche</link><guid>a1</guid>
    <description>{WIRE}</description><pubDate>Tue, 17 Feb 2026 22:00:00 GMT</pubDate></item>
    </channel></rss>""".encode()
    [entry] = parse_and_sign(body, "https://news-one.example/feed", now=NOW).entries
    made = signature(entry.title, entry.content_text).encode()
    assert entry.story_signature == made
    [item] = _store(db, _source(db, "https://news-one.example/feed"), [entry])
    with db.session() as s:
        stored = s.execute(select(Item.story_signature, Item.story_pending)).one()
    assert tuple(stored) == (made, True)  # stored as parsed, awaiting grouping
    assert group_pending(db) == 1
    with db.session() as s:
        stored = s.execute(select(Item.story_signature, Item.story_pending)).one()
    assert tuple(stored) == (made, False)
    assert _keys(db)[item]


def _anchors(db: Database, page: int, hours: int = 1) -> list[int]:
    """Two entries of a link page (anchors of one page), stored from ``page``."""
    texts = {
        "Alpine": "A small JavaScript library for reactive pages, declared in the markup itself.",
        "Adminer": "A one-file database admin UI for MySQL, PostgreSQL and SQLite, in one PHP file.",
    }
    return _store(
        db,
        page,
        [
            Entry(
                key=f"e{n}",
                title=title,
                url=f"https://links.example/awesome#{title.lower()}",
                content_text=text,
                published=NOW - timedelta(hours=n + hours),
            )
            for n, (title, text) in enumerate(texts.items())
        ],
    )


def test_one_feeds_entries_under_one_link_are_compared_by_their_text(db: Database) -> None:
    """A link page's entries (anchors of one page) are different stories; another feed's
    entry under that page's link joins one of them only by its text."""
    ids = _anchors(db, _source(db, "https://links.example/feed"))
    group_pending(db)
    other = _source(db, "https://elsewhere.example/feed")
    bare, copy = _store(
        db,
        other,
        [
            Entry(key="b", title="Links", url="https://links.example/awesome", published=NOW),
            Entry(
                key="c",
                title="Adminer",
                url="https://links.example/awesome",
                content_text="A one-file database admin UI for MySQL, PostgreSQL and SQLite, "
                "in one PHP file.",
                published=NOW,
            ),
        ],
    )
    group_pending(db)
    keys = _keys(db)
    assert keys[ids[0]] != keys[ids[1]]
    assert keys[copy] == keys[ids[1]]
    assert keys[bare] not in {keys[ids[0]], keys[ids[1]]}


def test_a_link_page_subscribed_twice_makes_one_story_per_anchor(db: Database) -> None:
    """Both feeds give each anchor's link twice: no link names one item there, so each
    anchor joins only its copy from the other feed."""
    first = _anchors(db, _source(db, "https://links.example/feed"), hours=1)
    second = _anchors(db, _source(db, "https://links.example/feed.json"), hours=1)
    group_pending(db)
    keys = _keys(db)
    assert keys[first[0]] == keys[second[0]]
    assert keys[first[1]] == keys[second[1]]
    assert keys[first[0]] != keys[first[1]]


@pytest.mark.parametrize("hours", [0.5, 2.0])
def test_items_grouped_as_polls_bring_them_reach_the_stories_of_one_grouping(
    sqlite_db: Database, hours: float
) -> None:
    """Each feed polled every ``hours`` (each at its own offset), the items it published since
    its last poll stored and grouped at once: a poll's items come a little out of order of
    publication across feeds, and the stories are those of grouping the whole week at once."""
    labeled = load("news-tuning.json")
    feeds = sorted({item["source"] for item in labeled.items})
    sources = {feed: _source(sqlite_db, feed) for feed in feeds}
    start = datetime(2026, 2, 1, tzinfo=UTC)
    period = timedelta(hours=hours)

    def polled(item: dict) -> datetime:
        """The first poll of its feed after the item was published."""
        offset = period * (feeds.index(item["source"]) / len(feeds))
        published = datetime.fromisoformat(item["published"])
        return start + offset + period * ((published - start - offset) // period + 1)

    polls: dict[datetime, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for item in labeled.items:
        polls[polled(item)][item["source"]].append(item)
    labels: dict[int, str] = {}
    for moment in sorted(polls):
        for feed, items in polls[moment].items():
            ids = _store(sqlite_db, sources[feed], [_entry(item) for item in items], moment)
            labels.update(zip(ids, [item["id"] for item in items], strict=True))
        group_pending(sqlite_db)
    story_of = {labels[i]: key for i, key in _keys(sqlite_db).items()}
    assert len(polls) > 50  # many polls, each grouped on its own
    assert _stories(story_of) == _stories(grouped(labeled))
