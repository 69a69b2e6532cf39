"""One worker against two on one PostgreSQL: polling and delivery, measured side by side.

    .venv/bin/python bench/workers.py [--feeds 1000] [--subscribers 5000] [--delay 0.02]
                                      [--database-url postgresql://…] [--rounds 1]

For 1 and then 2 ``aggregator run --role worker`` processes (the product as an operator runs
it), each on a fresh private schema of the PostgreSQL at ``--database-url``:

* **poll**: ``--feeds`` copies of the real-feed corpus served by a loopback FeedServer in its
  own process; timed from the first source claimed to the last source recorded. The server
  counts the requests: every feed must be fetched exactly once in all.
* **deliver**: ~20 real items stored and briefed, ``--subscribers`` active subscribers; the
  leader queues the digest run and the workers render and send it to a relay (``_relay.py``)
  that takes ``--delay`` seconds to accept each message; timed from the first message accepted
  to the last. The relay's log must hold exactly one message per subscriber.

Prints a markdown table with the 2-worker/1-worker ratios. Goals: delivery throughput with two
workers >= 1.8x one worker's against the slow relay; polling with two no slower than with one.
``--rounds N`` repeats everything (the races depend on timing) and checks exactly-once each time.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from digest import seed  # noqa: E402

from aggregator.config import load  # noqa: E402
from aggregator.store.db import Database  # noqa: E402
from aggregator.store.models import Delivery, Source  # noqa: E402
from tests.concurrency.fleet import write_config  # noqa: E402
from tests.support.pgschema import schema_url  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "real-feeds"
DEFAULT_DB = os.environ.get(
    "AGGREGATOR_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@contextmanager
def schema(url: str) -> Iterator[str]:
    """A fresh private schema; yields a URL whose search_path is that schema."""
    yield from schema_url(url, prefix="bench")


@contextmanager
def child(command: list[str]) -> Iterator[subprocess.Popen]:
    """A helper process that prints its address first and stops when its stdin closes."""
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=60)


def finish(proc: subprocess.Popen) -> dict | list:
    """Close a helper's stdin and read its last JSON line."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    out = proc.stdout.read()
    proc.wait(timeout=60)
    return json.loads(out.strip().splitlines()[-1])


def config_file(folder: Path, db_url: str, feeds: list[str], smtp_port: int) -> Path:
    return write_config(
        folder,
        database_url=db_url,
        feeds=feeds,
        smtp_port=smtp_port,
        lease_seconds=60,
        send_empty=False,
    )


def start_workers(config: Path, count: int) -> list[subprocess.Popen]:
    env = {**os.environ, "AGGREGATOR_SECRET_KEY": "bench-secret"}
    command = [sys.executable, "-m", "aggregator", "--config", str(config), "run", "--role"]
    return [
        subprocess.Popen(
            [*command, "worker"],
            cwd=config.parent,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(config.parent / f"worker{n}.log").open("wb"),
        )
        for n in range(count)
    ]


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    codes = [proc.wait(timeout=60) for proc in procs]
    if any(codes):
        raise SystemExit(f"a worker exited with {codes}")


