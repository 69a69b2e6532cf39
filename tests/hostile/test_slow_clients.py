"""Slow clients cannot starve the service: `aggregator run` (role all) under systemd's usual limit
of 1,024 open files, with 1,100 connections trickling their request heads a line at a time,
still answers /healthz, and its poll still fetches and stores feeds."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aggregator.store.db import Database
from aggregator.store.models import Item
from aggregator.store.sources import add_source
from tests.concurrency.fleet import STARTED, wait_until, write_config
from tests.support.feedserver import FeedServer, rss_feed

pytestmark = pytest.mark.slow
LIMIT = 1024
"""The open-file limit the service runs under (systemd's default soft and hard limit)."""
ATTACKERS = 1100
FEEDS = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _limit_open_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


class Trickler:
    """Many connections, each sending a request head one header line a second, never ending it;
    a connection the server closes is opened again."""

    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.sockets: list[socket.socket | None] = [None] * count
        self.opened = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        except OSError:
            return None
        sock.setblocking(False)
        with self._lock:
            self.opened += 1
        return sock

    def _run(self) -> None:
        with ThreadPoolExecutor(max_workers=32) as pool:  # connect as an attacker does: at once
            while not self.stop.is_set():
                closed = []
                for n, sock in enumerate(self.sockets):
                    if sock is not None:
                        try:
                            sock.send(b"X-Slow: 1\r\n")
                            continue
                        except OSError:
                            sock.close()
                    closed.append(n)
                for n, opened in zip(
                    closed, pool.map(lambda _n: self._open(), closed), strict=True
                ):
                    self.sockets[n] = opened
                self.stop.wait(1.0)

    def start(self) -> Trickler:
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        for sock in self.sockets:
            if sock is not None:
                sock.close()


def _healthz(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as response:
            return response.status
    except OSError:
        return None


def _items(url: str) -> int:
    db = Database(url, migrate=False)
    try:
        with db.session() as session:
            return session.scalar(select(func.count()).select_from(Item)) or 0
    finally:
        db.dispose()


def test_slow_clients_leave_healthz_and_polling_working(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < ATTACKERS + 200:
        pytest.skip(f"this test opens {ATTACKERS} sockets; the hard open-file limit is {hard}")
    if soft != resource.RLIM_INFINITY and soft < ATTACKERS + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port = _free_port()
    url = f"sqlite:///{tmp_path / 'slow.db'}"
    web = f"[web]\nport = {port}\nrequest_timeout_seconds = 5\nkeep_alive_seconds = 2\n"
    config = write_config(tmp_path, database_url=url, feeds=[], smtp_port=25, extra=web)
    Database(url).dispose()  # the schema, for the sources added below
    log = (tmp_path / "service.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "-v", "--config", str(config), "run"],
        cwd=tmp_path,
        env={**os.environ, "AGGREGATOR_SECRET_KEY": "slow-secret"},
        stdout=subprocess.DEVNULL,
        stderr=log,
        preexec_fn=_limit_open_files,
    )
    STARTED.append(proc)
    trickler = Trickler(port, ATTACKERS)
    try:
        wait_until(lambda: _healthz(port) == 200, 20, "the service to answer /healthz")
        trickler.start()
        wait_until(lambda: trickler.opened >= ATTACKERS, 15, f"{ATTACKERS} slow connections")
        time.sleep(1)  # every slow connection has sent a line or two more

        wait_until(lambda: _healthz(port) == 200, 10, "/healthz under the slow connections")

        db = Database(url, migrate=False)
        with db.session() as session:  # the operator adds feeds; the next poll tick fetches them
            for n in range(FEEDS):
                feed = feed_server.add(f"/slow/{n}.xml", rss_feed(f"Feed {n}", items=2))
                add_source(session, feed, name=f"Feed {n}", tags=[])
        db.dispose()
        wait_until(lambda: _items(url) == 2 * FEEDS, 15, "the poll to store the feeds")
        assert _healthz(port) == 200
    finally:
        trickler.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    output = (tmp_path / "service.log").read_text(errors="replace")
    assert "Too many open files" not in output, output[-3000:]
    assert "closed for sending a request too slowly" in output, output[-3000:]
