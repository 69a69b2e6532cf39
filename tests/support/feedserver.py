"""A real HTTP/1.1 server on 127.0.0.1 that serves feeds, redirects, errors and hostile responses.

It runs aiohttp's low-level server on its own event loop in a background thread, so sync tests,
async tests and benchmarks all use it the same way::

    with FeedServer() as srv:
        url = srv.add("/feed.xml", rss_feed("Example"))
        ...  # fetch url, then look at srv.requests / srv.statuses("/feed.xml")

Routes may be added, replaced and inspected from any thread while the server runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import hashlib
import html
import random
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol, Self

import brotli
import pytest
from aiohttp import web

from tests.support import bombs

RSS = "application/rss+xml; charset=utf-8"
#: Request headers copied into each `RequestRecord`.
LOGGED_HEADERS = (
    "If-None-Match",
    "If-Modified-Since",
    "User-Agent",
    "Accept-Encoding",
    "Accept",
    "Host",
    "Content-Type",
)
_SUFFIX_TYPES = {".json": "application/feed+json", ".xml": "application/xml", ".html": "text/html"}

Pause = Callable[[float | None], Awaitable[bool]]


class _Route(Protocol):
    async def __call__(self, request: web.BaseRequest, pause: Pause) -> web.StreamResponse | None:
        """Answer `request`; None means "drop the connection without a response"."""


@dataclass
class RequestRecord:
    """One request as the server saw it; `status` is None until answered (or if never answered)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    time: float  # time.monotonic() at arrival
    status: int | None = None


@dataclass(frozen=True)
class Post:
    """A body received by a `record_posts` route."""

    path: str
    form: dict[str, str]
    body: bytes
    content_type: str


