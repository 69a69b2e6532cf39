"""Polling for real over loopback HTTP: corpus, conditional GET, redirects, hostile sources."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aggregator.config import Settings, from_mapping
from aggregator.ingest.poll import Poller
from aggregator.store.db import Database
from aggregator.store.models import Item, Source
from aggregator.store.sources import add_source
from tests.conftest import CORPUS
from tests.support import bombs
from tests.support.feedserver import FeedServer, rss_feed

REAL_FEEDS = CORPUS / "real-feeds"


def settings_for(tmp_path: Path, **fetch) -> Settings:
    fetch = {"allow_networks": ["127.0.0.1/32"], "timeout_seconds": 3, **fetch}
    return from_mapping({"fetch": fetch}, root=tmp_path, origin="test")


def add_sources(db: Database, urls: list[str]) -> dict[str, int]:
    with db.session() as session:
        return {url: add_source(session, url)[0].id for url in urls}


def poll_all(db: Database, settings: Settings):
    poller = Poller(db, settings)
    return asyncio.run(poller.poll(poller.choose(due_only=False)))


def item_count(db: Database, source_id: int | None = None) -> int:
    with db.session() as session:
        query = select(func.count()).select_from(Item)
        if source_id is not None:
            query = query.where(Item.source_id == source_id)
        return session.scalar(query)


@pytest.mark.slow
def test_real_feed_corpus_polls_then_304s(
    sqlite_db: Database, feed_server: FeedServer, tmp_path: Path
) -> None:
    urls = feed_server.add_directory(REAL_FEEDS, "/corpus", pattern="*.xml")
    assert len(urls) >= 190
    ids = add_sources(sqlite_db, urls)
    report = poll_all(sqlite_db, settings_for(tmp_path))
    assert len(report.outcomes) == len(urls)
    ok = [o for o in report.outcomes if o.result == "new"]
    failed = [o for o in report.outcomes if o.result == "failed"]
    print(
        f"\ncorpus: {len(urls)} feeds, {len(ok)} yielded entries, {len(failed)} failed, "
        f"{report.new} items"
    )
    for o in failed:
        assert o.error and "internal error" not in o.error, o
    assert len(ok) >= len(urls) * 0.9
    assert item_count(sqlite_db) == report.new > 1000

    feed_server.clear_log()
    again = poll_all(sqlite_db, settings_for(tmp_path))
    assert again.new == 0 and again.changed == 0
    assert again.not_modified == len(ok)
    # The unusable documents are unchanged too: their failure stands, without a download.
    assert [(o.source_id, o.error) for o in again.outcomes if o.result == "failed"] == [
        (o.source_id, f"{o.error} (unchanged since)") for o in failed
    ]
    served = {r.path: r for r in feed_server.requests}
    conditional = [r for r in served.values() if r.headers.get("If-None-Match")]
    assert len(conditional) == len(urls)
    assert sum(1 for r in served.values() if r.status == 304) == len(urls)
    assert item_count(sqlite_db) == report.new
    del ids


def test_unchanged_broken_document_is_not_downloaded_again(
    db: Database, feed_server: FeedServer, tmp_path: Path
) -> None:
    """A 304 for a document that failed stays that failure (counted, backed off), even after a
    failure of another kind in between; once the server has a usable document, it is stored."""
    broken = b"<html><body><p>Not a feed</p></body></html>"
    url = feed_server.add("/broken.xml", broken)
    sid = add_sources(db, [url])[url]
    settings = settings_for(tmp_path)
    first, second = poll_all(db, settings), poll_all(db, settings)
    feed_server.add("/broken.xml", broken, status=503)  # the same document, served as an error
    third = poll_all(db, settings)
    feed_server.add("/broken.xml", broken)
    fourth = poll_all(db, settings)
    outcomes = [r.outcomes[0] for r in (first, second, third, fourth)]
    assert [o.result for o in outcomes] == ["failed"] * 4
    reason = "not a feed: looks like an HTML page"
    assert outcomes[0].error == reason and outcomes[2].error.startswith("HTTP 503")
    assert outcomes[1].error == outcomes[3].error == f"{reason} (unchanged since)"
    assert feed_server.statuses("/broken.xml") == [200, 304, 503, 304]
    with db.session() as session:
        source = session.get(Source, sid)
        assert source.consecutive_failures == 4 and source.last_success_at is None
        assert source.document_error == reason
    feed_server.replace("/broken.xml", rss_feed("Fixed", items=2))
    fifth = poll_all(db, settings)
    assert fifth.outcomes[0].result == "new" and fifth.new == 2
    assert feed_server.statuses("/broken.xml")[-1] == 200
    with db.session() as session:
        source = session.get(Source, sid)
        assert source.consecutive_failures == 0 and source.last_error is None
        assert source.document_error is None


def test_conditional_get_and_changed_content(
    db: Database, feed_server: FeedServer, tmp_path: Path
) -> None:
    url = feed_server.add("/feed.xml", rss_feed("Example", items=3), validators_on_304=False)
    sid = add_sources(db, [url])[url]
    settings = settings_for(tmp_path)
    first = poll_all(db, settings)
    assert first.new == 3
    second = poll_all(db, settings)
    third = poll_all(db, settings)  # the 304 carried no validators: the old ones are kept
    assert second.not_modified == third.not_modified == 1
    assert feed_server.statuses("/feed.xml") == [200, 304, 304]
    etags = [r.headers.get("If-None-Match") for r in feed_server.requests_for("/feed.xml")]
    assert etags[0] is None and etags[1] and etags[1] == etags[2]

    feed_server.replace("/feed.xml", rss_feed("Example", items=5))
    fourth = poll_all(db, settings)
    assert fourth.new == 2
    assert item_count(db, sid) == 5


def _atom(title: str, head: str = "", entries: str = "") -> bytes:
    return (
        f'<feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title>{head}'
        f"<entry><id>urn:one</id><title>One</title><updated>2026-11-02T10:00:00Z</updated>"
        f'<content type="html">first</content></entry>{entries}</feed>'
    ).encode()


def test_what_a_document_leaves_out_keeps_its_last_known_value(
    db: Database, feed_server: FeedServer, tmp_path: Path
) -> None:
    head = (
        '<id>urn:feed</id><link rel="alternate" href="https://site.example/"/>'
        "<updated>2026-11-02T10:00:00Z</updated>"
    )
    url = feed_server.add("/keep.xml", _atom("First", head), "application/atom+xml")
    sid = add_sources(db, [url])[url]
    settings = settings_for(tmp_path)
    assert poll_all(db, settings).new == 1

    def state() -> tuple:
        with db.session() as session:
            source = session.get(Source, sid)
            assert source is not None
            return (
                source.feed_title,
                source.site_url,
                source.feed_id,
                source.feed_updated_at,
                source.last_new_at,
            )

    title, site, feed_id, updated, last_new = state()
    assert (title, site, feed_id) == ("First", "https://site.example/", "urn:feed")
    assert updated is not None and updated.isoformat() == "2026-11-02T10:00:00+00:00"
    assert last_new is not None

    # The same entry under a new title, and nothing else said of the feed: what it no longer
    # says is kept, and "last new" stays at the poll that last brought a new entry.
    feed_server.replace("/keep.xml", _atom("Second"))
    assert poll_all(db, settings).new == 0
    assert state() == ("Second", site, feed_id, updated, last_new)

    two = "<entry><id>urn:two</id><title>Two</title><content>second</content></entry>"
    feed_server.replace("/keep.xml", _atom("Second", "<id>urn:moved</id>", two))
    assert poll_all(db, settings).new == 1
    title, site_now, feed_id, updated_now, last_new_now = state()
    assert (site_now, feed_id, updated_now) == (site, "urn:moved", updated)
    assert last_new_now is not None and last_new_now > last_new


def test_user_agent_and_compression(
    sqlite_db: Database, feed_server: FeedServer, tmp_path: Path
) -> None:
    url = feed_server.add("/gz.xml", rss_feed("Zipped", items=2), compress=["br", "gzip"])
    add_sources(sqlite_db, [url])
    settings = settings_for(tmp_path)
    assert poll_all(sqlite_db, settings).new == 2
    request = feed_server.requests_for("/gz.xml")[0]
    assert request.headers["User-Agent"].startswith("aggregator/")
    assert settings.general.contact_url in request.headers["User-Agent"]
    assert "br" in request.headers["Accept-Encoding"]


def test_permanent_redirect_updates_the_url(
    db: Database, feed_server: FeedServer, tmp_path: Path
) -> None:
    new = feed_server.add("/new.xml", rss_feed("Moved", items=1))
    old = feed_server.redirect("/old.xml", "/new.xml", 301)
    temp = feed_server.redirect("/temp.xml", "/new2.xml", 302)
    feed_server.add("/new2.xml", rss_feed("Temp", items=1))
    ids = add_sources(db, [old, temp])
    report = poll_all(db, settings_for(tmp_path))
    assert report.new == 2
    with db.session() as session:
        assert session.get(Source, ids[old]).url == new
        assert session.get(Source, ids[temp]).url == temp  # 302 is not permanent
    feed_server.clear_log()
    poll_all(db, settings_for(tmp_path))
    assert feed_server.requests_for("/old.xml") == []


def test_gone_retires_and_retry_after_is_honoured(
    db: Database, feed_server: FeedServer, tmp_path: Path
) -> None:
    gone = feed_server.status("/gone.xml", 410)
    busy = feed_server.status("/busy.xml", 503, retry_after=3600)
    ids = add_sources(db, [gone, busy])
    report = poll_all(db, settings_for(tmp_path))
    results = {o.source_id: o for o in report.outcomes}
    assert results[ids[gone]].result == "retired"
    assert "410" in results[ids[gone]].error and "retired" in results[ids[gone]].error
    with db.session() as session:
        g, b = session.get(Source, ids[gone]), session.get(Source, ids[busy])
        assert g.status == "retired" and g.next_check_at is None
        assert b.status == "active" and b.consecutive_failures == 1
        assert 3500 < (b.next_check_at - b.last_checked_at).total_seconds() <= 3600
    poller = Poller(db, settings_for(tmp_path))
    assert ids[gone] not in poller.choose(due_only=False)


def test_hostile_sources_fail_cleanly_and_others_are_unaffected(
    db: Database, feed_server: FeedServer, tmp_path: Path
) -> None:
    good = feed_server.add("/good.xml", rss_feed("Good", items=4))
    hostile = {
        "malformed": feed_server.add("/malformed.xml", bombs.MALFORMED_XML),
        "html": feed_server.add(
            "/page.html", b"<!doctype html><html><body><p>Hi</p></body></html>", "text/html"
        ),
        "empty": feed_server.add("/empty.xml", b""),
        "oversized": feed_server.oversized("/huge.xml", size=8 * 1024 * 1024),
        "gzip bomb": feed_server.gzip_bomb("/bomb.xml"),
        "billion laughs": feed_server.add("/laughs.xml", bombs.BILLION_LAUGHS),
        "xxe": feed_server.add("/xxe.xml", bombs.XXE_FILE),
        "stall": feed_server.stall("/stall.xml"),
        "stall after headers": feed_server.stall("/stall-body.xml", send_headers=True),
        "trickle": feed_server.trickle(
            "/trickle.xml", rss_feed("Slow", items=50), interval=0.2, chunk_size=10
        ),
        "redirect loop": feed_server.redirect_loop("/loop-a", "/loop-b"),
        "redirect to localhost": feed_server.redirect(
            "/to-local", feed_server.url("/good.xml", host="localhost")
        ),
        "wrong charset": feed_server.wrong_charset("/charset.xml"),
    }
    settings = settings_for(tmp_path, max_body_bytes=4 * 1024 * 1024, timeout_seconds=2)
    ids = add_sources(db, [good, *hostile.values()])
    poll_all(db, settings)
    before = item_count(db, ids[good])
    assert before == 4

    report = poll_all(db, settings)
    by_id = {o.source_id: o for o in report.outcomes}
    assert by_id[ids[good]].result in ("not-modified", "unchanged")
    errors = {name: by_id[ids[url]].error for name, url in hostile.items()}
    print("\n" + "\n".join(f"{k}: {v}" for k, v in errors.items()))
    # malformed XML is recovered by feedparser where it can be, and the problem stays on record
    with db.session() as session:
        assert "not well-formed" in session.get(Source, ids[hostile["malformed"]]).last_error
    for name in (
        "html",
        "empty",
        "oversized",
        "gzip bomb",
        "billion laughs",
        "xxe",
        "stall",
        "stall after headers",
        "trickle",
        "redirect loop",
    ):
        assert by_id[ids[hostile[name]]].result == "failed", name
        assert errors[name] and "internal error" not in errors[name], name
        assert "\n" not in errors[name]
    assert "limit" in errors["oversized"] and "limit" in errors["gzip bomb"]
    assert (
        errors["stall"]
        == errors["stall after headers"]
        == errors["trickle"]
        == "timed out after 2 s"
    )
    assert "loop" in errors["redirect loop"]
    assert "entity" in errors["billion laughs"] and "entity" in errors["xxe"]
    # the page is unchanged (304): its failure stands without a download
    assert errors["html"] == "not a feed: looks like an HTML page (unchanged since)"
    # localhost is another name: allowed only because 127.0.0.1/32 is; refused without it
    # the XXE feed must never carry /etc/passwd into an item
    with db.session() as session:
        texts = session.scalars(
            select(Item.content_text).where(Item.source_id == ids[hostile["xxe"]])
        ).all()
        titles = session.scalars(
            select(Item.title).where(Item.source_id == ids[hostile["xxe"]])
        ).all()
    assert not any("root:" in t for t in texts + titles)
    # wrong charset either decodes or fails clearly
    assert by_id[ids[hostile["wrong charset"]]].result in (
        "new",
        "unchanged",
        "not-modified",
        "failed",
    )
    with db.session() as session:
        for name in ("html", "stall"):
            src = session.get(Source, ids[hostile[name]])
            assert src.consecutive_failures == 2 and src.last_error and src.enabled
    assert item_count(db, ids[good]) == before


def test_private_addresses_are_refused_unless_allowed(
    sqlite_db: Database, feed_server: FeedServer, tmp_path: Path
) -> None:
    direct = feed_server.add("/feed.xml", rss_feed("Local", items=1))
    by_name = feed_server.url("/feed.xml", host="localhost")
    via_redirect = feed_server.redirect("/meta", "http://169.254.169.254/latest/meta-data/")
    ids = add_sources(sqlite_db, [direct, by_name, via_redirect])
    closed = from_mapping({"fetch": {"timeout_seconds": 3}}, root=tmp_path, origin="test")
    report = poll_all(sqlite_db, closed)
    by_id = {o.source_id: o for o in report.outcomes}
    assert "not allowed" in by_id[ids[direct]].error
    assert "fetch.allow_networks can allow it" in by_id[ids[direct]].error  # says what to do
    assert "not allowed" in by_id[ids[by_name]].error
    assert feed_server.requests_for("/feed.xml") == []
    opened = poll_all(sqlite_db, settings_for(tmp_path))
    by_id = {o.source_id: o for o in opened.outcomes}
    assert by_id[ids[direct]].result == "new"
    assert "169.254.169.254" in by_id[ids[via_redirect]].error


def test_file_sources_work_offline(sqlite_db: Database, tmp_path: Path) -> None:
    feed = tmp_path / "local.xml"
    feed.write_bytes(rss_feed("Offline", items=2))
    ids = add_sources(sqlite_db, [feed.as_uri()])
    settings = settings_for(tmp_path)
    assert poll_all(sqlite_db, settings).new == 2
    assert poll_all(sqlite_db, settings).not_modified == 1
    feed.write_bytes(rss_feed("Offline", items=3))
    assert poll_all(sqlite_db, settings).new == 1
    missing = add_sources(sqlite_db, [(tmp_path / "missing.xml").as_uri()])
    report = poll_all(sqlite_db, settings)
    errors = {o.source_id: o.error for o in report.outcomes}
    assert "cannot read" in errors[next(iter(missing.values()))]
    del ids


@pytest.mark.slow
def test_parser_processes_work_from_the_command_line(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A poll with many changed feeds parses in worker processes, started from `python -m`."""
    from tests.cli import run_cli

    urls = [
        feed_server.add(
            f"/many/{n}.xml", rss_feed(f"Feed {n}", items=2, link=f"http://f{n}.example/")
        )
        for n in range(40)
    ]
    sources = "".join(f'[[sources]]\nurl = "{url}"\n' for url in urls)
    config = tmp_path / "config.toml"
    config.write_text(f'[fetch]\nallow_networks = ["127.0.0.1/32"]\n{sources}')
    result = run_cli(config, "poll", timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "40 source(s): 80 new item(s), 0 changed, 0 not modified, 0 failed" in result.stdout
    assert "internal error" not in result.stdout + result.stderr
    assert "parser processes unavailable" not in result.stderr
