"""Several `aggregator run --role worker` processes on one database, and what they left there."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path

from sqlalchemy import func, select

from aggregator.store.db import Database
from aggregator.store.models import BriefRow, Delivery, DigestRun, Item, Source
from aggregator.store.subscribers import upsert_subscriber
from tests.support.smtpserver import ReceivedMessage

REPO = Path(__file__).resolve().parents[2]
ROUNDS = int(os.environ.get("AGGREGATOR_RACE_ROUNDS", "0"))
"""More rounds of every race and kill scenario than CI runs (0: the CI default of each test)."""


def rounds(default: int) -> range:
    return range(ROUNDS or default)


STARTED: list[subprocess.Popen] = []
"""Every worker any test started; `kill_leftovers` ends those a failing test left running."""


def kill_leftovers() -> None:
    for proc in STARTED:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    STARTED.clear()


BRIEFS_MADE = re.compile(r"briefs: (\d+) made")


def write_config(
    folder: Path,
    *,
    database_url: str,
    feeds: list[str],
    smtp_port: int,
    extra: str = "",
    lease_seconds: int = 5,
    send_empty: bool = True,
) -> Path:
    """A config.toml for workers: 1 s ticks, the given lease, SMTP to ``smtp_port``, a daily
    digest (sent even when empty, by default) and one source per feed URL."""
    sources = "".join(
        f'[[sources]]\nurl = "{url}"\nname = "Feed {n}"\n' for n, url in enumerate(feeds)
    )
    config = folder / "config.toml"
    config.write_text(
        f"""
[general]
base_url = "http://127.0.0.1:8080"
tick_seconds = 1
lease_seconds = {lease_seconds}
[database]
url = "{database_url}"
[fetch]
allow_networks = ["127.0.0.1/32"]
timeout_seconds = 10
[mail]
from_address = "digest@news.example.org"
list_id = "fleet.news.example.org"
transport = "smtp"
[mail.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
concurrency = 4
[[digests]]
name = "daily"
schedule = "0 7 * * *"
send_empty = {str(send_empty).lower()}
[publish]
dir = "{folder / "public"}"
{extra}
{sources}
"""
    )
    return config


def add_subscribers(database_url: str, count: int) -> list[str]:
    """Subscribers to the daily digest (this also creates the schema)."""
    db = Database(database_url)
    addresses = [f"reader{n:04d}@example.com" for n in range(count)]
    with db.session() as session:
        for address in addresses:
            upsert_subscriber(session, address, digests=["daily"])
    db.dispose()
    return addresses


@dataclass
class Fleet:
    """Worker processes started on one config; their stderr is kept for the log lines."""

    config: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    def start(self, count: int, *, role: str = "worker") -> Fleet:
        env = {**os.environ, "AGGREGATOR_SECRET_KEY": "fleet-secret"}
        for n in range(count):
            log = (self.config.parent / f"worker{len(self.procs)}.log").open("wb")
            self.procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-X",
                        "faulthandler",  # SIGABRT dumps every thread's stack into the log
                        "-m",
                        "aggregator",
                        "-v",
                        "--config",
                        str(self.config),
                        "run",
                        "--role",
                        role,
                    ],
                    cwd=self.config.parent,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )
            del n
        STARTED.extend(self.procs)
        return self

    def logs(self) -> list[str]:
        return [
            (self.config.parent / f"worker{n}.log").read_text(errors="replace")
            for n in range(len(self.procs))
        ]

    def stop(self, timeout: float = 20) -> list[int | None]:
        """SIGTERM every live worker; their exit codes (None: did not stop in time, aborted;
        its threads' stacks are printed, shown with the failing test's output)."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes: list[int | None] = []
        for n, proc in enumerate(self.procs):
            try:
                codes.append(proc.wait(timeout=timeout))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGABRT)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                print(f"worker{n} did not stop in {timeout:.0f} s:\n{self.logs()[n]}")
                codes.append(None)
        return codes


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class Snapshot:
    """The database as the workers left it."""

    items: int
    briefs: int
    runs: int
    states: Counter
    claimed: int
    polled: int
    failing: list[str]


def snapshot(database_url: str) -> Snapshot:
    db = Database(database_url, migrate=False)
    try:
        with db.session() as session:
            count = lambda q: session.scalar(select(func.count()).select_from(q))  # noqa: E731
            states = Counter(
                dict(
                    session.execute(
                        select(Delivery.state, func.count()).group_by(Delivery.state)
                    ).all()
                )
            )
            claimed = sum(
                session.scalar(select(func.count()).where(model.claimed_by.is_not(None))) or 0
                for model in (Source, Item, Delivery)
            )
            polled = session.scalar(select(func.count()).where(Source.last_success_at.is_not(None)))
            failing = [
                f"{s.url}: {s.last_error}"
                for s in session.scalars(
                    select(Source).where(
                        (Source.consecutive_failures > 0) | Source.last_error.is_not(None)
                    )
                )
            ]
            return Snapshot(
                items=count(Item),
                briefs=count(BriefRow),
                runs=count(DigestRun),
                states=states,
                claimed=claimed,
                polled=polled or 0,
                failing=failing,
            )
    finally:
        db.dispose()


def by_recipient(messages: list[ReceivedMessage]) -> dict[str, list[str]]:
    """Message-IDs received per recipient."""
    out: dict[str, list[str]] = {}
    for message in messages:
        parsed = message_from_bytes(message.data)
        out.setdefault(message.rcpt_tos[0], []).append(str(parsed["Message-ID"]))
    return out


def briefs_made(logs: list[str]) -> int:
    return sum(int(m) for log in logs for m in BRIEFS_MADE.findall(log))
