"""Digest delivery throughput against the bare SMTP sender, measured side by side in one run.

    .venv/bin/python bench/digest.py [--subscribers 10000] [--items 20] [--database-url URL]

Postfix's ``smtp-sink`` (a C sink, so the server is not the limit) listens on a free loopback
port. Set-up, not timed: a fresh database (SQLite in a temp dir, or a private schema in the
PostgreSQL at ``--database-url``), ~20 real items from the real-feed corpus stored and briefed,
and N active subscribers on the "daily" digest. Then, in one process:

* **pipeline**: ``Outbox.start_run`` (queue) + ``render_pending`` (render) + ``send_due`` (send)
  through ``SMTPTransport(concurrency=4, security="none")``;
* **bare**: the same rendered bytes (a sample of the pipeline's own messages, sent round robin)
  with plain ``smtplib.sendmail`` on 4 threads over 4 persistent connections (the goal's
  baseline), and a stricter raw sender: the same sessions writing the bytes straight to the
  socket, without smtplib's address parsing and its dot-stuffing scan (0.5 ms per message).

Prints a markdown table of messages/s, time per stage and the ratio (goal: within 2x). The sink's
own counter confirms every message arrived. ``--subscribers 2000`` is a quick run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aggregator.briefs.pipeline import make_briefs  # noqa: E402
from aggregator.config import Settings, from_mapping  # noqa: E402
from aggregator.digest.outbox import Outbox  # noqa: E402
from aggregator.ingest.parse import parse_feed  # noqa: E402
from aggregator.mail.transport import SMTPTransport  # noqa: E402
from aggregator.model.entry import Entry, FeedParseError  # noqa: E402
from aggregator.store.db import Database  # noqa: E402
from aggregator.store.items import store_entries  # noqa: E402
from aggregator.store.models import Source, Subscriber  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "real-feeds"
SENDER = "digest@news.example.org"
THREADS = 4
SAMPLE = 200
"""Distinct pipeline messages the bare sender cycles through (all would not fit in memory)."""
MIN_TEXT = 1200
"""Items with less plain text than this are teasers; the bench wants real briefs."""
GOAL = 2.0
T0 = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
"""The run's scheduled time; items are first seen three hours before it."""


# --- the sink ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(slots=True)
class Sink:
    """A running smtp-sink; ``received()`` reads its message counter from the ``-c`` log."""

    port: int
    log: Path

    def received(self) -> int:
        counts = re.findall(rb"mesg=(\d+)", self.log.read_bytes())
        return int(counts[-1]) if counts else 0


