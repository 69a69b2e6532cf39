"""An edition over a news day, through the real command line and real feeds on loopback: it
leads with the event most publishers covered, names them once each, and spreads the slots."""

from __future__ import annotations

import email
import email.policy
import html
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from tests.cli import run_cli
from tests.support.feedserver import FeedServer, distinct_text

NOW = datetime.now(UTC)
BODY = (
    "Officials confirmed the details on {day} after a morning of meetings in the capital. "
    "The decision affects {n} thousand residents and follows two years of planning. "
    "Engineers said the work would start next month and last into the autumn. "
    "Critics asked for an independent review of the costs and the timetable. "
    "The council will publish the full report on its website later this week."
)


def _feed(site: str, title: str, items: Sequence[tuple[str, str, float | None]]) -> bytes:
    """RSS for one site: (title, link, hours ago or None for undated) per item."""
    entries = []
    for headline, link, hours in items:
        date = (
            f"<pubDate>{format_datetime(NOW - timedelta(hours=hours))}</pubDate>"
            if hours is not None
            else ""
        )
        body = html.escape(
            link == EVENT and BODY.format(day="Monday", n=7) or distinct_text(link, 5)
        )
        entries.append(
            f"<item><title>{html.escape(headline)}</title><link>{link}</link>"
            f"<guid>{link}</guid>{date}<description>{body}</description></item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{html.escape(title)}</title><link>{site}</link><description>d</description>"
        f"{''.join(entries)}</channel></rss>\n"
    ).encode()


EVENT = "https://wire.example.net/2026/bridge-closed"
SMALL = 12  # publishers with a few items each


def _news_day(feed_server: FeedServer) -> list[dict[str, object]]:
    sources: list[dict[str, object]] = []
    for p in range(SMALL):
        site = f"https://www.paper{p}.co.uk/"
        items = [(f"Paper {p} local story {k}", f"{site}local-{k}", 2.0 + k) for k in range(2)]
        if p < 6:  # six outlets carry the wire story
            items.append((f"Bridge closed for repairs, says paper {p}", EVENT, 5.0 + p))
        url = feed_server.add(f"/paper{p}.xml", _feed(site, f"Paper {p} - All news", items))
        sources.append({"url": url, "priority": 3})
    # One big site with two twin feeds (front page and all posts) and many fresh stories.
    big = "https://www.bignews.org/"
    front = [(f"Big exclusive {k}", f"{big}story-{k}", 0.5 + k / 10) for k in range(10)]
    feed_front = feed_server.add("/big-front.xml", _feed(big, "Big News - Front page", front))
    feed_all = feed_server.add("/big-all.xml", _feed(big, "Big News - All posts", front))
    sources += [
        {"url": feed_front, "priority": 5, "publisher": "Big News"},  # names the whole site
        {"url": feed_all, "priority": 5},
    ]
    # A site whose feed dates nothing: its pages must not push dated news out.
    pages = "https://evergreen-pages.info/"
    undated = [(f"Evergreen page {k}", f"{pages}page-{k}", None) for k in range(15)]
    sources.append(
        {"url": feed_server.add("/pages.xml", _feed(pages, "Pages", undated)), "priority": 5}
    )
    return sources


def test_an_edition_leads_with_the_most_covered_event_and_spreads_publishers(
    make_config: Callable[..., Path], feed_server: FeedServer
) -> None:
    config = make_config(_news_day(feed_server))
    assert (poll := run_cli(config, "poll")).returncode == 0, poll.stderr

    preview = run_cli(config, "digest", "preview", "--json")
    assert preview.returncode == 0, preview.stderr
    stories = json.loads(preview.stdout)["stories"]
    assert len(stories) == 20

    lead = stories[0]
    assert {i["link"] for i in lead["items"]} == {EVENT}
    assert sorted(lead["publishers"]) == sorted(f"Paper {p} - All news" for p in range(6))
    assert all(set(i) == {"id", "title", "link", "source", "feed_url", "published"}
               for s in stories for i in s["items"])  # fmt: skip

    links = [link for s in stories for link in {i["link"] for i in s["items"]}]
    titles = [s["title"] for s in stories]
    assert len(set(links)) == len(links) and len(set(titles)) == len(titles)  # no event twice

    shown = {p for s in stories for p in s["publishers"]}
    assert len(shown) >= 8
    big = [s for s in stories if s["publishers"] == ["Big News"]]
    assert 1 <= len(big) <= 3  # the twins are one publisher, capped at three stories
    assert all(len(s["items"]) == 2 for s in big)  # each story once, from both twin feeds
    assert sum(s["publishers"] == ["Pages"] for s in stories) <= 2  # undated: two at most

    listed = run_cli(config, "stories", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    by_id = {s["id"]: s for s in json.loads(listed.stdout)}
    event = next(s for s in by_id.values() if {i["link"] for i in s["items"]} == {EVENT})
    assert len(event["publishers"]) == 6
    items = json.loads(run_cli(config, "items", "list", "--limit", "200", "--json").stdout)
    assert {i["story"] for i in items if i["url"] == EVENT} == {event["id"]}

    html_preview = run_cli(config, "digest", "preview", "--output", "edition.html")
    assert html_preview.returncode == 0, html_preview.stderr
    page = (config.parent / "edition.html").read_text()
    assert "Covered by 6 sources:" in page
    assert page.count(EVENT) >= 1 and "Paper 5 - All news" in page


def test_the_published_feed_names_the_coverage_and_caps_undated_pages(
    make_config: Callable[..., Path], feed_server: FeedServer
) -> None:
    # 35 dated stories and two undated pages fill a feed of 37: no room for a page past the cap
    config = make_config(_news_day(feed_server), extra="[publish]\nmax_entries = 37")
    assert (poll := run_cli(config, "poll")).returncode == 0, poll.stderr
    assert (out := run_cli(config, "publish")).returncode == 0, out.stderr
    [feed_json] = config.parent.rglob("feed.json")
    entries = json.loads(feed_json.read_text())["items"]
    pages = [e for e in entries if e.get("url", "").startswith("https://evergreen-pages.info/")]
    assert len(pages) <= 2  # fifteen undated pages do not fill the feed
    [event] = [e for e in entries if e.get("url") == EVENT]
    assert "Covered by 6 sources:" in event["content_html"]
    assert event["content_html"].count("Paper 3 - All news") == 1


def test_the_mail_names_each_publisher_once_and_lists_the_coverage(
    make_config: Callable[..., Path], feed_server: FeedServer
) -> None:
    config = make_config(_news_day(feed_server))
    assert run_cli(config, "subscribers", "add", "me@example.org").returncode == 0
    assert (run := run_cli(config, "run", "--once")).returncode == 0, run.stderr
    [mail] = sorted((config.parent / "outbox" / "new").iterdir())
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None
    text = plain.get_content()
    assert "Covered by 6 sources:" in text
    assert "Big News, Big News" not in text and "Big News" in text
