"""What ``aggregator poll`` prints: a line per source (once each), a summary, the briefs made,
and on a terminal a progress bar that counts every source whatever its outcome."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli import config_text, ok, run_cli, run_cli_tty
from tests.support.feedserver import FeedServer, rss_feed

pytestmark = pytest.mark.slow  # each command is a subprocess of ~1 s

FEEDS = 5
_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class Polled:
    config: Path
    first: subprocess.CompletedProcess
    second: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Polled]:
    """Five feeds and a broken source, polled twice (the feeds answer 304 the second time)."""
    root = tmp_path_factory.mktemp("poll-output")
    with FeedServer() as server:
        sources: list[dict[str, object]] = [
            {"url": server.add(f"/f{n}.xml", rss_feed(f"Feed {n}")), "name": f"Feed {n}"}
            for n in range(FEEDS)
        ]
        sources.append({"url": server.url("/gone.xml"), "name": "Broken Source"})
        config = root / "config.toml"
        config.write_text(config_text(sources))
        first = run_cli(config, "poll")
        second = run_cli(config, "poll")
        yield Polled(config, first, second)


def test_a_failing_source_is_named_once(polled: Polled) -> None:
    ok(polled.first)
    said = polled.first.stdout + polled.first.stderr
    assert said.count("Broken Source") == 1, said
    assert "failed Broken Source: HTTP 404 Not Found" in polled.first.stdout


def test_the_brief_step_says_how_many_briefs_it_made(polled: Polled) -> None:
    assert re.search(r"^15 brief\(s\) made in [\d.]+ s$", ok(polled.first), re.M)
    assert re.search(r"^0 brief\(s\) made in [\d.]+ s$", ok(polled.second), re.M)


def test_the_progress_bar_counts_sources_that_were_not_modified(polled: Polled) -> None:
    """No frame of the bar lags behind the lines printed above it."""
    screen = _ESCAPE.sub("", run_cli_tty(polled.config, "poll", "--no-briefs"))
    total = FEEDS + 1
    lines, counts = 0, []
    for piece in re.split(r"\r\n|\r|\n", screen):
        if re.match(r"\s*(not-modified|failed) ", piece):
            lines += 1
        elif bar := re.match(rf"polling .* (\d+)/{total} ", piece):
            counts.append((lines, int(bar[1])))
    assert lines == total, screen
    assert counts and all(seen <= shown <= seen + 1 for seen, shown in counts), counts
    assert counts[-1] == (total, total)
