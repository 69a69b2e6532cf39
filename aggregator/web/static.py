"""Serve the published folder (feeds, tag feeds, digest archive) like a static file server.

Each file is read once per version and held in memory with its gzip and brotli forms (compressed
once, in a worker thread), its ETag and its ready-made response headers, so a request costs a
dictionary look-up and no filesystem work. Whether a file changed is checked with one ``stat``
at most once per second per file, since the publisher may run in another process; a write by the
publisher in this process (``atomic.generation``) is seen at once. ``index.html`` answers for
folders, ``..`` and symlinks out of the folder are refused, and conditional requests get 304s.
Atom and RSS feeds go to a browser (an Accept header of HTML naming no feed type) as
``application/xml``, the one way Chromium applies their XSL stylesheet; readers get their own
media types.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import mimetypes
import os
import stat
import time
from collections import OrderedDict
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from functools import lru_cache
from pathlib import Path

import brotli
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, RedirectResponse
from starlette.types import Receive, Scope, Send

from aggregator.publish import atomic
from aggregator.publish.formats import FEED_SUFFIXES, FORMATS
from aggregator.publish.websub import link_header, topic_url
from aggregator.web.security import FEED_CSP, PUBLIC_CSP

MEDIA_TYPES = {f".{f.suffix}": f.content_type for f in FORMATS} | {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".xsl": "application/xslt+xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
STYLED_SUFFIXES = tuple(f".{f.suffix}" for f in FORMATS if f.styled)
"""Feeds that name the XSL stylesheet: a browser is sent them as ``PAGE_MEDIA_TYPE``."""
PAGE_MEDIA_TYPE = MEDIA_TYPES[".xml"]
_STYLED_TYPES = tuple(f.media_type for f in FORMATS if f.styled)
CACHE_CONTROL = "public, max-age=300"
"""Feeds change after each poll; five minutes keeps readers current while ETags make checks cheap."""
RECHECK_SECONDS = 1.0
"""How stale a file held in memory may be when another process rewrote it."""
MIN_COMPRESS_BYTES = 256
MAX_FILE_BYTES = 16 * 1024 * 1024
"""Bigger files are streamed from disk, uncompressed, rather than held."""
MEMORY_BUDGET_BYTES = 128 * 1024 * 1024
"""Files held beyond this are dropped, oldest first (a dropped file is read again when asked)."""
BROTLI_QUALITY = 9
"""Within 2% of gzip's time at level 9 per file version and 10% smaller; 11 is 15 times slower."""

_Headers = list[tuple[bytes, bytes]]


class _FolderRedirect(Exception):
    """A folder was asked for without its trailing slash."""


@dataclass(slots=True)
class _Variant:
    """One encoding of a file: its body and the headers of a 200 and of a 304 answer."""

    body: bytes
    headers: _Headers
    not_modified: _Headers


@dataclass(slots=True)
class _File:
    """A file held in memory with every encoding it is served in."""

    identity: tuple[int, int, int, int]
    """(device, inode, mtime ns, size): a rename over the file or a rewrite changes it."""
    etag: str
    mtime: float
    variants: dict[str, _Variant]
    size: int
    """Bytes held, every encoding counted."""
    pages: dict[str, _Variant] | None = None
    """A styled feed's encodings as sent to a browser (same bodies, ``PAGE_MEDIA_TYPE``)."""
    checked: float = 0.0
    """When the file on disk was last compared (``time.monotonic``)."""
    generation: int = -1
    """``atomic.generation`` at that time."""


def _media_type(name: str) -> str:
    suffix = os.path.splitext(name)[1].lower()
    if suffix in MEDIA_TYPES:
        return MEDIA_TYPES[suffix]
    guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def _compressible(media_type: str) -> bool:
    return media_type.startswith("text/") or any(
        word in media_type for word in ("xml", "json", "javascript", "svg")
    )


@lru_cache(maxsize=512)
def _choose_encoding(accept_encoding: str) -> tuple[str, ...]:
    """The encodings the client takes, best first (``br``, ``gzip``), from Accept-Encoding."""
    quality: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        name, _, params = part.partition(";")
        value = 1.0
        if params.strip().startswith("q="):
            try:
                value = float(params.strip()[2:])
            except ValueError:
                value = 0.0
        quality[name.strip()] = value
    star = quality.get("*", 0.0)
    accepted = [e for e in ("br", "gzip") if quality.get(e, star) > 0]
    return tuple(sorted(accepted, key=lambda e: -quality.get(e, star)))


