"""Worker processes that end with the process that started them.

The parser pool's workers are forked by multiprocessing's forkserver, not by the poller, so
when the poller is killed (SIGKILL, or SIGTERM without a handler) nothing tells them: they wait
on their task queue forever. The forkserver waits for them in turn (each worker holds its
"alive" pipe open), and the resource tracker for both: about 230 MB stayed behind. A worker
started with :func:`die_with` as its initializer watches the poller and exits when it is gone,
and then the forkserver and the resource tracker, having no one left, exit on their own.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor


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

    The forkserver imports ``preload`` (and the main script) once for all the workers it forks;
    otherwise each worker re-runs the main script first. Only the first pool of a process sets it.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", *preload])
    return ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(os.getpid(), initializer, initargs),
    )


def _start_worker(pid: int, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    die_with(pid)
    if initializer is not None:
        initializer(*initargs)
