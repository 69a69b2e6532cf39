"""Polling throughput and memory against its floors and newsboat, measured side by side in one run.

    .venv/bin/python bench/poll.py [--copies 1,2,5] [--concurrency 50] [--repeat 3] [--corpus DIR]
                                   [--no-newsboat]

For each N in --copies, a FeedServer in its own process serves N copies of the real-feed corpus
(200 feeds each) on loopback. Each phase then runs in a fresh child process, so its peak RSS is
its own:

* GET + lxml (the old lower bound): plain aiohttp GETs of every URL at the same concurrency plus
  ``lxml.etree.fromstring`` of each body (cold), then conditional GETs answered 304 (warm);
* the floor: the same concurrent GETs, each body sent to a process pool of
  ``os.cpu_count()`` processes that parses it with lxml, sanitizes every entry's content with
  one ``nh3.Cleaner`` (the aggregator's allowlist), makes its plain text and reads its dates
  (``bench/_floor.py``), then ONE ``executemany`` of all the rows (source id, key, title, url,
  html, text, dates) into a fresh SQLite table; the pool is started before the clock starts;
* newsboat (if ``newsboat`` is on PATH): ``newsboat -x reload`` on the same URLs with a fresh
  cache, ``reload-threads`` = the concurrency and HOME in a temporary folder; the rows of its
  cache's ``rss_item`` table prove it fetched;
* cold poll: a fresh SQLite database, every URL added as a source, ``Poller.poll`` over all
  (story grouping included: its seconds and share of the poll are printed);
* warm poll: the same again on that database, so every source that stored validators gets 304.

Prints a markdown table: wall time, CPU time (user + system of the measuring process and its
helper processes, sampled; newsboat's from ``wait4``), feeds/s, items/s, peak RSS, RSS growth
over the child's baseline (after imports and set-up), the sampled peak RSS of any helper
processes (the poller's parser pool, the floor's pool) and the poll's time ratios to GET + lxml,
to the floor and to newsboat. With two cores, a contender whose CPU time is near twice its wall
time is bound by CPU, and a busier machine slows it in proportion. Every phase runs --repeat
times and counts its best: the short ones (GET + lxml, warm poll) back to back, the three
contenders (newsboat, the floor, the cold poll, each on a fresh database or cache) taking turns,
so a noisy moment on a shared machine costs all of them alike; the cold poll's every time is
printed too. Goals: the cold poll within 1.5x of the floor and no slower than
newsboat; the warm poll is reported, no longer a goal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import TypeVar

import aiohttp
import psutil
from lxml import etree
from sqlalchemy import func, select, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _floor  # noqa: E402

from aggregator.config import Settings, from_mapping  # noqa: E402
from aggregator.ingest.poll import Poller  # noqa: E402
from aggregator.store.db import Database  # noqa: E402
from aggregator.store.models import ITEMS  # noqa: E402
from aggregator.store.sources import add_source  # noqa: E402
from aggregator.stories import assign  # noqa: E402
from aggregator.stories.assign import group_pending  # noqa: E402
from tests.conftest import CORPUS  # noqa: E402

DEFAULT_CORPUS = CORPUS / "real-feeds"
GOALS = {"floor": 1.5, "newsboat": 1.0}
"""The cold poll's time over each contender's, at most."""
T = TypeVar("T")


# --- child phases: each prints one JSON line --------------------------------------------


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Helpers:
    """Samples this process's descendants (e.g. a parser pool) 20 times a second: the peak of
    their summed RSS, and the CPU time they use while sampled.

    ru_maxrss and getrusage cover only the measuring process, so work moved into helper
    processes would otherwise look free. Listing descendants reads all of /proc, so it is done
    once a second; reading each known helper is cheap, so the poll being measured barely pays
    for this. A helper's CPU counts from the start (or its birth) to its last sample, so up to
    a twentieth of a second of a helper that ends is missed.
    """

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._first_cpu: dict[int, float] = {}
        self._last_cpu: dict[int, float] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @property
    def cpu_s(self) -> float:
        """CPU seconds (user + system) the helpers used while sampled."""
        return sum(self._last_cpu[pid] - self._first_cpu.get(pid, 0.0) for pid in self._last_cpu)

    def _read(self, helpers: list[psutil.Process]) -> int:
        total = 0
        for child in helpers:
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
                times = child.cpu_times()
                self._last_cpu[child.pid] = times.user + times.system
        return total

    def _sample(self) -> None:
        me = psutil.Process()
        helpers: list[psutil.Process] = []
        for tick in itertools.count():
            if self._done.wait(0.05):
                return
            if tick % 20 == 0:
                with contextlib.suppress(psutil.Error):
                    helpers = me.children(recursive=True)
            self.peak_mb = max(self.peak_mb, self._read(helpers) / 2**20)

    def __enter__(self) -> Helpers:
        # Helpers already running (a pool started before the clock) count from now on.
        with contextlib.suppress(psutil.Error):
            self._read(psutil.Process().children(recursive=True))
        self._first_cpu = dict(self._last_cpu)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


async def _get_all(
    urls: list[str], concurrency: int, etags: dict[str, str] | None
) -> tuple[Counter, dict[str, str], int]:
    """GET every URL (conditional when ``etags``), parse 200 bodies with lxml; return tallies."""
    statuses: Counter = Counter()
    fresh_etags: dict[str, str] = {}
    nbytes = 0
    slots = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def one(session: aiohttp.ClientSession, url: str) -> None:
        nonlocal nbytes
        headers = {"If-None-Match": etags[url]} if etags and url in etags else {}
        async with slots, session.get(url, headers=headers) as response:
            body = await response.read()
            statuses[response.status] += 1
            if "ETag" in response.headers:
                fresh_etags[url] = response.headers["ETag"]
        if response.status == 200:
            nbytes += len(body)
            try:
                etree.fromstring(body)
            except etree.XMLSyntaxError:
                statuses["unparsable"] += 1

    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(session, url) for url in urls))
    return statuses, fresh_etags, nbytes


def _best_of(repeat: int, fn: Callable[[], T]) -> tuple[float, T]:
    """The shortest wall time of ``repeat`` calls, and the last call's result."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def phase_lower(urls: list[str], concurrency: int, repeat: int) -> dict:
    base = _rss_mb()
    cold_s, (cold, etags, nbytes) = _best_of(
        repeat, lambda: asyncio.run(_get_all(urls, concurrency, None))
    )
    warm_s, (warm, _, _) = _best_of(repeat, lambda: asyncio.run(_get_all(urls, concurrency, etags)))
    return {
        "cold_s": cold_s,
        "warm_s": warm_s,
        "cold_statuses": dict(cold),
        "warm_statuses": dict(warm),
        "megabytes": nbytes / 1e6,
        "base_mb": base,
        "peak_mb": _peak_mb(),
    }


