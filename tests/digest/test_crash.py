"""Kill the sender with SIGKILL mid-run; a restart must finish the run exactly once per recipient."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aggregator.config import load
from aggregator.store.db import Database
from aggregator.store.models import Delivery
from aggregator.store.subscribers import upsert_subscriber
from tests.digest.test_outbox import add_stories
from tests.support.smtpserver import ScriptedHandler, SMTPTestServer

RECIPIENTS = 500
REPO = Path(__file__).resolve().parents[2]


class KillingHandler(ScriptedHandler):
    """Kills the sending process when message number ``kill_at`` is being transmitted.

    The kill lands after the client sent DATA and before the server accepts: the message is not
    stored, exactly as a real server drops a transaction whose client vanished.
    """

    def __init__(self, kill_at: int):
        super().__init__()
        self.kill_at = kill_at
        self.victim: subprocess.Popen | None = None
        self.killed = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001
        if not self.killed.is_set() and len(self.messages) + 1 >= self.kill_at and self.victim:
            os.kill(self.victim.pid, signal.SIGKILL)
            self.killed.set()
            server.transport.abort()
            return "421 4.3.0 gone"
        return await super().handle_DATA(server, session, envelope)


def prepare(tmp_path: Path, port: int) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[general]
base_url = "https://news.example.org"
[database]
url = "sqlite:///{tmp_path / "crash.db"}"
[mail]
from_address = "digest@news.example.org"
list_id = "daily.news.example.org"
transport = "smtp"
[mail.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
concurrency = 1
[[digests]]
name = "daily"
schedule = "0 7 * * *"
[publish]
dir = "{tmp_path / "public"}"
"""
    )
    settings = load(config)
    db = Database(settings.database_url)
    add_stories(
        db, settings, datetime.now(UTC) - timedelta(hours=1), ["Crash-safe story", "Another story"]
    )
    with db.session() as session:
        for n in range(RECIPIENTS):
            upsert_subscriber(session, f"reader{n:03d}@example.com", digests=["daily"])
    db.dispose()
    return config


def run_once(config: Path) -> subprocess.Popen:
    env = {**os.environ, "AGGREGATOR_SECRET_KEY": "crash-test-secret"}
    return subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--config", str(config), "run", "--once"],
        cwd=config.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def delivery_states(config: Path) -> Counter:
    db = Database(load(config).database_url)
    with db.session() as session:
        states = Counter(
            dict(
                session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all()
            )
        )
    db.dispose()
    return states


@pytest.mark.slow
def test_sigkill_mid_run_then_restart_delivers_each_mail_exactly_once(tmp_path: Path) -> None:
    handler = KillingHandler(kill_at=200)
    server = SMTPTestServer(security="none", handler=handler).start()
    try:
        config = prepare(tmp_path, server.port)
        first = run_once(config)
        handler.victim = first
        first.wait(timeout=120)
        assert first.returncode == -signal.SIGKILL, first.stderr.read().decode()[-2000:]
        assert len(server.messages) == 199
        states = delivery_states(config)
        assert states["sent"] == 199 and states["sent"] + states["rendered"] == RECIPIENTS

        second = run_once(config)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err.decode()[-2000:]
    finally:
        server.stop()
    received = Counter(m.rcpt_tos[0] for m in server.messages)
    assert len(received) == RECIPIENTS
    assert set(received.values()) == {1}, [r for r, n in received.items() if n > 1]
    assert len({m.data for m in server.messages}) == RECIPIENTS
    assert delivery_states(config) == Counter({"sent": RECIPIENTS})


@pytest.mark.slow
def test_sigkill_at_a_random_moment_loses_nothing(tmp_path: Path) -> None:
    """A kill at any moment loses nothing; at most the one in-flight message can repeat.

    That message is the documented window: the server accepted it, and we were killed before
    committing "sent". With one connection it is never more than one message.
    """
    server = SMTPTestServer(security="none").start()
    try:
        config = prepare(tmp_path, server.port)
        first = run_once(config)
        time.sleep(random.uniform(1.0, 3.0))
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
        second = run_once(config)
        _out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err.decode()[-2000:]
    finally:
        server.stop()
    received = Counter(m.rcpt_tos[0] for m in server.messages)
    assert len(received) == RECIPIENTS
    assert sum(n - 1 for n in received.values()) <= 1
    assert delivery_states(config) == Counter({"sent": RECIPIENTS})
