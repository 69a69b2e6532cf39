"""Parser processes die with the poller: after SIGKILL or SIGTERM of
``aggregator poll`` no worker, forkserver or resource tracker stays behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.cli import ENV
from tests.support.feedserver import FeedServer, rss_feed

pytestmark = pytest.mark.slow  # a real poll in a subprocess, killed mid-way

FEEDS = 40
"""More bodies than the poller parses in its own process before it starts the parser pool."""


def _forkserver_family(process: psutil.Process) -> list[psutil.Process]:
    return [
        child
        for child in process.children(recursive=True)
        if "multiprocessing" in " ".join(child.cmdline())
    ]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_no_parser_process_outlives_a_killed_poll(
    feed_server: FeedServer, make_config: Callable[..., Path], sig: signal.Signals
) -> None:
    sources = [
        {"url": feed_server.add(f"/f{n}.xml", rss_feed(f"Feed {n}", items=20))}
        for n in range(FEEDS)
    ]
    sources.append({"url": feed_server.stall("/stall.xml")})  # keeps the poll running
    config = make_config(sources)
    poll = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--config", str(config), "poll"],
        cwd=config.parent,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    family: list[psutil.Process] = []
    try:
        parent = psutil.Process(poll.pid)
        deadline = time.monotonic() + 30
        while len(family := _forkserver_family(parent)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)  # the resource tracker, the forkserver, and a worker or more
        assert len(family) >= 3, "the parser pool never started"
        poll.send_signal(sig)
        poll.wait(10)
        _gone, alive = psutil.wait_procs(family, timeout=10)
        assert alive == [], [" ".join(p.cmdline())[:80] for p in alive]
    finally:
        if poll.poll() is None:
            poll.kill()
        for process in family:
            if process.is_running():
                process.kill()
