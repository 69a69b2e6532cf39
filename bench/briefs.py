"""Brief throughput: one process against every core, and against an older checkout, in one run.

    .venv/bin/python bench/briefs.py [--corpus DIR] [--baseline REV] [--repeat 3]

Each contender runs in a fresh child process on its own fresh SQLite database holding every
entry of the real-feed corpus (parsed and stored by that contender's own code, not timed), and
times briefing all of them through ``make_briefs`` (narrow rows read, briefs made, written):

* **baseline, one process**: ``--baseline REV`` (default: the commit before briefs moved off the
  poll's critical path) checked out with ``git worktree`` into a temporary folder; its code, the
  way its poll made briefs (one process, while the other core idled);
* **one process**: this checkout's code in one process;
* **every core**: this checkout's brief step, ``BriefWorkers`` (one worker process per core).

The contenders take ``--repeat`` turns and each counts its best run. Prints items/s and each
row's ratio to the baseline. Goal: every core at 2x or more.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "real-feeds"
DEFAULT_BASELINE = "1ebef7c"
"""The last commit whose poll made the briefs itself, in one process."""
GOAL = 2.0


def child(code_root: Path, corpus: Path, db_path: Path, workers: bool) -> dict:
    """Store the corpus with the code under ``code_root``, then time briefing every item."""
    sys.path.insert(0, str(code_root))
    # An editable install's finder would import this checkout's package whatever sys.path says.
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in repr(f)]
    from aggregator.briefs import pipeline
    from aggregator.config import from_mapping
    from aggregator.ingest.parse import parse_feed
    from aggregator.store.db import Database
    from aggregator.store.items import store_entries
    from aggregator.store.models import Source

    now = datetime(2026, 11, 30, tzinfo=UTC)
    settings = from_mapping({}, root=db_path.parent, origin="bench")
    db = Database(f"sqlite:///{db_path}")
    ids: list[int] = []
    with db.session() as session:
        for n, path in enumerate(sorted(corpus.glob("*.xml"))):
            try:
                parsed = parse_feed(path.read_bytes(), f"https://feed{n}.example/", now=now)
            except Exception:  # noqa: BLE001 - the corpus's one broken feed
                continue
            source = Source(url=f"https://feed{n}.example/", name=path.stem)
            session.add(source)
            session.flush()
            ids += store_entries(session, source, parsed.entries, now).new_ids
    options: dict[str, Any] = {}
    if workers:
        options["workers"] = pipeline.BriefWorkers(pipeline.glossary_for(settings))
    started = time.perf_counter()
    report = pipeline.make_briefs(db, settings, ids, **options)
    seconds = time.perf_counter() - started
    if workers:
        options["workers"].shutdown()
    code = Path(pipeline.__file__).resolve()
    assert code.is_relative_to(code_root.resolve()), f"{code} is not from {code_root}"
    return {"items": len(ids), "made": report.made, "seconds": seconds}


def run_child(code_root: Path, corpus: Path, workers: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-briefs-") as tmp:
        command = [sys.executable, __file__, "--child", str(code_root), "--corpus", str(corpus)]
        command += ["--db", str(Path(tmp) / "b.db")] + (["--workers"] if workers else [])
        done = subprocess.run(command, capture_output=True, text=True, cwd=tmp)
        if done.returncode != 0:
            raise SystemExit(f"child failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision to compare")
    parser.add_argument("--repeat", type=int, default=3, help="turns (the best run counts)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workers", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.corpus, args.db, args.workers)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-briefs-base-") as base:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", base, args.baseline],
            check=True,
        )
        contenders = [
            (f"baseline {args.baseline}, one process", Path(base), False),
            ("this checkout, one process", ROOT, False),
            (f"this checkout, every core ({os.cpu_count()})", ROOT, True),
        ]
        runs: dict[str, list[dict]] = {name: [] for name, _, _ in contenders}
        try:
            # The contenders take turns, and each counts its best run: a noisy moment of a
            # shared machine then costs all of them alike.
            for _turn in range(args.repeat):
                for name, code_root, workers in contenders:
                    runs[name].append(run_child(code_root, args.corpus, workers))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", base])
    rows = [(name, min(done, key=lambda run: run["seconds"])) for name, done in runs.items()]
    base_rate = rows[0][1]["made"] / rows[0][1]["seconds"]
    print(f"corpus {args.corpus}: {rows[0][1]['items']:,} items\n")
    print("| contender | briefs | seconds | briefs/s | x baseline |")
    print("|---|---:|---:|---:|---:|")
    for name, row in rows:
        rate = row["made"] / row["seconds"]
        print(
            f"| {name} | {row['made']:,} | {row['seconds']:.1f} | {rate:,.0f} | {rate / base_rate:.2f} |"
        )
    for name, done in runs.items():
        seconds = ", ".join(f"{run['seconds']:.1f}" for run in done)
        print(f"{name}, every run: {seconds} s")
    medians = {
        name: statistics.median(run["seconds"] for run in done) for name, done in runs.items()
    }
    first, last = list(medians.values())[0], list(medians.values())[-1]
    print(f"every core vs baseline, by median runs: {first / last:.2f}x")
    ratio = rows[-1][1]["made"] / rows[-1][1]["seconds"] / base_rate
    print(
        f"\nevery core vs baseline: {ratio:.2f}x (goal {GOAL}x) {'met' if ratio >= GOAL else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
