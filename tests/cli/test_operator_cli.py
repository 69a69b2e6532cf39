"""The operator's daily routine on the command line: finding items, naming sources, lists that
read well piped or as JSON, and errors (file, usage, lookup) that are one line each."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from aggregator import config
from aggregator.app import App
from aggregator.cli.main import main
from aggregator.store.claims import claim_ids, release_all
from aggregator.store.models import Source, utcnow
from aggregator.store.sources import find_source
from tests.cli import ENV, config_text, ok, one_line_error, run_cli, run_cli_all

pytestmark = pytest.mark.slow  # each command is a subprocess of ~1 s

FOLDER = "feeds-in-a-folder-with-a-deliberately-long-name-so-that-each-url-is-over-80-columns"


def _rss(title: str, *items: tuple[str, str, str]) -> str:
    """An RSS 2.0 document; each item is (title, RFC 822 date, text)."""
    entries = "".join(
        f"<item><title>{t}</title><link>http://{title.split()[0].lower()}.test/{n}</link>"
        f"<guid>{title}-{n}</guid><pubDate>{when}</pubDate><description>{text}</description>"
        "</item>"
        for n, (t, when, text) in enumerate(items)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}'
        f"</title><link>http://example.test/</link><description>d</description>{entries}"
        "</channel></rss>"
    )


KAGI = _rss(
    "Kagi Blog",
    ("Small web index grows", "Wed, 01 May 2024 10:00:00 GMT", "The index covers more sites."),
    ("100% pure_gold results", "Thu, 02 May 2024 10:00:00 GMT", "Wildcards in a title."),
    ("A search engine without ads", "Fri, 03 May 2024 10:00:00 GMT", "A paid engine's model."),
)
OTHER = _rss("Other News", ("Old news", "Wed, 01 Jan 2020 08:00:00 GMT", "Nothing new here."))


@dataclass
class Installation:
    config: Path
    kagi_url: str


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    """Two file feeds (one with tags) polled once, and one subscriber; shared by this module."""
    root = tmp_path_factory.mktemp("operator")
    (root / FOLDER).mkdir()
    (root / FOLDER / "kagi.xml").write_text(KAGI)
    (root / FOLDER / "other.xml").write_text(OTHER)
    config = root / "config.toml"
    sources = [
        {"url": f"{FOLDER}/kagi.xml", "name": "Kagi Blog", "tags": ["search", "blog"]},
        {"url": f"{FOLDER}/other.xml", "name": "Other News"},
    ]
    config.write_text(config_text(sources))
    ok(run_cli(config, "poll"))
    ok(run_cli(config, "subscribers", "add", "alice@example.org"))
    yield Installation(config, (root / FOLDER / "kagi.xml").as_uri())


def _rows(out: str) -> list[list[str]]:
    """A table's rows (header dropped), each split on runs of two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in out.splitlines()[1:] if line.strip()]


def test_items_list_filters_and_brief_takes_the_ids_it_prints(installed: Installation) -> None:
    everything, by_name, by_url, wildcard, since, latest, unknown = run_cli_all(
        installed.config,
        ("items", "list"),
        ("items", "list", "--source", "Kagi Blog"),
        ("items", "list", "--source", installed.kagi_url, "--since", "2024-05-02"),
        ("items", "list", "--search", "E_G"),  # `_` is literal, case does not matter
        ("items", "list", "--since", "1h"),
        ("items", "list", "--limit", "1", "--json"),
        ("items", "list", "--source", "999"),
    )
    rows = _rows(ok(everything))
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("2024-05-03 10:00 UTC", "Kagi Blog", "A search engine without ads"),
        ("2024-05-02 10:00 UTC", "Kagi Blog", "100% pure_gold results"),
        ("2024-05-01 10:00 UTC", "Kagi Blog", "Small web index grows"),
        ("2020-01-01 08:00 UTC", "Other News", "Old news"),
    ]
    ids = {r[3]: r[0] for r in rows}
    assert [r[3] for r in _rows(ok(by_name))] == [r[3] for r in rows[:3]]
    assert [r[3] for r in _rows(ok(by_url))] == [r[3] for r in rows[:2]]
    assert [r[3] for r in _rows(ok(wildcard))] == ["100% pure_gold results"]
    assert ok(since).strip() == "No items match."
    [item] = json.loads(ok(latest))
    assert len(item.pop("story")) == 40  # the story it belongs to (see `stories list`)
    assert [item] == [
        {
            "id": int(ids["A search engine without ads"]),
            "published": "2024-05-03T10:00:00+00:00",
            "source_id": 1,
            "source": "Kagi Blog",
            "title": "A search engine without ads",
            "url": "http://kagi.test/2",
        }
    ]
    assert one_line_error(unknown) == (
        "error: no source '999' (give an id, a name or a URL from `aggregator sources list`)"
    )
    shown = ok(run_cli(installed.config, "brief", ids["Old news"]))
    assert shown.splitlines()[1] == "Old news"
    assert "Other News · 01 Jan 2020" in shown


