"""The service end to end: `run --once` in a subprocess, the long-lived `run`, and scheduling."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aggregator.app import App
from aggregator.config import from_mapping, load
from aggregator.mail.transport import MaildirTransport
from aggregator.service import Pipeline
from aggregator.store.db import Database
from aggregator.store.models import DigestRun, Item
from tests.cli import run_cli
from tests.conftest import SHARED
from tests.support.feedcheck import check_published
from tests.support.feedserver import FeedServer, rss_feed

SCHEMA = SHARED / "schemas" / "jsonfeed-1.1.schema.json"
HOSTILE_ITEM = (
    "<item><title>Hostile ]]&gt; &lt;script&gt;alert(1)&lt;/script&gt; \x01\x02 bytes \xff\xfe end</title>"
    "<link>https://hostile.example/story</link><guid>hostile-1</guid>"
    "<description><![CDATA[<p>Content with ]]]]><![CDATA[> and <script>alert('x')</script> and "
    "<img src=x onerror=alert(1)> inside. The parser must keep this sentence. It is a full one.</p>]]></description>"
    "<pubDate>Sun, 29 Nov 2026 06:00:00 GMT</pubDate></item>"
).encode("latin-1")


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def hostile_feed() -> bytes:
    base = rss_feed("Hostile feed", items=2, link="http://hostile.example/")
    return base.replace(b"</channel>", HOSTILE_ITEM + b"</channel>")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(
    tmp_path: Path,
    feeds: list[str],
    *,
    smtp_port: int | None,
    web_port: int = 8080,
    extra: str = "",
) -> Path:
    sources = "\n".join(
        f'[[sources]]\nurl = "{url}"\nname = "Feed {n}"\ntags = ["t{n}"]\nmin_interval_minutes = 0.02\nmax_interval_minutes = 0.05\n'
        for n, url in enumerate(feeds)
    )
    mail = (
        f'transport = "smtp"\n[mail.smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n'
        if smtp_port
        else 'transport = "maildir"\n'
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[general]
name = "E2E"
base_url = "http://127.0.0.1:{web_port}"
tick_seconds = 1
[fetch]
allow_networks = ["127.0.0.1/32"]
timeout_seconds = 5
[mail]
from_address = "digest@news.example.org"
list_id = "e2e.news.example.org"
{mail}
[[digests]]
name = "daily"
schedule = "0 7 * * *"
timezone = "Europe/London"
[web]
port = {web_port}
{extra}
{sources}
"""
    )
    return config


@pytest.mark.slow
def test_run_once_end_to_end(tmp_path: Path, feed_server: FeedServer, smtp_server) -> None:
    smtp = smtp_server(security="none")
    feeds = [
        feed_server.add("/a.xml", rss_feed("Alpha", items=3)),
        feed_server.add("/h.xml", hostile_feed()),
    ]
    config = write_config(tmp_path, feeds, smtp_port=smtp.port)
    assert run_cli(config, "subscribers", "add", "reader@example.com").returncode == 0

    first = run_cli(config, "run", "--once")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "6 new item(s)" in first.stdout
    assert (tmp_path / "data" / "aggregator.db").is_file()
    assert len(smtp.messages) == 1 and smtp.messages[0].rcpt_tos == ("reader@example.com",)
    public = tmp_path / "public"
    titles = check_published(public, SCHEMA)
    assert len(titles["json"]) == 6
    hostile = next(t for t in titles["json"] if t.startswith("Hostile ]]>"))
    assert "<script" not in hostile and "\x01" not in hostile and "\x02" not in hostile
    for name in ("feed.atom", "feed.rss", "feed.json"):
        raw = (public / name).read_text(encoding="utf-8")
        assert "<script>alert" not in raw.replace("&lt;script&gt;", "")
        assert "onerror" not in raw
    assert (public / "index.html").is_file()
    assert list((public / "digests" / "daily").glob("*/index.html"))

    feed_server.replace("/a.xml", rss_feed("Alpha", items=4))
    time.sleep(3.2)  # max_interval_minutes = 0.05: every source is due again 3 s after its poll
    second = run_cli(config, "run", "--once")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "1 new item(s)" in second.stdout and "1 not modified" in second.stdout
    assert len(smtp.messages) == 1  # the 07:00 digest was sent once, not again
    assert len(check_published(public, SCHEMA)["json"]) == 7
    settings = load(config)
    db = Database(settings.database_url)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 7
        assert session.scalar(select(func.count()).select_from(DigestRun)) == 1
    db.dispose()


