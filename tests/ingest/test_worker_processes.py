"""Worker processes (``ingest/children.process_pool``) start without running the main script.

On Python before 3.13 the forkserver never preloads ``__main__`` (CPython gh-126631), so every
worker ran the main script again: for ``aggregator`` all of the CLI's imports, a second of CPU
per worker. The script below counts its own runs in a file.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from aggregator.model.entry import Entry
from tests.cli import ENV

SCRIPT = """
import os, sys
with open(sys.argv[1], "a") as runs:
    runs.write(f"{os.getpid()}\\n")

from aggregator.ingest.children import process_pool

if __name__ == "__main__":
    pool = process_pool(2, ["aggregator.ingest.parse"])
    pids = {future.result() for future in [pool.submit(os.getpid) for _ in range(20)]}
    pool.shutdown()
    print(len(pids - {os.getpid()}))
"""


def test_workers_do_not_run_the_main_script_again(tmp_path: Path) -> None:
    script = tmp_path / "main_script.py"
    script.write_text(SCRIPT)
    runs = tmp_path / "runs.txt"
    done = subprocess.run(
        [sys.executable, str(script), str(runs)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) >= 1  # worker processes answered
    assert len(runs.read_text().split()) == 1  # the parent's own run, and no worker's


def test_an_entry_crosses_a_pickle_whole() -> None:
    entry = Entry(
        key="guid:1",
        title="T",
        url="https://example.org/1",
        guid="1",
        author="A",
        content_html="<p>x</p>",
        content_text="x",
        published=datetime(2026, 1, 2, tzinfo=UTC),
        updated=datetime(2026, 1, 3, tzinfo=UTC),
        tags=["a", "b"],
    )
    assert pickle.loads(pickle.dumps(entry)) == entry
    assert pickle.loads(pickle.dumps(Entry(key="k", title=""))) == Entry(key="k", title="")