def test_every_source_command_takes_an_id_a_name_or_a_url(installed: Installation) -> None:
    unknown = run_cli_all(
        installed.config,
        ("poll", "999"),
        ("poll", "1", "No Such Blog"),
        ("sources", "disable", "http://nowhere.test/feed"),
        ("sources", "enable", "42"),
        ("sources", "remove", "Nobody"),
        ("subscribers", "add", "bob@example.org", "--source", "Nobody"),
    )
    # one after the other: polls at the same time would find each other polling the source
    for ref in ("Kagi Blog", installed.kagi_url):
        out = ok(run_cli(installed.config, "poll", ref))
        assert re.sub(r"in [\d.]+ s$", "in N s", out, flags=re.M).splitlines() == [
            "not-modified Kagi Blog",  # piped: no progress bar, no blank line
            "1 source(s): 0 new item(s), 0 changed, 1 not modified, 0 failed",
            "0 brief(s) made in N s",
        ]
    hint = "(give an id, a name or a URL from `aggregator sources list`)"
    assert [one_line_error(r) for r in unknown] == [
        f"error: no source '999' {hint}",
        f"error: no source 'No Such Blog' {hint}",
        f"error: no source 'http://nowhere.test/feed' {hint}",
        f"error: no source '42' {hint}",
        f"error: no source 'Nobody' {hint}",
        f"error: no source 'Nobody' {hint}",
    ]
    assert all(r.stdout == "" for r in unknown)  # nothing was polled or added
    named = ok(
        run_cli(
            installed.config, "subscribers", "add", "carol@example.org", "--source", "Kagi Blog"
        )
    )
    assert "added carol@example.org" in named
    # the installation is shared by this module's tests: leave it as it was
    ok(run_cli(installed.config, "subscribers", "remove", "carol@example.org", "--forget"))


def test_a_source_another_worker_is_polling_is_named_busy_not_polled(
    installed: Installation,
) -> None:
    app = App(config.load(installed.config))
    sources = Source.__table__
    try:
        with app.db.session() as session:
            row = find_source(session, "Kagi Blog")
            assert row is not None
            kagi, checked = row.id, row.last_checked_at
        lease = timedelta(minutes=5)
        assert claim_ids(app.db, sources, [kagi], token="other", lease=lease, now=utcnow())
        out = ok(run_cli(installed.config, "poll", "Kagi Blog", "Other News"))
        with app.db.session() as session:
            assert session.get(Source, kagi).last_checked_at == checked  # not polled
    finally:
        release_all(app.db, sources, token="other")
        app.close()
    assert [re.sub(r"in [\d.]+ s$", "in N s", line.strip()) for line in out.splitlines()] == [
        "not-modified Other News",
        "busy Kagi Blog: another worker is polling it",
        "2 source(s): 0 new item(s), 0 changed, 1 not modified, 0 failed, 1 busy",
        "0 brief(s) made in N s",
    ]


def test_piped_tables_keep_each_row_on_one_line_and_show_tags(installed: Installation) -> None:
    piped = {k: v for k, v in ENV.items() if k != "COLUMNS"}  # as in `| less`: no width given
    out = ok(run_cli(installed.config, "sources", "list", env=piped))
    lines = out.splitlines()
    assert len(lines) == 3, out  # a header and one line per source, however long the URL
    assert re.match(
        rf"1\s+Kagi Blog\s+ok\s+search blog\s+3\s+.*{re.escape(installed.kagi_url)}", lines[1]
    )
    assert re.match(r"2\s+Other News\s+ok\s+-\s+1\s", lines[2])
    assert len(lines[1]) > 120


