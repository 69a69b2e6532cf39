"""Self-tests of the loopback feed server, with the standard library as the client."""

from __future__ import annotations

import contextlib
import gzip
import http.client
import io
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.sax
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import NamedTuple
from xml.etree import ElementTree
from xml.sax.handler import feature_external_ges

import aiohttp
import brotli
import pytest
from lxml import etree

from tests.support import bombs
from tests.support.feedserver import FeedServer, feed_server, http_date, rss_feed

srv = feed_server  # the shared fixture, under a short name


class Reply(NamedTuple):
    status: int
    headers: http.client.HTTPMessage
    data: bytes


def get(url: str, **headers: str) -> Reply:
    """GET `url` on a fresh connection, without following redirects."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        conn.request("GET", parts.path or "/", headers=headers)
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def test_serves_body_with_validators(srv: FeedServer) -> None:
    body = rss_feed("One")
    response = get(srv.add("/feed.xml", body))
    assert response.status == 200
    assert response.data == body
    assert response.headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    assert response.headers["ETag"].startswith('"')
    assert parsedate_to_datetime(response.headers["Last-Modified"]) <= datetime.now(UTC)


def test_etag_gives_304_until_replaced(srv: FeedServer) -> None:
    url = srv.add("/feed.xml", rss_feed("One"), last_modified=False)
    etag = get(url).headers["ETag"]
    not_modified = get(url, **{"If-None-Match": etag})
    assert not_modified.status == 304
    assert not_modified.data == b""
    assert not_modified.headers["ETag"] == etag
    assert get(url, **{"If-None-Match": '"other"'}).status == 200
    srv.replace("/feed.xml", rss_feed("Two"))
    changed = get(url, **{"If-None-Match": etag})
    assert changed.status == 200
    assert changed.headers["ETag"] != etag
    assert b"Two" in changed.data


def test_last_modified_gives_304_until_replaced(srv: FeedServer) -> None:
    url = srv.add("/feed.xml", rss_feed("One"), etag=False)
    stamp = get(url).headers["Last-Modified"]
    assert get(url, **{"If-Modified-Since": stamp}).status == 304
    older = http_date(parsedate_to_datetime(stamp) - timedelta(seconds=1))
    assert get(url, **{"If-Modified-Since": older}).status == 200
    srv.replace("/feed.xml", rss_feed("Two"))
    assert get(url, **{"If-Modified-Since": stamp}).status == 200


def test_weak_etag_and_304_without_validators(srv: FeedServer) -> None:
    url = srv.add("/feed.xml", rss_feed(), weak_etag=True, validators_on_304=False)
    etag = get(url).headers["ETag"]
    assert etag.startswith('W/"')
    bare = get(url, **{"If-None-Match": etag})
    assert bare.status == 304
    assert "ETag" not in bare.headers
    assert "Last-Modified" not in bare.headers


@pytest.mark.parametrize(
    ("accept", "coding"),
    [("gzip", "gzip"), ("gzip, br", "br"), ("br;q=0, gzip;q=0.5", "gzip"), ("identity", None)],
)
def test_compression_follows_accept_encoding(srv: FeedServer, accept: str, coding: str) -> None:
    body = rss_feed(items=50)
    response = get(srv.add("/feed.xml", body, compress=True), **{"Accept-Encoding": accept})
    assert response.headers.get("Content-Encoding") == coding
    assert response.headers["Vary"] == "Accept-Encoding"
    decode = {"gzip": gzip.decompress, "br": brotli.decompress, None: bytes}[coding]
    assert decode(response.data) == body
    if coding:
        assert len(response.data) < len(body)
        assert (
            get(srv.url("/feed.xml"), **{"If-None-Match": response.headers["ETag"]}).status == 304
        )


def test_replace_refreshes_compressed_copies(srv: FeedServer) -> None:
    url = srv.add("/feed.xml", rss_feed("One"), compress=("gzip",))
    first = get(url, **{"Accept-Encoding": "gzip"})
    srv.replace("/feed.xml", rss_feed("Two"))
    second = get(url, **{"Accept-Encoding": "gzip"})
    assert gzip.decompress(second.data) == rss_feed("Two")
    assert second.headers["ETag"] != first.headers["ETag"]
    assert second.headers["ETag"].endswith('-gzip"')


def test_redirects_and_loop(srv: FeedServer) -> None:
    srv.add("/new.xml", rss_feed())
    response = get(srv.redirect("/old.xml", "/new.xml", 308))
    assert (response.status, response.headers["Location"]) == (308, "/new.xml")
    assert urllib.request.urlopen(srv.url("/old.xml"), timeout=5).read() == rss_feed()
    elsewhere = get(srv.redirect("/meta", "http://169.254.169.254/latest/meta-data/", 302))
    assert elsewhere.headers["Location"] == "http://169.254.169.254/latest/meta-data/"
    srv.redirect_loop("/a", "/b")
    with pytest.raises(urllib.error.HTTPError, match="redirect"):
        urllib.request.urlopen(srv.url("/a"), timeout=5)
    assert {"/a", "/b"} <= {r.path for r in srv.requests}


def test_localhost_url_reaches_the_same_server(srv: FeedServer) -> None:
    srv.add("/feed.xml", rss_feed())
    assert srv.url("/feed.xml", host="localhost").startswith("http://localhost:")
    response = get(srv.url("/feed.xml", host="localhost"))
    assert response.status == 200
    assert srv.requests[-1].headers["Host"] == f"localhost:{srv.port}"


def test_error_statuses_and_retry_after(srv: FeedServer) -> None:
    assert get(srv.status("/gone", 410)).status == 410
    assert get(srv.url("/never-added")).status == 404
    empty = get(srv.add("/empty.xml", b""))
    assert (empty.status, empty.headers["Content-Length"], empty.data) == (200, "0", b"")
    limited = get(srv.status("/busy", 429, retry_after=120))
    assert (limited.status, limited.headers["Retry-After"]) == (429, "120")
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    down = get(srv.status("/down", 503, retry_after=when))
    assert down.status == 503
    assert parsedate_to_datetime(down.headers["Retry-After"]) == when


def test_request_log_and_clear(srv: FeedServer) -> None:
    url = srv.add("/feed.xml", rss_feed())
    etag = get(url, **{"User-Agent": "probe/1"}).headers["ETag"]
    get(url, **{"If-None-Match": etag, "Accept-Encoding": "gzip"})
    first, second = srv.requests_for("/feed.xml")
    assert (first.method, first.headers["User-Agent"], first.status) == ("GET", "probe/1", 200)
    assert second.headers["If-None-Match"] == etag
    assert second.headers["Accept-Encoding"] == "gzip"
    assert first.time <= second.time
    assert srv.statuses("/feed.xml") == [200, 304]
    srv.clear_log()
    assert srv.requests == []


def test_record_posts(srv: FeedServer) -> None:
    url = srv.record_posts("/hub")
    form = {"hub.mode": "subscribe", "hub.topic": "http://example.test/feed"}
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode())
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 202
    [post] = srv.posts("/hub")
    assert post.form == form
    assert post.content_type == "application/x-www-form-urlencoded"


def test_add_directory_with_copies(srv: FeedServer, tmp_path: Path) -> None:
    for n in range(3):
        (tmp_path / f"feed{n}.xml").write_bytes(rss_feed(f"Feed {n}"))
    (tmp_path / "notes.txt").write_text("skipped by the pattern")
    urls = srv.add_directory(tmp_path, "/corpus", pattern="*.xml", copies=2)
    assert len(urls) == 6
    copy = srv.url("/corpus/1/feed2.xml")
    assert copy in urls
    response = get(copy)
    assert response.data == rss_feed("Feed 2")
    assert response.headers["Content-Type"] == "application/xml"
    assert get(copy, **{"If-None-Match": response.headers["ETag"]}).status == 304


def test_hostile_routes_do_not_block_shutdown() -> None:
    server = FeedServer(shutdown_timeout=5).start()
    server.stall("/silent")
    server.stall("/headers", send_headers=True)
    server.trickle("/trickle", b"x" * 100)
    server.oversized("/unread")  # 100 MB to a client that never reads
    with contextlib.ExitStack() as stack:
        clients = {}
        for path in ("/silent", "/headers", "/trickle", "/unread"):
            client = socket.create_connection(("127.0.0.1", server.port), timeout=2)
            clients[path] = stack.enter_context(client)
            client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert clients["/headers"].recv(100).startswith(b"HTTP/1.1 200")
        clients["/silent"].settimeout(0.3)
        with pytest.raises(TimeoutError):
            clients["/silent"].recv(100)
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 1.0
        clients["/silent"].settimeout(2)
        assert clients["/silent"].recv(100) == b""  # closed without a response
    statuses = {r.path: r.status for r in server.requests}
    assert statuses == {"/silent": None, "/headers": 200, "/trickle": 200, "/unread": 200}


async def test_usable_from_async_tests(srv: FeedServer) -> None:
    body = rss_feed(items=20)
    async with aiohttp.ClientSession() as session:
        async with session.get(srv.add("/feed.xml", body, compress=("gzip",))) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            assert await response.read() == body
        async with session.head(srv.url("/feed.xml")) as response:
            assert (response.status, await response.read()) == (200, b"")


def test_trickle_paces_bytes(srv: FeedServer) -> None:
    url = srv.trickle("/slow", b"abcd", interval=0.1)
    started = time.monotonic()
    assert get(url).data == b"abcd"
    assert time.monotonic() - started >= 0.3


def test_oversized_body_streams_exact_size(srv: FeedServer) -> None:
    size = 5 * bombs.MIB
    response = get(srv.oversized("/huge", size))
    assert int(response.headers["Content-Length"]) == size
    assert len(response.data) == size
    assert response.data.startswith(b"<?xml") and response.data.endswith(b"</rss>\n")
    chunked = get(srv.oversized("/huge2", size, declare=False))
    assert chunked.headers["Transfer-Encoding"] == "chunked"
    assert len(chunked.data) == size


def test_gzip_bomb_is_small_and_inflates_past_a_gigabyte(srv: FeedServer) -> None:
    response = get(srv.gzip_bomb("/bomb.xml"))
    assert response.headers["Content-Encoding"] == "gzip"
    assert len(response.data) < 2 * bombs.MIB
    inflater, data, inflated = zlib.decompressobj(wbits=31), response.data, 0
    while data and not inflater.eof:
        inflated += len(inflater.decompress(data, 16 * bombs.MIB))
        data = inflater.unconsumed_tail
    assert inflater.eof  # a complete, valid gzip member (CRC and length checked by zlib)
    assert inflated >= bombs.GIB


def test_brotli_bomb_is_small_and_inflates_past_64_mib(srv: FeedServer) -> None:
    response = get(srv.brotli_bomb("/bomb.xml"))
    assert response.headers["Content-Encoding"] == "br"
    assert len(response.data) < bombs.MIB
    inflater = brotli.Decompressor()
    inflated = len(inflater.process(response.data, output_buffer_limit=bombs.MIB))
    while inflated <= 64 * bombs.MIB:
        inflated += len(inflater.process(b"", output_buffer_limit=bombs.MIB))
    assert not inflater.is_finished()


def test_wrong_charset_and_discovery_page(srv: FeedServer) -> None:
    mislabelled = get(srv.wrong_charset("/latin.xml"))
    assert "utf-8" in mislabelled.headers["Content-Type"]
    with pytest.raises(UnicodeDecodeError):
        mislabelled.data.decode("utf-8")
    page = get(srv.discovery_page("/", "/feed.xml", title="A & B")).data.decode()
    assert '<link rel="alternate" type="application/rss+xml"' in page
    assert 'href="/feed.xml"' in page and "A &amp; B" in page


@pytest.mark.parametrize("body", [bombs.XXE_FILE, bombs.XXE_PARAMETER])
def test_xxe_bodies_leak_through_an_unsafe_parser(body: bytes) -> None:
    unsafe = etree.XMLParser(resolve_entities=True, load_dtd=True, no_network=True)
    assert b"root:" in etree.tostring(etree.fromstring(body, unsafe))


def test_remote_dtd_xxe_fetches_its_url(srv: FeedServer) -> None:
    srv.add("/evil.dtd", b'<!ENTITY % x "">', "application/xml-dtd")
    unsafe = xml.sax.make_parser()
    unsafe.setFeature(feature_external_ges, True)
    unsafe.setContentHandler(xml.sax.ContentHandler())
    unsafe.parse(io.BytesIO(bombs.xxe_external_dtd(srv.url("/evil.dtd"))))
    assert srv.statuses("/evil.dtd") == [200]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (bombs.BILLION_LAUGHS, "amplification"),
        (bombs.QUADRATIC_BLOWUP, "amplification"),
        (bombs.MALFORMED_XML, "not well-formed"),
    ],
)
def test_expat_rejects_entity_bombs_and_malformed_xml(body: bytes, error: str) -> None:
    with pytest.raises(ElementTree.ParseError, match=error):
        ElementTree.fromstring(body)
