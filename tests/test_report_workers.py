"""Bootstrap worker processes of `plus report` never outlive a report killed with SIGTERM, SIGINT or SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plus.report.workers import starmap

ROOT = Path(__file__).resolve().parents[1]
# a report-like run: a parent that starts 2 workers for 4 long calls and waits for them; each call first leaves a
# mark in the directory given, so the test signals the parent only once both workers are inside a call
CALLS = """import pathlib, time


def mark_and_sleep(directory, index):
    pathlib.Path(directory, str(index)).touch()
    time.sleep(60)
"""
SCRIPT = (
    "import sys; from plus.report.workers import starmap; from calls import mark_and_sleep; "
    "starmap(mark_and_sleep, [(sys.argv[1], index) for index in range(4)], 2)"
)


def children(pid: int) -> list[int]:
    """The processes below `pid` (Linux /proc)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def default_sigint() -> None:
    """In the child before it starts Python: SIGINT handled by default, so Python turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(condition, timeout: float) -> bool:
    """Poll `condition` every 0.1 s until it holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_one_worker_runs_in_process() -> None:
    assert starmap(divmod, [(7, 2), (9, 4)], 1) == [(3, 1), (2, 1)]
    assert starmap(divmod, [(7, 2), (9, 4), (5, 5)], 2) == [(3, 1), (2, 1), (1, 0)]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_killed_report_leaves_no_worker_running(signum: int, tmp_path: Path) -> None:
    (tmp_path / "calls.py").write_text(CALLS)
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(ROOT), str(tmp_path)))}
    command = [sys.executable, "-c", SCRIPT, str(marks)]
    # a report started from a terminal: SIGINT at its default, whatever an earlier test in this worker left it at
    # (Lightning ignores SIGINT after a KeyboardInterrupt; a child inheriting that would never see Ctrl-C)
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    try:
        # spawned workers take seconds to start on a loaded machine; signalled before, the pool is still starting
        assert wait_for(lambda: len(list(marks.iterdir())) >= 2, 120), "the workers did not start their calls"
        workers = children(process.pid)
        process.send_signal(signum)
        process.wait(timeout=60)
        assert wait_for(lambda: not any(alive(pid) for pid in workers), 10), [p for p in workers if alive(p)]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read() if process.stderr else ""
    if signum == signal.SIGTERM:
        assert process.returncode == 128 + signal.SIGTERM, stderr
    elif signum == signal.SIGINT:
        assert "KeyboardInterrupt" in stderr
