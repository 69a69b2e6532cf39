"""Text from outside prints as written: the terminal library's markup in a feed title, an error or
a config value is shown literally, in every command, and never ends a command in a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import ok, one_line_error, run_cli
from tests.support.feedserver import FeedServer, rss_feed

MARKUP = ["Broken [/x] markup", "[bold]Loud[/bold] [red]", "Odd [link=x]close[/link] \\"]


@pytest.mark.parametrize("title", MARKUP)
def test_feed_title_with_markup_prints_literally_in_every_command(
    feed_server: FeedServer, make_config, title: str
) -> None:
    url = feed_server.add("/markup.xml", rss_feed(title, items=2))
    config = make_config([{"url": url}])

    polled = ok(run_cli(config, "poll", "--no-briefs"))
    assert title in polled
    assert "2 new item(s)" in polled
    assert title in ok(run_cli(config, "sources", "list"))
    assert f"{title} item 0" in ok(run_cli(config, "items", "list"))
    ok(run_cli(config, "status"))
    shown = ok(run_cli(config, "brief", "1"))
    assert f"{title} item" in shown


def test_poll_error_with_markup_prints_literally(feed_server: FeedServer, make_config) -> None:
    bad = feed_server.status("/[/x].xml", 500)
    config = make_config([{"url": bad, "name": "Bad [/x] one"}])
    out = ok(run_cli(config, "poll", "--no-briefs"))
    assert "Bad [/x] one" in out and "HTTP 500" in out
    assert bad in ok(run_cli(config, "sources", "list"))


def test_config_error_keeps_the_brackets_of_a_pattern(tmp_path: Path, make_config) -> None:
    config = make_config(extra='[[digests]]\nname = "Bad Name!"\n')
    line = one_line_error(run_cli(config, "status"), code=2)
    assert "^[a-z0-9][a-z0-9_-]{0,40}$" in line
