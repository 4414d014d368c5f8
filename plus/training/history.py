"""The training history across resumes: one CSV log per attempt, merged into one row per logged step.

Lightning's CSVLogger deletes the metrics.csv of the version it writes to, so every attempt of a run logs to a
version of its own (`logs/version_<k>/`) and records the step it started from in that version's hparams.yaml.
The merge keeps an attempt's rows only below the start step of each later attempt: a step redone after a resume
comes from the attempt that redid it.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pandas as pd
import yaml
from lightning.pytorch.loggers import CSVLogger

LOGS = "logs"
START_STEP = "start_step"


def attempt_logger(checkpoint_dir: Path) -> CSVLogger:
    """A CSV logger writing to the next free version under `checkpoint_dir/logs`, flushing every logged step."""
    return CSVLogger(checkpoint_dir, name=LOGS, version=None, flush_logs_every_n_steps=1)


def record_attempt_start(trainer: L.Trainer, step: int) -> None:
    """Note in this attempt's log the global step its training starts from (0 for a fresh start)."""
    if trainer.logger is not None:
        trainer.logger.log_hyperparams({START_STEP: step})


def _attempts(log_root: Path) -> list[Path]:
    versions = [path for path in log_root.glob("version_*") if path.name.removeprefix("version_").isdigit()]
    return sorted(versions, key=lambda path: int(path.name.removeprefix("version_")))


def _start_step(attempt: Path) -> int:
    hparams = attempt / "hparams.yaml"
    values = yaml.safe_load(hparams.read_text()) if hparams.is_file() else None
    return int(values.get(START_STEP, 0)) if isinstance(values, dict) else 0


def training_history(checkpoint_dir: Path, steps_per_epoch: int) -> pd.DataFrame:
    """Every attempt's logged metrics, one row per step (metrics in name order); `epoch` is the step's data epoch."""
    kept: list[pd.DataFrame] = []
    for attempt in _attempts(checkpoint_dir / LOGS):
        start = _start_step(attempt)
        kept = [frame[frame["step"] < start] for frame in kept]
        metrics = attempt / "metrics.csv"
        if metrics.is_file() and metrics.stat().st_size > 0:
            kept.append(pd.read_csv(metrics))
    if not kept:
        return pd.DataFrame(columns=["step", "epoch"])
    merged = pd.concat(kept, ignore_index=True).drop(columns="epoch", errors="ignore")
    merged = merged.groupby("step", as_index=False).first()
    merged.insert(1, "epoch", merged["step"] // max(steps_per_epoch, 1))
    return merged[["step", "epoch", *sorted(merged.columns.drop(["step", "epoch"]))]]