def _get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.mark.slow
def test_run_serves_polls_on_schedule_and_stops_on_sigterm(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feeds = [feed_server.add("/a.xml", rss_feed("Alpha", items=2))]
    port = free_port()
    config = write_config(tmp_path, feeds, smtp_port=None, web_port=port)
    env = {**os.environ, "AGGREGATOR_SECRET_KEY": "e2e-secret"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--config", str(config), "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if (
                    _get(f"{base}/healthz")[0] == 200
                    and (tmp_path / "public" / "feed.atom").exists()
                ):
                    break
            except OSError:
                pass
            time.sleep(0.2)
        status, headers, body = _get(f"{base}/feed.atom")
        assert status == 200 and b"<feed" in body
        etag = headers.get("ETag") or headers.get("etag")
        assert etag
        assert _get(f"{base}/feed.atom", {"If-None-Match": etag})[0] == 304
        status, _headers, metrics = _get(f"{base}/metrics")
        assert status == 200 and b"aggregator_feed_polls" in metrics
        # polls again on its own schedule: the source's interval is ~1-3 s, the tick 1 s
        deadline = time.monotonic() + 20
        while len(feed_server.requests_for("/a.xml")) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(feed_server.requests_for("/a.xml")) >= 3
        assert 304 in feed_server.statuses("/a.xml")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, proc.stderr.read().decode()[-3000:]


def _pipeline(tmp_path: Path, clock: Clock) -> Pipeline:
    settings = from_mapping(
        {
            "digests": [
                {"name": "daily", "schedule": "0 7 * * *", "timezone": "Europe/London"},
                {"name": "weekly", "schedule": "0 8 * * mon", "timezone": "America/New_York"},
            ]
        },
        root=tmp_path,
        origin="test",
    )
    app = App(settings)
    return Pipeline(app, transport=MaildirTransport(tmp_path / "outbox"), clock=clock)


def test_digest_schedule_in_timezones_with_catch_up_once(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 7, 1, 9, 0, tzinfo=UTC))  # Wednesday; London is on BST
    pipeline = _pipeline(tmp_path, clock)
    assert len(pipeline.start_due_digests()) == 2
    assert pipeline.start_due_digests() == []  # never twice for the same time
    with pipeline.app.db.session() as session:
        runs = {r.digest_name: r.scheduled_for for r in session.scalars(select(DigestRun))}
    assert runs["daily"] == datetime(2026, 7, 1, 6, 0, tzinfo=UTC)  # 07:00 BST
    assert runs["weekly"] == datetime(2026, 6, 29, 12, 0, tzinfo=UTC)  # Monday 08:00 EDT

    clock.now = datetime(2026, 7, 2, 5, 59, tzinfo=UTC)
    assert pipeline.start_due_digests() == []
    clock.now = datetime(2026, 7, 2, 6, 0, tzinfo=UTC)
    assert len(pipeline.start_due_digests()) == 1

    # down for three days: the missed runs are caught up once, not three times
    clock.now = datetime(2026, 7, 5, 12, 0, tzinfo=UTC)
    assert len(pipeline.start_due_digests()) == 1
    with pipeline.app.db.session() as session:
        daily = session.scalars(
            select(DigestRun.scheduled_for).where(DigestRun.digest_name == "daily")
        ).all()
    assert sorted(daily)[-1] == datetime(2026, 7, 5, 6, 0, tzinfo=UTC)
    assert len(daily) == 3
    # winter time: 07:00 London is 07:00 UTC
    clock.now = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
    pipeline.start_due_digests()
    with pipeline.app.db.session() as session:
        latest = session.scalar(
            select(func.max(DigestRun.scheduled_for)).where(DigestRun.digest_name == "daily")
        )
    assert latest == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    pipeline.app.close()
