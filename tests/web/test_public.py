"""The public side of the app: the published folder, /healthz and /metrics."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aggregator.metrics import POLL_FAILURES, POLLS, record_poll
from aggregator.publish.atomic import atomic_write
from aggregator.store.models import Source
from aggregator.web.security import FEED_CSP, PUBLIC_CSP
from tests.web.conftest import Site

ATOM = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
    + (b"<entry><title>Story</title></entry>" * 60)
    + b"</feed>\n"
)
FILES = {
    "feed.atom": (ATOM, "application/atom+xml"),
    "feed.rss": (b"<rss version='2.0'><channel></channel></rss>", "application/rss+xml"),
    "feed.json": (
        b'{"version": "https://jsonfeed.org/version/1.1", "items": []}',
        "application/feed+json",
    ),
    "tags/ml.atom": (ATOM, "application/atom+xml"),
    "tags/ml.json": (b'{"items": []}', "application/feed+json"),
    "digests/daily/2025-03-01/index.html": (b"<!DOCTYPE html><title>Daily</title>", "text/html"),
    "index.html": (b"<!DOCTYPE html><title>Archive</title>", "text/html"),
}


@pytest.fixture
def public_site(site: Site) -> Site:
    public = site.app.settings.public_dir
    for name, (data, _) in FILES.items():
        path = public / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (site.app.settings.root / "secret.txt").write_text("do not serve")
    return site


@pytest.mark.parametrize("name", list(FILES))
def test_published_files_have_their_media_type_and_validators(public_site: Site, name: str) -> None:
    data, media_type = FILES[name]
    reply = public_site.client().get("/" + name)
    assert reply.status == 200 and reply.body == data
    assert reply.headers["Content-Type"].split(";")[0] == media_type
    assert reply.headers["ETag"] and reply.headers["Last-Modified"]
    styled = name.endswith((".atom", ".rss"))  # may load the XSL stylesheet, still no other script
    assert reply.headers["Content-Security-Policy"] == (FEED_CSP if styled else PUBLIC_CSP)
    assert reply.headers["X-Content-Type-Options"] == "nosniff"


def test_folder_serves_its_index(public_site: Site) -> None:
    assert public_site.client().get("/").body == FILES["index.html"][0]
    assert public_site.client().get("/digests/daily/2025-03-01/").body.startswith(b"<!DOCTYPE")


def test_the_digests_folder_leads_to_the_archive_index(public_site: Site) -> None:
    client = public_site.client()
    for path in ("/digests/", "/digests"):
        moved = client.get(path)
        assert moved.status == 301, (path, moved.status)
        assert moved.headers["Location"] == "/"
    assert client.get("/digests/daily/2025-03-01/").status == 200  # the pages stay where they are


def test_conditional_requests_get_304(public_site: Site) -> None:
    client = public_site.client()
    first = client.get("/feed.atom")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    again = client.get("/feed.atom", headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b"" and again.headers["ETag"] == etag
    assert client.get("/feed.atom", headers={"If-Modified-Since": modified}).status == 304
    path = public_site.app.settings.public_dir / "feed.atom"
    atomic_write(path, ATOM + b"<!-- changed -->")  # the publisher's writer: seen at once
    os.utime(path, (first_mtime := path.stat().st_mtime + 5, first_mtime))
    changed = client.get("/feed.atom", headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.body.endswith(b"<!-- changed -->")


def test_gzip_when_accepted_with_a_weak_etag_that_still_revalidates(public_site: Site) -> None:
    client = public_site.client()
    plain = client.get("/feed.atom")
    packed = client.get("/feed.atom", headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.body) == ATOM and len(packed.body) < len(ATOM) / 4
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert "Content-Encoding" not in plain.headers and "Accept-Encoding" in plain.headers["Vary"]
    assert packed.headers["ETag"] == "W/" + plain.headers["ETag"]
    revalidated = client.get(
        "/feed.atom",
        headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]},
    )
    assert revalidated.status == 304


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/tags/..%2f..%2fsecret.txt",
        "/tags/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/data/secret.key",
        "/%00feed.atom",
    ],
)
def test_path_traversal_is_refused(public_site: Site, path: str) -> None:
    reply = public_site.client().get(path)
    assert reply.status in (400, 404) and b"do not serve" not in reply.body


def test_symlink_out_of_the_folder_is_not_followed(public_site: Site) -> None:
    link = public_site.app.settings.public_dir / "leak.txt"
    link.symlink_to(public_site.app.settings.root / "secret.txt")
    reply = public_site.client().get("/leak.txt")
    assert reply.status == 404 and b"do not serve" not in reply.body


def test_missing_file_gets_the_styled_404(public_site: Site) -> None:
    reply = public_site.client().get("/nope.atom")
    assert reply.status == 404 and "Page not found" in reply.text


def test_healthz_checks_the_database(site: Site) -> None:
    reply = site.client().get("/healthz")
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/json"
    assert json.loads(reply.body) == {"status": "ok", "database": "ok"}
    if not site.app.db.is_sqlite:
        return
    site.app.db.engine.dispose()
    path = Path(site.app.db.engine.url.database)
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    path.mkdir()  # the database file is now a folder: every new connection fails
    reply = site.client().get("/healthz")
    body = json.loads(reply.body)
    assert (
        reply.status == 503 and body["status"] == "error" and "unable to open" in body["database"]
    )


def test_metrics_parse_and_count(site: Site) -> None:
    with site.app.db.session() as session:
        session.query(Source).filter(Source.name == "Alpha Weekly").one().consecutive_failures = 2
    polls, failures = POLLS._value.get(), POLL_FAILURES._value.get()  # noqa: SLF001
    record_poll(0.2, ok=True)
    record_poll(1.5, ok=False)
    reply = site.client().get("/metrics")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(reply.text)
        for s in family.samples
    }
    assert samples[("aggregator_feed_polls_total", ())] == polls + 2
    assert samples[("aggregator_feed_poll_failures_total", ())] == failures + 1
    assert samples[("aggregator_feed_poll_duration_seconds_count", ())] >= 2
    # one definition of health with `sources list`: never polled successfully is "new"
    assert samples[("aggregator_sources", (("health", "new"),))] == 1
    assert samples[("aggregator_sources", (("health", "ok"),))] == 0
    assert samples[("aggregator_sources", (("health", "failing"),))] == 1
    assert samples[("aggregator_sources", (("health", "retired"),))] == 0
    assert samples[("aggregator_items", ())] == 0
    assert samples[("aggregator_deliveries", (("state", "sent"),))] == 0
    assert samples[("aggregator_subscribers", (("status", "active"),))] == 0
