"""The Lightning Trainer every training command uses: precision, devices, checkpoints, logs, resume."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.plugins import TorchCheckpointIO
from lightning.pytorch.plugins.environments import ClusterEnvironment, LightningEnvironment

from plus.errors import InputError
from plus.logs import adopt_library_loggers
from plus.models.checkpoint import write_torch_file
from plus.training.attempts import recorded_attempt
from plus.training.callbacks import ResumableEarlyStopping, SaveOnSignal, StepCheckpoint
from plus.training.history import attempt_logger, record_attempt_start
from plus.training.progress import ProgressLog
from plus.training.resume import LAST, resume_checkpoint
from plus.training.speed import TrainingSpeed

# Lightning attached its own console handler when imported: under a command's logging (plus.logs), its records go
# through the command's handler instead, once each. Every training module imports this one before it trains.
adopt_library_loggers()


def resolve_precision(requested: str) -> str:
    """'auto' means bf16 mixed precision on a GPU that supports it and full fp32 on CPU."""
    if requested != "auto":
        return requested
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


@dataclass(frozen=True)
class ProcessLayout:
    """Processes per node and nodes of a run, and the cluster environment Lightning is given (None: detected)."""

    devices: int
    nodes: int
    environment: ClusterEnvironment | None = None

    @property
    def world_size(self) -> int:
        return self.devices * self.nodes


def process_layout() -> ProcessLayout:
    """How many processes train, and who starts them.

    - torchrun started them: LOCAL_WORLD_SIZE per node on WORLD_SIZE / LOCAL_WORLD_SIZE nodes.
    - srun started one task per device of an allocation (a rule launched with `srun`, docs/cluster.md): SLURM's tasks
      per node on SLURM_NNODES nodes, one per visible GPU, or on CPU nodes as many CPU processes.
    - otherwise (a Snakemake job's single task, or no launcher): Lightning starts one process per visible GPU of
      this node itself (one on CPU), and the SLURM variables are ignored.
    """
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if torch.distributed.is_available() and torch.distributed.is_torchelastic_launched():
        local = int(os.environ["LOCAL_WORLD_SIZE"])
        return ProcessLayout(local, int(os.environ["WORLD_SIZE"]) // local)
    tasks, step_tasks = _slurm_count("SLURM_NTASKS_PER_NODE", 0), _slurm_count("SLURM_STEP_NUM_TASKS", 1)
    if "SLURM_JOB_ID" in os.environ and tasks >= 1 and (tasks == gpus or (gpus == 0 and step_tasks > 1)):
        return ProcessLayout(tasks, _slurm_count("SLURM_NNODES", 1))
    if "SLURM_JOB_ID" in os.environ and step_tasks > 1:
        raise InputError(
            f"srun started {step_tasks} tasks ({tasks} per node) but this node shows {gpus} GPUs: give each node "
            "as many GPUs as tasks per node (docs/cluster.md, 'Pretraining on several GPUs and nodes')"
        )
    return ProcessLayout(max(gpus, 1), 1, LightningEnvironment() if "SLURM_JOB_ID" in os.environ else None)


def _slurm_count(name: str, default: int) -> int:
    """A SLURM count variable (e.g. SLURM_NTASKS_PER_NODE=4), `default` when unset; an InputError when not a count."""
    value = os.environ.get(name)
    if value is None:
        return default
    if not value.isdigit():
        raise InputError(f"environment variable {name}={value!r}: not a count")
    return int(value)


def world_size() -> int:
    """Processes a run trains with (see process_layout)."""
    return process_layout().world_size


class SiblingCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, writing each checkpoint to a temporary sibling in the checkpoint directory
    (Lightning's own goes through the system temp directory): a save that is killed leaves its partial file where
    the next start removes it (plus.training.resume.remove_partial_saves)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        write_torch_file(checkpoint, Path(path))


def build_trainer(
    checkpoint_dir: Path,
    *,
    max_steps: int,
    val_every_n_steps: int,
    steps_per_epoch: int | None = None,
    precision: str = "auto",
    grad_clip: float = 1.0,
    monitor: str | None = None,
    patience: int | None = None,
    checkpoint_every_n_steps: int | None = None,
    deterministic: bool = False,
) -> L.Trainer:
    """A step-counted Trainer that keeps its resume state and per-attempt logs in `checkpoint_dir`.

    `last.ckpt` is written at every validation (with `monitor`) or every `checkpoint_every_n_steps` (without), and
    on SIGTERM/SIGUSR1; with `monitor`, the best-scoring validation is kept as `best.ckpt` (and early stopping
    applies with `patience`), without, the latest periodic checkpoint is also kept as `periodic.ckpt`. Either is
    the fallback when `last.ckpt` cannot be read. Progress lines count epochs of `steps_per_epoch` steps (the
    step-indexed batches give Lightning no epoch length).
    """
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    callbacks: list[Callback] = [ProgressLog(steps_per_epoch=steps_per_epoch), TrainingSpeed()]
    if patience is not None and monitor is not None:
        callbacks.append(ResumableEarlyStopping(monitor=monitor, patience=patience, mode="min"))
    callbacks += checkpoint_callbacks(checkpoint_dir, monitor, checkpoint_every_n_steps)
    layout = process_layout()
    return L.Trainer(
        accelerator="gpu" if torch.cuda.is_available() else "cpu",
        devices=layout.devices,
        # unused parameters are normal here: the projection under MLM only or an `h` head, the MLM head at weight 0
        strategy="ddp_find_unused_parameters_true" if layout.world_size > 1 else "auto",
        num_nodes=layout.nodes,
        plugins=[SiblingCheckpointIO(), *([layout.environment] if layout.environment is not None else [])],
        precision=resolve_precision(precision),
        max_epochs=-1,
        max_steps=max_steps,
        use_distributed_sampler=False,  # the data modules shard (RankSlices) and order (step-indexed) batches
        gradient_clip_val=grad_clip,
        gradient_clip_algorithm="norm",
        val_check_interval=val_every_n_steps,
        check_val_every_n_epoch=None,
        callbacks=callbacks,
        logger=attempt_logger(checkpoint_dir),
        default_root_dir=checkpoint_dir,
        deterministic=deterministic,
        num_sanity_val_steps=0,
        enable_model_summary=False,
        enable_progress_bar=False,  # ProgressLog writes progress lines to the log instead
        log_every_n_steps=10,
    )


def checkpoint_callbacks(checkpoint_dir: Path, monitor: str | None, every_n_steps: int | None) -> list[Callback]:
    """ModelCheckpoints for the best (with `monitor`) or periodic checkpoint and `last.ckpt`, then SaveOnSignal.

    With `monitor`, a second ModelCheckpoint writes `last.ckpt` at every validation: the first one's `save_last`
    writes it only when the monitored score improves. The first ModelCheckpoint is `trainer.checkpoint_callback`.
    """
    common: dict[str, Any] = {"dirpath": checkpoint_dir, "save_top_k": 1, "save_on_train_epoch_end": False}
    if monitor is None:
        first = StepCheckpoint(filename="periodic", save_last=True, every_n_train_steps=every_n_steps, **common)
        return [first, SaveOnSignal(checkpoint_dir)]
    best = ModelCheckpoint(filename="best", monitor=monitor, **common)
    last = ModelCheckpoint(filename=LAST.removesuffix(".ckpt"), enable_version_counter=False, **common)
    return [best, last, SaveOnSignal(checkpoint_dir)]


def fit(trainer: L.Trainer, module: L.LightningModule, data: L.LightningDataModule, checkpoint_dir: Path) -> None:
    """Train from the newest readable checkpoint in `checkpoint_dir` (or from scratch), noting where it starts and,
    in `checkpoint_dir/attempts.tsv`, how long this attempt ran."""
    start = resume_checkpoint(checkpoint_dir)
    record_attempt_start(trainer, start.step if start else 0)
    with recorded_attempt(checkpoint_dir):
        trainer.fit(module, datamodule=data, ckpt_path=start.path if start else None, weights_only=True)


def early_stopped(trainer: L.Trainer) -> bool:
    """Whether early stopping ended the run before its last step."""
    stoppers = [c for c in trainer.callbacks if isinstance(c, ResumableEarlyStopping)]
    return any(c.stopped_early for c in stoppers) and trainer.global_step < trainer.max_steps


def best_checkpoint(trainer: L.Trainer) -> Path | None:
    """The best-scoring checkpoint the trainer kept, if it monitored something."""
    callback = trainer.checkpoint_callback
    if callback is None or not getattr(callback, "best_model_path", ""):
        return None
    return Path(callback.best_model_path)
