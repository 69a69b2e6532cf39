"""Worker processes that end with the process that started them.

The parser pool's workers are forked by multiprocessing's forkserver, not by the poller, so
when the poller is killed (SIGKILL, or SIGTERM without a handler) nothing tells them: they wait
on their task queue forever. The forkserver waits for them in turn (each worker holds its
"alive" pipe open), and the resource tracker for both: about 230 MB stayed behind. A worker
started with :func:`die_with` as its initializer watches the poller and exits when it is gone,
and then the forkserver and the resource tracker, having no one left, exit on their own.

Workers do not run the main script again. Python before 3.13 never preloads ``__main__`` in
the forkserver (CPython gh-126631), so every worker re-ran it: for ``aggregator`` that is the
whole CLI's imports, about a second of CPU per worker. Nothing a worker runs comes from the
main script, so the main module is left out of what a new worker is told to prepare.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing.context import ForkServerContext, ForkServerProcess


def die_with(pid: int) -> None:
    """``ProcessPoolExecutor`` initializer: end this process as soon as process ``pid`` ends."""
    threading.Thread(target=_watch, args=(pid,), name="die-with-parent", daemon=True).start()


def _watch(pid: int) -> None:
    try:
        handle = os.pidfd_open(pid)  # Linux 5.3+: readable once the process has ended
    except ProcessLookupError:
        pass  # already gone
    except (AttributeError, OSError):  # no pidfd here: look once a second
        while _alive(pid):
            time.sleep(1)
    else:
        select.select([handle], [], [])
    os._exit(1)  # the parent is gone: nobody wants the result of what this worker does


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or its pid taken by another user
        return False
    return True


def process_pool(
    workers: int,
    preload: list[str],
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes forked by a forkserver (never by a process with threads)
    whose workers end when this process ends; ``initializer(*initargs)`` runs in each first.

    The forkserver imports ``preload`` once for all the workers it forks (only the first pool
    of a process sets it); workers skip the main script.
    """
    multiprocessing.get_context("forkserver").set_forkserver_preload(preload)
    return ProcessPoolExecutor(
        workers,
        mp_context=_WorkerContext(),
        initializer=_start_worker,
        initargs=(os.getpid(), initializer, initargs),
    )


@contextmanager
def _main_script_hidden() -> Iterator[None]:
    """For the moment a worker is launched, an empty ``__main__``: multiprocessing then tells
    the worker no main script to run (it reads ``sys.modules["__main__"]`` only then)."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


class _WorkerProcess(ForkServerProcess):
    """A forkserver process launched without the main script."""

    @staticmethod
    def _Popen(process_obj):  # multiprocessing's launch hook
        with _main_script_hidden():
            return ForkServerProcess._Popen(process_obj)


class _WorkerContext(ForkServerContext):
    Process = _WorkerProcess


def _start_worker(pid: int, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    die_with(pid)
    if initializer is not None:
        initializer(*initargs)
