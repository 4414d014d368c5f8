"""The Lightning Trainer every training command uses: precision, devices, checkpoints, logs, resume."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.environments import LightningEnvironment

log = logging.getLogger(__name__)

LAST = "last.ckpt"


def resolve_precision(requested: str) -> str:
    """'auto' means bf16 mixed precision on a GPU that supports it and full fp32 on CPU."""
    if requested != "auto":
        return requested
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


class SaveOnSignal(Callback):
    """On SIGTERM or SIGUSR1 (SLURM's time-limit warnings), write `last.ckpt` after the current step and exit.

    Outside the training loop the signal ends the process at once, as it would without this callback.
    """

    def __init__(self, checkpoint_dir: Path) -> None:
        self.path = checkpoint_dir / LAST
        self.received: int | None = None
        self.training = False

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        for signum in (signal.SIGTERM, signal.SIGUSR1):
            signal.signal(signum, self._on_signal)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        for signum in (signal.SIGTERM, signal.SIGUSR1):
            signal.signal(signum, signal.SIG_DFL)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if not self.training:
            raise SystemExit(128 + signum)
        self.received = signum

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.training = True

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.training = False

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if self.received is not None:
            log.warning("signal %d received: saving %s and stopping", self.received, self.path)
            trainer.save_checkpoint(self.path)
            raise SystemExit(128 + self.received)


def cluster_plugins(devices: int) -> list[Any]:
    """Let Lightning use SLURM's processes only when SLURM started one task per GPU; otherwise it spawns its own.

    A Snakemake job runs its command under `srun -n1`, so a job given several GPUs has one task: Lightning then
    launches one DDP process per visible GPU itself instead of expecting SLURM to have done it.
    """
    tasks_per_node = os.environ.get("SLURM_NTASKS_PER_NODE")
    if "SLURM_JOB_ID" in os.environ and (tasks_per_node is None or int(tasks_per_node) != devices):
        return [LightningEnvironment()]
    return []


def world_size() -> int:
    """Processes a run trains with: the visible GPUs (at least one process) times the SLURM nodes."""
    devices = max(torch.cuda.device_count(), 1) if torch.cuda.is_available() else 1
    nodes = int(os.environ.get("SLURM_NNODES", 1)) if not cluster_plugins(devices) else 1
    return devices * nodes


def build_trainer(
    checkpoint_dir: Path,
    *,
    precision: str = "auto",
    max_epochs: int | None = None,
    max_steps: int = -1,
    grad_clip: float = 1.0,
    monitor: str | None = None,
    patience: int | None = None,
    val_every_n_steps: int | None = None,
    checkpoint_every_n_steps: int | None = None,
    deterministic: bool = False,
) -> L.Trainer:
    """A Trainer that keeps its resume state in `checkpoint_dir`, outside any declared workflow output."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    callbacks: list[Callback] = [TQDMProgressBar(refresh_rate=10), SaveOnSignal(checkpoint_dir)]
    callbacks.append(
        ModelCheckpoint(
            dirpath=checkpoint_dir,
            filename="periodic",
            save_last=True,
            save_top_k=0 if monitor is None else 1,
            monitor=monitor,
            every_n_train_steps=checkpoint_every_n_steps,
            save_on_train_epoch_end=checkpoint_every_n_steps is None,
        )
    )
    if monitor is not None:
        callbacks[-1].filename = "best"
    if patience is not None and monitor is not None:
        callbacks.append(EarlyStopping(monitor=monitor, patience=patience, mode="min"))
    devices = torch.cuda.device_count() if torch.cuda.is_available() else 1
    return L.Trainer(
        accelerator="gpu" if torch.cuda.is_available() else "cpu",
        devices=max(devices, 1),
        strategy="ddp" if devices > 1 else "auto",
        num_nodes=int(os.environ.get("SLURM_NNODES", 1)) if not cluster_plugins(devices) else 1,
        plugins=cluster_plugins(devices),
        precision=resolve_precision(precision),
        max_epochs=max_epochs,
        max_steps=max_steps,
        gradient_clip_val=grad_clip,
        gradient_clip_algorithm="norm",
        val_check_interval=val_every_n_steps,
        check_val_every_n_epoch=None if val_every_n_steps else 1,
        callbacks=callbacks,
        logger=CSVLogger(checkpoint_dir, name="logs", version=0),
        default_root_dir=checkpoint_dir,
        deterministic=deterministic,
        num_sanity_val_steps=0,
        enable_model_summary=False,
        log_every_n_steps=10,
    )


def resume_path(checkpoint_dir: Path) -> Path | None:
    """The checkpoint to continue from, if an earlier attempt left one."""
    path = checkpoint_dir / LAST
    if path.is_file():
        log.info("resuming from %s", path)
        return path
    return None


def best_checkpoint(trainer: L.Trainer) -> Path | None:
    """The best-scoring checkpoint the trainer kept, if it monitored something."""
    callback = trainer.checkpoint_callback
    if callback is None or not getattr(callback, "best_model_path", ""):
        return None
    return Path(callback.best_model_path)


def epoch_history(checkpoint_dir: Path) -> pd.DataFrame:
    """The CSV logger's rows merged per (epoch, step): one row per logged step with every metric."""
    path = checkpoint_dir / "logs" / "version_0" / "metrics.csv"
    if not path.is_file():
        return pd.DataFrame()
    frame = pd.read_csv(path)
    return frame.groupby(["epoch", "step"], as_index=False).first().sort_values("step")
