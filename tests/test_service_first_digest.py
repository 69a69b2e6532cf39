"""A fresh `aggregator run` with sources and a subscriber mails the first digest within one tick
of its first poll, though the digest's catch-up run is queued before that poll stores anything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.feedserver import FeedServer, rss_feed

pytestmark = pytest.mark.slow
TICK = 60


def test_the_first_digest_goes_out_right_after_the_first_poll(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed = feed_server.add("/a.xml", rss_feed("Alpha", items=3))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[general]\ntick_seconds = {TICK}\n[fetch]\nallow_networks = ["127.0.0.1/32"]\n'
        f'[[digests]]\nname = "daily"\n[[sources]]\nurl = "{feed}"\nname = "Alpha"\n'
    )
    env = {**os.environ, "AGGREGATOR_SECRET_KEY": "first-digest"}
    command = [sys.executable, "-m", "aggregator", "--config", str(config)]
    added = subprocess.run(
        [*command, "subscribers", "add", "me@example.org"], env=env, capture_output=True
    )
    assert added.returncode == 0, added.stderr
    outbox = tmp_path / "outbox" / "new"
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "-v", "run", "--role", "worker"], cwd=tmp_path, env=env, stderr=out
        )
        try:
            deadline = time.monotonic() + TICK - 10  # before the second tick could help
            while time.monotonic() < deadline and not (outbox.is_dir() and any(outbox.iterdir())):
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
    said = log.read_text(errors="replace")
    assert "3 new item(s)" in said
    [mail] = list(outbox.iterdir())
    assert b"Alpha item" in mail.read_bytes(), said
