"""One full cycle (`aggregator run --once`) against the poll alone, from outside, side by side.

    .venv/bin/python bench/cycle.py [--feeds 1000] [--subscribers 500] [--corpus DIR]
    .venv/bin/python bench/cycle.py --memory 200,3000 [--subscribers 500]

Copies of the real-feed corpus (200 feeds per copy) are served on loopback by
``bench/_feedserver_proc.py`` in its own process. A set-up folder is built once per feed count:
a ``config.toml`` with every feed as a ``[[sources]]`` entry (``[fetch]`` allowing 127.0.0.1,
concurrency and per-host 50), SQLite in ``data/``, the Maildir transport into ``outbox/``, the
published feeds in ``public/`` and one daily digest ("0 0 * * *" UTC, so the catch-up sends
today's 00:00 run once), plus the subscribers, imported as active with ``aggregator subscribers
import``. Each phase then runs the real CLI (``python -m aggregator --config …``) as a subprocess
on a fresh copy of that folder:

* **poll alone**: ``aggregator poll --no-briefs`` (plain ``aggregator poll`` when the flag does
  not exist; the table says which);
* **run --once**: the full cycle (poll, briefs, digest, delivery, publish).

For each: wall time (start of the process to its exit), the peak RSS of the whole process tree
(the CLI and every process it starts, parser and brief pools included, summed; sampled every
50 ms with psutil), the messages in the Maildir (one per subscriber expected), the items and
briefs stored, and the check of every item, read from the database afterwards: every item of
every edition has a brief created no later than the edition, and every entry of
``public/feed.json`` shows the brief of one of its items (its summary is that brief's paragraph,
not the start of the item's text that a story without a brief falls back to), a brief created
no later than the file was written. Goal: run --once within 2x of the poll alone.

``--memory 200,3000`` runs ``aggregator poll`` and ``aggregator run --once`` at each feed count
(copies = feeds / 200) and prints each one's peak process-tree RSS and the ratio of the largest
count's to the smallest's. Goal: at most 1.25x.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "real-feeds"
FEEDS_PER_COPY = 200
GOAL_CYCLE = 2.0
"""run --once time over the poll alone's, at most."""
GOAL_MEMORY = 1.25
"""Peak tree RSS at the largest feed count over that at the smallest, at most."""
CLI = [sys.executable, "-m", "aggregator"]
ENV = {**os.environ, "AGGREGATOR_SECRET_KEY": "bench-cycle-secret", "COLUMNS": "200"}


# --- measuring a process tree ----------------------------------------------------------


def _children(pid: int) -> list[int]:
    """Direct children of every thread of ``pid`` (Linux /proc; psutil elsewhere)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(p) for p in handle.read().split()]
        except FileNotFoundError:
            continue
        except OSError:  # no CONFIG_PROC_CHILDREN: the slow way
            with contextlib.suppress(psutil.Error):
                return [p.pid for p in psutil.Process(pid).children()]
    return found


class TreeMemory:
    """Samples the summed RSS of a process and all its descendants every 50 ms.

    The tree is walked through /proc/PID/task/TID/children, which costs a few reads instead of
    psutil's scan of every process on the machine, so a new pool process is seen within 50 ms
    without the sampler taking a noticeable share of a core from the command measured.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_mb = 0.0
        self.most_processes = 0
        self._procs: dict[int, psutil.Process] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        pids, stack = [], [self.pid]
        while stack:
            pid = stack.pop()
            pids.append(pid)
            stack += _children(pid)
        total = 0
        for pid in pids:
            proc = self._procs.get(pid)
            try:
                if proc is None:
                    proc = self._procs[pid] = psutil.Process(pid)
                total += proc.memory_info().rss
            except psutil.Error:
                self._procs.pop(pid, None)
        self.peak_mb = max(self.peak_mb, total / 2**20)
        self.most_processes = max(self.most_processes, len(pids))

    def _run(self) -> None:
        while not self._done.wait(0.05):
            self._sample()

    def __enter__(self) -> TreeMemory:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def run_cli(folder: Path, args: list[str], log_name: str) -> dict:
    """Run ``aggregator --config folder/config.toml ARGS``; wall time and peak tree RSS."""
    command = [*CLI, "--config", str(folder / "config.toml"), *args]
    log = folder / f"{log_name}.log"
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=folder, env=ENV, stdout=out, stderr=subprocess.STDOUT)
        with TreeMemory(proc.pid) as memory:
            code = proc.wait()
        seconds = time.perf_counter() - started
    if code != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(command[2:])} exited with {code}:\n{tail}")
    return {
        "seconds": seconds,
        "peak_mb": memory.peak_mb,
        "processes": memory.most_processes,
        "command": " ".join(["aggregator", *args]),
    }


