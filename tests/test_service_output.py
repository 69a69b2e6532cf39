"""`aggregator run` says what it does: a start-up line, then a line per poll, mail batch, publish."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aggregator.config import load
from aggregator.store.db import Database
from aggregator.store.models import Source
from aggregator.store.sources import add_source
from tests.cli import config_text, one_line_error, run_cli
from tests.support.feedserver import FeedServer, rss_feed

pytestmark = pytest.mark.slow


def run_until(
    config: Path, *flags: str, want: str, seconds: float = 40, run_args: tuple[str, ...] = ()
) -> str:
    """Start `aggregator [flags] run`, read stderr until ``want`` shows up (or time runs out),
    stop it with SIGTERM; returns what it logged."""
    env = {**os.environ, "AGGREGATOR_SECRET_KEY": "output-test"}
    log = config.parent / f"run{len(flags)}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aggregator", *flags, "--config", str(config), "run", *run_args],
            cwd=config.parent,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and want not in log.read_text(errors="replace"):
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    return log.read_text(errors="replace")


def test_run_logs_its_start_and_every_poll(tmp_path: Path, feed_server: FeedServer) -> None:
    feed = feed_server.add("/a.xml", rss_feed("Alpha", items=2))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[general]\ntick_seconds = 1\n[fetch]\nallow_networks = ["127.0.0.1/32"]\n'
        f'[web]\nport = 0\n[[digests]]\nname = "daily"\n'
        f'[[sources]]\nurl = "{feed}"\nname = "Alpha"\n'
    )
    said = run_until(config, want="poll: ")
    startup = next(line for line in said.splitlines() if "aggregator: role=all" in line)
    assert "serving http://127.0.0.1:0/" in startup and "sources=1" in startup
    assert "database=sqlite" in startup and "mail=maildir" in startup
    assert "next daily digest" in startup
    assert "poll: 1 source(s), 2 new item(s)" in said
    assert "published" in said and "stopped" in said

    quiet = run_until(config, "-q", want="never shown", seconds=4)
    assert quiet.strip() == ""
    structured = run_until(config, "--log-json", want='"logger"')
    events = [json.loads(line) for line in structured.splitlines() if line.startswith("{")]
    assert events and all({"time", "level", "logger", "message"} <= e.keys() for e in events)


def test_the_start_up_line_is_info_and_counts_the_enabled_sources_in_the_database(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Sources added on the command line count as much as those of config.toml."""
    config = tmp_path / "config.toml"
    config.write_text(
        config_text(
            [{"url": feed_server.add("/c.xml", rss_feed("C")), "name": "From config"}],
            extra="[web]\nport = 0",
        )
    )
    db = Database(load(config).database_url)
    with db.session() as session:
        for n in range(3):
            add_source(session, feed_server.add(f"/{n}.xml", rss_feed(f"S{n}")))
        session.flush()
        session.query(Source).filter(Source.url.endswith("/2.xml")).one().enabled = False
    db.dispose()
    said = run_until(config, "--log-json", want="role=web", run_args=("--role", "web"))
    events = [json.loads(line) for line in said.splitlines() if line.startswith("{")]
    [startup] = [e for e in events if e["message"].startswith("aggregator: role=web")]
    assert startup["level"] == "info"
    assert "; sources=3 enabled;" in startup["message"]  # 1 in config.toml + 2 added, 1 disabled


@pytest.mark.parametrize("role", ["web", "all"])
def test_a_port_in_use_is_one_line(tmp_path: Path, role: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "config.toml"
        config.write_text(config_text(extra=f'[web]\nhost = "127.0.0.1"\nport = {port}'))
        failed = run_cli(config, "run", "--role", role, timeout=30)
    assert one_line_error(failed) == (
        f"error: cannot listen on 127.0.0.1:{port}: address already in use"
    )