def http_date(moment: datetime) -> str:
    """Format an aware datetime as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`)."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def distinct_text(seed: str, sentences: int = 3) -> str:
    """Sentences of made-up words drawn from ``seed``: each item its own event, so that story
    grouping, which merges copies and reports of one event, keeps test items apart."""
    pick = random.Random(seed)
    syllables = ("ka", "lo", "mi", "ru", "te", "va", "zo", "pe", "ni", "su", "da", "fo", "gu")
    words = ["".join(pick.choice(syllables) for _ in range(3)) for _ in range(8 * sentences)]
    return " ".join(" ".join(words[i : i + 8]).capitalize() + "." for i in range(0, len(words), 8))


def rss_feed(title: str = "Test feed", items: int = 3, link: str = "http://example.test/") -> bytes:
    """A small valid RSS 2.0 document with `items` entries (guids `<title>-<n>`), each about an
    event of its own (``distinct_text``)."""
    entries = "".join(
        f"<item><title>{html.escape(title)} item {n}</title><link>{link}{n}</link>"
        f"<guid>{html.escape(title)}-{n}</guid>"
        f"<description>Body of item {n}. {distinct_text(f'{title}-{n}')}</description></item>"
        for n in range(items)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{html.escape(title)}</title><link>{link}</link><description>d</description>"
        f"{entries}</channel></rss>\n"
    ).encode()


def _accepted_q(accept_encoding: str, coding: str) -> float:
    """The q-value `accept_encoding` gives `coding` (RFC 9110 §12.5.3); 0 when not acceptable."""
    wildcard = 0.0
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip().replace(" ", "")
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if name.strip().lower() == coding:
            return q
        if name.strip() == "*":
            wildcard = q
    return wildcard


def _encode(body: bytes, coding: str) -> bytes:
    return brotli.compress(body) if coding == "br" else gzip.compress(body, 6, mtime=0)


def _content_tag(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:20]


@dataclass
class _Feed:
    """A fixed body with validators, conditional GET and optional compression."""

    body: bytes
    content_type: str
    opaque: str  # the ETag value without quotes, or "" for no ETag
    weak: bool
    last_modified: datetime | None
    headers: Mapping[str, str]
    status: int
    codings: tuple[str, ...]
    validators_on_304: bool
    _encoded: dict[str, bytes] = field(default_factory=dict, init=False, repr=False)

    def _etag(self, coding: str) -> str:
        tag = f'"{self.opaque}-{coding}"' if coding else f'"{self.opaque}"'
        return "W/" + tag if self.weak else tag

    def _not_modified(self, request: web.BaseRequest) -> bool:
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None:
            if not self.opaque:
                return False
            wanted = {self._etag(c).removeprefix("W/") for c in ("", *self.codings)}
            tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
            return "*" in tags or bool(wanted & tags)
        if_modified_since = request.headers.get("If-Modified-Since")
        if if_modified_since is None or self.last_modified is None:
            return False
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return since.tzinfo is not None and self.last_modified <= since

    def _coding(self, request: web.BaseRequest) -> str:
        accept = request.headers.get("Accept-Encoding", "")
        return next((c for c in self.codings if _accepted_q(accept, c) > 0), "")

    async def __call__(self, request: web.BaseRequest, pause: Pause) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, headers={"Allow": "GET, HEAD"})
        coding = self._coding(request)
        headers = dict(self.headers)
        validators = {}
        if self.opaque:
            validators["ETag"] = self._etag(coding)
        if self.last_modified is not None:
            validators["Last-Modified"] = http_date(self.last_modified)
        if self.codings:
            headers["Vary"] = "Accept-Encoding"
        if self.status == 200 and self._not_modified(request):
            return web.Response(
                status=304, headers=headers | (validators if self.validators_on_304 else {})
            )
        body = self.body
        if coding:
            if coding not in self._encoded:
                self._encoded[coding] = _encode(self.body, coding)
            body = self._encoded[coding]
            headers["Content-Encoding"] = coding
        headers |= validators
        headers["Content-Type"] = self.content_type
        return web.Response(status=self.status, body=body, headers=headers)


@dataclass(frozen=True)
class _Redirect:
    target: str
    status: int

    async def __call__(self, request: web.BaseRequest, pause: Pause) -> web.StreamResponse:
        return web.Response(status=self.status, headers={"Location": self.target})


@dataclass(frozen=True)
class _Stream:
    """Stream chunks from a fresh iterable per request, optionally paced, optionally hanging after."""

    chunks: Callable[[], Iterable[bytes]]
    headers: Mapping[str, str]
    content_length: int | None = None
    interval: float = 0.0
    hang: bool = False

    async def __call__(self, request: web.BaseRequest, pause: Pause) -> web.StreamResponse | None:
        response = web.StreamResponse(headers=self.headers)
        if self.content_length is not None:
            response.content_length = self.content_length
        try:
            await response.prepare(request)
            for index, chunk in enumerate(self.chunks()):
                if index and self.interval and await pause(self.interval):
                    break
                await response.write(chunk)
            else:
                if self.hang:
                    await pause(None)
                else:
                    return response
        except ConnectionError:
            return response  # the client went away mid-body
        if request.transport is not None:
            request.transport.close()
        return response


@dataclass(frozen=True)
class _Slow:
    """Think for `delay` seconds after the request arrives, then answer as `inner` does."""

    inner: _Route
    delay: float

    async def __call__(self, request: web.BaseRequest, pause: Pause) -> web.StreamResponse | None:
        if await pause(self.delay):
            return None
        return await self.inner(request, pause)


async def _stall(request: web.BaseRequest, pause: Pause) -> None:
    """Accept the request and say nothing until the server stops."""
    await pause(None)


@dataclass
class _PostRecorder:
    status: int
    posts: list[Post]
    lock: threading.Lock

    async def __call__(self, request: web.BaseRequest, pause: Pause) -> web.StreamResponse:
        if request.method != "POST":
            return web.Response(status=405, headers={"Allow": "POST"})
        body = await request.read()
        form = {}
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = {k: str(v) for k, v in (await request.post()).items()}
        with self.lock:
            self.posts.append(Post(request.path, form, body, request.content_type))
        return web.Response(status=self.status)


class FeedServer:
    """A loopback HTTP/1.1 server for feeds and misbehaviour; see the module docstring."""

    def __init__(self, *, shutdown_timeout: float = 2.0) -> None:
        self._shutdown_timeout = shutdown_timeout
        self._routes: dict[str, _Route] = {}
        self._log: list[RequestRecord] = []
        self._posts: list[Post] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.ServerRunner | None = None
        self._stopping: asyncio.Event | None = None
        self._port: int | None = None

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind an ephemeral port on 127.0.0.1 and serve from a background thread."""
        if self._thread is not None:
            raise RuntimeError("FeedServer is already started")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="FeedServer", daemon=True
        )
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        """Stop serving: end stalls and trickles, close connections, join the thread."""
        if self._loop is None or self._thread is None:
            return
        try:
            timeout = self._shutdown_timeout + 5
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()
            self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        server = web.Server(self._dispatch, access_log=None)
        self._runner = web.ServerRunner(server, shutdown_timeout=self._shutdown_timeout)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, backlog=2048).start()

    async def _shutdown(self) -> None:
        assert self._stopping is not None and self._runner is not None
        self._stopping.set()  # wakes stalls and trickles
        await asyncio.sleep(0)
        assert self._runner.server is not None
        for connection in self._runner.server.connections:
            if connection.transport is not None:  # unblock writers stuck on a non-reading client
                connection.transport.abort()
        await self._runner.cleanup()

    async def _pause(self, seconds: float | None) -> bool:
        """Sleep `seconds` (None: forever); return True early if the server is stopping."""
        assert self._stopping is not None
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        headers = {
            name: request.headers[name] for name in LOGGED_HEADERS if name in request.headers
        }
        record = RequestRecord(
            request.method, request.path, request.query_string, headers, time.monotonic()
        )
        with self._lock:
            self._log.append(record)
        route = self._routes.get(request.path)
        if route is None:
            response = web.Response(status=404, text="not found\n")
        else:
            response = await route(request, self._pause)
        if response is None:  # drop the connection; the response below is never written
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        record.status = response.status
        return response

    # -- addresses --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (only after `start`)."""
        if self._port is None:
            raise RuntimeError("FeedServer is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str, *, host: str = "127.0.0.1") -> str:
        """Absolute URL of `path`; pass host="localhost" for a second name of this server."""
        return f"http://{host}:{self.port}{_slash(path)}"

    # -- feeds ------------------------------------------------------------------------------

    def add(
        self,
        path: str,
        body: bytes,
        content_type: str = RSS,
        *,
        etag: bool = True,
        weak_etag: bool = False,
        last_modified: bool | datetime = True,
        validators_on_304: bool = True,
        compress: bool | Sequence[str] = False,
        headers: Mapping[str, str] | None = None,
        status: int = 200,
    ) -> str:
        """Serve `body` at `path` with conditional GET; return its URL.

        ETag is a content hash (`W/`-prefixed if weak_etag); Last-Modified is now, or the given
        aware datetime. validators_on_304=False sends 304s without ETag/Last-Modified. compress=True
        negotiates br then gzip from Accept-Encoding (or pass an order such as ("gzip",)).
        """
        if isinstance(last_modified, datetime):
            modified: datetime | None = _to_second(last_modified)
        else:
            modified = _now() if last_modified else None
        codings = ("br", "gzip") if compress is True else tuple(compress or ())
        self._routes[_slash(path)] = _Feed(
            body=body,
            content_type=content_type,
            opaque=_content_tag(body) if etag else "",
            weak=weak_etag,
            last_modified=modified,
            headers=dict(headers or {}),
            status=status,
            codings=codings,
            validators_on_304=validators_on_304,
        )
        return self.url(path)

    def replace(self, path: str, body: bytes, *, last_modified: datetime | None = None) -> str:
        """Change a feed's body (keeping its options); Last-Modified moves forward by >= 1 s."""
        old = self._routes.get(_slash(path))
        if not isinstance(old, _Feed):
            raise KeyError(f"{path!r} is not a feed added with add()")
        modified = None
        if old.last_modified is not None:
            later = max(_now(), old.last_modified + timedelta(seconds=1))
            modified = _to_second(last_modified) if last_modified else later
        self._routes[_slash(path)] = dataclasses.replace(
            old, body=body, opaque=_content_tag(body) if old.opaque else "", last_modified=modified
        )
        return self.url(path)

    def add_directory(
        self,
        directory: str | Path,
        prefix: str = "/",
        *,
        copies: int = 1,
        pattern: str = "*",
        content_type: str | None = None,
        **options: Any,
    ) -> list[str]:
        """Serve each file in `directory` at prefix + name; return the URLs.

        With copies=N the files appear N times, under prefix + "<i>/" + name for i in 0..N-1,
        sharing one body in memory. `options` are those of `add`; the content type defaults
        by suffix (.xml -> application/xml, .json -> application/feed+json).
        """
        prefix = _slash(prefix).rstrip("/") + "/"
        prefixes = [prefix] if copies == 1 else [f"{prefix}{i}/" for i in range(copies)]
        urls = []
        for file in sorted(Path(directory).glob(pattern)):
            if not file.is_file():
                continue
            ctype = content_type or _SUFFIX_TYPES.get(file.suffix, "application/octet-stream")
            first = prefixes[0] + file.name
            urls.append(self.add(first, file.read_bytes(), ctype, **options))
            for other in prefixes[1:]:
                self._routes[other + file.name] = self._routes[first]
                urls.append(self.url(other + file.name))
        return urls

    # -- redirects and errors ---------------------------------------------------------------

    def redirect(self, path: str, target: str, status: int = 301) -> str:
        """Answer `path` with `status` and `Location: target` (sent verbatim: relative or absolute)."""
        if status not in (301, 302, 303, 307, 308):
            raise ValueError(f"redirect status must be 301, 302, 303, 307 or 308, not {status}")
        self._routes[_slash(path)] = _Redirect(target, status)
        return self.url(path)

    def redirect_loop(self, *paths: str, status: int = 302) -> str:
        """Redirect each path to the next and the last back to the first; return the first URL."""
        if not paths:
            raise ValueError("redirect_loop needs at least one path")
        for here, there in zip(paths, paths[1:] + paths[:1], strict=True):
            self.redirect(here, _slash(there), status)
        return self.url(paths[0])

    def status(
        self,
        path: str,
        code: int,
        *,
        retry_after: int | datetime | str | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        content_type: str = "text/plain; charset=utf-8",
    ) -> str:
        """Answer `path` with `code` (410, 404, 500, 429, 503 ...), optionally with Retry-After.

        retry_after: seconds (int), an aware datetime (sent as an HTTP-date) or a raw string.
        """
        extra = dict(headers or {})
        if isinstance(retry_after, datetime):
            extra["Retry-After"] = http_date(retry_after)
        elif retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        return self.add(
            path, body, content_type, etag=False, last_modified=False, headers=extra, status=code
        )

    # -- hostile ----------------------------------------------------------------------------

    def stall(self, path: str, *, send_headers: bool = False) -> str:
        """Accept and then say nothing (or only a 200 status line and headers) until stop()."""
        if send_headers:
            self._routes[_slash(path)] = _Stream(lambda: (), {"Content-Type": RSS}, hang=True)
        else:
            self._routes[_slash(path)] = _stall
        return self.url(path)

    def trickle(self, path: str, body: bytes, *, interval: float = 0.5, chunk_size: int = 1) -> str:
        """Send `body` `chunk_size` bytes at a time, `interval` seconds apart (Content-Length set)."""
        chunks = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
        self._routes[_slash(path)] = _Stream(
            lambda: chunks, {"Content-Type": RSS}, len(body), interval=interval
        )
        return self.url(path)

    def slow(self, path: str, body: bytes, *, delay: float, **options: Any) -> str:
        """Serve `body` as `add` does (with its `options`), `delay` seconds after each request."""
        url = self.add(path, body, **options)
        self._routes[_slash(path)] = _Slow(self._routes[_slash(path)], delay)
        return url

    def stream(
        self,
        path: str,
        chunks: Callable[[], Iterable[bytes]],
        *,
        content_type: str = RSS,
        content_length: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Stream a fresh `chunks()` per request (chunked unless content_length is given)."""
        self._routes[_slash(path)] = _Stream(
            chunks, {"Content-Type": content_type, **(headers or {})}, content_length
        )
        return self.url(path)

    def oversized(self, path: str, size: int = 100 * bombs.MIB, *, declare: bool = True) -> str:
        """Stream `size` bytes of valid-looking RSS without holding them (declare: Content-Length)."""
        return self.stream(
            path, lambda: bombs.xml_flood(size), content_length=size if declare else None
        )

    def gzip_bomb(self, path: str, inflated: int = bombs.GIB) -> str:
        """Serve ~1 MB with Content-Encoding: gzip that inflates to >= `inflated` bytes."""
        return self._encoded_bomb(path, bombs.gzip_bomb(inflated), "gzip")

    def brotli_bomb(self, path: str, inflated: int = bombs.GIB) -> str:
        """Serve ~200 KB with Content-Encoding: br that inflates to >= `inflated` bytes."""
        return self._encoded_bomb(path, bombs.brotli_bomb(inflated), "br")

    def _encoded_bomb(self, path: str, body: bytes, coding: str) -> str:
        return self.add(path, body, RSS, etag=False, headers={"Content-Encoding": coding})

    def wrong_charset(self, path: str) -> str:
        """Serve windows-1252 bytes labelled `charset=utf-8` (see bombs.WRONG_CHARSET_FEED)."""
        return self.add(path, bombs.WRONG_CHARSET_FEED, "application/rss+xml; charset=utf-8")

    def discovery_page(
        self,
        path: str,
        feed_href: str,
        *,
        feed_type: str = "application/rss+xml",
        title: str = "Site",
    ) -> str:
        """Serve an HTML page whose <head> has <link rel="alternate" type=... href=feed_href>."""
        page = (
            f"<!DOCTYPE html>\n<html><head><title>{html.escape(title)}</title>\n"
            f'<link rel="alternate" type="{html.escape(feed_type)}" title="{html.escape(title)}"'
            f' href="{html.escape(feed_href)}">\n</head><body><p>Hello.</p></body></html>\n'
        )
        return self.add(path, page.encode(), "text/html; charset=utf-8")

    # -- WebSub hub stub --------------------------------------------------------------------

    def record_posts(self, path: str, status: int = 202) -> str:
        """Accept POSTs at `path`, store each body (and parsed form) and answer `status`."""
        self._routes[_slash(path)] = _PostRecorder(status, self._posts, self._lock)
        return self.url(path)

    def posts(self, path: str | None = None) -> list[Post]:
        """POST bodies received so far (optionally for one path), oldest first."""
        with self._lock:
            return [p for p in self._posts if path is None or p.path == _slash(path)]

    # -- request log ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._log)

    def requests_for(self, path: str) -> list[RequestRecord]:
        return [r for r in self.requests if r.path == _slash(path)]

    def statuses(self, path: str) -> list[int | None]:
        """Statuses answered at `path`, oldest first (None: no response was sent)."""
        return [r.status for r in self.requests_for(path)]

    def clear_log(self) -> None:
        """Forget the recorded requests and posts."""
        with self._lock:
            self._log.clear()
            self._posts.clear()


def _slash(path: str) -> str:
    return path if path.startswith("/") else "/" + path


def _to_second(moment: datetime) -> datetime:
    """An aware datetime in UTC, truncated to whole seconds as HTTP dates are."""
    if moment.tzinfo is None:
        raise ValueError("last_modified must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0)


def _now() -> datetime:
    return _to_second(datetime.now(UTC))


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A started FeedServer, stopped after the test."""
    with FeedServer() as server:
        yield server
