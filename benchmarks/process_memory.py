"""Process memory for the benchmarks: current RSS split into anonymous and file-backed pages, and its peak.

Linux counts the pages of a memory-mapped file that the process has touched in its RSS (`RssFile`): they are
clean page cache, shared with every process mapping the file and dropped by the kernel under pressure. Private
memory (`RssAnon`: numpy arrays, Python objects) is what a job must really hold.
"""

from __future__ import annotations

import resource
import threading
from pathlib import Path

STATUS = Path("/proc/self/status")


def rss_mb() -> dict[str, float]:
    """Current RSS, RssAnon and RssFile of this process in MiB (Linux; zeros elsewhere)."""
    fields = {"VmRSS": 0.0, "RssAnon": 0.0, "RssFile": 0.0}
    if STATUS.is_file():
        for line in STATUS.read_text().splitlines():
            key, _, value = line.partition(":")
            if key in fields:
                fields[key] = float(value.split()[0]) / 1024
    return {
        "rss_mb": round(fields["VmRSS"], 1),
        "anon_mb": round(fields["RssAnon"], 1),
        "file_mb": round(fields["RssFile"], 1),
    }


def peak_rss_mb() -> float:
    """Peak RSS of this process so far (ru_maxrss, anonymous and file-backed pages together), in MiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class AnonPeak:
    """Samples RssAnon every `interval` seconds in a thread while in use; `.mb` is the highest value seen."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.mb = max(self.mb, rss_mb()["anon_mb"])
            self._stop.wait(self.interval)

    def __enter__(self) -> AnonPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.mb = max(self.mb, rss_mb()["anon_mb"])
