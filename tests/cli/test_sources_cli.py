"""``aggregator sources ...``: add (with discovery), list, remove, enable/disable, OPML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

from aggregator.store.models import Item, Source
from tests.cli import ok, one_line_error, run_cli, run_cli_all
from tests.support.feedserver import FeedServer, rss_feed

pytestmark = pytest.mark.slow  # each command is a subprocess of ~1 s


def _sources(db) -> dict[str, Source]:  # noqa: ANN001 - a Database
    """Every source row by URL, detached for reading."""
    with db.session() as session:
        rows = session.scalars(select(Source)).all()
        session.expunge_all()
    return {row.url: row for row in rows}


def _item_count(db, source_id: int) -> int:  # noqa: ANN001
    with db.session() as session:
        return session.scalar(
            select(func.count()).select_from(Item).where(Item.source_id == source_id)
        )


def test_add_by_page_or_feed_url_and_refusals(
    feed_server: FeedServer, make_config, open_db
) -> None:
    feed_url = feed_server.add("/alpha.xml", rss_feed("Alpha Blog"))
    page = feed_server.discovery_page("/blog/", "/alpha.xml", title="Alpha's site")
    beta = feed_server.add("/beta.xml", rss_feed("Beta News"))
    bare = feed_server.add(
        "/about",
        b"<!DOCTYPE html><html><head></head><body>hi</body></html>",
        "text/html; charset=utf-8",
    )
    config = make_config()

    out = ok(run_cli(config, "sources", "add", page, "--tag", "Alignment"))
    assert out.strip() == f"added source 1: Alpha Blog <{feed_url}>"
    assert [r.path for r in feed_server.requests] == ["/blog/", "/alpha.xml"]

    added, again, refused = run_cli_all(
        config,
        ("sources", "add", beta, "--name", "Beta"),
        ("sources", "add", page),
        ("sources", "add", bare),
    )
    assert ok(added).strip() == f"added source 2: Beta <{beta}>"
    assert ok(again).strip() == f"already present as source 1: Alpha Blog <{feed_url}>"
    error = one_line_error(refused)
    assert error == f"error: {bare}: {bare} is an HTML page that advertises no feed"

    rows = _sources(open_db(config))
    assert set(rows) == {feed_url, beta}
    alpha = rows[feed_url]
    assert (alpha.name, alpha.tags, alpha.origin, alpha.enabled) == (
        "Alpha Blog",
        ["alignment"],
        "cli",
        True,
    )
    assert (rows[beta].name, rows[beta].tags) == ("Beta", [])


def test_list_shows_health_after_a_failing_poll(
    feed_server: FeedServer, make_config, open_db
) -> None:
    good = feed_server.add("/good.xml", rss_feed("Good Feed", items=2))
    bad = feed_server.status("/bad.xml", 500)
    config = make_config([{"url": bad, "name": "Broken"}, {"url": good, "name": "Good"}])
    ok(run_cli(config, "poll"))

    out = ok(run_cli(config, "sources", "list"))
    lines = out.splitlines()
    assert lines[0].split() == [
        "id", "name", "state", "tags", "items", "last", "check", "next", "check", "fails", "url", "/",
        "last", "error",
    ]  # fmt: skip
    broken = next(i for i, line in enumerate(lines) if line.startswith("1 "))
    assert re.match(
        rf"1\s+Broken\s+failing\s+-\s+0\s+\d+s ago\s+in \d+(?:\.\d)?[mh]\s+1\s+{re.escape(bad)}"
        r"\s+HTTP 500 Internal Server Error\s*$",
        lines[broken],
    ), lines[broken]
    assert re.search(
        rf"^2\s+Good\s+ok\s+-\s+2\s+\d+s ago\s+in \d+(?:\.\d)?[mh]\s+0\s+{re.escape(good)}",
        out,
        re.M,
    )

    rows = _sources(open_db(config))
    assert rows[bad].consecutive_failures == 1 and rows[bad].last_status == 500
    assert rows[good].consecutive_failures == 0 and rows[good].last_error is None


def _opml(*urls: str) -> str:
    """An OPML document listing ``urls`` (title "Feed <n>") at the top level."""
    outlines = "".join(
        f'<outline text="Feed {n}" xmlUrl="{url}"/>' for n, url in enumerate(urls, 1)
    )
    return f'<opml version="2.0"><head/><body>{outlines}</body></opml>'


def test_remove_keeps_items_or_deletes_them_and_refuses_config_sources(
    tmp_path: Path, feed_server: FeedServer, make_config, open_db
) -> None:
    configured = feed_server.add("/configured.xml", rss_feed("Configured"))
    kept = feed_server.add("/kept.xml", rss_feed("Kept", items=3))
    doomed = feed_server.add("/deleted.xml", rss_feed("Deleted", items=2))
    config = make_config([{"url": configured, "name": "Configured"}])
    (tmp_path / "two.opml").write_text(_opml(kept, doomed))
    ok(run_cli(config, "sources", "import", "two.opml"))
    ok(run_cli(config, "poll"))

    removed, deleted, refused = run_cli_all(
        config,
        ("sources", "remove", kept),
        ("sources", "remove", "3", "--delete-items"),
        ("sources", "remove", "Configured"),
    )
    assert ok(removed).strip() == (
        "removed source 2 (Feed 1): no longer polled, listed as removed, its items kept "
        "(`sources add` with its URL brings it back; --delete-items deletes it and its items)"
    )
    assert ok(deleted).strip() == "deleted source 3 (Feed 2) and its items"
    error = one_line_error(refused)
    assert error == "error: source 1 comes from config.toml; remove it there"

    db = open_db(config)
    rows = _sources(db)
    assert set(rows) == {configured, kept}
    assert not rows[kept].enabled and rows[kept].origin == "removed"
    assert _item_count(db, rows[kept].id) == 3
    assert _item_count(db, 3) == 0
    assert rows[configured].enabled and rows[configured].origin == "config"
    listed = ok(run_cli(config, "sources", "list"))  # the list says what remove said
    assert re.search(r"^2\s+Feed 1\s+removed\s+-\s+3\s", listed, re.M), listed


def test_disable_enable_and_revive_a_source_retired_by_410(
    tmp_path: Path, feed_server: FeedServer, make_config, open_db
) -> None:
    alive = feed_server.add("/alive.xml", rss_feed("Alive", items=1))
    gone = feed_server.status("/gone.xml", 410)
    config = make_config()
    (tmp_path / "two.opml").write_text(_opml(alive, gone))
    ok(run_cli(config, "sources", "import", "two.opml"))

    out = ok(run_cli(config, "poll"))
    assert re.search(r"^\s*retired Feed 2: .*410", out, re.M), out
    assert _sources(open_db(config))[gone].status == "retired"

    disabled, enabled = run_cli_all(
        config, ("sources", "disable", "Feed 1"), ("sources", "enable", "2")
    )
    assert ok(disabled).strip() == "source 1 (Feed 1) disabled"
    assert ok(enabled).strip() == "source 2 (Feed 2) enabled"
    feed_server.add("/gone.xml", rss_feed("Gone", items=2))  # the feed is back

    alive_polls = len(feed_server.requests_for("/alive.xml"))
    out = ok(run_cli(config, "poll"))
    assert out.splitlines()[-2:] == [
        "1 source(s): 2 new item(s), 0 changed, 0 not modified, 0 failed",
        *[
            line
            for line in out.splitlines()[-1:]
            if re.fullmatch(r"2 brief\(s\) made in .* s", line)
        ],
    ]
    assert len(feed_server.requests_for("/alive.xml")) == alive_polls  # disabled: not polled
    rows = _sources(open_db(config))
    assert (rows[gone].status, rows[gone].enabled, rows[gone].consecutive_failures) == (
        "active",
        True,
        0,
    )
    assert not rows[alive].enabled


def test_disabling_a_config_source_outlasts_the_next_command(
    feed_server: FeedServer, make_config, open_db
) -> None:
    url = feed_server.add("/c.xml", rss_feed("Configured", items=1))
    config = make_config([{"url": url, "name": "Configured"}])
    assert ok(run_cli(config, "sources", "disable", "Configured")).strip() == (
        "source 1 (Configured) disabled"
    )
    out = ok(run_cli(config, "poll"))  # loading config.toml again must not re-enable it
    assert feed_server.requests_for("/c.xml") == [], out
    assert not _sources(open_db(config))[url].enabled


def test_re_adding_a_removed_source_brings_it_back(
    tmp_path: Path, feed_server: FeedServer, make_config, open_db
) -> None:
    url = feed_server.add("/r.xml", rss_feed("Returning", items=1))
    config = make_config()
    (tmp_path / "one.opml").write_text(_opml(url))
    ok(run_cli(config, "sources", "import", "one.opml"))
    ok(run_cli(config, "sources", "remove", url))
    out = ok(run_cli(config, "sources", "add", url))
    assert out.strip() == f"added source 1: Returning <{url}>"  # now named by its feed title
    row = _sources(open_db(config))[url]
    assert (row.enabled, row.origin, row.status, row.name) == (True, "cli", "active", "Returning")


OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="Alignment">
      <outline text="AF" title="Alignment Forum" xmlUrl="https://af.example.org/feed.xml"/>
      <outline text="Safety" xmlUrl="https://safety.example.org/rss" category="/Policy"/>
    </outline>
    <outline text="Podcast" xmlUrl="itpc://pod.example.org/feed"/>
    <outline text="Import AI" xmlUrl="https://importai.example.org/feed"/>
  </body>
</opml>
"""