@contextmanager
def smtp_sink(binary: str, workdir: Path) -> Iterator[Sink]:
    """smtp-sink on 127.0.0.1 and a free port, stopped on exit."""
    port = free_port()
    log = workdir / "smtp-sink.log"
    user = ["-u", "nobody"] if os.geteuid() == 0 else []  # it must drop root
    command = [binary, "-c", *user, "-m", "64", f"127.0.0.1:{port}", "256"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc, log)
        yield Sink(port, log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"smtp-sink exited: {log.read_text(errors='replace').strip()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"smtp-sink did not listen on 127.0.0.1:{port} within 10 s")


# --- set-up (not timed) ------------------------------------------------------------------


@contextmanager
def database(url: str | None, workdir: Path) -> Iterator[Database]:
    """A fresh SQLite file in ``workdir``, or a private schema in PostgreSQL dropped afterwards."""
    if not url:
        db = Database(f"sqlite:///{workdir / 'bench.db'}")
        try:
            yield db
        finally:
            db.dispose()
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in url else "?"
    db = None
    try:
        db = Database(f"{url}{sep}options=-csearch_path%3D{schema}")
        yield db
    finally:
        if db is not None:
            db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def make_settings(workdir: Path) -> Settings:
    return from_mapping(
        {
            "general": {"name": "Bench Digest", "base_url": "https://news.example.org"},
            "briefs": {"glossary": str(ROOT / "glossary.toml")},
            "mail": {"from_address": SENDER, "list_id": "daily.news.example.org"},
            "digests": [{"name": "daily", "title": "Daily digest", "max_items": 20}],
        },
        root=workdir,
        origin="bench",
    )


def real_entries(corpus: Path, count: int) -> list[tuple[str, str, list[Entry]]]:
    """``(feed title, feed url, entries)`` holding ``count`` long entries, two per feed at most."""
    rows = (line.split("\t") for line in (corpus / "urls.tsv").read_text().splitlines()[1:])
    chosen, total = [], 0
    for name, url in sorted(rows):
        try:
            feed = parse_feed((corpus / name).read_bytes(), url.strip())
        except FeedParseError:
            continue
        long = [e for e in feed.entries if len(e.content_text) >= MIN_TEXT and e.url][:2]
        long = long[: count - total]
        if long:
            chosen.append((feed.title or url.strip(), url.strip(), long))
            total += len(long)
        if total >= count:
            break
    return chosen


def seed(
    db: Database,
    settings: Settings,
    corpus: Path,
    items: int,
    subscribers: int,
    *,
    seen: datetime = T0 - timedelta(hours=3),
) -> int:
    """Store and brief ``items`` real entries (first seen at ``seen``, from disabled sources:
    nothing polls them) and add the subscribers; returns items stored."""
    new_ids: list[int] = []
    with db.session() as session:
        for title, url, entries in real_entries(corpus, items):
            source = Source(url=url, name=title[:200], tags=["bench"], priority=3, enabled=False)
            session.add(source)
            session.flush()
            fresh = [replace(e, published=seen) for e in entries]
            new_ids += store_entries(session, source, fresh, seen).new_ids
        # One executemany: the rows upsert_subscriber would write for new, active addresses.
        session.execute(
            insert(Subscriber),
            [
                {
                    "email": f"reader{i}@example.com",
                    "status": "active",
                    "digests": ["daily"],
                    "tags": [],
                    "sources": [],
                    "timezone": "UTC",
                    "created_at": seen,
                    "confirmed_at": seen,
                }
                for i in range(subscribers)
            ],
        )
    make_briefs(db, settings, new_ids)
    return len(new_ids)


# --- timed runs --------------------------------------------------------------------------


@dataclass(slots=True)
class PipelineResult:
    queue: float
    render: float
    send: float
    sent: int
    errors: list[str]

    @property
    def total(self) -> float:
        return self.queue + self.render + self.send


def sample_messages(outbox: Outbox, limit: int) -> list[tuple[str, bytes]]:
    """``(recipient, message)`` of the first rendered deliveries, built as the outbox sends them."""
    return outbox.messages(limit)


def bare_send(port: int, messages: list[tuple[str, bytes]], total: int, *, raw: bool) -> float:
    """Send ``total`` messages (cycling ``messages``) on 4 threads, one connection each.

    ``raw=False`` is plain ``smtplib.sendmail``. ``raw=True`` is the same session with the
    message written straight to the socket, skipping smtplib's address parsing and its
    dot-stuffing scan (which finds nothing here: no line of these messages starts with a dot).
    """
    errors: list[BaseException] = []

    def worker(start: int) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port) as conn:
                for n in range(start, total, THREADS):
                    recipient, data = messages[n % len(messages)]
                    if not raw:
                        conn.sendmail(SENDER, [recipient], data)
                        continue
                    conn.docmd("mail", f"FROM:<{SENDER}>")
                    conn.docmd("rcpt", f"TO:<{recipient}>")
                    conn.docmd("data")
                    conn.send(data + b".\r\n")
                    if conn.getreply()[0] != 250:
                        raise smtplib.SMTPDataError(0, b"not accepted")
        except (smtplib.SMTPException, OSError) as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        sys.exit(f"bare sender failed: {errors[0]}")
    return elapsed