async def _floor_rows(
    urls: list[str], concurrency: int, pool: ProcessPoolExecutor
) -> tuple[Counter, list[_floor.Row]]:
    """GET every URL at ``concurrency``; each body goes to the pool as soon as it is read."""
    statuses: Counter = Counter()
    rows: list[_floor.Row] = []
    slots = asyncio.Semaphore(concurrency)
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def one(session: aiohttp.ClientSession, source_id: int, url: str) -> None:
        async with slots, session.get(url) as response:
            body = await response.read()
            statuses[response.status] += 1
        if response.status == 200:
            got = await loop.run_in_executor(pool, _floor.parse_body, source_id, url, body)
            if not got:
                statuses["no entries"] += 1
            rows.extend(got)

    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(session, n, url) for n, url in enumerate(urls, 1)))
    return statuses, rows


def phase_floor(urls: list[str], concurrency: int, db: Path) -> dict:
    """GET + lxml + nh3 + text on every core, then one executemany into a fresh table ``db``
    (once: the parent repeats it, in turns with the other contenders)."""
    processes = os.cpu_count() or 1
    # fork: the pool's processes need nothing of this one but _floor, and start at once; they
    # are started (and _floor's imports done) before the clock starts.
    with ProcessPoolExecutor(processes, mp_context=get_context("fork")) as pool:
        list(pool.map(_floor.warm, range(processes)))
        base = _rss_mb()
        with Helpers() as helpers:
            started, own_cpu = time.perf_counter(), _own_cpu_s()
            statuses, rows = asyncio.run(_floor_rows(urls, concurrency, pool))
            stored = _floor.insert_rows(db, rows)
            seconds = time.perf_counter() - started
            own_cpu = _own_cpu_s() - own_cpu
    return {
        "seconds": seconds,
        "items": stored,
        "cpu_s": own_cpu + helpers.cpu_s,
        "processes": processes,
        "statuses": dict(statuses),
        "base_mb": base,
        "peak_mb": _peak_mb(),
        "helpers_mb": helpers.peak_mb,
    }


