"""SIGTERM ends `aggregator run` within a bounded time in every state, leaving its work resumable."""

from __future__ import annotations

import ctypes
import os
import platform
import signal
import subprocess
import threading
import time
import zoneinfo
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aggregator.app import App
from aggregator.config import load
from aggregator.mail.transport import MaildirTransport
from aggregator.service import STOP_SECONDS, Pipeline, Service
from aggregator.store.db import Database
from aggregator.store.models import Edition, Subscriber
from tests.concurrency.fleet import (
    Fleet,
    add_subscribers,
    by_recipient,
    snapshot,
    wait_until,
    write_config,
)
from tests.digest.test_outbox import add_stories
from tests.support.feedserver import FeedServer
from tests.support.smtpserver import ScriptedHandler, SMTPTestServer

pytestmark = pytest.mark.slow
BOUND = STOP_SECONDS + 4  # the stop budget plus process start-up and interpreter exit
SYS_TGKILL = {"x86_64": 234, "aarch64": 131}.get(platform.machine(), 0)


def stop_time(fleet: Fleet) -> float:
    proc = fleet.procs[0]
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=60)
    elapsed = time.monotonic() - started
    assert code == 0, fleet.logs()
    return elapsed


def test_sigterm_while_idle(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    config = write_config(
        tmp_path, database_url=url, feeds=[], smtp_port=25, extra="[web]\nport = 0"
    )
    fleet = Fleet(config).start(1, role="all")
    wait_until(lambda: "is now the leader" in fleet.logs()[0], 30, "the service to start")
    assert stop_time(fleet) < BOUND


def test_sigterm_while_polling_stalled_feeds(tmp_path: Path, feed_server: FeedServer) -> None:
    feeds = [feed_server.stall(f"/stall/{n}.xml") for n in range(5)]
    url = f"sqlite:///{tmp_path / 'b.db'}"
    config = write_config(tmp_path, database_url=url, feeds=feeds, smtp_port=25)
    config.write_text(config.read_text().replace("timeout_seconds = 10", "timeout_seconds = 120"))
    Database(url).dispose()  # the schema, for the snapshots below
    fleet = Fleet(config).start(1, role="worker")
    wait_until(lambda: snapshot(url).claimed == 5, 30, "the poll to claim the sources")
    time.sleep(1)  # the fetches are under way, and hang
    assert stop_time(fleet) < BOUND
    state = snapshot(url)
    assert state.failing == [] and state.claimed == 0  # cut short: no failure, all given back


def test_sigterm_while_delivering_then_restart_finishes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    subscribers = add_subscribers(url, 60)
    smtp = SMTPTestServer(handler=ScriptedHandler(delay=0.5)).start()
    config = write_config(tmp_path, database_url=url, feeds=[], smtp_port=smtp.port)
    try:
        fleet = Fleet(config).start(1, role="worker")
        wait_until(lambda: len(smtp.messages) >= 4, 60, "sending to start")
        assert stop_time(fleet) < BOUND
        first = snapshot(url)
        assert 0 < first.states["sent"] < len(subscribers) and first.claimed == 0
        again = Fleet(config).start(1, role="worker")
        wait_until(lambda: snapshot(url).states["sent"] == len(subscribers), 90, "the rest")
        assert again.stop() == [0]
    finally:
        smtp.stop()
    received = by_recipient(smtp.messages)
    assert sorted(received) == subscribers
    repeated = {r: ids for r, ids in received.items() if len(ids) > 1}
    assert len(repeated) <= 4 and all(len(set(ids)) == 1 for ids in repeated.values())


def test_digest_job_and_outbox_tick_at_once_send_each_mail_once(tmp_path: Path) -> None:
    """The cron job only queues; the outbox tick sends. Fired together, repeatedly, from threads
    as the scheduler would, nobody gets a digest twice (the job used to send as well)."""
    url = f"sqlite:///{tmp_path / 'd.db'}"
    subscribers = add_subscribers(url, 200)
    config = write_config(tmp_path, database_url=url, feeds=[], smtp_port=25)
    settings = load(config)
    app = App(settings)
    add_stories(app.db, settings, datetime.now(UTC) - timedelta(hours=1), ["A story", "Another"])
    outbox = tmp_path / "outbox"
    pipeline = Pipeline(app, transport=MaildirTransport(outbox))
    service = Service(pipeline, role="worker")
    service.schedule()
    service.scheduler.start(paused=True)  # jobs exist (the digest job wakes the outbox one)
    try:
        digest = settings.digests[0]
        threads = [
            threading.Thread(target=service.digest_job, args=(digest,)),
            threading.Thread(target=service.outbox_tick),
            threading.Thread(target=service.outbox_tick),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        service.outbox_tick()
    finally:
        service.scheduler.shutdown(wait=False)
        service.leadership.resign()
        pipeline.give_back()
        app.close()
    mails = list((outbox / "new").iterdir())
    assert len(mails) == len(subscribers)


def test_sigterm_while_rendering(tmp_path: Path) -> None:
    """Every subscriber in their own timezone: one edition each, rendered for seconds."""
    url = f"sqlite:///{tmp_path / 'e.db'}"
    subscribers = add_subscribers(url, 240)
    zones = sorted(zoneinfo.available_timezones())[:240]
    db = Database(url)
    with db.session() as session:
        for row, zone in zip(
            session.scalars(select(Subscriber).order_by(Subscriber.id)), zones, strict=True
        ):
            row.timezone = zone
    config = write_config(tmp_path, database_url=url, feeds=[], smtp_port=25)
    add_stories(db, load(config), datetime.now(UTC) - timedelta(hours=1), ["One", "Two"])
    db.dispose()
    smtp = SMTPTestServer().start()
    config.write_text(config.read_text().replace("port = 25", f"port = {smtp.port}"))
    try:
        fleet = Fleet(config).start(1, role="worker")
        wait_until(lambda: 0 < editions(url) < 200, 60, "rendering to be under way")
        assert stop_time(fleet) < BOUND
        assert snapshot(url).claimed == 0
        again = Fleet(config).start(1, role="worker")
        wait_until(lambda: snapshot(url).states["sent"] == len(subscribers), 120, "the rest")
        assert again.stop() == [0]
    finally:
        smtp.stop()
    assert sorted(by_recipient(smtp.messages)) == subscribers


def test_sigterm_while_a_send_hangs_exits_anyway_and_gives_the_work_back(tmp_path: Path) -> None:
    """A relay that stops answering: the stuck job is abandoned after the stop budget, the
    process exits 0, and its deliveries are taken by the next start at once."""
    url = f"sqlite:///{tmp_path / 'f.db'}"
    subscribers = add_subscribers(url, 20)
    hanging = SMTPTestServer(handler=ScriptedHandler(delay=120)).start()
    config = write_config(tmp_path, database_url=url, feeds=[], smtp_port=hanging.port)
    try:
        fleet = Fleet(config).start(1, role="worker")
        wait_until(lambda: snapshot(url).states["rendered"] == 20, 60, "mail to be ready")
        time.sleep(2)  # the sends are under way, and hang
        assert stop_time(fleet) < BOUND
        assert "abandoned" in fleet.logs()[0]
        assert snapshot(url).claimed == 0
    finally:
        hanging.stop()
    smtp = SMTPTestServer().start()
    config.write_text(config.read_text().replace(f"port = {hanging.port}", f"port = {smtp.port}"))
    try:
        again = Fleet(config).start(1, role="worker")
        wait_until(lambda: snapshot(url).states["sent"] == 20, 60, "the mail to go out")
        assert again.stop() == [0]
    finally:
        smtp.stop()
    assert sorted(by_recipient(smtp.messages)) == subscribers


def editions(url: str) -> int:
    db = Database(url, migrate=False)
    try:
        with db.session() as session:
            return session.scalar(select(func.count()).select_from(Edition)) or 0
    finally:
        db.dispose()


@pytest.mark.parametrize("role", ["worker", "all"])
def test_sigterm_that_wakes_another_thread_still_stops(tmp_path: Path, role: str) -> None:
    """The kernel hands a process's signal to any thread that does not block it; sent to a
    job thread here (tgkill), it must still stop the process."""
    if not SYS_TGKILL:
        pytest.skip(f"tgkill's number on {platform.machine()} is not known here")
    url = f"sqlite:///{tmp_path / 'd.db'}"
    config = write_config(
        tmp_path, database_url=url, feeds=[], smtp_port=25, extra="[web]\nport = 0"
    )
    fleet = Fleet(config).start(1, role=role)
    proc = fleet.procs[0]
    wait_until(lambda: "is now the leader" in fleet.logs()[0], 30, "the service to start")
    threads = sorted(int(t) for t in os.listdir(f"/proc/{proc.pid}/task") if int(t) != proc.pid)
    assert threads, "the service runs its jobs in threads"
    libc = ctypes.CDLL(None, use_errno=True)
    started = time.monotonic()
    assert libc.syscall(SYS_TGKILL, proc.pid, threads[-1], signal.SIGTERM) == 0
    try:  # no second signal on a timeout: that one might reach the main thread
        code = proc.wait(timeout=2 * BOUND)
    except subprocess.TimeoutExpired:
        pytest.fail(f"a SIGTERM to thread {threads[-1]} did not stop the {role}")
    assert code == 0, fleet.logs()
    assert time.monotonic() - started < BOUND
