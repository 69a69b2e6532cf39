"""A link's tracking parameters (any major mailer's or ad network's) change between fetches and
readers: an item keyed by its link, and its story, stay the same whatever they say, while a
parameter that names the page keeps items apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from aggregator.model.links import is_tracking, without_tracking
from aggregator.store.db import Database
from aggregator.store.items import canonical_link
from aggregator.store.models import Item
from tests.ingest.test_poll import add_sources, item_count, poll_all, settings_for
from tests.support.feedserver import FeedServer

TRACKERS = [
    "utm_campaign={n}",
    "fbclid=IwAR{n}",
    "gclid={n}",
    "mc_cid={n}&mc_eid={n}",
    "_hsenc=p2AN{n}&_hsmi={n}",
    "mkt_tok=MDI{n}",
    "ttclid={n}",
    "msclkid={n}",
    "ck_subscriber_id={n}",
    "_ke={n}",
    "sfmc_id={n}",
    "elqTrackId={n}",
    "UTM_Source=feed{n}",
]


def _feed(tracker: str, n: int) -> bytes:
    items = "".join(
        f"<item><title>Story {k}</title>"
        f"<link>https://news.example/story/{k}?page=1&amp;{tracker.format(n=n).replace('&', '&amp;')}</link>"
        f"<description>Body {k}.</description></item>"
        for k in range(3)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Tracked</title>'
        f"<link>https://news.example/</link>{items}</channel></rss>"
    ).encode()


@pytest.mark.parametrize("tracker", TRACKERS)
def test_a_changing_tracking_parameter_stores_each_story_once(
    sqlite_db: Database, feed_server: FeedServer, tmp_path: Path, tracker: str
) -> None:
    url = feed_server.add("/tracked.xml", _feed(tracker, 1))
    ids = add_sources(sqlite_db, [url])
    settings = settings_for(tmp_path)
    assert poll_all(sqlite_db, settings).new == 3
    for n in (2, 3):
        feed_server.replace("/tracked.xml", _feed(tracker, n))
        report = poll_all(sqlite_db, settings)
        assert report.new == 0, (tracker, n)
    assert item_count(sqlite_db, ids[url]) == 3
    with sqlite_db.session() as session:
        stories = session.scalar(select(func.count(func.distinct(Item.story_key))))
    assert stories == 3


def test_a_parameter_that_names_the_page_keeps_items_apart(
    sqlite_db: Database, feed_server: FeedServer, tmp_path: Path
) -> None:
    items = "".join(
        f"<item><title>Page {k}</title><link>https://news.example/read?{name}={k}</link></item>"
        for k in range(2)
        for name in ("id", "gallery", "source_id", "reference", "p")
    )
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Pages</title>'
        f"<link>https://news.example/</link>{items}</channel></rss>"
    ).encode()
    url = feed_server.add("/pages.xml", body)
    ids = add_sources(sqlite_db, [url])
    assert poll_all(sqlite_db, settings_for(tmp_path)).new == 10
    assert item_count(sqlite_db, ids[url]) == 10


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("https://a.example/x?id=3", "https://a.example/x?id=3"),
        ("https://a.example/x?b=2&a=1", "https://a.example/x?b=2&a=1"),  # untouched, unsorted
        ("https://a.example/x?id=3&utm_medium=rss", "https://a.example/x?id=3"),
        ("https://a.example/x?fbclid=1#xtor=RSS-8", "https://a.example/x"),
        ("https://a.example/x?_hsenc=1#part", "https://a.example/x#part"),
        ("http://[::1", "http://[::1"),  # not a URL: unchanged, no error
    ],
)
def test_without_tracking(raw: str, clean: str) -> None:
    assert without_tracking(raw) == clean


def test_story_key_and_item_key_follow_one_list() -> None:
    for tracker in TRACKERS:
        for name in tracker.format(n=1).split("&"):
            assert is_tracking(name.split("=")[0]), name
        link = f"https://www.news.example/a/?{tracker.format(n=7)}"
        assert canonical_link(link) == "news.example/a"
    for name in ("id", "p", "page", "q", "v", "gallery", "reference", "source_id", "story"):
        assert not is_tracking(name), name
