"""Training progress a person can follow in a job's log: one line at most every N seconds and after each
validation, `step s/S (epoch e/E): train loss x, val loss y; 10.2 steps/s, ETA 1 min 58 s`, in place of
Lightning's progress bar (whose carriage-return redraws fill a log file with thousands of partial lines)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.trainer.states import TrainerFn

from plus.logs import duration_text
from plus.training.callbacks import validates_after_this_step

log = logging.getLogger(__name__)

# Logged metrics shown in a progress line, in this order, under these names.
SHOWN_METRICS = {"train_loss": "train loss", "val_loss": "val loss"}


def progress_line(
    step: int,
    total: int,
    *,
    elapsed: float,
    steps_done: int,
    epoch: tuple[int, int] | None = None,
    metrics: Mapping[str, float] | None = None,
) -> str:
    """One progress line: `step s/S (epoch e/E): <metrics>; <rate> steps/s, ETA <duration>`.

    `elapsed` seconds went to the `steps_done` steps of this attempt (validation included, so the ETA is the
    wall time left); the ETA is unknown before this attempt has done a step.
    """
    line = f"step {step}/{total}"
    if epoch is not None:
        line += f" (epoch {epoch[0]}/{epoch[1]})"
    shown = [f"{label} {metrics[key]:.4g}" for key, label in SHOWN_METRICS.items() if key in (metrics or {})]
    if shown:
        line += ": " + ", ".join(shown)
    if steps_done > 0 and elapsed > 0:
        rate = steps_done / elapsed
        line += f"; {rate:.3g} steps/s, ETA {duration_text(max(total - step, 0) / rate)}"
    else:
        line += "; ETA unknown"
    return line


class ProgressLog(Callback):
    """Logs a progress line (progress_line) at most every `every_s` seconds of training, after each validation
    and at the last step; on the global-zero rank only."""

    def __init__(
        self, every_s: float = 30.0, steps_per_epoch: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.every_s = every_s
        self.steps_per_epoch = steps_per_epoch
        self.clock = clock
        self.started = 0.0
        self.start_step = 0
        self.last_logged = 0.0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = self.last_logged = self.clock()
        self.start_step = trainer.global_step
        if self.start_step:
            log.info("resuming at step %d of %d", self.start_step, trainer.max_steps)

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if validates_after_this_step(trainer):
            return  # on_validation_end logs this step, with its validation loss
        due = self.clock() - self.last_logged >= self.every_s
        if due or trainer.global_step >= trainer.max_steps:
            self._log(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking:
            self._log(trainer)

    def _log(self, trainer: L.Trainer) -> None:
        now = self.clock()
        self.last_logged = now
        if not trainer.is_global_zero:
            return
        metrics = {key: float(value) for key, value in trainer.callback_metrics.items() if key in SHOWN_METRICS}
        line = progress_line(
            trainer.global_step,
            trainer.max_steps,
            elapsed=now - self.started,
            steps_done=trainer.global_step - self.start_step,
            epoch=epoch_of(trainer.global_step, trainer.max_steps, self.steps_per_epoch),
            metrics=metrics,
        )
        log.info(line)


def epoch_of(step: int, max_steps: int, steps_per_epoch: int | None) -> tuple[int, int] | None:
    """(the epoch of the step just done, epochs) counted from 1, or None without an epoch length."""
    if not steps_per_epoch or steps_per_epoch <= 0 or max_steps <= 0:
        return None
    total = math.ceil(max_steps / steps_per_epoch)
    return min(max(step - 1, 0) // steps_per_epoch + 1, total), total