def test_opml_import_export_round_trip(tmp_path: Path, make_config, open_db) -> None:
    config = make_config()
    opml = tmp_path / "feeds.opml"
    opml.write_text(OPML)
    result = run_cli(config, "sources", "import", str(opml))
    assert ok(result).strip() == "imported 3 new source(s) of 4 in feeds.opml"
    assert result.stderr.strip() == (
        "feeds.opml: outline 3: skipped, not an http(s) URL: 'itpc://pod.example.org/feed'"
    )
    imported = {url: (row.name, row.tags) for url, row in _sources(open_db(config)).items()}
    assert imported == {
        "https://af.example.org/feed.xml": ("Alignment Forum", ["alignment"]),
        "https://safety.example.org/rss": ("Safety", ["alignment", "policy"]),
        "https://importai.example.org/feed": ("Import AI", []),
    }

    ok(run_cli(config, "sources", "disable", "Import AI"))  # exported too, as disabled
    exported = tmp_path / "out.opml"
    assert ok(run_cli(config, "sources", "export", str(exported))).strip() == (
        f"exported 3 source(s) to {exported}"
    )
    tree = etree.parse(str(exported))
    assert tree.getroot().get("version") == "2.0"
    assert sorted(tree.xpath("//outline/@xmlUrl")) == sorted(imported)
    assert tree.xpath("//outline[@enabled='false']/@xmlUrl") == [
        "https://importai.example.org/feed"
    ]

    # into a second installation: the same sources, names, tags and states come back
    other = make_config(folder="other")
    ok(run_cli(other, "sources", "import", str(exported)))
    rows = _sources(open_db(other))
    again = {url: (row.name, row.tags) for url, row in rows.items()}
    assert again == imported
    assert {url: row.enabled for url, row in rows.items()} == {
        "https://af.example.org/feed.xml": True,
        "https://safety.example.org/rss": True,
        "https://importai.example.org/feed": False,
    }
    # and back into the first: nothing changes, nothing is added twice
    assert ok(run_cli(config, "sources", "import", str(exported))).strip() == (
        "imported 0 new source(s) of 3 in out.opml"
    )
    assert {url: row.enabled for url, row in _sources(open_db(config)).items()} == {
        url: row.enabled for url, row in rows.items()
    }


def test_malformed_opml_is_one_line_error(tmp_path: Path, make_config, open_db) -> None:
    config = make_config()
    bad = tmp_path / "broken.opml"
    bad.write_text('<opml version="2.0"><body><outline xmlUrl="https://x.example/feed">')
    error = one_line_error(run_cli(config, "sources", "import", str(bad)))
    assert error.startswith("error: broken.opml: not valid XML: ")
    assert _sources(open_db(config)) == {}
