"""Fuzzing what the fetcher reads from a server (status line, headers) and the dates of a feed,
with Hypothesis, bounded. Whatever a server or a feed says, the fetch gives a result or a one-line
FetchError, every number it yields is bounded, and every date is in the calendar's bounds and
shows in any timezone. A failing input found is kept below as an ``@example``."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from aggregator.config import from_mapping
from aggregator.ingest.fetch import (
    MAX_HEADER_SECONDS,
    Fetcher,
    FetchError,
    parse_max_age,
    parse_retry_after,
)
from aggregator.ingest.parse import parse_feed
from aggregator.model.dates import in_bounds
from tests.hostile.test_fuzz import FUZZ

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
_DIGITS = st.text("0123456789", min_size=1, max_size=30)
_NUMBERS = st.one_of(
    _DIGITS,
    st.sampled_from(["-1", "1e400", "inf", "nan", "²", "٣", "0x10", " 5 ", '"7"', "", "9" * 300]),
    st.text(max_size=12),
)
_DATES = st.one_of(
    st.builds(
        "{}, {:02d} {} {:04d} {:02d}:{:02d}:{:02d} {}".format,
        st.sampled_from(["Mon", "Fri", "Xyz"]),
        st.integers(0, 40),
        st.sampled_from(["Jan", "Feb", "Dec", "Foo"]),
        st.integers(0, 99999),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 99),
        st.sampled_from(["GMT", "+0000", "-1200", "+1400", "+9999", "-9959", "EST", ""]),
    ),
    st.builds(
        "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}".format,
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 24),
        st.integers(0, 60),
        st.integers(0, 60),
        st.sampled_from(["Z", "+14:00", "-12:00", "+23:59", "-23:59", ""]),
    ),
    st.text(max_size=40),
)


@FUZZ
@given(_NUMBERS, _DATES)
@example("99999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT")
@example("9" * 5000, "Sun, 06 Nov 1994 08:49:37 +9999")
def test_header_numbers_and_dates_are_bounded(number: str, date: str) -> None:
    for value in (number, date):
        for seconds in (
            parse_retry_after(value),
            parse_max_age({"Cache-Control": f"no-cache, max-age={value}"}),
            parse_max_age({"Expires": value}),
        ):
            assert seconds is None or 0 <= seconds <= MAX_HEADER_SECONDS
            if seconds is not None:
                assert NOW + timedelta(seconds=seconds) > NOW - timedelta(seconds=1)


_ZONES = [ZoneInfo("Etc/GMT+12"), ZoneInfo("Etc/GMT-14"), ZoneInfo("America/New_York")]


@FUZZ
@given(_DATES, _DATES)
@example("Mon, 01 Jan 0001 00:00:00 +0000", "9999-12-31T23:59:59-12:00")
@example("0001-01-01T00:00:00+14:00", "Fri, 31 Dec 9999 23:59:59 GMT")
def test_feed_dates_are_in_bounds_and_show_in_every_zone(published: str, updated: str) -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>D</title>'
        f"<lastBuildDate>{updated}</lastBuildDate><item><title>I</title>"
        "<link>https://d.example/1</link>"
        f"<pubDate>{published}</pubDate><description>x</description></item></channel></rss>"
    )
    try:
        parsed = parse_feed(body.encode(), "https://d.example/feed", now=NOW)
    except Exception as exc:  # noqa: BLE001 - only a one-line FeedParseError may come out
        assert type(exc).__name__ == "FeedParseError" and "\n" not in str(exc)
        return
    dates = [parsed.updated] + [d for e in parsed.entries for d in (e.published, e.updated)]
    for date in dates:
        if date is not None:
            assert in_bounds(date, NOW) and date <= NOW
            for zone in _ZONES:
                date.astimezone(zone).strftime("%d %b %Y")


# --- the fetcher against a server that says anything --------------------------------------

_TOKEN = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"),
    min_size=1,
    max_size=20,
)
_HEADER_NAMES = st.one_of(
    st.sampled_from(
        [
            "Content-Length",
            "Retry-After",
            "Cache-Control",
            "Expires",
            "Last-Modified",
            "ETag",
            "Location",
            "Content-Encoding",
            "Content-Type",
            "Transfer-Encoding",
        ]
    ),
    _TOKEN,
)
_HEADER_VALUES = st.one_of(
    _NUMBERS, _DATES, st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=30)
)
_STATUS = st.one_of(
    st.builds(
        "HTTP/{} {} {}".format,
        st.sampled_from(["1.1", "1.0", "2", "9.9"]),
        st.one_of(st.integers(0, 999), st.sampled_from([304, 429, 503, 301, 302, 200])),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
)


class RawServer:
    """Answers every connection with the bytes set in ``reply``, then closes it."""

    def __init__(self) -> None:
        self.reply = b""
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(self.reply)
                except OSError:
                    pass


@pytest.fixture(scope="module")
def raw_server() -> Iterator[RawServer]:
    server = RawServer()
    yield server
    server.sock.close()


@FUZZ
@given(
    _STATUS, st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=6), st.binary(max_size=40)
)
@example("HTTP/1.1 503 Busy", [("Retry-After", "99999999999999999999")], b"")
@example("HTTP/1.1 200 OK", [("Content-Length", "99999999999999999999999")], b"x")
@example("HTTP/1.1 304 Not Modified", [("Cache-Control", "max-age=" + "9" * 400)], b"")
def test_the_fetcher_reads_any_status_line_and_headers(
    raw_server: RawServer, status: str, headers: list[tuple[str, str]], body: bytes
) -> None:
    head = status + "\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n"
    raw_server.reply = head.encode("latin-1", "replace") + body
    settings = from_mapping(
        {"fetch": {"allow_networks": ["127.0.0.1/32"], "timeout_seconds": 2, "max_redirects": 1}},
        root=Path.cwd(),
        origin="test",
    )

    async def fetch() -> None:
        async with Fetcher(settings.fetch, "fuzz") as fetcher:
            try:
                result = await fetcher.fetch(f"http://127.0.0.1:{raw_server.port}/feed")
            except FetchError as exc:
                assert "\n" not in str(exc)
                assert exc.retry_after is None or 0 <= exc.retry_after <= MAX_HEADER_SECONDS
                return
            assert result.max_age is None or 0 <= result.max_age <= MAX_HEADER_SECONDS
            assert len(result.body) <= settings.fetch.max_body_bytes

    asyncio.run(fetch())
