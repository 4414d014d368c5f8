"""The machine's load beside every benchmark figure, shared by the benchmark scripts that print JSON.

A figure measured while the 1-minute load average exceeded the CPU threads this process may run on is marked
`"overloaded": true` in its `load` record: other work shared the cores, so its speed understates the machine's
and varies from run to run. With PLUS_BENCHMARK_REFUSE_OVERLOADED=1 a script refuses such a figure instead: it
prints the reason on stderr and exits with status 3.
"""

from __future__ import annotations

import os
import sys
from typing import Any

REFUSE_VARIABLE = "PLUS_BENCHMARK_REFUSE_OVERLOADED"
OVERLOADED_EXIT = 3


def cpu_threads() -> int:
    """CPU threads this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class LoadWatch:
    """The load averages when a measurement starts, and its `load` record when it ends."""

    def __init__(self) -> None:
        self.start = os.getloadavg()

    def record(self) -> dict[str, Any]:
        """Load averages at the start and end, the CPU threads, and whether either 1-minute average exceeded them."""
        end = os.getloadavg()
        threads = cpu_threads()
        return {
            "load_1m_start": round(self.start[0], 2),
            "load_1m_end": round(end[0], 2),
            "load_5m_end": round(end[1], 2),
            "cpu_threads": threads,
            "overloaded": max(self.start[0], end[0]) > threads,
        }


def stamp(figure: dict[str, Any], watch: LoadWatch) -> dict[str, Any]:
    """`figure` with its `load` record; exits with OVERLOADED_EXIT instead if overloaded figures are refused."""
    load = watch.record()
    if load["overloaded"] and os.environ.get(REFUSE_VARIABLE) == "1":
        print(
            f"refused: load average {max(load['load_1m_start'], load['load_1m_end'])} exceeded the "
            f"{load['cpu_threads']} CPU threads during the measurement ({REFUSE_VARIABLE}=1)",
            file=sys.stderr,
        )
        raise SystemExit(OVERLOADED_EXIT)
    return {**figure, "load": load}
