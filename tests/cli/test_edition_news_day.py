"""An edition over a real news day (the last 24 hours of the labeled news week, eleven
outlets' feeds served on loopback): grouped by text, not by a shared link, it leads with the
event most publishers covered, shows no event twice and spreads its slots over the outlets."""

from __future__ import annotations

import html
import json
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

from tests.cli import run_cli
from tests.stories.labeled import load
from tests.support.feedserver import FeedServer

NOW = datetime.now(UTC)


def _last_day() -> tuple[list[dict], timedelta]:
    """The labeled week's last 24 hours, and the shift that brings its newest item to an hour
    ago."""
    items = load("news-tuning.json").items
    newest = max(datetime.fromisoformat(i["published"]) for i in items)
    day = [i for i in items if datetime.fromisoformat(i["published"]) > newest - timedelta(1)]
    return day, NOW - timedelta(hours=1) - newest


def _feeds(feed_server: FeedServer, day: list[dict], shift: timedelta) -> list[dict]:
    by_source: dict[str, list[dict]] = defaultdict(list)
    for item in day:
        by_source[item["source"]].append(item)
    sources = []
    for n, (source, items) in enumerate(sorted(by_source.items())):
        site = f"https://{urlsplit(source).hostname}/"
        entries = "".join(
            f"<item><title>{html.escape(i['title'])}</title><link>{html.escape(i['link'])}</link>"
            f"<guid>{html.escape(i['id'])}</guid><description>{html.escape(i['text'])}"
            f"</description><pubDate>"
            f"{format_datetime(datetime.fromisoformat(i['published']) + shift)}</pubDate></item>"
            for i in items
        )
        body = (
            f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>Outlet {n}</title><link>{site}</link><description>d</description>"
            f"{entries}</channel></rss>\n"
        )
        sources.append({"url": feed_server.add(f"/outlet{n}.xml", body.encode()), "priority": 3})
    return sources


def test_an_edition_over_a_real_news_day(
    make_config: Callable[..., Path], feed_server: FeedServer
) -> None:
    day, shift = _last_day()
    event_of = {i["link"]: i["event"] for i in day}
    outlets: dict[str, set[str]] = defaultdict(set)
    for item in day:
        if item["event"]:
            outlets[item["event"]].add(item["source"])
    most_covered = max(outlets, key=lambda e: len(outlets[e]))
    config = make_config(_feeds(feed_server, day, shift))
    assert (poll := run_cli(config, "poll")).returncode == 0, poll.stderr

    preview = run_cli(config, "digest", "preview", "--json")
    assert preview.returncode == 0, preview.stderr
    stories = json.loads(preview.stdout)["stories"]
    assert len(stories) == 20
    lead_events = {event_of[i["link"]] for i in stories[0]["items"]}
    assert lead_events == {most_covered}, stories[0]["title"]
    assert len(stories[0]["publishers"]) >= 4  # named, each once
    assert len(set(stories[0]["publishers"])) == len(stories[0]["publishers"])
    events = [
        {event_of[i["link"]] for i in s["items"]} - {None} for s in stories
    ]  # each story's labeled events
    shown = [e for story_events in events for e in story_events]
    assert len(shown) == len(set(shown)), shown  # no event twice
    assert len({p for s in stories for p in s["publishers"]}) >= 8
