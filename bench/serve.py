"""Serving the published feed: the old handler against the in-memory one, side by side in one run.

    .venv/bin/python bench/serve.py [--seconds 5] [--rounds 3] [--connections 50]

Set-up, not timed: a site in a temporary folder (SQLite) stores 12 feeds of the real-feed corpus
and publishes them, so ``public/feed.atom`` is what the publisher writes (50 entries). Then the
whole web app (``create_app``: routing and security headers included) is served by uvicorn in a
child process, one server at a time on loopback, in four set-ups:

* **before**: the old handler (Starlette's ``StaticFiles`` with the feed headers, its
  ``GZipMiddleware`` compressing every response, weak ETags) on uvicorn without extras (h11 and
  the asyncio loop), as shipped before;
* **before, uvicorn[standard]**: the same handler on httptools and uvloop;
* **after, plain uvicorn** and **after**: ``aggregator.web.static`` on each.

``wrk`` (Debian package ``wrk``; else an aiohttp client) sends ``GET /feed.atom`` for
``--seconds`` over ``--connections`` connections: with ``Accept-Encoding: gzip`` (a 200), and
with the ETag that answer carried in ``If-None-Match`` (a 304). Each answer is checked first.
Rounds alternate the set-ups; the table shows the median requests/s and the ratio to "before"
(goals: 3x with gzip, 1.5x on 304s). The client shares the cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPMessage
from pathlib import Path

import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from starlette.datastructures import MutableHeaders  # noqa: E402
from starlette.middleware.gzip import GZipMiddleware  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.routing import Mount  # noqa: E402
from starlette.staticfiles import StaticFiles  # noqa: E402
from starlette.types import ASGIApp, Message, Receive, Scope, Send  # noqa: E402

from aggregator.app import App  # noqa: E402
from aggregator.config import from_mapping  # noqa: E402
from aggregator.ingest.parse import parse_feed  # noqa: E402
from aggregator.model.entry import FeedParseError  # noqa: E402
from aggregator.publish.publisher import publish  # noqa: E402
from aggregator.store.items import store_entries  # noqa: E402
from aggregator.store.models import Source  # noqa: E402
from aggregator.web.app import create_app  # noqa: E402
from aggregator.web.security import PUBLIC_CSP  # noqa: E402
from aggregator.web.static import CACHE_CONTROL, MEDIA_TYPES  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "real-feeds"
FEEDS = 12
SETUPS = {
    "before": ("old", "h11", "asyncio"),
    "before, uvicorn[standard]": ("old", "httptools", "uvloop"),
    "after, plain uvicorn": ("new", "h11", "asyncio"),
    "after": ("new", "httptools", "uvloop"),
}
CASES = ("gzip 200", "304")


class OldPublicFiles(StaticFiles):
    """The handler as shipped before: StaticFiles plus the feed media type and public headers."""

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
        media_type = MEDIA_TYPES.get(Path(full_path).suffix.lower())
        if media_type and response.status_code != 304:
            response.headers["Content-Type"] = media_type
        return response


class OldWeakETag:
    """As shipped before: a gzipped answer's ETag becomes weak."""

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


def site(root: Path) -> App:
    """The site rooted in ``root`` (SQLite and ``public/`` inside it)."""
    os.environ.setdefault("AGGREGATOR_BENCH_SECRET", "bench only")
    settings = from_mapping(
        {
            "general": {"base_url": "http://127.0.0.1:8080"},
            "web": {"secret_env": "AGGREGATOR_BENCH_SECRET"},
        },
        root=root,
        origin="bench",
    )
    return App(settings)


def publish_corpus(app: App) -> Path:
    """Store the first ``FEEDS`` readable corpus feeds and publish; the feed's path."""
    stored, now = 0, datetime.now(UTC)
    with app.db.session() as session:
        for path in sorted(CORPUS.glob("*.xml")):
            try:
                parsed = parse_feed(path.read_bytes(), path.as_uri())
            except FeedParseError:
                continue
            source = Source(url=path.as_uri(), name=path.stem)
            session.add(source)
            session.flush()
            store_entries(session, source, parsed.entries, now)
            stored += 1
            if stored == FEEDS:
                break
    publish(app.db, app.settings)
    return app.settings.public_dir / "feed.atom"


