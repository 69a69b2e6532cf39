"""Where a poll's work runs: parsing in worker processes beside the event loop once a poll has
enough bodies to pay for starting them (else on the store thread), and recording outcomes on
one store thread, several sources per transaction.

The workers are forked by a forkserver (never by a process with threads) and end when the
poller dies (``children.process_pool``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TypeVar

from sqlalchemy.orm import Session

from aggregator.ingest.children import process_pool
from aggregator.ingest.fetch import FetchResult
from aggregator.ingest.parse import parse_and_sign
from aggregator.model.entry import ParsedFeed
from aggregator.store.claims import write_transaction
from aggregator.store.db import Database

log = logging.getLogger("aggregator.poll")
POOL_AFTER_BODIES = 16
"""The first bodies of a poll parse on the store thread; starting processes costs about a
second, which only pays off for a poll with many changed feeds."""


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
        # parse_and_sign itself goes to the workers: its module is what the forkserver preloads.
        parse = partial(parse_and_sign, content_type=result.content_type, now=now)
        args = (result.body, result.url)
        self.bodies += 1
        if self.enabled and self.bodies > POOL_AFTER_BODIES:
            try:
                if self._pool is None:
                    self._pool = process_pool(self.workers, ["aggregator.ingest.parse"])
                future = asyncio.get_running_loop().run_in_executor(self._pool, parse, *args)
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
        return await fallback(parse, *args)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


MAX_BATCH = 64
"""Sources recorded in one transaction at most."""
LINGER = 0.05
"""Seconds a transaction waits for more outcomes after its first."""
T = TypeVar("T")


@dataclass(slots=True)
class _Call:
    fn: Callable
    args: tuple
    in_transaction: bool
    future: asyncio.Future


class StoreThread:
    """The one thread that writes a poll's outcomes, several sources per transaction.

    Writing is database work: a thread keeps it off the event loop (so fetch timeouts stay
    honest) and serialises the writes. A transaction waits up to ``linger`` seconds after its
    first outcome for more (fewer, larger transactions: a cold poll of 1,000 feeds commits about
    50 times instead of 250), and outcomes that arrive while one is being written go into the
    next; each has its own savepoint: one source's error rolls back that source alone. Plain
    calls (claiming, loading, parsing without a pool) run between transactions, never inside
    one, and are not kept waiting by the linger.
    """

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH, linger: float = LINGER):
        self.db = db
        self.max_batch = max_batch
        self.linger = linger
        self._loop = asyncio.get_running_loop()
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="poll-store", daemon=True)
        self._thread.start()

    def call(self, fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
        """``fn(*args)`` on the store thread, outside any transaction."""
        return self._put(fn, args, in_transaction=False)

    def record(self, fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
        """``fn(session, *args)`` on the store thread, in a savepoint of a shared transaction."""
        return self._put(fn, args, in_transaction=True)

    def close(self) -> None:
        """Finish what is queued and end the thread."""
        self._queue.put(None)
        self._thread.join()

    def _put(self, fn: Callable, args: tuple, *, in_transaction: bool) -> asyncio.Future:
        future = self._loop.create_future()
        self._queue.put(_Call(fn, args, in_transaction, future))
        return future

    def _run(self) -> None:
        while (first := self._queue.get()) is not None:
            batch = [first]
            # The outcomes that follow a first one within the linger join its transaction.
            until = time.monotonic() + (self.linger if first.in_transaction else 0.0)
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get(timeout=max(0.0, until - time.monotonic()))
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # end after this batch
                    break
                batch.append(more)
                if not more.in_transaction:
                    until = 0.0  # someone waits on a plain call: take only what is queued
            pending: list[_Call] = []
            for call in batch:
                if call.in_transaction:
                    pending.append(call)
                    continue
                self._write(pending)
                pending = []
                self._settle(call)
            self._write(pending)

    def _write(self, calls: list[_Call]) -> None:
        if not calls:
            return
        results: list[tuple[_Call, object, BaseException | None]] = []
        try:
            # One real transaction (BEGIN IMMEDIATE on SQLite, where a savepoint outside one
            # would itself be a transaction) with a savepoint per call.
            with write_transaction(self.db) as connection, Session(bind=connection) as session:
                for call in calls:
                    try:
                        with session.begin_nested():
                            results.append((call, call.fn(session, *call.args), None))
                    except Exception as exc:  # that source alone is rolled back
                        results.append((call, None, exc))
                session.commit()
        except Exception as exc:  # the commit failed: nothing of this batch was recorded
            results = [(call, None, exc) for call in calls]
        for call, value, error in results:
            self._loop.call_soon_threadsafe(_resolve, call.future, value, error)

    def _settle(self, call: _Call) -> None:
        try:
            value, error = call.fn(*call.args), None
        except Exception as exc:
            value, error = None, exc
        self._loop.call_soon_threadsafe(_resolve, call.future, value, error)


def _resolve(future: asyncio.Future, value: object, error: BaseException | None) -> None:
    if future.done():  # its task was cancelled (shutdown): nobody waits for it
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