def wait_for(db: Database, query, want: int, timeout: float) -> float:  # noqa: ANN001
    """Poll ``query`` (a count) until it reaches ``want``; returns the monotonic time it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.engine.connect() as connection:
            try:
                if connection.scalar(query) >= want:
                    return time.monotonic()
            except Exception:  # the schema is not there yet
                pass
        time.sleep(0.05)
    raise SystemExit(f"timed out after {timeout:.0f} s")


def poll_phase(workers: int, args: argparse.Namespace, workdir: Path) -> dict:
    copies = -(-args.feeds // 200)
    server_cmd = [sys.executable, str(ROOT / "bench" / "_feedserver_proc.py")]
    with child([*server_cmd, str(args.corpus), str(copies)]) as server:
        assert server.stdout is not None
        feeds = json.loads(server.stdout.readline())[: args.feeds]
        with schema(args.database_url) as url:
            Database(url).dispose()
            config = config_file(workdir, url, feeds, smtp_port=25)
            db = Database(url, migrate=False)
            claimed = select(func.count()).where(
                Source.claimed_by.is_not(None) | Source.last_checked_at.is_not(None)
            )
            checked = select(func.count()).where(Source.last_checked_at.is_not(None))
            procs = start_workers(config, workers)
            first = wait_for(db, claimed, 1, 120)
            last = wait_for(db, checked, len(feeds), 600)
            stop_workers(procs)
            db.dispose()
        counts = finish(server)
    if counts["requests"] != len(feeds) or counts["most"] != 1:
        raise SystemExit(f"fetches not exactly once per feed: {counts} for {len(feeds)} feeds")
    return {"seconds": last - first, "fetches": counts["requests"]}


def seed_run(url: str, config: Path, corpus: Path, subscribers: int) -> None:
    """~20 real items first seen an hour ago, briefed, and the subscribers."""
    db = Database(url)
    seed(db, load(config), corpus, 20, subscribers, seen=datetime.now(UTC) - timedelta(hours=1))
    db.dispose()


def deliver_phase(workers: int, args: argparse.Namespace, workdir: Path) -> dict:
    relay_cmd = [sys.executable, str(ROOT / "bench" / "_relay.py"), str(args.delay)]
    with child(relay_cmd) as relay:
        assert relay.stdout is not None
        port = int(relay.stdout.readline().split()[1])
        with schema(args.database_url) as url:
            config = config_file(workdir, url, [], smtp_port=port)
            seed_run(url, config, args.corpus, args.subscribers)
            db = Database(url, migrate=False)
            sent = select(func.count()).where(Delivery.state == "sent")
            procs = start_workers(config, workers)
            wait_for(db, sent, args.subscribers, 900)
            stop_workers(procs)
            db.dispose()
        accepted = finish(relay)
    recipients = Counter(r for r, _id, _t in accepted)
    if len(recipients) != args.subscribers or max(recipients.values()) != 1:
        twice = sum(1 for n in recipients.values() if n > 1)
        raise SystemExit(
            f"not one message per subscriber: {len(accepted)} messages, "
            f"{len(recipients)} recipients, {twice} twice"
        )
    times = sorted(t for _r, _id, t in accepted)
    seconds = times[-1] - times[0]
    return {"seconds": seconds, "messages": len(accepted), "per_second": len(accepted) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    rows = []
    for round_ in range(args.rounds):
        result: dict[int, dict] = {}
        for workers in (1, 2):
            with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
                poll = poll_phase(workers, args, Path(tmp))
            with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
                deliver = deliver_phase(workers, args, Path(tmp))
            result[workers] = {"poll": poll, "deliver": deliver}
            print(f"round {round_ + 1}, {workers} worker(s): {result[workers]}", flush=True)
        rows.append(result)
    print()
    print(
        f"{args.feeds:,} feeds; {args.subscribers:,} subscribers; relay {args.delay * 1000:.0f} ms"
        " a message; every feed fetched once and every subscriber mailed once in every run."
    )
    print()
    print(
        "| round | poll 1 worker s | poll 2 workers s | poll speed-up | mail/s 1 worker "
        "| mail/s 2 workers | delivery speed-up |"
    )
    print("|---|---|---|---|---|---|---|")
    for n, r in enumerate(rows, 1):
        p1, p2 = r[1]["poll"]["seconds"], r[2]["poll"]["seconds"]
        d1, d2 = r[1]["deliver"]["per_second"], r[2]["deliver"]["per_second"]
        print(
            f"| {n} | {p1:.1f} | {p2:.1f} | {p1 / p2:.2f}x | {d1:.0f} | {d2:.0f} | {d2 / d1:.2f}x |"
        )


if __name__ == "__main__":
    main()