def _settings(root: Path, concurrency: int) -> Settings:
    # Every feed is on one loopback host, so per_host is raised to the global limit; otherwise
    # the default of 4 per host would measure politeness, not throughput.
    fetch = {
        "allow_networks": ["127.0.0.1/32"],
        "concurrency": concurrency,
        "per_host": concurrency,
    }
    return from_mapping({"fetch": fetch}, root=root, origin="bench")


def phase_poll(urls: list[str], concurrency: int, db_path: Path, repeat: int) -> dict:
    """Poll every source once (cold: fresh database) or ``repeat`` times (warm: best time)."""
    fresh = not db_path.exists()
    db = Database(f"sqlite:///{db_path}")
    if fresh:
        with db.session() as session:
            for url in urls:
                add_source(session, url)
    poller = Poller(db, _settings(db_path.parent, concurrency))
    ids = poller.choose(due_only=False)
    base = _rss_mb()
    runs = 1 if fresh else repeat
    with Helpers() as helpers:
        own_cpu = _own_cpu_s()
        seconds, report = _best_of(runs, lambda: asyncio.run(poller.poll(ids)))
        own_cpu = _own_cpu_s() - own_cpu
    db.dispose()
    return {
        "seconds": seconds,
        "cpu_s": (own_cpu + helpers.cpu_s) / runs,
        "sources": len(ids),
        "items": report.new,
        "grouped": report.grouped,
        "grouping_s": report.grouping_seconds,
        "results": dict(Counter(o.result for o in report.outcomes)),
        "statuses": dict(Counter(o.status for o in report.outcomes)),
        "base_mb": base,
        "peak_mb": _peak_mb(),
        "helpers_mb": helpers.peak_mb,
    }


SPREAD = timedelta(days=40 * 366)
"""How far apart ``--spread`` moves each corpus copy's dates: more than the corpus spans."""


def _spread(db_path: Path) -> None:
    """Move the items of corpus copy i (``/feeds/<i>/`` in its source's URL) i × SPREAD later."""
    with sqlite3.connect(db_path) as connection:
        rows = connection.execute(
            "SELECT i.id, i.published_at, s.url FROM items i JOIN sources s ON s.id = i.source_id"
            " WHERE i.published_at IS NOT NULL"
        ).fetchall()
        moved = []
        for item_id, published, url in rows:
            copy = int(url.split("/feeds/")[1].split("/")[0]) if url.count("/") > 4 else 0
            moment = datetime.fromisoformat(published) + copy * SPREAD
            moved.append((moment.isoformat(" ", "microseconds"), item_id))
        connection.executemany("UPDATE items SET published_at = ? WHERE id = ?", moved)


