"""A feed opened in a browser reads as a page (its XSL stylesheet), while readers see the same feed.

The browser test opens the feeds the web app serves on loopback in Debian's Chromium (browsers
apply XSLT only over http). Screenshots go to ``$AGGREGATOR_SCREENSHOT_DIR`` when set.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from aggregator.config import from_mapping
from aggregator.model.entry import Entry
from aggregator.publish.archive import write_index
from aggregator.publish.publisher import publish
from aggregator.store.db import Database
from aggregator.store.items import store_entries
from aggregator.store.models import Source
from aggregator.web.security import FEED_CSP
from tests.web.conftest import Site, SiteFactory
from tests.web.test_browser import ARGS, CHROMIUM

NOW = datetime.now(UTC).replace(microsecond=0)
PI = re.compile(rb'<\?xml-stylesheet type="text/xsl" href="([^"]+)"\?>\n')
LATEST = NOW - timedelta(hours=1)
HOSTILE_TITLE = 'Fish & "chips" for 2 < 3 people'


def _fill(db: Database) -> None:
    with db.session() as session:
        source = Source(url="https://harbour.example/feed", name="Harbour News", tags=["sea"])
        session.add(source)
        session.flush()
        entries = [
            Entry(
                key=f"guid:{n}",
                title=title,
                url=f"https://harbour.example/{n}",
                content_html=f"<p>{body}</p>",
                published=NOW - timedelta(hours=n + 1),
            )
            for n, (title, body) in enumerate(
                [
                    (
                        "Ferry timetable changes",
                        "The winter ferry runs every two hours. Tickets stay the same price.",
                    ),
                    (
                        HOSTILE_TITLE,
                        "A new fish &amp; chips stall opens on the pier. It serves until ten.",
                    ),
                ]
            )
        ]
        store_entries(session, source, entries, NOW)


def _readers_view(data: bytes) -> list[tuple[str, str, str, str]]:
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return [(e.title, e.link, e.summary, e.published) for e in parsed.entries]


def test_feeds_name_the_stylesheet_and_readers_see_the_same_entries(
    sqlite_db: Database, tmp_path: Path
) -> None:
    settings = from_mapping(
        {"general": {"base_url": "https://news.example.org"}}, root=tmp_path, origin="test"
    )
    _fill(sqlite_db)
    publish(sqlite_db, settings)
    public = settings.public_dir
    stylesheet = etree.XSLT(etree.parse(str(public / "feed.xsl")))  # well-formed XSLT 1.0
    for name, href in [
        ("feed.atom", "feed.xsl"),
        ("feed.rss", "feed.xsl"),
        ("tags/sea.atom", "../feed.xsl"),
        ("tags/sea.rss", "../feed.xsl"),
    ]:
        data = (public / name).read_bytes()
        found = PI.search(data)
        assert found and found[1].decode() == href, name
        entries = _readers_view(data)
        assert len(entries) == 2 and entries == _readers_view(PI.sub(b"", data)), name
        page = str(stylesheet(etree.fromstring(data)))
        assert "Copy this address into your reader" in page
        assert f"https://news.example.org/{name}" in page
        assert (
            "for 2 &lt; 3 people" in page and "fish &amp; chips stall" in page
        )  # text, not markup
    assert publish(sqlite_db, settings).changed == []


@pytest.fixture
def site(make_site: SiteFactory) -> Site:
    site = make_site()
    _fill(site.app.db)
    publish(site.app.db, site.app.settings)
    return site


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")
@pytest.mark.parametrize("name", ["feed.atom", "feed.rss", "tags/sea.atom", "tags/sea.rss"])
def test_a_feed_opened_in_chromium_is_a_readable_page(
    site: Site, name: str, tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    url = f"{site.url}/{name}"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 1000})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            response = page.goto(url)
            assert response is not None and response.status == 200
            title = "Test Digest: sea" if name.startswith("tags/") else "Test Digest"
            assert page.locator("h1").inner_text() == title
            box = page.locator("section.subscribe")
            assert box.get_by_text("Copy this address into your reader").is_visible()
            assert box.locator("code").inner_text() == url
            ferry = page.get_by_role("link", name="Ferry timetable changes")
            assert ferry.get_attribute("href") == "https://harbour.example/0"
            hostile = page.get_by_role("link", name=HOSTILE_TITLE)
            assert hostile.get_attribute("href") == "https://harbour.example/1"
            summary = page.locator("article p").nth(1)
            assert summary.inner_text() == "A new fish & chips stall opens on the pier."
            assert page.locator("time").first.inner_text() == f"{LATEST.day} {LATEST:%b %Y}"
            assert page.locator("script").count() == 0
            handlers = "() => [...document.querySelectorAll('*')].flatMap(e => [...e.attributes])"
            assert not [
                a for a in page.evaluate(f"{handlers}.map(a => a.name)") if a.startswith("on")
            ]
            folder = Path(os.environ.get("AGGREGATOR_SCREENSHOT_DIR") or tmp_path)
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"feed-{name.replace('/', '-')}.png"))
        finally:
            browser.close()
    assert not [e for e in errors if "feed.xsl" in e], errors  # the stylesheet was allowed


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium")
def test_clicking_a_feed_on_the_archive_page_opens_the_feed_page(site: Site) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    write_index(site.app.db, site.app.settings)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{site.url}/")
            for label, suffix in (("Atom", "atom"), ("RSS 2.0", "rss")):
                page.get_by_role("link", name=label, exact=True).click()
                page.wait_for_url(f"{site.url}/feed.{suffix}")
                box = page.locator("section.subscribe code")
                assert box.inner_text() == f"{site.url}/feed.{suffix}"
                assert page.get_by_role("link", name="Ferry timetable changes").is_visible()
                page.go_back()
            page.get_by_role("link", name="sea", exact=True).click()
            assert page.locator("h1").inner_text() == "Test Digest: sea"
        finally:
            browser.close()


BROWSER_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
)
READER_ACCEPT = "application/atom+xml,application/rss+xml,application/xml;q=0.9,*/*;q=0.1"


@pytest.mark.parametrize(
    ("name", "own_type"),
    [("feed.atom", "application/atom+xml"), ("tags/sea.rss", "application/rss+xml")],
)
def test_a_browser_is_sent_the_feed_as_xml_and_a_reader_as_its_own_type(
    site: Site, name: str, own_type: str
) -> None:
    client = site.client()
    page = client.get(f"/{name}", headers={"Accept": BROWSER_ACCEPT})
    reader = client.get(f"/{name}", headers={"Accept": READER_ACCEPT})
    anything = client.get(f"/{name}")
    assert page.headers["content-type"] == "application/xml; charset=utf-8"
    assert reader.headers["content-type"] == anything.headers["content-type"]
    assert reader.headers["content-type"] == f"{own_type}; charset=utf-8"
    assert page.body == reader.body and b"<?xml-stylesheet" in page.body
    for reply in (page, reader):
        assert reply.headers["vary"] == "Accept-Encoding, Accept"
        assert reply.headers["content-security-policy"] == FEED_CSP
    xsl = client.get("/feed.xsl")
    assert xsl.status == 200 and xsl.headers["content-type"].startswith("application/xslt+xml")
    assert "script-src 'none'" in client.get("/feed.json").headers["content-security-policy"]
