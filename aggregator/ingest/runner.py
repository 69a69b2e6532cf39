"""Where feed parsing runs: in worker processes beside the poll's event loop once a poll has
enough bodies to pay for starting them, else on the poll's store thread.

The workers are forked by a forkserver (never by a process with threads) and end when the
poller dies (``children.process_pool``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime

from aggregator.ingest.children import process_pool
from aggregator.ingest.fetch import FetchResult
from aggregator.ingest.parse import parse_feed
from aggregator.model.entry import ParsedFeed

log = logging.getLogger("aggregator.poll")
POOL_AFTER_BODIES = 16
"""The first bodies of a poll parse on the store thread; starting processes costs about a
second, which only pays off for a poll with many changed feeds."""


def _parse(body: bytes, url: str, content_type: str | None, now: datetime) -> ParsedFeed:
    return parse_feed(body, url, content_type=content_type, now=now)


class ParserPool:
    """Parses in worker processes (one per core, up to four) once a poll has many bodies.

    A poll whose sources mostly answer 304 never starts it; on a machine with one core, or when
    the pool breaks, bodies parse on the store thread instead.
    """

    def __init__(self) -> None:
        self.workers = min(os.cpu_count() or 1, 4)
        self.enabled = self.workers >= 2
        self.bodies = 0
        self._pool: ProcessPoolExecutor | None = None

    async def parse(self, result: FetchResult, now: datetime, *, fallback: Callable) -> ParsedFeed:
        args = (result.body, result.url, result.content_type, now)
        self.bodies += 1
        if self.enabled and self.bodies > POOL_AFTER_BODIES:
            try:
                if self._pool is None:
                    self._pool = process_pool(self.workers, ["aggregator.ingest.parse"])
                future = asyncio.get_running_loop().run_in_executor(self._pool, _parse, *args)
            except Exception as exc:  # processes cannot start here: parse in this process
                reason = " ".join(str(exc).split())[:200]
                log.warning(
                    "parser processes unavailable (%s); parsing on the store thread", reason
                )
                self.enabled = False
            else:
                try:
                    return await future
                except BrokenProcessPool:
                    log.error("the parser processes died; parsing on the store thread from now on")
                    self.enabled = False
        return await fallback(_parse, *args)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