def phase_grouping(db_path: Path, *, spread: bool) -> dict:
    """``group_pending`` alone on a cold poll's database with every item awaiting grouping
    again: its CPU and wall seconds; then, grouping again, its peak of Python memory
    (tracemalloc) and the most items one batch held (its window and itself). ``spread``: each
    corpus copy's items moved ``SPREAD`` apart, so N copies store N times the items of one in
    windows as dense as one copy's."""
    if spread:
        _spread(db_path)
    db = Database(f"sqlite:///{db_path}")
    held: list[int] = []
    regroup = assign._regroup  # noqa: SLF001 (counted, not changed)

    def counted(known: list, pending: list) -> list:
        held.append(len(known) + len(pending))
        return regroup(known, pending)

    def pending_again() -> None:
        with db.engine.begin() as connection:
            connection.execute(update(ITEMS).values(story_pending=True, story_key=ITEMS.c.link_key))

    pending_again()
    cpu, started = time.process_time(), time.perf_counter()
    grouped = group_pending(db)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - started
    pending_again()
    assign._regroup = counted  # noqa: SLF001
    tracemalloc.start()
    group_pending(db)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    assign._regroup = regroup  # noqa: SLF001
    with db.engine.connect() as connection:
        items = connection.execute(select(func.count()).select_from(ITEMS)).scalar_one()
    db.dispose()
    return {
        "grouped": grouped,
        "items": items,
        "cpu_s": cpu,
        "seconds": wall,
        "peak_mb": peak,
        "batch_held": max(held, default=0),
    }


def run_child(args: argparse.Namespace) -> None:
    urls = json.loads(Path(args.urls).read_text())
    if args.phase == "lower":
        result = phase_lower(urls, args.concurrency, args.repeat)
    elif args.phase == "floor":
        result = phase_floor(urls, args.concurrency, Path(args.db))
    elif args.phase in ("grouping", "grouping-spread"):
        result = phase_grouping(Path(args.db), spread=args.phase == "grouping-spread")
    else:
        result = phase_poll(urls, args.concurrency, Path(args.db), args.repeat)
    print(json.dumps(result))


# --- parent: servers, children, table ----------------------------------------------------


def _child(phase: str, urls_file: Path, db: Path, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--phase", phase, "--urls", str(urls_file)]
    command += [
        "--db",
        str(db),
        "--concurrency",
        str(args.concurrency),
        "--repeat",
        str(args.repeat),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{phase} child failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


NEWSBOAT_CONFIG = """\
reload-threads {concurrency}
max-items 0
use-proxy no
download-full-page no
prepopulate-query-feeds no
"""
"""Only the feeds on the list, nothing else fetched (no proxy, no article pages)."""


def run_newsboat(urls: list[str], concurrency: int, folder: Path) -> dict | None:
    """``newsboat -x reload`` on ``urls`` with a fresh cache; None when newsboat is missing."""
    binary = shutil.which("newsboat")
    if binary is None:
        return None
    folder.mkdir()
    (folder / "home").mkdir()
    (folder / "urls").write_text("".join(f"{url}\n" for url in urls))
    (folder / "config").write_text(NEWSBOAT_CONFIG.format(concurrency=concurrency))
    cache = folder / "cache.db"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder / "home")}
    env["LANG"] = "C.UTF-8"
    command = [binary, "-u", "urls", "-c", str(cache), "-C", "config", "-x", "reload"]
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stderr is not None
    errors = proc.stderr.read().decode(errors="replace").strip()
    if proc.returncode != 0:
        raise SystemExit(f"newsboat exited with {proc.returncode}: {errors}")
    connection = sqlite3.connect(cache)
    try:
        items = connection.execute("SELECT count(*) FROM rss_item").fetchone()[0]
        feeds = connection.execute("SELECT count(*) FROM rss_feed").fetchone()[0]
    finally:
        connection.close()
    if items == 0:
        raise SystemExit(f"newsboat stored no items: {errors}")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    return {
        "seconds": seconds,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "items": items,
        "feeds": feeds,
        "peak_mb": usage.ru_maxrss / 1024,
        "version": version.split(" - ")[0].strip(),
    }


