"""The combined output feeds: strict XML, RFC 4287 elements, JSON Feed schema, round trips."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import jsonschema
import lxml.html
import pytest
from lxml import etree

from aggregator.ingest.parse import parse_feed
from aggregator.mail.text import encoded_url, xml_safe
from aggregator.model.brief import Brief, Term
from aggregator.publish.atomic import write_if_changed
from aggregator.publish.feeds import tag_slug, write_feeds, write_tag_feeds
from aggregator.publish.model import FeedEntry, FeedMeta, FeedSource, brief_html, entry_id
from tests.conftest import SHARED

SCHEMA_PATH = SHARED / "schemas" / "jsonfeed-1.1.schema.json"
NS = {"a": "http://www.w3.org/2005/Atom"}
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

# (title as given, title as published): hostile input, and what every reader must get back.
HOSTILE_TITLES = [
    ("Plain title", "Plain title"),
    ("Ends the CDATA ]]> here", "Ends the CDATA ]]> here"),
    ("<script>alert('x')</script> & friends", "alert('x') & friends"),  # titles are plain text
    ("Tom & Jerry say \"hi\" 'there'", "Tom & Jerry say \"hi\" 'there'"),
    ("Control\x00chars\x1b\x0bgone\ufffe", "Controlcharsgone"),
    ("Lone \ud800surrogate", "Lone surrogate"),
    ("Line\r\nbreaks\rand\ttabs ", "Line breaks and tabs"),
    ("a < b && c > d", "a < b && c > d"),
    ("Ünïcödé — 🎉", "Ünïcödé — 🎉"),
]
# (link as given, link as published)
HOSTILE_LINKS = [
    ("https://one.example/a?x=1&y=2", "https://one.example/a?x=1&y=2"),
    ('https://one.example/q?s="<b>"', "https://one.example/q?s=%22%3Cb%3E%22"),
    ("https://one.example/path with space/", "https://one.example/path%20with%20space/"),
    ("https://one.example/ü?t=é", "https://one.example/%C3%BC?t=%C3%A9"),
    ("javascript:alert(1)", None),
    ("/relative/only", None),
    ("https://one.example/ok#frag", "https://one.example/ok#frag"),
    ("https://one.example/it's", "https://one.example/it's"),
    ("https://one.example/\r\nX-Injected: 1", "https://one.example/%20X-Injected:%201"),
]


def _source(n: int, **overrides) -> FeedSource:
    fields = {
        "id": f"urn:example:source:{n}",
        "title": f"Source {n}",
        "url": f"https://source{n}.example/",
        "feed_url": f"https://source{n}.example/feed.xml",
        "updated": T0 - timedelta(hours=n),
    }
    return FeedSource(**(fields | overrides))


def _entry(n: int, **overrides) -> FeedEntry:
    source = _source(n % 3)
    fields = {
        "id": entry_id(source.feed_url, f"item-{n}"),
        "title": f"Story {n}",
        "link": f"https://source{n % 3}.example/story/{n}",
        "published": T0 - timedelta(days=n),
        "author": f"Writer {n}",
        "summary": f"Paragraph about story {n}.",
        "content_html": f"<p>Story {n} in brief.</p>",
        "tags": ["news"],
        "sources": [source],
    }
    return FeedEntry(**(fields | overrides))


@pytest.fixture
def meta() -> FeedMeta:
    return FeedMeta(
        title="Daily & <Weekly> Briefs",
        id="urn:uuid:6f1c2a34-9c1e-4b8e-9d4e-2f6a1b0c9e11",
        home_url="https://agg.example/",
        base_url="https://agg.example/feeds/",
        author="Aggregator Desk",
        hub_url="https://hub.example/publish",
    )


@pytest.fixture
def hostile_entries() -> list[FeedEntry]:
    entries = []
    for n, ((title, _), (link, _)) in enumerate(zip(HOSTILE_TITLES, HOSTILE_LINKS, strict=True)):
        entries.append(_entry(n, title=title, link=link))
    return entries


def _strict(path: Path) -> etree._Element:
    return etree.fromstring(
        path.read_bytes(), etree.XMLParser(recover=False, resolve_entities=False)
    )


def _expected_by_id(entries: list[FeedEntry]) -> dict[str, tuple[str, str | None]]:
    return {
        e.id: (title, link)
        for e, (_, title), (_, link) in zip(entries, HOSTILE_TITLES, HOSTILE_LINKS, strict=True)
    }


def test_write_feeds_writes_three_files_then_reports_no_change(tmp_path, meta, hostile_entries):
    first = write_feeds(tmp_path, meta, hostile_entries)
    assert sorted(p.name for p in first) == ["feed.atom", "feed.json", "feed.rss"]
    assert write_feeds(tmp_path, meta, list(reversed(hostile_entries))) == []
    changed = [*hostile_entries[:-1], _entry(8, title="A new title", sources=[_source(2)])]
    assert sorted(p.name for p in write_feeds(tmp_path, meta, changed)) == sorted(
        p.name for p in first
    )
    assert b"A new title" in (tmp_path / "feed.atom").read_bytes()


def test_atom_is_strict_xml_with_every_rfc4287_element(tmp_path, meta, hostile_entries):
    write_feeds(tmp_path, meta, hostile_entries)
    feed = _strict(tmp_path / "feed.atom")
    assert feed.tag == "{http://www.w3.org/2005/Atom}feed"
    for name in ("id", "title", "updated"):
        assert len(feed.xpath(f"a:{name}", namespaces=NS)) == 1, name
    assert feed.xpath("a:title/text()", namespaces=NS) == ["Daily & <Weekly> Briefs"]
    assert feed.xpath("a:author/a:name/text()", namespaces=NS) == ["Aggregator Desk"]
    assert feed.xpath("a:link[@rel='self']/@href", namespaces=NS) == [
        "https://agg.example/feeds/feed.atom"
    ]
    assert feed.xpath("a:link[@rel='self']/@type", namespaces=NS) == ["application/atom+xml"]
    assert feed.xpath("a:link[@rel='alternate'][@type='text/html']/@href", namespaces=NS) == [
        "https://agg.example/"
    ]
    assert feed.xpath("a:link[@rel='hub']/@href", namespaces=NS) == ["https://hub.example/publish"]
    entries = feed.xpath("a:entry", namespaces=NS)
    assert len(entries) == len(hostile_entries)
    for entry in entries:
        for name in ("id", "title", "updated", "published", "content"):
            assert len(entry.xpath(f"a:{name}", namespaces=NS)) == 1, name
        assert entry.xpath("a:content/@type", namespaces=NS) == ["html"]
        for link in entry.xpath("a:link", namespaces=NS):
            assert link.get("rel") and link.get("type") == "text/html"
        (source,) = entry.xpath("a:source", namespaces=NS)
        for name in ("id", "title", "updated"):
            assert source.xpath(f"string(a:{name})", namespaces=NS), name
        assert source.xpath("a:link[@rel='alternate'][@type='text/html']/@href", namespaces=NS)
        assert source.xpath("a:link[@rel='self']/@href", namespaces=NS)
    # Entries without a usable link carry none (content is present, so RFC 4287 allows it).
    linkless = [e for e in entries if not e.xpath("a:link[@rel='alternate']", namespaces=NS)]
    assert len(linkless) == sum(1 for _, link in HOSTILE_LINKS if link is None)


def test_atom_source_names_the_original_feed(tmp_path, meta):
    write_feeds(tmp_path, meta, [_entry(1)])
    (source,) = _strict(tmp_path / "feed.atom").xpath("a:entry/a:source", namespaces=NS)
    original = _source(1)
    assert source.xpath("string(a:id)", namespaces=NS) == original.id
    assert source.xpath("string(a:title)", namespaces=NS) == original.title
    assert source.xpath("string(a:updated)", namespaces=NS) == "2024-05-01T11:00:00Z"
    assert source.xpath("string(a:link[@rel='alternate']/@href)", namespaces=NS) == original.url
    assert source.xpath("string(a:link[@rel='self']/@href)", namespaces=NS) == original.feed_url


def test_rss_has_required_elements(tmp_path, meta, hostile_entries):
    write_feeds(tmp_path, meta, hostile_entries)
    rss = _strict(tmp_path / "feed.rss")
    assert rss.get("version") == "2.0"
    (channel,) = rss.xpath("channel")
    assert channel.findtext("title") == "Daily & <Weekly> Briefs"
    assert channel.findtext("link") == "https://agg.example/"
    assert channel.findtext("description")
    assert channel.xpath("a:link[@rel='self']/@href", namespaces=NS) == [
        "https://agg.example/feeds/feed.rss"
    ]
    assert channel.xpath("a:link[@rel='hub']/@href", namespaces=NS) == [
        "https://hub.example/publish"
    ]
    items = channel.xpath("item")
    assert len(items) == len(hostile_entries)
    by_id = {e.id: e for e in hostile_entries}
    for item in items:
        guid = item.find("guid")
        assert guid.get("isPermaLink") == "false"
        original = by_id[guid.text]
        assert parsedate_to_datetime(item.findtext("pubDate")) == original.published
        assert item.find("source").get("url") == original.sources[0].feed_url
        assert item.findtext("source") == original.sources[0].title
        assert item.findtext("description") == f"<p>{original.summary}</p>\n{original.content_html}"


def test_json_feed_validates_against_schema(tmp_path, meta, hostile_entries):
    write_feeds(tmp_path, meta, hostile_entries)
    schema = json.loads(SCHEMA_PATH.read_text())
    feed = json.loads((tmp_path / "feed.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    assert {"date-time", "uri"} <= set(validator.FORMAT_CHECKER.checkers)
    errors = [e.message for e in validator.iter_errors(feed)]
    assert errors == []
    assert feed["feed_url"] == "https://agg.example/feeds/feed.json"
    assert feed["hubs"] == [{"type": "WebSub", "url": "https://hub.example/publish"}]
    for item in feed["items"]:
        assert set(item) >= {"id", "title", "content_html", "date_published", "date_modified"}
        assert item["_aggregator"]["sources"][0]["feed_url"].endswith("/feed.xml")


def test_json_schema_check_is_not_toothless(tmp_path, meta):
    write_feeds(tmp_path, meta, [_entry(1)])
    schema = json.loads(SCHEMA_PATH.read_text())
    feed = json.loads((tmp_path / "feed.json").read_text(encoding="utf-8"))
    feed["items"][0]["date_published"] = "yesterday"
    feed["items"][0]["source"] = "not an extension"
    validator = jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    assert len(list(validator.iter_errors(feed))) == 2


@pytest.mark.parametrize("name", ["feed.atom", "feed.rss"])
def test_feedparser_reads_titles_and_links_back_exactly(tmp_path, meta, hostile_entries, name):
    write_feeds(tmp_path, meta, hostile_entries)
    parsed = feedparser.parse((tmp_path / name).read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.title == "Daily & <Weekly> Briefs"
    expected = _expected_by_id(hostile_entries)
    got = {e.id: (e.title, _alternate(e)) for e in parsed.entries}
    assert got == expected


def _alternate(entry: feedparser.FeedParserDict) -> str | None:
    """The entry's own rel=alternate link (feedparser's `link` falls back to the id)."""
    return next((link.href for link in entry.get("links", []) if link.rel == "alternate"), None)


def test_json_feed_titles_and_links_round_trip(tmp_path, meta, hostile_entries):
    write_feeds(tmp_path, meta, hostile_entries)
    feed = json.loads((tmp_path / "feed.json").read_bytes())
    got = {item["id"]: (item["title"], item.get("url")) for item in feed["items"]}
    assert got == _expected_by_id(hostile_entries)
    # feedparser does not read JSON Feed; our own reader (the parser's JSON Feed tier) does
    parsed = parse_feed((tmp_path / "feed.json").read_bytes(), meta.base_url + "feed.json")
    assert sorted(e.title for e in parsed.entries) == sorted(t for t, _ in got.values())


def test_hostile_brief_html_stays_inert_in_every_format(tmp_path, meta):
    brief = Brief(
        bullets=["Escapes ]]> the CDATA", "<script>alert(1)</script> injected", "A & B\x07"],
        terms=[Term(term="<img src=x onerror=alert(1)>", definition="Not an image ]]>.")],
    )
    html = brief_html(brief, "https://one.example/a?x=1&y=2", "Evil <b>Source</b>")
    fragment = lxml.html.fragment_fromstring(html, create_parent="div")
    assert fragment.xpath("//script | //img | //b") == []
    assert [li.text_content() for li in fragment.xpath("//ul/li")][1] == (
        "<script>alert(1)</script> injected"
    )
    assert fragment.xpath("//dl/dt")[0].text_content() == "<img src=x onerror=alert(1)>"
    (anchor,) = fragment.xpath("//a")
    assert anchor.get("href") == "https://one.example/a?x=1&y=2"
    assert anchor.text_content() == "Read full story at Evil <b>Source</b> \u2192"

    write_feeds(tmp_path, meta, [_entry(1, content_html=html, summary="")])
    atom_content = _strict(tmp_path / "feed.atom").xpath("string(//a:content)", namespaces=NS)
    rss_content = _strict(tmp_path / "feed.rss").xpath("string(//item/description)")
    json_content = json.loads((tmp_path / "feed.json").read_bytes())["items"][0]["content_html"]
    assert atom_content == rss_content == json_content == xml_safe(html).strip()
    assert "\x07" not in atom_content and "A &amp; B" in atom_content
    assert b"<![CDATA[" not in (tmp_path / "feed.atom").read_bytes()


def test_brief_html_without_bullets_uses_paragraph_and_drops_unsafe_link():
    html = brief_html(Brief(bullets=[], paragraph="One <para>."), "javascript:alert(1)", "S")
    assert html == "<p>One &lt;para&gt;.</p>"


def test_xml_safe_strips_invalid_characters_only():
    assert xml_safe("a\x00b\x08c\x0bd\x1fe\ud800f\udfffg\ufffeh\uffffi") == "abcdefghi"
    assert xml_safe("tab\tnl\ncrlf\r\ncr\r🎉\U0010fffd") == "tab\tnl\ncrlf\ncr\n🎉\U0010fffd"


def test_encoded_url_encodes_or_refuses():
    for given, expected in HOSTILE_LINKS:
        assert encoded_url(given) == expected, given
    assert encoded_url("http://[::1") is None
    assert encoded_url("") is None and encoded_url(None) is None


def test_entry_ids_are_deterministic_and_distinct():
    a = entry_id("https://one.example/feed.xml", "guid-1")
    assert a == entry_id("https://one.example/feed.xml", "guid-1")
    assert a.startswith("urn:uuid:")
    assert a != entry_id("https://one.example/feed.xml", "guid-2")
    assert a != entry_id("https://two.example/feed.xml", "guid-1")
    # The separator keeps ("ab", "c") and ("a", "bc") apart.
    assert entry_id("ab", "c") != entry_id("a", "bc")


def test_ids_stay_stable_across_republishing(tmp_path, meta):
    write_feeds(tmp_path / "one", meta, [_entry(n) for n in range(3)])
    # Rebuilt from scratch later, with an extra entry and a retitled one.
    later = [_entry(n) for n in range(4)]
    later[1] = _entry(1, title="Retitled", updated=T0)
    write_feeds(tmp_path / "two", meta, later)
    ids = {}
    for run in ("one", "two"):
        atom = _strict(tmp_path / run / "feed.atom")
        ids[run] = {
            e.xpath("string(a:link/@href)", namespaces=NS): e.xpath("string(a:id)", namespaces=NS)
            for e in atom.xpath("a:entry", namespaces=NS)
        }
    assert ids["one"].items() <= ids["two"].items()
    assert len(set(ids["two"].values())) == 4


def test_entries_are_sorted_newest_first(tmp_path, meta):
    entries = [_entry(n) for n in (3, 0, 5, 1)]
    write_feeds(tmp_path, meta, entries)
    atom = _strict(tmp_path / "feed.atom")
    assert atom.xpath("a:entry/a:title/text()", namespaces=NS) == [
        "Story 0",
        "Story 1",
        "Story 3",
        "Story 5",
    ]
    # The feed's updated defaults to the newest entry, not to the clock.
    assert atom.xpath("string(a:updated)", namespaces=NS) == "2024-05-01T12:00:00Z"
    feed = json.loads((tmp_path / "feed.json").read_bytes())
    assert [i["title"] for i in feed["items"]] == ["Story 0", "Story 1", "Story 3", "Story 5"]


def test_cross_source_duplicates_appear_once_naming_all_sources(tmp_path, meta):
    one = _entry(1, sources=[_source(1), _source(2)])
    again = _entry(1, sources=[_source(2), _source(0)])
    write_feeds(tmp_path, meta, [one, again])
    atom = _strict(tmp_path / "feed.atom")
    (entry,) = atom.xpath("a:entry", namespaces=NS)
    assert entry.xpath("string(a:source/a:id)", namespaces=NS) == "urn:example:source:1"
    assert entry.xpath("a:link[@rel='via']/@title", namespaces=NS) == ["Source 2", "Source 0"]
    rss = _strict(tmp_path / "feed.rss")
    assert rss.xpath("//item/a:link[@rel='via']/@href", namespaces=NS) == [
        "https://source2.example/",
        "https://source0.example/",
    ]
    feed = json.loads((tmp_path / "feed.json").read_bytes())
    (item,) = feed["items"]
    assert [s["title"] for s in item["_aggregator"]["sources"]] == [
        "Source 1",
        "Source 2",
        "Source 0",
    ]


def test_naive_and_offset_datetimes_are_written_as_utc(tmp_path, meta):
    offset = datetime(2024, 5, 1, 16, 30, tzinfo=timezone(timedelta(hours=2)))
    write_feeds(
        tmp_path,
        meta,
        [
            _entry(1, published=offset),
            _entry(2, published=datetime(2024, 4, 1, 8, 0), updated=datetime(2024, 4, 2, 9, 0)),
        ],
    )
    atom = _strict(tmp_path / "feed.atom")
    assert atom.xpath("a:entry/a:published/text()", namespaces=NS) == [
        "2024-05-01T14:30:00Z",
        "2024-04-01T08:00:00Z",
    ]
    assert atom.xpath("a:entry/a:updated/text()", namespaces=NS)[1] == "2024-04-02T09:00:00Z"
    rss = _strict(tmp_path / "feed.rss")
    assert rss.xpath("//item/pubDate/text()")[0] == "Wed, 01 May 2024 14:30:00 GMT"


def test_tag_feeds_stay_inside_tags_directory(tmp_path, meta):
    hostile = ["../../escape", "/etc/passwd", "..", "", "   ", "C++", "C", "日本語", "a" * 300]
    entries = [
        _entry(0, tags=["Machine Learning", *hostile]),
        _entry(1, tags=["machine-learning", "news"]),
        _entry(2, tags=["news", "News"]),
    ]
    every_tag = [tag for entry in entries for tag in entry.tags]
    candidates = {tag: entries for tag in every_tag}
    changed = write_tag_feeds(tmp_path, meta, candidates)
    tags_dir = (tmp_path / "tags").resolve()
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert sorted(changed) == written
    for path in written:
        assert path.resolve().parent == tags_dir
        assert path.suffix in (".atom", ".rss", ".json")
    stems = {p.stem for p in written}
    # 7 distinct non-blank hostile tags, "news", and one merged "machine learning" feed.
    assert len(stems) == 9
    assert "machine-learning" in stems and "news" in stems
    assert tag_slug("C++") != tag_slug("C") == "c"
    assert write_tag_feeds(tmp_path, meta, candidates) == []

    ml = _strict(tmp_path / "tags" / "machine-learning.atom")
    assert ml.xpath("a:entry/a:title/text()", namespaces=NS) == ["Story 0", "Story 1"]
    assert ml.xpath("a:link[@rel='self']/@href", namespaces=NS) == [
        "https://agg.example/feeds/tags/machine-learning.atom"
    ]
    assert ml.xpath("string(a:id)", namespaces=NS) != meta.id
    news = json.loads((tmp_path / "tags" / "news.json").read_bytes())
    assert [i["title"] for i in news["items"]] == ["Story 1", "Story 2"]
    assert news["feed_url"] == "https://agg.example/feeds/tags/news.json"
    escape_atom = _strict(tmp_path / "tags" / f"{tag_slug('../../escape')}.atom")
    assert escape_atom.xpath("string(a:title)", namespaces=NS).endswith(": ../../escape")


@pytest.mark.parametrize(
    ("key", "value"),
    [("home_url", "javascript:alert(1)"), ("base_url", "/feeds/"), ("hub_url", "ftp://hub/")],
)
def test_bad_meta_gives_a_clear_error(tmp_path, meta, key, value):
    setattr(meta, key, value)
    with pytest.raises(ValueError, match=key):
        write_feeds(tmp_path, meta, [_entry(1)])
    assert list(tmp_path.iterdir()) == []


def test_bad_stem_and_sourceless_entry_are_refused(tmp_path, meta):
    with pytest.raises(ValueError, match="stem"):
        write_feeds(tmp_path, meta, [], stem="../outside")
    with pytest.raises(ValueError, match="no source"):
        _entry(1, sources=[])


def test_empty_feed_is_still_valid(tmp_path, meta):
    before = datetime.now(UTC).replace(microsecond=0)
    write_feeds(tmp_path, meta, [])
    atom = _strict(tmp_path / "feed.atom")
    updated = datetime.fromisoformat(atom.xpath("string(a:updated)", namespaces=NS))
    assert before <= updated <= datetime.now(UTC)  # when it was published, not 1970
    assert write_feeds(tmp_path, meta, []) == []  # and it keeps that date while still empty
    assert not feedparser.parse((tmp_path / "feed.rss").read_bytes()).bozo
    assert json.loads((tmp_path / "feed.json").read_bytes())["items"] == []


def test_write_if_changed_is_atomic_and_leaves_no_temporaries(tmp_path):
    target = tmp_path / "sub" / "feed.atom"
    assert write_if_changed(target, b"one") is True
    assert write_if_changed(target, b"one") is False
    assert write_if_changed(target, b"two") is True
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    with pytest.raises(TypeError):
        write_if_changed(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["feed.atom"]
