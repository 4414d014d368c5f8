"""Every attempt of a training job, with its wall and CPU time, in `<checkpoint dir>/attempts.tsv`.

Snakemake's benchmark file of a job measures only the invocation that finished it (a resumed job's earlier,
interrupted attempts are overwritten), so the report adds the attempts recorded here (plus.report.cost). The row
of the running attempt is rewritten every UPDATE_S seconds and when the attempt ends, so an attempt killed
without warning (SIGKILL, a node failure) loses at most UPDATE_S seconds; its status stays `running`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from plus.io import atomic_path

ATTEMPTS = "attempts.tsv"
COLUMNS = ("started_utc", "wall_s", "cpu_s", "status")
UPDATE_S = 30.0


def read_attempts(path: Path) -> pd.DataFrame:
    """The attempts of one job (COLUMNS); an unreadable file reads as no attempts."""
    try:
        table = pd.read_csv(path, sep="\t")
    except (OSError, pd.errors.EmptyDataError, pd.errors.ParserError):
        return pd.DataFrame(columns=list(COLUMNS))
    if any(column not in table.columns for column in COLUMNS):
        return pd.DataFrame(columns=list(COLUMNS))
    return table[list(COLUMNS)]


def _write(path: Path, table: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False)


@contextmanager
def recorded_attempt(checkpoint_dir: Path, update_s: float = UPDATE_S) -> Iterator[None]:
    """Record this attempt (global rank 0 only) as a row of `checkpoint_dir/attempts.tsv` while the block runs."""
    from lightning.pytorch.utilities import rank_zero_only

    if rank_zero_only.rank != 0:
        yield
        return
    path = Path(checkpoint_dir) / ATTEMPTS
    earlier = read_attempts(path)
    started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    wall_start, cpu_start = time.monotonic(), time.process_time()
    lock = threading.Lock()

    def record(status: str) -> None:
        row = {
            "started_utc": started,
            "wall_s": round(time.monotonic() - wall_start, 3),
            "cpu_s": round(time.process_time() - cpu_start, 3),
            "status": status,
        }
        with lock:
            _write(path, pd.concat([earlier, pd.DataFrame([row])], ignore_index=True))

    stop = threading.Event()

    def keep_recording() -> None:
        while not stop.wait(update_s):
            record("running")

    record("running")
    thread = threading.Thread(target=keep_recording, name="attempt-clock", daemon=True)
    thread.start()
    status = "failed"
    try:
        yield
        status = "finished"
    except SystemExit:
        status = "interrupted"
        raise
    finally:
        stop.set()
        thread.join()
        record(status)