def serve(root: Path, handler: str, http: str, loop: str, port: int) -> None:
    """Child process: serve the site in ``root`` with the chosen handler until killed."""
    app = site(root)
    web = create_app(app)
    if handler == "old":
        mount = next(r for r in web.routes if isinstance(r, Mount) and r.path == "")
        files = OldPublicFiles(directory=app.settings.public_dir, html=True)
        mount.app = OldWeakETag(GZipMiddleware(files, minimum_size=500))
    uvicorn.run(web, host="127.0.0.1", port=port, http=http, loop=loop, log_level="warning")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, headers: dict[str, str]) -> tuple[int, HTTPMessage, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:  # a 304 arrives as an HTTPError
        return exc.code, exc.headers, exc.read()


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def start(root: Path, setup: str) -> Server:
    port = free_port()
    handler, http, loop = SETUPS[setup]
    args = [sys.executable, __file__, "--serve", str(root), handler, http, loop, str(port)]
    process = subprocess.Popen(args)
    url = f"http://127.0.0.1:{port}/feed.atom"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            fetch(url, {})
            return Server(process, url)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{setup}: the server did not start")


def case_headers(server: Server, case: str, feed: bytes) -> dict[str, str]:
    """The request headers of ``case``, checked against one answer of the server."""
    status, headers, body = fetch(server.url, {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip", (status, headers)
    assert gzip.decompress(body) == feed, "the gzip answer is not the published feed"
    if case == "gzip 200":
        return {"Accept-Encoding": "gzip"}
    conditional = {"Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]}
    status, _, body = fetch(server.url, conditional)
    assert status == 304 and body == b"", status
    return conditional


def load(url: str, headers: dict[str, str], seconds: int, connections: int) -> float:
    """Requests/s that ``wrk`` (else an aiohttp client) reaches on ``url``."""
    if shutil.which("wrk"):
        args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
        args += [arg for k, v in headers.items() for arg in ("-H", f"{k}: {v}")]
        out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
        if "Non-2xx" in out:
            raise RuntimeError(f"wrk saw errors:\n{out}")
        match = re.search(r"Requests/sec:\s+([\d.]+)", out)
        assert match, out
        return float(match.group(1))
    return asyncio.run(_aiohttp_load(url, headers, seconds, connections))


async def _aiohttp_load(url: str, headers: dict[str, str], seconds: float, workers: int) -> float:
    import aiohttp

    done = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=workers)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    assert response.status in (200, 304), response.status
                done += 1

        await asyncio.gather(*(worker() for _ in range(workers)))
    return done / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    results: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        feed = publish_corpus(site(root)).read_bytes()
        print(f"feed.atom: {len(feed):,} bytes, {len(gzip.compress(feed)):,} gzipped")
        for round_ in range(args.rounds):
            for setup in SETUPS:
                server = start(root, setup)
                try:
                    for case in CASES:
                        headers = case_headers(server, case, feed)
                        rate = load(server.url, headers, args.seconds, args.connections)
                        results.setdefault((setup, case), []).append(rate)
                        print(f"round {round_ + 1} {setup:<26} {case:<8} {rate:8.0f} req/s")
                finally:
                    server.stop()
    print()
    print("| GET /feed.atom | " + " | ".join(f"{c} (req/s)" for c in CASES) + " |")
    print("|---|" + "---|" * len(CASES))
    for setup in SETUPS:
        cells = []
        for case in CASES:
            rate = statistics.median(results[setup, case])
            ratio = rate / statistics.median(results["before", case])
            cells.append(f"{rate:,.0f} ({ratio:.1f}x)")
        print(f"| {setup} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--serve":
        root_arg, handler_arg, http_arg, loop_arg, port_arg = sys.argv[2:7]
        serve(Path(root_arg), handler_arg, http_arg, loop_arg, int(port_arg))
    else:
        main()
