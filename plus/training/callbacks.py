"""Callbacks that make a stopped run resumable: checkpoints written where a resume repeats and skips nothing
(periodic ones and one on SIGTERM/SIGUSR1), and early stopping that stays stopped."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason

from plus.training.resume import LAST

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


def validates_after_this_step(trainer: L.Trainer) -> bool:
    """Whether Lightning validates after the training step that just ended (validation every N steps)."""
    interval = trainer.val_check_batch
    return isinstance(interval, int) and interval > 0 and trainer.global_step % interval == 0


class StepCheckpoint(ModelCheckpoint):
    """ModelCheckpoint whose every-N-steps save, at a step followed by validation, waits until that validation ends.

    Lightning does not redo the validation of a step whose checkpoint was written before it (at the end of the
    training batch), so a resume from such a checkpoint would lack that validation; ModelCheckpoint's own
    deferral to `on_validation_end` is used instead.
    """

    def __init__(self, *, every_n_train_steps: int | None = None, **kwargs: Any) -> None:
        super().__init__(every_n_train_steps=every_n_train_steps, **kwargs)
        self.every_n_steps = every_n_train_steps or 0

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        due = self.every_n_steps > 0 and trainer.global_step % self.every_n_steps == 0
        if due and validates_after_this_step(trainer):
            self._defer_save_until_validation = True
            return
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


class SaveOnSignal(Callback):
    """On SIGTERM or SIGUSR1 (SLURM's time-limit warnings), write `last.ckpt` at the end of the current step and
    exit with 128 + the signal when the next step would start.

    Exiting only then lets the step's metrics be logged and a validation that follows the step run: Lightning
    does not redo the validation of a step whose checkpoint was written before it, and fine-tuning rewrites
    `last.ckpt` after each validation. Under DDP the ranks agree to stop through `reduce_boolean_decision` (one
    small all-reduce per step). Lightning's own SIGTERM handling is replaced while training: it stops after the
    step's validation and logging, where a resume miscounts the logged steps.
    """

    def __init__(self, checkpoint_dir: Path) -> None:
        self.path = checkpoint_dir / LAST
        self.received: int | None = None
        self.saved = False

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.received = signum

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.received_sigterm:
            self.received = signal.SIGTERM
        for signum in SIGNALS:
            signal.signal(signum, self._on_signal)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_DFL)

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if not self.saved and trainer.strategy.reduce_boolean_decision(self.received is not None, all=False):
            log.warning("signal %s received: saving %s and stopping", self.received, self.path)
            trainer.save_checkpoint(self.path)
            self.saved = True

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        if self.saved:
            raise SystemExit(128 + (self.received or signal.SIGTERM))


class ResumableEarlyStopping(EarlyStopping):
    """EarlyStopping whose verdict survives a resume: a run restored from a checkpoint written after it stopped
    early does not train on (Lightning restores the callback's state but not `trainer.should_stop`)."""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.stopping_reason != EarlyStoppingReason.NOT_STOPPED:
            trainer.should_stop = True

    @property
    def stopped_early(self) -> bool:
        """Whether this run was stopped by the callback."""
        return self.stopping_reason != EarlyStoppingReason.NOT_STOPPED