# --- set-up ------------------------------------------------------------------------------


@contextlib.contextmanager
def feed_server(corpus: Path, feeds: int) -> Iterator[list[str]]:
    """Serve enough corpus copies from a separate process; yields the first ``feeds`` URLs."""
    copies = -(-feeds // FEEDS_PER_COPY)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "_feedserver_proc.py"), str(corpus), str(copies)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        urls = json.loads(proc.stdout.readline())
        if len(urls) < feeds:
            raise SystemExit(f"the server has {len(urls)} feeds, fewer than {feeds}")
        yield urls[:feeds]
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)


def config_text(urls: list[str]) -> str:
    sources = "".join(
        f'\n[[sources]]\nname = "Feed {n}"\nurl = "{url}"\n' for n, url in enumerate(urls, 1)
    )
    return f"""\
[general]
name = "Bench Digest"
base_url = "http://127.0.0.1:8080"
data_dir = "data"

[database]
url = ""

[fetch]
allow_networks = ["127.0.0.1/32"]
concurrency = 50
per_host = 50

[mail]
from_address = "digest@bench.example.org"
from_name = "Bench Digest"
transport = "maildir"
maildir = "outbox"
list_id = "bench.example.org"

[[digests]]
name = "daily"
title = "Daily digest"
schedule = "0 0 * * *"
timezone = "UTC"
max_items = 20
send_empty = false

[publish]
dir = "public"
{sources}"""


