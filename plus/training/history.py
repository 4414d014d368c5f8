"""The training history across resumes: one append-only JSON-lines log per attempt, merged into one row per step.

Every attempt of a run logs to a version of its own (`logs/version_<k>/`): `metrics.jsonl` gets one line per
logged step, appended and flushed at once, and `hparams.yaml` (replaced atomically) records the step the attempt
started from. Not Lightning's CSVLogger: it rewrites metrics.csv in place whenever a new metric appears (the first
validation), so a process killed during that rewrite loses the rows logged before. A kill can now cut short only
the last line, which the merge skips. The merge keeps an attempt's rows only below the start step of each later
attempt: a step redone after a resume comes from the attempt that redid it. Checkpoint directories of the previous
code (a metrics.csv per attempt) are still read.
"""

from __future__ import annotations

import json
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import yaml
from lightning.pytorch.loggers.logger import Logger
from lightning.pytorch.utilities import rank_zero_only

from plus.errors import InputError
from plus.io import atomic_path

LOGS = "logs"
START_STEP = "start_step"
METRICS = "metrics.jsonl"
OLD_METRICS = "metrics.csv"
HPARAMS = "hparams.yaml"


class AttemptLogger(Logger):
    """Logs one attempt to `save_dir/logs/version_<k>/`: metrics appended as JSON lines, hparams in a YAML file."""

    def __init__(self, save_dir: Path) -> None:
        super().__init__()
        self._save_dir = Path(save_dir)
        self._version: int | None = None
        self._hparams: dict[str, Any] = {}

    @property
    def name(self) -> str:
        return LOGS

    @property
    def version(self) -> int:
        """The next free version under `save_dir/logs`, chosen at the first call."""
        if self._version is None:
            self._version = max((_version(path) + 1 for path in _attempts(Path(self.root_dir))), default=0)
        return self._version

    @property
    def save_dir(self) -> str:
        return str(self._save_dir)

    @property
    def root_dir(self) -> str:
        return str(self._save_dir / LOGS)

    @property
    def log_dir(self) -> str:
        return str(Path(self.root_dir) / f"version_{self.version}")

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Append one line `{"step": step, metric: value, ...}` (tensors as floats) and flush it."""
        row = {"step": step, **{key: float(value) for key, value in metrics.items()}}
        path = Path(self.log_dir) / METRICS
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as log:
            log.write(json.dumps(row) + "\n")

    @rank_zero_only
    def log_hyperparams(self, params: Mapping[str, Any] | Namespace | None = None, *args: Any, **kwargs: Any) -> None:
        """Merge `params` into hparams.yaml (values other than YAML scalars as str), replacing the file atomically."""
        params = vars(params) if isinstance(params, Namespace) else dict(params or {})
        self._hparams.update({str(key): _scalar(value) for key, value in params.items()})
        with atomic_path(Path(self.log_dir) / HPARAMS) as tmp:
            tmp.write_text(yaml.safe_dump(self._hparams, sort_keys=False))


def _scalar(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def attempt_logger(checkpoint_dir: Path) -> AttemptLogger:
    """A logger writing to the next free version under `checkpoint_dir/logs`, every row flushed as it is logged."""
    return AttemptLogger(checkpoint_dir)


def record_attempt_start(trainer: L.Trainer, step: int) -> None:
    """Note in this attempt's log the global step its training starts from (0 for a fresh start)."""
    if trainer.logger is not None:
        trainer.logger.log_hyperparams({START_STEP: step})


def _version(attempt: Path) -> int:
    return int(attempt.name.removeprefix("version_"))


def _attempts(log_root: Path) -> list[Path]:
    versions = [path for path in log_root.glob("version_*") if path.name.removeprefix("version_").isdigit()]
    return sorted(versions, key=_version)


def _start_step(attempt: Path) -> int:
    hparams = attempt / HPARAMS
    values = yaml.safe_load(hparams.read_text()) if hparams.is_file() else None
    return int(values.get(START_STEP, 0)) if isinstance(values, dict) else 0


def _read_rows(metrics: Path) -> list[dict[str, Any]]:
    """The rows of a metrics.jsonl; a last line that is not JSON (cut short by a kill) is skipped."""
    lines = [line for line in metrics.read_text().split("\n") if line.strip()]
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number < len(lines):
                raise InputError(f"{metrics}: line {number} is not JSON (a damaged training log)") from None
    return rows


def _attempt_metrics(attempt: Path) -> pd.DataFrame | None:
    """An attempt's logged rows: its metrics.jsonl, or the metrics.csv an attempt of the previous code wrote."""
    if (attempt / METRICS).is_file():
        rows = _read_rows(attempt / METRICS)
        return pd.DataFrame.from_records(rows) if rows else None
    old = attempt / OLD_METRICS
    return pd.read_csv(old) if old.is_file() and old.stat().st_size > 0 else None


def training_history(checkpoint_dir: Path, steps_per_epoch: int) -> pd.DataFrame:
    """Every attempt's logged metrics, one row per step (metrics in name order); `epoch` is the step's data epoch."""
    kept: list[pd.DataFrame] = []
    for attempt in _attempts(checkpoint_dir / LOGS):
        start = _start_step(attempt)
        kept = [frame[frame["step"] < start] for frame in kept]
        metrics = _attempt_metrics(attempt)
        if metrics is not None:
            kept.append(metrics)
    if not kept:
        return pd.DataFrame(columns=["step", "epoch"])
    merged = pd.concat(kept, ignore_index=True).drop(columns="epoch", errors="ignore")
    merged = merged.groupby("step", as_index=False).first()
    merged.insert(1, "epoch", merged["step"] // max(steps_per_epoch, 1))
    return merged[["step", "epoch", *sorted(merged.columns.drop(["step", "epoch"]))]]
