"""Bad files: a hostile subscriber CSV, lax config typing, twin sources, and
``file:`` feeds named by an OPML file or a web page. Each gives one line naming the line or key,
and nothing valid is lost."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from aggregator.config import ConfigError, from_mapping
from aggregator.ingest.discover import discover_feeds
from aggregator.store.db import Database
from aggregator.store.models import Source, Subscriber
from tests.cli import ok, run_cli


def test_a_hostile_csv_loses_no_valid_row_and_names_each_bad_line(
    make_config: Callable[..., Path], open_db: Callable[[Path], Database]
) -> None:
    config = make_config()
    rows = [
        "email,digests",
        "one@example.org,daily",
        "two@example.org," + "x" * 140_000,  # over the csv module's 131,072-character field limit
        'three@example.org,"daily',  # unterminated quote: must not swallow the next row
        "four@example.org,daily",
        "not an address,daily",
        "five@example.org",
    ]
    (config.parent / "people.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = run_cli(config, "subscribers", "import", "people.csv")
    out = ok(result)
    errors = result.stderr.splitlines()
    assert [line.split(":")[1] for line in errors] == [" line 3", " line 4", " line 6"]
    assert "longer than 4096 characters" in errors[0] and len(errors[0]) < 200
    assert "not valid CSV" in errors[1]
    assert "3 added" in out and "3 skipped" in out
    with open_db(config).session() as session:
        emails = set(session.scalars(select(Subscriber.email)))
    assert emails == {"one@example.org", "four@example.org", "five@example.org"}


@pytest.mark.parametrize(
    ("section", "value", "line"),
    [
        ("general.tick_seconds", "true", "expected a number, got the boolean true"),
        ("general.tick_seconds", '"20"', 'expected a number, got the string "20"'),
        ("fetch.concurrency", "2.5", "expected a whole number, got the number 2.5"),
        ("publish.tag_feeds", "1", "expected true or false, got the number 1"),
        ("web.trusted_proxies", '"10.0.0.1"', 'expected a list, got the string "10.0.0.1"'),
    ],
)
def test_config_values_of_the_wrong_type_are_refused(
    make_config: Callable[..., Path], section: str, value: str, line: str
) -> None:
    table, key = section.split(".")
    config = _set(make_config(), table, f"{key} = {value}")
    result = run_cli(config, "subscribers", "list")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: config.toml: {section}: {line}"


def _set(config: Path, table: str, line: str) -> Path:
    """``config`` with ``line`` added to its ``[table]`` (which is added when missing)."""
    text = config.read_text()
    header = f"[{table}]\n"
    text = text.replace(header, header + line + "\n") if header in text else text + header + line
    config.write_text(text + "\n")
    return config


def test_twin_sources_are_refused_naming_both_indexes(tmp_path: Path) -> None:
    sources = [
        {"url": "https://a.example/feed.xml"},
        {"url": "https://b.example/feed.xml"},
        {"url": " https://a.example/feed.xml", "tags": ["x"]},
    ]
    with pytest.raises(ConfigError) as caught:
        from_mapping({"sources": sources}, root=tmp_path, origin="config.toml")
    assert caught.value.problems == [
        "config.toml: sources[2].url: the same URL as sources[0].url "
        "('https://a.example/feed.xml'); list each feed once"
    ]


def _opml(*urls: str) -> str:
    outlines = "".join(f'<outline text="F{n}" xmlUrl="{u}"/>' for n, u in enumerate(urls, 1))
    return f'<opml version="2.0"><head/><body>{outlines}</body></opml>'


def test_opml_file_sources_are_refused_unless_inside_an_allowed_folder(
    make_config: Callable[..., Path], open_db: Callable[[Path], Database], tmp_path: Path
) -> None:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "local.xml").write_text("<rss/>")
    (feeds / "escape.xml").symlink_to("/etc/passwd")
    secret = tmp_path / "data" / "secret.key"
    inside, escape = (feeds / "local.xml").as_uri(), (feeds / "escape.xml").as_uri()
    listing = _opml("file:///etc/passwd", inside, secret.as_uri(), escape, "https://a.example/f")
    (tmp_path / "list.opml").write_text(listing)

    closed = make_config(folder="closed")
    result = run_cli(closed, "sources", "import", str(tmp_path / "list.opml"))
    assert ok(result).strip() == "imported 1 new source(s) of 5 in list.opml"
    refused = result.stderr.splitlines()
    assert len(refused) == 4 and all("fetch.file_folders" in line for line in refused)
    assert refused[0].startswith("list.opml: outline 1: skipped, a file: URL, refused")

    opened = _set(make_config(folder="open"), "fetch", f'file_folders = ["{feeds}"]')
    result = run_cli(opened, "sources", "import", str(tmp_path / "list.opml"))
    assert ok(result).strip() == "imported 2 new source(s) of 5 in list.opml"
    assert len(result.stderr.splitlines()) == 3
    with open_db(opened).session() as session:
        urls = set(session.scalars(select(Source.url)))
    assert urls == {inside, "https://a.example/f"}


def test_a_web_page_cannot_point_the_poller_at_local_files() -> None:
    page = (
        b'<html><head><link rel="alternate" type="application/rss+xml" href="file:///etc/passwd">'
        b'<link rel="alternate" type="application/atom+xml" href="/feed.atom"></head></html>'
    )
    assert discover_feeds(page, "https://site.example/") == ["https://site.example/feed.atom"]
    local = b'<link rel="alternate" type="application/rss+xml" href="feed.xml">'
    assert discover_feeds(local, "file:///srv/site/index.html") == ["file:///srv/site/feed.xml"]