def run(args: argparse.Namespace, workdir: Path) -> None:
    binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not Path(binary).exists():
        sys.exit("smtp-sink not found: install Debian's postfix package (/usr/sbin/smtp-sink)")
    settings = make_settings(workdir)
    with database(args.database_url, workdir) as db, smtp_sink(binary, workdir) as sink:
        began = time.perf_counter()
        items = seed(db, settings, args.corpus, args.items, args.subscribers)
        print(
            f"set-up: {items} real items briefed, {args.subscribers:,} subscribers, "
            f"{db.engine.dialect.name}, {time.perf_counter() - began:.1f} s",
            file=sys.stderr,
        )
        transport = SMTPTransport("127.0.0.1", sink.port, security="none", concurrency=THREADS)
        clock = T0 + timedelta(minutes=5)
        outbox = Outbox(
            db, settings, secret_key="bench-secret", transport=transport, clock=lambda: clock
        )

        t = time.perf_counter()
        if outbox.start_run("daily", T0) is None:
            sys.exit("the digest run was not queued")
        queue = time.perf_counter() - t
        t = time.perf_counter()
        rendered = outbox.render_pending()
        render = time.perf_counter() - t

        sample = sample_messages(outbox, SAMPLE)
        if len(sample) < min(SAMPLE, args.subscribers):
            sys.exit(f"only {len(sample)} deliveries were rendered; see the log for why")
        if any(m.startswith(b".") or b"\n." in m for _, m in sample):
            sys.exit(
                "a message has a line starting with a dot: the raw bare sender would need to stuff it"
            )
        bare = {"smtplib": [], "raw": []}
        for kind in bare:
            bare[kind].append(bare_send(sink.port, sample, args.subscribers, raw=kind == "raw"))
        t = time.perf_counter()
        cpu = time.process_time()
        report = outbox.send_due()
        print(f"send phase CPU {time.process_time() - cpu:.2f} s", file=sys.stderr)
        send = time.perf_counter() - t
        transport.close()
        for kind in bare:
            bare[kind].append(bare_send(sink.port, sample, args.subscribers, raw=kind == "raw"))
        time.sleep(0.2)  # the sink updates its counter as each session ends
        received = sink.received()
        result = PipelineResult(queue, render, send, report.sent, report.errors)

    if result.errors or result.sent != args.subscribers or rendered != args.subscribers:
        sys.exit(f"pipeline: rendered {rendered}, sent {result.sent}, errors {result.errors[:3]}")
    expected = (1 + 2 * len(bare)) * args.subscribers
    if received != expected:
        sys.exit(f"smtp-sink counted {received:,} messages, expected {expected:,}")
    print_table(args, db.engine.dialect.name, sample, result, bare)
    print(f"smtp-sink counted all {expected:,} messages (4 bare runs + pipeline).")


BARE_LABELS = {
    "smtplib": f"bare smtplib.sendmail, {THREADS} threads",
    "raw": f"bare, no address parsing or dot scan, {THREADS} threads",
}


def print_table(
    args: argparse.Namespace,
    backend: str,
    sample: list[tuple[str, bytes]],
    result: PipelineResult,
    bare: dict[str, list[float]],
) -> None:
    """The markdown table. The goal's baseline is plain smtplib; the raw sender is stricter.

    Each baseline is the faster of its two runs (before and after the pipeline's send), so the
    ratios err high.
    """
    n = args.subscribers
    best = {kind: min(runs) for kind, runs in bare.items()}
    base = best["smtplib"]
    size = sum(len(m) for _, m in sample) / len(sample) / 1024
    print(f"\n{n:,} subscribers, {args.items} items, {size:.1f} KB per message, DB {backend}\n")
    print("| run | stage | time (s) | messages/s | time / bare smtplib |")
    print("|---|---|---:|---:|---:|")
    for kind, runs in bare.items():
        for label, seconds in zip(("before", "after"), runs, strict=True):
            row = f"{seconds:.2f} | {n / seconds:,.0f} | {seconds / base:.2f}"
            print(f"| {BARE_LABELS[kind]} ({label} pipeline send) | send | {row} |")
    for stage in ("queue", "render", "send"):
        seconds = getattr(result, stage)
        print(f"| pipeline | {stage} | {seconds:.2f} | {n / seconds:,.0f} | {seconds / base:.2f} |")
    ratio = result.total / base
    total = f"**{result.total:.2f}** | **{n / result.total:,.0f}** | **{ratio:.2f}**"
    print(f"| **pipeline** | **end to end** | {total} |")
    verdict = "met" if ratio <= GOAL else "missed"
    print(f"\nGoal: end to end within {GOAL:.0f}x of the bare send: {verdict} ({ratio:.2f}x).")
    strict = result.total / best["raw"]
    print(f"Against the raw sender (no address parsing or dot scan): {strict:.2f}x.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=20, help="real items in the digest")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    if args.subscribers < 1 or args.items < 1:
        parser.error("--subscribers and --items must be at least 1")
    with tempfile.TemporaryDirectory(prefix="bench-digest-") as workdir:
        run(args, Path(workdir))


if __name__ == "__main__":
    main()