@lru_cache(maxsize=512)
def _is_browser(accept: str) -> bool:
    """Whether an Accept header is a browser's page request (HTML first, no feed type named),
    rather than a feed reader's (readers name the feed types, or take anything)."""
    accept = accept.lower()
    return "text/html" in accept and not any(t in accept for t in _STYLED_TYPES)


@lru_cache(maxsize=512)
def _http_date(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, OverflowError):
        return None


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2): ``W/`` prefixes do not count."""
    return any(
        tag.strip().removeprefix("W/") in (etag, "*") for tag in header.split(",") if tag.strip()
    )


def _variants(
    encoded: dict[str, bytes], media_type: str, etag: str, common: _Headers
) -> dict[str, _Variant]:
    """Each encoding worth sending (smaller than the file) with its 200 and 304 headers."""
    body = encoded["identity"]
    variants = {}
    for encoding, data in encoded.items():
        if len(data) >= len(body) and encoding != "identity":
            continue
        tag = etag if encoding == "identity" else f"W/{etag}"
        not_modified = [*common, (b"etag", tag.encode())]
        headers = [
            *not_modified,
            (b"content-type", media_type.encode()),
            (b"content-length", str(len(data)).encode()),
        ]
        if encoding != "identity":
            headers.append((b"content-encoding", encoding.encode()))
        variants[encoding] = _Variant(data, headers, not_modified)
    return variants


class PublicFiles:
    """The ASGI app serving one folder from memory, with feed media types and public headers.

    With a WebSub hub configured, feeds carry ``Link: <hub>; rel="hub", <self>; rel="self"``.
    """

    def __init__(self, directory: Path, *, hub_url: str | None = None, base_url: str = "") -> None:
        self.root = os.path.realpath(directory)
        self.hub_url = hub_url
        self.base_url = base_url
        self._files: OrderedDict[str, _File] = OrderedDict()
        self._held = 0
        self._loading: dict[str, asyncio.Future[_File | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            raise HTTPException(status_code=405, headers={"Allow": "GET, HEAD"})
        key = self._key(scope)
        held = self._files.get(key)
        if (
            held is None
            or held.generation != atomic.generation
            or time.monotonic() - held.checked > RECHECK_SECONDS
        ):
            try:
                held = await self._refresh(key)
                if held is None:
                    return await self._not_held(key, scope, receive, send)
            except _FolderRedirect:
                url = URL(scope=scope)
                return await RedirectResponse(url.replace(path=url.path + "/"))(
                    scope, receive, send
                )
        status, headers, body = self._answer(held, scope)
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})

    @staticmethod
    def _key(scope: Scope) -> str:
        """The request path relative to the folder, normalised; ``..`` anywhere is refused."""
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        parts = [p for p in path.split("/") if p and p != "."]
        if ".." in parts or "\x00" in path:
            raise HTTPException(status_code=404)
        return "/".join(parts) + ("/" if path.endswith("/") and parts else "")

    def _answer(self, held: _File, scope: Scope) -> tuple[int, _Headers, bytes]:
        """Pick the encoding, then answer 304 when the client's copy is current."""
        accept, if_none_match, if_modified_since, wanted = "", None, None, ""
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value.decode("latin-1")
            elif name == b"accept":
                wanted = value.decode("latin-1")
            elif name == b"if-none-match":
                if_none_match = value.decode("latin-1")
            elif name == b"if-modified-since":
                if_modified_since = value.decode("latin-1")
        variants = held.pages if held.pages and _is_browser(wanted) else held.variants
        variant = variants["identity"]
        for encoding in _choose_encoding(accept) if accept else ():
            if encoding in variants:
                variant = variants[encoding]
                break
        if if_none_match is not None:
            fresh = _etag_matches(if_none_match, held.etag)
        else:
            since = _http_date(if_modified_since) if if_modified_since else None
            fresh = since is not None and int(held.mtime) <= since
        if fresh:
            return 304, variant.not_modified, b""
        return 200, variant.headers, variant.body

    async def _refresh(self, key: str) -> _File | None:
        """The file for ``key`` as it is on disk now: the held one if unchanged, else read again."""
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_File | None] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            held = await self._check(key)
            future.set_result(held)
            return held
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: awaiting requests get it, the loop does not log it
            raise
        finally:
            del self._loading[key]

    async def _check(self, key: str) -> _File | None:
        generation, now = atomic.generation, time.monotonic()
        path, status = self._locate(key)
        held = self._files.get(key)
        if path is None or status is None:
            self._drop(key)
            return None
        if held is not None and held.identity == _identity(status):
            held.checked, held.generation = now, generation
            return held
        self._drop(key)
        if status.st_size > MAX_FILE_BYTES:
            return None
        loaded = await run_in_threadpool(self._load, path)
        if loaded is None:
            return None
        loaded.checked, loaded.generation = now, generation
        self._hold(key, loaded)
        return loaded

    def _locate(self, key: str) -> tuple[str | None, os.stat_result | None]:
        """The real path and status of the file ``key`` names (a folder's ``index.html``).

        A folder asked for without its trailing slash raises ``_FolderRedirect``.
        """
        path = os.path.realpath(os.path.join(self.root, key))
        if os.path.commonpath([path, self.root]) != self.root:
            return None, None
        try:
            status = os.stat(path)
            if stat.S_ISDIR(status.st_mode):
                index = os.path.join(path, "index.html")
                status = os.stat(index)
                if key and not key.endswith("/") and stat.S_ISREG(status.st_mode):
                    raise _FolderRedirect
                path = index
        except (OSError, ValueError):
            return None, None
        return (path, status) if stat.S_ISREG(status.st_mode) else (None, None)

    def _load(self, path: str) -> _File | None:
        """Read a file and build every encoding and its headers (runs in a worker thread)."""
        try:
            with open(path, "rb") as handle:
                status = os.fstat(handle.fileno())
                body = handle.read()
        except OSError:
            return None
        etag = f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
        media_type = _media_type(path)
        styled = path.endswith(STYLED_SUFFIXES)
        common = [
            (b"cache-control", CACHE_CONTROL.encode()),
            (b"content-security-policy", (FEED_CSP if styled else PUBLIC_CSP).encode()),
            (b"vary", b"Accept-Encoding, Accept" if styled else b"Accept-Encoding"),
            (b"last-modified", formatdate(status.st_mtime, usegmt=True).encode()),
        ]
        if self.hub_url and path.endswith(FEED_SUFFIXES):
            relative = Path(path).relative_to(self.root)
            self_url = topic_url(self.base_url, relative)
            common.append((b"link", link_header(self.hub_url, self_url).encode()))
        encoded = {"identity": body}
        if len(body) >= MIN_COMPRESS_BYTES and _compressible(media_type):
            encoded["gzip"] = gzip.compress(body, 9, mtime=0)
            encoded["br"] = brotli.compress(body, quality=BROTLI_QUALITY, mode=brotli.MODE_TEXT)
        variants = _variants(encoded, media_type, etag, common)
        pages = _variants(encoded, PAGE_MEDIA_TYPE, etag, common) if styled else None
        size = sum(len(v.body) for v in variants.values())
        return _File(_identity(status), etag, status.st_mtime, variants, size, pages)

    def _hold(self, key: str, held: _File) -> None:
        self._files[key] = held
        self._held += held.size
        while self._held > MEMORY_BUDGET_BYTES and len(self._files) > 1:
            self._drop(next(iter(self._files)))

    def _drop(self, key: str) -> None:
        held = self._files.pop(key, None)
        if held is not None:
            self._held -= held.size

    async def _not_held(self, key: str, scope: Scope, receive: Receive, send: Send) -> None:
        """A file too big to hold is streamed from disk; anything else is a 404."""
        path, status = self._locate(key)
        if path is None or status is None:
            raise HTTPException(status_code=404)
        headers = {"Cache-Control": CACHE_CONTROL, "Content-Security-Policy": PUBLIC_CSP}
        response = FileResponse(
            path, stat_result=status, media_type=_media_type(path), headers=headers
        )
        await response(scope, receive, send)


def _identity(status: os.stat_result) -> tuple[int, int, int, int]:
    return (status.st_dev, status.st_ino, status.st_mtime_ns, status.st_size)


def public_app(directory: Path, *, hub_url: str | None = None, base_url: str = "") -> PublicFiles:
    """The ASGI app serving ``directory`` (created if missing, since publishing may come later)."""
    directory.mkdir(parents=True, exist_ok=True)
    return PublicFiles(directory, hub_url=hub_url, base_url=base_url)