def test_lists_and_status_print_json(installed: Installation) -> None:
    ok(run_cli(installed.config, "run", "--once"))  # one digest run: alice's mail goes out
    sources, subscribers, runs, deliveries, status, table = run_cli_all(
        installed.config,
        ("sources", "list", "--json"),
        ("subscribers", "list", "--json"),
        ("deliveries", "list", "--json"),
        ("deliveries", "list", "--run", "1", "--json"),
        ("status", "--json"),
        ("deliveries", "list"),
    )
    listed = json.loads(ok(sources))
    assert [(s["id"], s["name"], s["state"], s["tags"], s["items"]) for s in listed] == [
        (1, "Kagi Blog", "ok", ["search", "blog"], 3),
        (2, "Other News", "ok", [], 1),
    ]
    assert listed[0]["url"] == installed.kagi_url and listed[0]["last_error"] is None
    people = json.loads(ok(subscribers))
    assert [(p["email"], p["status"], p["digests"]) for p in people] == [
        ("alice@example.org", "active", ["daily"])
    ]
    (run,) = json.loads(ok(runs))
    assert (run["id"], run["digest"], run["counts"]["sent"]) == (1, "daily", 1)
    (delivery,) = json.loads(ok(deliveries))
    assert (delivery["subscriber"], delivery["state"], delivery["attempts"]) == (
        "alice@example.org",
        "sent",
        1,
    )
    assert delivery["sent_at"].startswith(run["scheduled_for"][:4])
    report = json.loads(ok(status))
    assert report["sources"]["total"] == 2 and report["sources"]["states"] == {"ok": 2}
    assert report["items"] == 4 and report["subscribers"] == {"active": 1}
    assert report["outbox"] == {
        "pending": 0,
        "failed_or_bounced": 0,
        "relay_refused": 0,
        "relay_unavailable": 0,
        "last_refusal": None,
        "last_refusal_at": None,
    }
    assert [d["name"] for d in report["digests"]] == ["daily"]
    assert report["feed"]["published"] is not None
    # the table shows the whole date of the run
    assert re.match(
        r"1\s+daily\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+done\s", ok(table).splitlines()[1]
    )