def measure(copies: int, args: argparse.Namespace) -> dict:
    """Run every phase for ``copies`` copies of the corpus; return the children's results."""
    server = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "_feedserver_proc.py"),
            str(args.corpus),
            str(copies),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        urls = json.loads(server.stdout.readline())
        with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
            urls_file = Path(tmp) / "urls.json"
            urls_file.write_text(json.dumps(urls))
            lower = _child("lower", urls_file, Path(tmp) / "lower.db", args)
            # The three contenders take turns, --repeat rounds, and each counts its best run:
            # a noisy moment then costs all of them alike.
            floor: list[dict] = []
            newsboat: list[dict] = []
            cold: list[tuple[dict, Path]] = []
            for turn in range(args.repeat):
                if args.newsboat and (
                    run := run_newsboat(urls, args.concurrency, Path(tmp) / f"newsboat{turn}")
                ):
                    newsboat.append(run)
                floor_db = Path(tmp) / f"floor{turn}.db"
                floor.append(_child("floor", urls_file, floor_db, args))
                db = Path(tmp) / f"cold{turn}.db"
                cold.append((_child("cold", urls_file, db, args), db))
            best_cold, db = min(cold, key=lambda run: run[0]["seconds"])
            grouping = {}
            for phase in ("grouping", "grouping-spread") if copies > 1 else ("grouping",):
                shutil.copy(db, Path(tmp) / "grouping.db")
                grouping[phase] = _child(phase, urls_file, Path(tmp) / "grouping.db", args)
            return {
                "feeds": len(urls),
                "lower": lower,
                "floor": min(floor, key=lambda run: run["seconds"]),
                "newsboat": min(newsboat, key=lambda run: run["seconds"], default=None),
                "cold": best_cold,
                "cold_runs": [run["seconds"] for run, _ in cold],
                "warm": _child("warm", urls_file, db, args),
                "grouping": grouping,
            }
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)


def _ratio(seconds: float, over: float | None) -> str:
    return f"{seconds / over:.2f}" if over else ""


