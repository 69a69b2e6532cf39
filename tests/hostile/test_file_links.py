"""A ``file:`` feed named by anything but the operator (a saved web page, an OPML list) is read
only inside ``fetch.file_folders``: refused before it is opened, with an error that is the same
whether the file exists or not."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from aggregator.config import from_mapping
from aggregator.ingest.discover import find_feed
from aggregator.ingest.fetch import Fetcher, FetchError
from aggregator.model.entry import FeedParseError
from tests.cli import ok, one_line_error, run_cli_all
from tests.support.feedserver import rss_feed


def _page(folder: Path, name: str, href: str) -> Path:
    page = folder / name
    page.write_text(
        "<!DOCTYPE html><html><head><title>Saved</title>"
        f'<link rel="alternate" type="application/rss+xml" href="{href}"></head>'
        "<body>saved page</body></html>"
    )
    return page


def _discover(page: Path, folders: list[Path]) -> str:
    settings = from_mapping({}, root=page.parent, origin="test")

    async def go() -> str:
        async with Fetcher(settings.fetch, "test") as fetcher:
            try:
                return (await find_feed(fetcher, page.as_uri(), folders))[0]
            except (FetchError, FeedParseError) as exc:
                return f"error: {exc}"

    return asyncio.run(go())


@pytest.mark.parametrize("folders", [[], ["allowed"]])
def test_a_saved_page_cannot_name_a_file_outside_the_folders(
    tmp_path: Path, folders: list[str]
) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    secret = tmp_path / "secret.xml"
    secret.write_bytes(rss_feed("Secret"))
    resolved = [tmp_path / f for f in folders]
    existing = _discover(_page(tmp_path, "a.html", secret.as_uri()), resolved)
    missing = _discover(_page(tmp_path, "b.html", (tmp_path / "nothing.xml").as_uri()), resolved)
    assert existing.startswith("error: no advertised feed works")
    assert "refused" in existing and "Secret" not in existing
    # The same words whether the file is there or not: the answer probes nothing.
    assert existing.replace("secret", "X") == missing.replace("nothing", "X")
    for href in (
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "file://elsewhere/etc/passwd",
    ):
        answer = _discover(_page(tmp_path, "c.html", href), resolved)
        assert "refused" in answer and "root:" not in answer, answer
        assert "No such file" not in answer and "cannot read" not in answer


def test_a_saved_page_inside_the_folders_finds_its_feed(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss_feed("Local"))
    page = _page(tmp_path, "page.html", "feed.xml")  # relative to the page
    assert _discover(page, [tmp_path]) == feed.as_uri()
    symlink = tmp_path / "inside.xml"
    symlink.symlink_to("/etc/hostname")
    assert "refused" in _discover(_page(tmp_path, "s.html", "inside.xml"), [tmp_path])


@pytest.mark.slow
def test_sources_add_of_a_saved_page(make_config, tmp_path: Path) -> None:  # noqa: ANN001
    config = make_config()
    secret = tmp_path / "secret.xml"
    secret.write_bytes(rss_feed("Secret"))
    outside = _page(tmp_path, "outside.html", secret.as_uri())
    gone = _page(tmp_path, "gone.html", (tmp_path / "gone.xml").as_uri())
    direct = run_cli_all(
        config,
        ("sources", "add", str(outside)),
        ("sources", "add", str(gone)),
        ("sources", "add", str(secret)),
    )
    refused, missing, named = direct
    error = one_line_error(refused)
    assert "a file: URL, refused" in error and "Secret" not in error
    assert one_line_error(missing).replace("gone", "X") == error.replace("outside", "X").replace(
        "secret", "X"
    )
    # The operator naming the file itself may add it.
    assert "added source" in ok(named)
