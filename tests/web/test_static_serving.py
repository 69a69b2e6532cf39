"""The published folder served from memory: encodings, validators, and noticing new versions."""

from __future__ import annotations

import asyncio
import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import brotli
import pytest
from starlette.exceptions import HTTPException

from aggregator.publish.atomic import atomic_write
from aggregator.web import static
from aggregator.web.static import PublicFiles, public_app

ATOM = (
    b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'>"
    + (b"<entry><title>A story worth reading</title></entry>" * 80)
    + b"</feed>"
)


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k == name.lower()]
        assert len(found) <= 1, f"{name} sent {len(found)} times: {found}"
        return found[0] if found else None


async def ask(app: PublicFiles, path: str, method: str = "GET", **headers: str) -> Answer:
    """One request straight through the ASGI interface, as uvicorn makes it."""
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": b"",
        "scheme": "http",
        "server": ("127.0.0.1", 8080),
        "headers": [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()],
    }
    messages: list[dict] = []
    requested, answered = False, asyncio.Event()

    async def receive() -> dict:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    await app(scope, receive, send)
    start, body = messages[0], b"".join(m.get("body", b"") for m in messages[1:])
    headers_out = [(k.decode().lower(), v.decode()) for k, v in start["headers"]]
    return Answer(start["status"], headers_out, body)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    public = tmp_path / "public"
    atomic_write(public / "feed.atom", ATOM)
    atomic_write(public / "digests" / "daily" / "index.html", b"<!DOCTYPE html>" + b"x" * 600)
    atomic_write(public / "tiny.txt", b"small")
    return public


async def test_each_encoding_is_served_once_compressed_with_one_vary(folder: Path) -> None:
    app = public_app(folder)
    plain = await ask(app, "/feed.atom")
    packed = await ask(app, "/feed.atom", accept_encoding="gzip")
    best = await ask(app, "/feed.atom", accept_encoding="gzip, deflate, br, zstd")
    assert plain.body == ATOM and plain.header("content-encoding") is None
    assert gzip.decompress(packed.body) == ATOM and packed.header("content-encoding") == "gzip"
    assert brotli.decompress(best.body) == ATOM and best.header("content-encoding") == "br"
    assert len(best.body) < len(packed.body) < len(ATOM) / 4
    for answer in (plain, packed, best):
        assert answer.header("vary") == "Accept-Encoding, Accept"  # a browser gets application/xml
        assert answer.header("content-length") == str(len(answer.body))
        assert answer.header("content-type") == "application/atom+xml; charset=utf-8"
    assert packed.header("etag") == best.header("etag") == "W/" + (plain.header("etag") or "")


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        ("gzip;q=0, br;q=0", None),
        ("br;q=0.5, gzip", "gzip"),
        ("*", "br"),
        ("*;q=0, gzip", "gzip"),
        ("identity", None),
        ("br;q=nonsense, gzip;q=0.1", "gzip"),
    ],
)
async def test_accept_encoding_qualities_are_honoured(
    folder: Path, accept: str, encoding: str | None
) -> None:
    answer = await ask(public_app(folder), "/feed.atom", accept_encoding=accept)
    assert answer.header("content-encoding") == encoding


async def test_small_files_are_not_compressed(folder: Path) -> None:
    answer = await ask(public_app(folder), "/tiny.txt", accept_encoding="gzip, br")
    assert answer.body == b"small" and answer.header("content-encoding") is None
    assert answer.header("content-type") == "text/plain; charset=utf-8"


async def test_304_for_every_encoding_and_head_has_no_body(folder: Path) -> None:
    app = public_app(folder)
    first = await ask(app, "/feed.atom", accept_encoding="br")
    etag, modified = first.header("etag") or "", first.header("last-modified") or ""
    again = await ask(app, "/feed.atom", accept_encoding="br", if_none_match=etag)
    assert again.status == 304 and again.body == b"" and again.header("etag") == etag
    assert again.header("vary") == first.header("vary") == "Accept-Encoding, Accept"  # a feed
    strong = await ask(app, "/feed.atom", if_none_match=f'"other", {etag.removeprefix("W/")}')
    assert strong.status == 304
    assert (await ask(app, "/feed.atom", if_none_match='"other"')).status == 200
    assert (await ask(app, "/feed.atom", if_modified_since=modified)).status == 304
    head = await ask(app, "/feed.atom", "HEAD", accept_encoding="br")
    assert head.status == 200 and head.body == b""
    assert head.header("content-length") == str(len(first.body))


async def test_a_write_by_another_process_is_seen_within_a_second(folder: Path) -> None:
    """No filesystem work per request: a file replaced behind the server's back (no notice
    from a publisher in this process) is served from memory until the next check."""
    app = public_app(folder)
    path = folder / "feed.atom"
    old = await ask(app, "/feed.atom")
    replacement = folder / "new.tmp"
    replacement.write_bytes(ATOM + b"<!-- v2 -->")
    os.replace(replacement, path)  # as another process's publisher does
    held = await ask(app, "/feed.atom")
    assert held.body == ATOM and held.header("etag") == old.header("etag")
    await asyncio.sleep(static.RECHECK_SECONDS + 0.1)
    fresh = await ask(app, "/feed.atom", if_none_match=old.header("etag") or "")
    assert fresh.status == 200 and fresh.body.endswith(b"<!-- v2 -->")
    path.unlink()
    assert (await ask(app, "/feed.atom")).status == 200
    await asyncio.sleep(static.RECHECK_SECONDS + 0.1)
    with pytest.raises(HTTPException) as missing:
        await ask(app, "/feed.atom")
    assert missing.value.status_code == 404


async def test_a_write_by_the_publisher_in_this_process_is_seen_at_once(folder: Path) -> None:
    app = public_app(folder)
    await ask(app, "/feed.atom")
    atomic_write(folder / "feed.atom", ATOM + b"<!-- v2 -->")
    assert (await ask(app, "/feed.atom")).body.endswith(b"<!-- v2 -->")


async def test_folders_serve_their_index_and_redirect_without_the_slash(folder: Path) -> None:
    app = public_app(folder)
    page = await ask(app, "/digests/daily/")
    assert page.status == 200 and page.body.startswith(b"<!DOCTYPE html>")
    assert page.header("content-type") == "text/html; charset=utf-8"
    moved = await ask(app, "/digests/daily")
    assert (
        moved.status == 307 and moved.header("location") == "http://127.0.0.1:8080/digests/daily/"
    )
    with pytest.raises(HTTPException) as missing:
        await ask(app, "/digests/")  # a folder without an index
    assert missing.value.status_code == 404


async def test_other_methods_are_refused(folder: Path) -> None:
    with pytest.raises(HTTPException) as refused:
        await ask(public_app(folder), "/feed.atom", "POST")
    assert refused.value.status_code == 405


async def test_files_over_the_size_limit_are_streamed_from_disk(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(static, "MAX_FILE_BYTES", 1000)
    answer = await ask(public_app(folder), "/feed.atom", accept_encoding="gzip")
    assert answer.status == 200 and answer.body == ATOM
    assert answer.header("content-encoding") is None and answer.header("etag")


async def test_memory_budget_drops_the_oldest_file(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = public_app(folder)
    await ask(app, "/feed.atom")
    monkeypatch.setattr(static, "MEMORY_BUDGET_BYTES", app._files["feed.atom"].size + 100)
    await ask(app, "/digests/daily/")
    assert list(app._files) == ["digests/daily/"]
    assert (await ask(app, "/feed.atom")).body == ATOM  # read again when asked
