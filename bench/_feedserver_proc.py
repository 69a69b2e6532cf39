"""Serve N copies of a feed directory from its own process, for bench/poll.py.

    python bench/_feedserver_proc.py DIRECTORY COPIES

Prints one JSON line, the list of feed URLs, then serves until stdin closes, and prints a last
JSON line counting the requests: in all, per path at most, and paths asked. Running the server
in a separate process keeps it off the measured client's GIL.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.feedserver import FeedServer  # noqa: E402


def main() -> None:
    directory, copies = Path(sys.argv[1]), int(sys.argv[2])
    with FeedServer() as server:
        urls = server.add_directory(directory, "/feeds", copies=copies, pattern="*.xml")
        print(json.dumps(urls), flush=True)
        sys.stdin.read()  # the parent closes our stdin to stop us
        paths = Counter(record.path for record in server.requests)
        summary = {"requests": sum(paths.values()), "paths": len(paths)}
        print(json.dumps(summary | {"most": max(paths.values(), default=0)}), flush=True)


if __name__ == "__main__":
    main()
