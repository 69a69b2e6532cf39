"""Serve the published folder (feeds, tag feeds, digest archive) with caching and gzip.

Starlette's StaticFiles brings ETag / Last-Modified, 304 answers to conditional requests, HEAD,
``index.html`` for folders, and refuses paths that leave the folder (``..``, symlinks out).
This adds the feed media types, cache headers, the public pages' CSP, and gzip with weak ETags.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aggregator.publish.websub import link_header, topic_url
from aggregator.web.security import PUBLIC_CSP

MEDIA_TYPES = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
CACHE_CONTROL = "public, max-age=300"
"""Feeds change after each poll; five minutes keeps readers current while ETags make checks cheap."""


FEED_SUFFIXES = (".atom", ".rss", ".json")


class PublicFiles(StaticFiles):
    """StaticFiles with feed media types and public-page headers.

    With a WebSub hub configured, feeds carry ``Link: <hub>; rel="hub", <self>; rel="self"``.
    """

    def __init__(self, *, directory: Path, hub_url: str | None = None, base_url: str = "") -> None:
        super().__init__(directory=directory, html=True, follow_symlink=False)
        self.root = directory.resolve()
        self.hub_url = hub_url
        self.base_url = base_url

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = CACHE_CONTROL
        response.headers["Content-Security-Policy"] = PUBLIC_CSP
        response.headers["Vary"] = "Accept-Encoding"
        suffix = Path(full_path).suffix.lower()
        media_type = MEDIA_TYPES.get(suffix)
        if media_type and response.status_code != 304:
            response.headers["Content-Type"] = media_type
        if self.hub_url and suffix in FEED_SUFFIXES:
            relative = Path(full_path).resolve().relative_to(self.root)
            response.headers["Link"] = link_header(self.hub_url, topic_url(self.base_url, relative))
        return response


class _WeakETagWhenEncoded:
    """A gzipped body is a different representation, so its ETag becomes weak (as nginx does).

    Starlette compares If-None-Match ignoring the ``W/`` prefix, so 304s keep working.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def weaken(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                etag = headers.get("etag")
                if etag and "content-encoding" in headers and not etag.startswith("W/"):
                    headers["ETag"] = f"W/{etag}"
            await send(message)

        await self.app(scope, receive, weaken)


def public_app(directory: Path, *, hub_url: str | None = None, base_url: str = "") -> ASGIApp:
    """The ASGI app serving ``directory`` (created if missing, since publishing may come later)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = PublicFiles(directory=directory, hub_url=hub_url, base_url=base_url)
    return _WeakETagWhenEncoded(GZipMiddleware(files, minimum_size=500))