def table(runs: list[dict]) -> list[str]:
    lines = [
        "| feeds | phase | wall s | CPU s | feeds/s | items/s | peak RSS MB | RSS growth MB "
        "| helper procs MB | x GET + lxml | x floor | x newsboat |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        feeds, lower, floor, newsboat = run["feeds"], run["lower"], run["floor"], run["newsboat"]
        cold, warm = run["cold"], run["warm"]
        low_mem = f"{lower['peak_mb']:.0f} | {lower['peak_mb'] - lower['base_mb']:.0f} | 0"

        def memory(phase: dict) -> str:
            grown = phase["peak_mb"] - phase["base_mb"]
            return f"{phase['peak_mb']:.0f} | {grown:.0f} | {phase['helpers_mb']:.0f}"

        rows = [
            ("GET + lxml cold", lower["cold_s"], None, cold["items"], low_mem, ""),
            (
                f"floor: GET + lxml + nh3 + text ({floor['processes']} procs) + executemany",
                floor["seconds"],
                floor["cpu_s"],
                floor["items"],
                memory(floor),
                "",
            ),
        ]
        if newsboat:
            nb_mem = f"{newsboat['peak_mb']:.0f} | – | –"
            nb_row = ("newsboat -x reload", newsboat["seconds"], newsboat["cpu_s"])
            rows.append((*nb_row, newsboat["items"], nb_mem, ""))
        nb_s = newsboat["seconds"] if newsboat else None
        ratios = " | ".join(
            (
                _ratio(cold["seconds"], lower["cold_s"]),
                _ratio(cold["seconds"], floor["seconds"]),
                _ratio(cold["seconds"], nb_s),
            )
        )
        rows += [
            ("**poll cold**", cold["seconds"], cold["cpu_s"], cold["items"], memory(cold), ratios),
            ("GET + lxml warm (304)", lower["warm_s"], None, 0, low_mem, ""),
            (
                "poll warm",
                warm["seconds"],
                warm["cpu_s"],
                warm["items"],
                memory(warm),
                f"{_ratio(warm['seconds'], lower['warm_s'])} |  | ",
            ),
        ]
        for name, seconds, cpu, count, mem, ratio in rows:
            ratio = ratio or " | | "
            cpu_cell = "–" if cpu is None else f"{cpu:.2f}"
            lines.append(
                f"| {feeds} | {name} | {seconds:.2f} | {cpu_cell} | {feeds / seconds:,.0f} | "
                f"{count / seconds:,.0f} | {mem} | {ratio} |"
            )
    return lines


def verdict(runs: list[dict]) -> list[str]:
    largest = runs[-1]
    cold = largest["cold"]["seconds"]
    lines = []
    contenders = {"floor": largest["floor"]["seconds"]}
    if largest["newsboat"]:
        contenders["newsboat"] = largest["newsboat"]["seconds"]
    for name, goal in GOALS.items():
        if name not in contenders:
            lines.append(f"cold poll vs {name}: not measured (newsboat not installed)")
            continue
        ratio = cold / contenders[name]
        mark = "met" if ratio <= goal else "MISSED"
        lines.append(
            f"cold poll of {largest['feeds']} feeds vs {name}: {ratio:.2f}x (goal {goal}x) {mark}"
        )
    times = ", ".join(f"{seconds:.2f}" for seconds in largest["cold_runs"])
    lines.append(f"cold poll of {largest['feeds']} feeds, every run: {times} s")
    lines.append(
        f"for reference: cold poll {cold / largest['lower']['cold_s']:.1f}x GET + lxml; warm poll "
        f"{largest['warm']['seconds'] / largest['lower']['warm_s']:.2f}x bare 304s (not a goal)"
    )
    growth = [r["cold"]["peak_mb"] - r["cold"]["base_mb"] for r in runs]
    lines.append(
        "cold-poll RSS growth by feeds: "
        + ", ".join(f"{r['feeds']}: {g:.0f} MB" for r, g in zip(runs, growth, strict=True))
    )
    for r in runs:  # the cold poll's time includes it: its share of that time
        share = r["cold"]["grouping_s"] / r["cold"]["seconds"]
        lines.append(
            f"story grouping in the cold poll of {r['feeds']} feeds: {r['cold']['grouped']} items "
            f"in {r['cold']['grouping_s']:.2f} s, {share:.1%} of the poll (goal 10%) "
            + ("met" if share <= 0.10 else "NOT met")
        )
    for r in runs:  # group_pending alone on a copy of that database, all items pending again
        for phase, g in r["grouping"].items():
            spread = (
                " (copies moved apart: windows as dense as one copy's)" if "spread" in phase else ""
            )
            lines.append(
                f"group_pending alone, {r['feeds']} feeds{spread}: {g['grouped']} items in "
                f"{g['cpu_s']:.2f} s CPU ({g['seconds']:.2f} s wall); peak Python memory "
                f"{g['peak_mb']:.1f} MB (tracemalloc), at most {g['batch_held']:,} items in a batch's "
                f"window, {g['items']:,} stored"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", default="1,2,5", help="comma-separated corpus copies")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of every phase (the best time counts)"
    )
    parser.add_argument(
        "--no-newsboat", dest="newsboat", action="store_false", help="skip newsboat"
    )
    parser.add_argument(
        "--phase",
        choices=("lower", "floor", "cold", "warm", "grouping", "grouping-spread"),
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--urls", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        run_child(args)
        return
    if not any(args.corpus.glob("*.xml")):
        parser.error(f"{args.corpus} holds no *.xml feeds to serve")
    runs = []
    for copies in (int(c) for c in args.copies.split(",")):
        run = measure(copies, args)
        newsboat = run["newsboat"]
        print(
            f"{run['feeds']} feeds: GET + lxml {run['lower']['cold_statuses']} / "
            f"{run['lower']['warm_statuses']}; floor {run['floor']['statuses']} "
            f"{run['floor']['items']} rows; cold {run['cold']['results']}; "
            f"warm {run['warm']['results']} {run['warm']['statuses']}; newsboat "
            + (
                f"{newsboat['version']}: {newsboat['items']} items of {newsboat['feeds']} feeds"
                if newsboat
                else "not run"
            ),
            file=sys.stderr,
        )
        runs.append(run)
    print(f"concurrency {args.concurrency}; corpus {args.corpus}\n")
    print("\n".join(table(runs)))
    print()
    print("\n".join(verdict(runs)))


if __name__ == "__main__":
    main()