def test_file_errors_are_one_line(installed: Installation, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    a_file = tmp_path / "a-file.txt"
    a_file.write_text("not a folder")
    cases = [
        (("sources", "import", str(missing / "in.opml")), 2),
        (("sources", "import", str(tmp_path)), 2),
        (("subscribers", "import", str(missing / "in.csv")), 2),
        (("sources", "export", str(missing / "out.opml")), 1),
        (("sources", "export", str(a_file / "out.opml")), 1),
        (("sources", "export", str(tmp_path)), 2),
        (("digest", "preview", "--output", str(missing / "p.html")), 1),
        (("digest", "preview", "--output", str(a_file / "p.html")), 1),
    ]
    results = run_cli_all(installed.config, *(args for args, _ in cases))
    errors = [
        one_line_error(result, code) for result, (_, code) in zip(results, cases, strict=True)
    ]
    assert errors == [
        f"error: Invalid value for 'PATH': File '{missing / 'in.opml'}' does not exist. "
        "(see 'aggregator sources import --help')",
        f"error: Invalid value for 'PATH': File '{tmp_path}' is a directory. "
        "(see 'aggregator sources import --help')",
        f"error: Invalid value for 'PATH': File '{missing / 'in.csv'}' does not exist. "
        "(see 'aggregator subscribers import --help')",
        f"error: {missing / 'out.opml'}: No such file or directory",
        f"error: {a_file / 'out.opml'}: Not a directory",
        f"error: Invalid value for 'PATH': File '{tmp_path}' is a directory. "
        "(see 'aggregator sources export --help')",
        f"error: {missing / 'p.html'}: No such file or directory",
        f"error: {a_file / 'p.html'}: Not a directory",
    ]
    # configured folders that cannot be made: the database's and the published feeds'
    (tmp_path / "data.toml").write_text(f'[general]\ndata_dir = "{a_file / "data"}"\n')
    (tmp_path / "public.toml").write_text(f'[publish]\ndir = "{a_file / "public"}"\n')
    data, public = (
        run_cli(tmp_path / "data.toml", "status"),
        run_cli(tmp_path / "public.toml", "publish"),
    )
    assert one_line_error(data) == f"error: {a_file / 'data'}: Not a directory"
    assert one_line_error(public) == f"error: {a_file / 'public'}: Not a directory"
    absent = one_line_error(run_cli(tmp_path / "no-config.toml", "status"), 2)
    assert (
        absent == f"error: {tmp_path / 'no-config.toml'}: cannot read (No such file or directory)"
    )


def _no_browser_env(tmp_path: Path, browser: Path) -> dict[str, str]:
    """An environment where $BROWSER is the only browser webbrowser can find."""
    env = {k: v for k, v in ENV.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return {**env, "PATH": str(Path(sys.executable).parent), "BROWSER": str(browser)}


def test_open_says_so_when_no_browser_is_found(installed: Installation, tmp_path: Path) -> None:
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\necho "$1" > {tmp_path / "opened.txt"}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    output = tmp_path / "preview.html"
    absent, present = (
        run_cli(
            installed.config,
            "digest",
            "preview",
            "--output",
            str(output),
            "--open",
            env=_no_browser_env(tmp_path, browser),
        )
        for browser in (tmp_path / "no-such-browser", script)
    )
    assert one_line_error(absent) == (
        f"error: no web browser found to open {output}; open the file yourself or set $BROWSER"
    )
    assert absent.stdout.startswith(f"wrote {output} (")  # the file is there to open by hand
    assert ok(present).startswith(f"wrote {output} (")
    assert (tmp_path / "opened.txt").read_text().strip() == output.as_uri()


def test_a_refused_private_address_names_the_setting(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(config_text().replace('allow_networks = ["127.0.0.1/32"]', ""))
    error = one_line_error(run_cli(config, "sources", "add", "http://127.0.0.1:9/feed.xml"))
    assert error == (
        "error: http://127.0.0.1:9/feed.xml: address 127.0.0.1 is not allowed "
        "(a private or local network; fetch.allow_networks can allow it)"
    )


def _commands(group: click.Group, ctx: click.Context, path: tuple[str, ...] = ()) -> Iterator:
    """Every command path under ``group`` (groups included), depth first."""
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _commands(command, ctx, (*path, name))


def test_every_help_and_usage_error_is_clean() -> None:
    runner = CliRunner()
    with click.Context(main) as ctx:
        paths = list(_commands(main, ctx))
    assert ("items", "list") in paths and ("digest", "preview") in paths
    for path in [(), *paths]:
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output, result.exception)
        assert result.output.startswith(f"Usage: {' '.join(('main', *path))} "), result.output
    mistakes = {
        ("nope",): "error: No such command 'nope'. (see 'main --help')",
        ("items", "list", "--limit", "0"): "error: Invalid value for '--limit': 0 is not in the "
        "range x>=1. (see 'main items list --help')",
        ("items", "list", "--since", "soon"): "error: Invalid value for '--since': 'soon' is "
        "neither a date (2026-11-29) nor a span (30m, 24h, 7d, 2w) (see 'main items list --help')",
        ("poll", "--bogus"): "error: No such option '--bogus'. (see 'main poll --help')",
        ("sources", "remove"): "error: Missing argument 'REF'. (see 'main sources remove --help')",
    }
    for args, message in mistakes.items():
        result = runner.invoke(main, list(args))
        assert result.exit_code == 2, (args, result.output)
        assert isinstance(result.exception, SystemExit), result.exception
        assert result.stderr.strip() == message


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_folder_is_one_line(installed: Installation, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    results = run_cli_all(
        installed.config,
        ("sources", "export", str(locked / "out.opml")),
        ("digest", "preview", "--output", str(locked / "p.html")),
    )
    assert [one_line_error(r) for r in results] == [
        f"error: {locked / 'out.opml'}: Permission denied",
        f"error: {locked / 'p.html'}: Permission denied",
    ]


def test_lookup_errors_name_what_was_not_found(installed: Installation, tmp_path: Path) -> None:
    name, person, item, run = run_cli_all(
        installed.config,
        ("digest", "preview", "--name", "hourly"),
        ("digest", "preview", "--subscriber", "bob@example.org"),
        ("brief", "no-such-story"),
        ("deliveries", "list", "--run", "999"),
    )
    assert one_line_error(name) == "error: no digest named 'hourly' (configured: daily)"
    assert one_line_error(person) == "error: no subscriber 'bob@example.org'"
    assert one_line_error(item) == (
        "error: no item 'no-such-story' (give an id from `aggregator items list` or the story's URL)"
    )
    assert one_line_error(run) == "error: no run 999 (see `aggregator deliveries list`)"

    no_digests = tmp_path / "config.toml"
    daily = re.compile(r'\[\[digests\]\]\nname = "daily"\nschedule = .*\ntimezone = .*\n')
    no_digests.write_text(daily.sub("", config_text()))
    assert one_line_error(run_cli(no_digests, "digest", "preview")) == (
        "error: config.toml defines no [[digests]]"
    )
    unreachable = tmp_path / "pg.toml"
    unreachable.write_text('[database]\nurl = "postgresql://nobody@127.0.0.1:1/none"\n')
    error = one_line_error(run_cli(unreachable, "status"), 3)
    assert error.startswith(
        'error: database: connection failed: connection to server at "127.0.0.1"'
    )
