"""Training speed and memory in the history: residues per second and peak memory at every logged step."""

from __future__ import annotations

import resource
import time
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.trainer.states import TrainerFn

LENGTH_FIELDS = ("lengths", "len_a", "len_b")


def batch_residues(batch: Any) -> torch.Tensor:
    """Residues in a batch: the sum of its length tensors (both sequences of a pair)."""
    fields = batch if isinstance(batch, dict) else batch._asdict()
    return sum(fields[name].sum() for name in LENGTH_FIELDS if name in fields)


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory of this process: allocated CUDA memory on a GPU, else the peak resident set size (Linux)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TrainingSpeed(Callback):
    """Logs `train_residues_per_s` and `peak_memory_mb` with every logged training step.

    The rate is the residues of the batches since the previous logged step over the wall time they took, time
    spent validating left out; under DDP the ranks' rates are summed. Lightning's ThroughputMonitor is not used:
    it logs validation throughput with validation batch indices as steps (rows that land on training steps in the
    history), reports no rate until a full window of batches follows each start or resume, synchronises CUDA
    after every batch, and does not measure memory.
    """

    def __init__(self) -> None:
        self.started = 0.0
        self.residues: torch.Tensor | int = 0
        self.paused_at: float | None = None

    def _restart(self) -> None:
        self.started = time.perf_counter()
        self.residues = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._restart()

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            self.paused_at = time.perf_counter()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.paused_at is not None:
            self.started += time.perf_counter() - self.paused_at
            self.paused_at = None

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self.residues = self.residues + batch_residues(batch)
        if trainer.global_step % trainer.log_every_n_steps != 0:
            return
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)
        elapsed = time.perf_counter() - self.started
        rate = float(self.residues) / elapsed
        log = {"on_step": True, "on_epoch": False, "batch_size": 1, "sync_dist": True}
        pl_module.log("train_residues_per_s", rate, reduce_fx="sum", **log)
        pl_module.log("peak_memory_mb", peak_memory_mb(pl_module.device), reduce_fx="max", **log)
        self._restart()