def build_setup(folder: Path, urls: list[str], subscribers: int) -> dict:
    """The set-up every phase copies: config, database with the sources and the subscribers."""
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(config_text(urls))
    with (folder / "subscribers.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "digests"])
        for n in range(subscribers):
            writer.writerow([f"reader{n:05d}@example.com", "daily"])
    imported = run_cli(folder, ["subscribers", "import", "subscribers.csv"], "setup")
    with _db(folder) as db:
        sources = db.execute("SELECT count(*) FROM sources WHERE enabled").fetchone()[0]
        active = db.execute("SELECT count(*) FROM subscribers WHERE status = 'active'").fetchone()[
            0
        ]
    if sources != len(urls) or active != subscribers:
        raise SystemExit(
            f"set-up has {sources} enabled sources for {len(urls)} feeds and {active} active "
            f"subscribers for {subscribers}; see {folder / 'setup.log'}"
        )
    return {"seconds": imported["seconds"], "sources": sources, "subscribers": active}


@contextlib.contextmanager
def _db(folder: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(folder / "data" / "aggregator.db")
    try:
        yield connection
    finally:
        connection.close()


def poll_args() -> list[str]:
    """``poll --no-briefs`` when this version of the CLI has the flag, else ``poll``."""
    shown = subprocess.run([*CLI, "poll", "--help"], capture_output=True, text=True, env=ENV)
    return ["poll", "--no-briefs"] if "--no-briefs" in shown.stdout else ["poll"]


# --- what a phase left behind ------------------------------------------------------------


def _when(value: str | None) -> datetime | None:
    """A timestamp as the store wrote it into SQLite, as an aware UTC datetime."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _fold(text: str | None) -> str:
    return " ".join((text or "").split())


def check_editions(db: sqlite3.Connection) -> dict:
    """Every story of every edition has its brief, created no later than the edition.

    An edition lists the ids of every item of each story it shows, the story's primary item
    (whose brief the digest shows) first; the other items only lend their source names.
    """
    briefs = {
        item_id: _when(created)
        for item_id, created in db.execute("SELECT item_id, created_at FROM briefs")
    }
    tally: Counter = Counter()
    editions = db.execute("SELECT id, item_ids, created_at FROM editions").fetchall()
    for _id, item_ids, created in editions:
        written = _when(created)
        stories: dict[str, list[int]] = {}
        for item_id in json.loads(item_ids or "[]"):
            row = db.execute("SELECT story_key FROM items WHERE id = ?", (item_id,)).fetchone()
            stories.setdefault(row[0] if row else f"missing {item_id}", []).append(item_id)
        for members in stories.values():
            brief = briefs.get(members[0])
            if brief is None:
                others = any(briefs.get(m) for m in members[1:])
                tally["brief only on a later item" if others else "no brief"] += 1
            elif written is not None and brief > written:
                tally["brief after edition"] += 1
            else:
                tally["ok"] += 1
    return {"editions": len(editions), **tally}


def check_feed(db: sqlite3.Connection, public: Path) -> dict:
    """Every entry of feed.json shows a brief (not the fallback) that existed when written."""
    path = public / "feed.json"
    if not path.exists():
        return {"entries": 0}
    written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    entries = json.loads(path.read_text())["items"]
    tally: Counter = Counter()
    for entry in entries:
        if entry.get("url"):
            where, key = "i.url = ?", entry["url"]
        else:
            where, key = "i.url IS NULL AND i.title = ?", entry.get("title", "")
        rows = db.execute(
            "SELECT i.content_text, b.data, b.created_at FROM items i "
            f"LEFT JOIN briefs b ON b.item_id = i.id WHERE {where}",
            (key,),
        ).fetchall()
        summary = _fold(entry.get("summary"))
        if not rows:
            tally["no such item"] += 1
            continue
        shown = [
            _when(created)
            for _text, data, created in rows
            if data is not None and _fold(json.loads(data).get("paragraph")) == summary
        ]
        if shown and min(shown) <= written:  # type: ignore[type-var]
            tally["ok"] += 1
        elif shown:
            tally["brief after feed"] += 1
        elif any(_fold(text[:600]) == summary for text, _d, _c in rows):
            tally["fallback text"] += 1
        else:
            tally["no matching brief"] += 1
    return {"entries": len(entries), **tally}


def inspect(folder: Path, subscribers: int, *, full_cycle: bool) -> dict:
    outbox = folder / "outbox"
    messages = sum(
        1 for sub in ("new", "cur") if (outbox / sub).is_dir() for _ in (outbox / sub).iterdir()
    )
    with _db(folder) as db:
        items = db.execute("SELECT count(*) FROM items").fetchone()[0]
        briefs = db.execute("SELECT count(*) FROM briefs").fetchone()[0]
        deliveries = dict(db.execute("SELECT state, count(*) FROM deliveries GROUP BY state"))
        editions = check_editions(db)
        feed = check_feed(db, folder / "public")
    problems = []
    if full_cycle:
        if messages != subscribers:
            problems.append(f"{messages} messages for {subscribers} subscribers")
        if not editions["editions"]:
            problems.append("no digest edition written")
        if not feed["entries"]:
            problems.append("no entries in public/feed.json")
    for name, tally in (("editions", editions), ("feed.json", feed)):
        bad = {k: v for k, v in tally.items() if k not in ("ok", "editions", "entries")}
        if bad:
            problems.append(f"{name}: {bad}")
    return {
        "messages": messages,
        "items": items,
        "briefs": briefs,
        "deliveries": deliveries,
        "editions": editions,
        "feed": feed,
        "problems": problems,
    }


def phase(setup: Path, work: Path, name: str, args: list[str], subscribers: int) -> dict:
    """Run the CLI with ``args`` on a fresh copy of the set-up; what it took and left."""
    folder = work / name.replace(" ", "-")
    shutil.copytree(setup, folder)
    result = run_cli(folder, args, "phase")
    result |= inspect(folder, subscribers, full_cycle=args[0] == "run")
    print(f"  {name}: {json.dumps(result)}", file=sys.stderr, flush=True)
    return result


# --- the two modes -----------------------------------------------------------------------


def _briefs_check(result: dict) -> str:
    e, f = result["editions"], result["feed"]
    shown = e.get("ok", 0) + f.get("ok", 0)
    total = sum(v for k, v in e.items() if k != "editions") + f.get("entries", 0)
    if not total:
        return "nothing shown"
    return f"{shown}/{total} ok" if shown == total else f"**{shown}/{total} ok**"


def cycle(args: argparse.Namespace, work: Path) -> int:
    polling = poll_args()
    with feed_server(args.corpus, args.feeds) as urls:
        setup = work / "setup"
        made = build_setup(setup, urls, args.subscribers)
        print(f"set-up: {made}", file=sys.stderr, flush=True)
        poll = phase(setup, work, "poll alone", polling, args.subscribers)
        once = phase(setup, work, "run once", ["run", "--once"], args.subscribers)
    print(
        f"{args.feeds:,} feeds ({-(-args.feeds // FEEDS_PER_COPY)} corpus copies), "
        f"{args.subscribers:,} subscribers, Maildir, SQLite; {os.cpu_count()} cores\n"
    )
    print(
        "| phase | command | wall s | peak tree RSS MB | processes | items | briefs "
        "| mails | editions | feed entries | briefs shown present (digest stories + feed entries) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, r in (("poll alone", poll), ("run --once", once)):
        print(
            f"| {name} | `{r['command']}` | {r['seconds']:.2f} | {r['peak_mb']:.0f} "
            f"| {r['processes']} | {r['items']:,} | {r['briefs']:,} | {r['messages']} "
            f"| {r['editions']['editions']} | {r['feed']['entries']} | {_briefs_check(r)} |"
        )
    ratio = once["seconds"] / poll["seconds"]
    print()
    mark = "met" if ratio <= GOAL_CYCLE else "MISSED"
    print(f"run --once / poll alone: {ratio:.2f}x (goal <= {GOAL_CYCLE}x) {mark}")
    problems = [f"run --once: {p}" for p in once["problems"]]
    problems += [f"poll alone: {p}" for p in poll["problems"]]
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if not problems:
        print(
            f"every brief the digest ({once['editions']['editions']} edition(s)) and the published"
            " feed show was present when they were written"
        )
    return 1 if problems else 0


def memory(args: argparse.Namespace, work: Path) -> int:
    counts = sorted(int(n) for n in args.memory.split(","))
    rows: list[tuple[int, dict, dict]] = []
    for feeds in counts:
        with feed_server(args.corpus, feeds) as urls:
            setup = work / f"setup-{feeds}"
            build_setup(setup, urls, args.subscribers)
            poll = phase(setup, work, f"poll {feeds}", ["poll"], args.subscribers)
            once = phase(setup, work, f"once {feeds}", ["run", "--once"], args.subscribers)
        rows.append((feeds, poll, once))
        shutil.rmtree(setup.parent / f"poll-{feeds}", ignore_errors=True)
        shutil.rmtree(setup.parent / f"once-{feeds}", ignore_errors=True)
    print(f"{args.subscribers:,} subscribers, Maildir, SQLite; {os.cpu_count()} cores\n")
    print(
        "| feeds | `aggregator poll` wall s | peak tree RSS MB | items "
        "| `run --once` wall s | peak tree RSS MB | items | mails |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for feeds, poll, once in rows:
        print(
            f"| {feeds:,} | {poll['seconds']:.1f} | {poll['peak_mb']:.0f} | {poll['items']:,} "
            f"| {once['seconds']:.1f} | {once['peak_mb']:.0f} | {once['items']:,} "
            f"| {once['messages']} |"
        )
    print()
    (small, poll_s, once_s), (large, poll_l, once_l) = rows[0], rows[-1]
    for name, a, b in (("aggregator poll", poll_s, poll_l), ("run --once", once_s, once_l)):
        ratio = b["peak_mb"] / a["peak_mb"]
        mark = "met" if ratio <= GOAL_MEMORY else "MISSED"
        print(
            f"{name}: peak tree RSS at {large:,} feeds / at {small:,}: {ratio:.2f}x "
            f"(goal <= {GOAL_MEMORY}x) {mark}"
        )
    problems = [
        f"run --once at {feeds:,} feeds: {p}" for feeds, _, o in rows for p in o["problems"]
    ]
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument(
        "--memory", metavar="N,M", help="peak memory of poll and run --once at these feed counts"
    )
    parser.add_argument("--keep", action="store_true", help="keep the working folders (printed)")
    args = parser.parse_args()
    if not any(args.corpus.glob("*.xml")):
        parser.error(f"{args.corpus} holds no *.xml feeds to serve")
    work = Path(tempfile.mkdtemp(prefix="bench-cycle-"))
    try:
        code = memory(args, work) if args.memory else cycle(args, work)
    finally:
        if args.keep:
            print(f"working folders kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
