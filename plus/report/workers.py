"""Worker processes that never outlive the command that started them.

`starmap` runs calls in a `multiprocessing` pool (spawn start method: no inherited threads or locks). Three
guards keep a killed parent from leaving workers behind:
- while the pool runs, SIGTERM in the parent raises SystemExit, so the pool is terminated on the way out, as it
  is for Ctrl-C (KeyboardInterrupt) and any error;
- workers ignore SIGINT (a Ctrl-C reaches the whole process group; the parent decides and terminates them);
- each worker watches its parent (os.getppid every PARENT_POLL_S seconds) and exits when the parent is gone,
  which covers a parent killed with SIGKILL, where no handler runs.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

Result = TypeVar("Result")

PARENT_POLL_S = 0.5


def _exit_when_orphaned(parent: int) -> None:
    """Poll the parent pid; end this process at once when it changes (the parent died and we were re-parented)."""
    while True:
        time.sleep(PARENT_POLL_S)
        if os.getppid() != parent:
            os._exit(1)


def _start_worker(parent: int) -> None:
    """Pool initializer: ignore SIGINT, default SIGTERM, and watch the parent from a daemon thread."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True, name="watch-parent").start()


def _raise_exit(signum: int, frame: object) -> None:
    """SIGTERM handler of the parent while a pool runs: unwind (terminating the pool) with status 128 + signum."""
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Make SIGTERM raise SystemExit in the main thread for the duration (elsewhere a signal handler cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def starmap(function: Callable[..., Result], arguments: Iterable[tuple[Any, ...]], workers: int) -> list[Result]:
    """`[function(*a) for a in arguments]`, in `workers` processes when more than one (results in input order)."""
    calls = list(arguments)
    processes = min(workers, len(calls))
    if processes <= 1:
        return [function(*call) for call in calls]
    context = multiprocessing.get_context("spawn")
    with _sigterm_unwinds(), context.Pool(processes, initializer=_start_worker, initargs=(os.getpid(),)) as pool:
        return pool.starmap(function, calls, chunksize=1)
