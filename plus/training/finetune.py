"""Fine-tuning a pretrained encoder end to end with a task head (and the auxiliary MLM loss)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from plus.data.batching.samplers import (
    EpochItems,
    LengthBucketBatchSampler,
    RankSlices,
    ShuffledBatchSampler,
    StepIndexedBatches,
)
from plus.data.batching.task_examples import (
    HomologyTrainPairs,
    PairTaskDataset,
    SequenceTaskDataset,
    TargetScaling,
)
from plus.data.task_data.canonical import read_split
from plus.data.task_data.classes import with_data_classes
from plus.errors import InputError
from plus.io import atomic_path, file_md5, write_json
from plus.models.checkpoint import save_checkpoint
from plus.models.encoder import has_mlm_head
from plus.models.registry import encoder_model_config, encoder_record, open_encoder
from plus.models.task_model import TaskModel
from plus.random_streams import random_stream, stream_seed
from plus.settings import FinetuneJob, FinetuneSettings
from plus.tasks import TaskSpec
from plus.training.history import training_history
from plus.training.resume import claim_checkpoint_dir, fingerprint, parameter_shapes
from plus.training.trainer import best_checkpoint, build_trainer, early_stopped, fit, world_size


class FinetuneModule(TaskModel, L.LightningModule):
    """The training loop's side of a TaskModel; loss = (1 - w) * task + w * MLM with w = the task's auxiliary MLM
    weight.

    Training masks the inputs of both terms (as the authors do); validation scores the task on unmasked inputs and
    the MLM term in a second, masked pass, and the kept checkpoint is the lowest sum of the weighted dev losses.
    Masks and dropout draw from random streams named by (seed, step, rank): resumes are exact and each DDP rank
    draws its own.
    """

    def _log_losses(self, stage: str, task: torch.Tensor, mlm: torch.Tensor | None, size: int) -> torch.Tensor:
        loss = task if mlm is None else (1 - self.mlm_weight) * task + self.mlm_weight * mlm
        if mlm is not None:
            self.log(f"{stage}_mlm_loss", mlm, batch_size=size)
        self.log(f"{stage}_task_loss", task, batch_size=size)
        self.log(f"{stage}_loss", loss, batch_size=size, prog_bar=True)
        return loss

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        step, rank = self.global_step, self.global_rank
        torch.manual_seed(stream_seed(self.seed, step, "dropout", rank))  # dropout: a function of the step
        out = self.outputs(batch, random_stream(self.seed, step, "finetune-mask", self.device, rank))
        task = self.task_loss(out["logits"], batch["target"])
        return self._log_losses("train", task, out.get("mlm_loss"), len(batch["target"]))

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """As the authors: the task loss on unmasked inputs, the MLM loss in a second, masked pass (its masks depend
        on the batch only, so every validation uses the same ones)."""
        task = self.task_loss(self.outputs(batch)["logits"], batch["target"])
        mlm = None
        if self.mlm_weight > 0:
            generator = random_stream(self.seed, batch_idx, "finetune-val-mask", self.device)
            mlm = self.outputs(batch, generator)["mlm_loss"]
        self._log_losses("val", task, mlm, len(batch["target"]))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        settings = self.training_settings
        return torch.optim.Adam(
            [
                {"params": self.encoder.parameters(), "lr": settings.lr},
                {"params": self.head.parameters(), "lr": settings.head_lr or settings.lr},
            ]
        )

    def configure_gradient_clipping(
        self,
        optimizer: torch.optim.Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: Any = None,
    ) -> None:
        """global: one norm over encoder and head; per-module: see clip_groups."""
        if self.training_settings.grad_clip_scope == "global":
            self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)
            return
        for group in self.clip_groups():
            torch.nn.utils.clip_grad_norm_(group, self.training_settings.grad_clip)


def finetuned_state(module: FinetuneModule) -> dict[str, Any]:
    """The parts of a fine-tuned model that `model.pt` stores besides the encoder config."""
    return {
        "task": module.spec.to_dict(),
        "scaling": {"mean": module.scaling.mean, "std": module.scaling.std},
        "seed": module.seed,
        "training": module.training_settings.model_dump(mode="json"),
    }


class TaskDataModule(L.LightningDataModule):
    """Train/valid loaders of a canonical task directory. Training batches are length-bucketed, uniformly shuffled
    or in file order (settings and task), each configured batch the run's global batch cut into one slice per rank."""

    def __init__(self, spec: TaskSpec, data_dir: Path, training: FinetuneSettings, seed: int) -> None:
        super().__init__()
        self.spec = spec
        self.training = training
        is_pair = spec.task_shape.pairs
        self.batch_size = (training.homology_batch_size or training.batch_size) if is_pair else training.batch_size
        self.seed = seed
        train, valid = read_split(data_dir, "train"), read_split(data_dir, "valid")
        if is_pair:
            self.train_set: Dataset = HomologyTrainPairs(
                train,
                pairs_per_epoch=training.homology_pairs_per_epoch,
                tau=training.homology_tau,
                seed=seed,
                sampler=training.homology_sampler,
            )
            self.valid_set: Dataset = PairTaskDataset(valid)
            self.scaling = TargetScaling()
        else:
            standardize = spec.task_shape.scalar and training.target_scaling == "standardize"
            self.scaling = (
                TargetScaling.fit(train["label"].to_numpy(dtype=np.float64)) if standardize else TargetScaling()
            )
            self.train_set = SequenceTaskDataset(train, spec, self.scaling)
            self.valid_set = SequenceTaskDataset(valid, spec, self.scaling)

    def collate(self, batch: list[Any]) -> dict[str, torch.Tensor]:
        return self.spec.task_shape.collate(batch)

    def _ranks(self) -> dict[str, int]:
        trainer = self.trainer
        return {"num_replicas": trainer.world_size, "rank": trainer.global_rank} if trainer else {}

    def batch_sampler(self, num_replicas: int = 1, rank: int = 0) -> RankSlices:
        """One epoch of training batches, rank `rank`'s slice of each (homology pairs are drawn per item: index
        order; `file_order` tasks: file order; else length buckets or a uniform shuffle, as `batch_order` says)."""
        n = len(self.train_set)
        sampler: Any
        if self.spec.task_shape.pairs or self.spec.file_order:
            sampler = ShuffledBatchSampler(n, self.batch_size, self.seed, shuffle=False)
        elif self.training.batch_order == "shuffle":
            sampler = ShuffledBatchSampler(n, self.batch_size, self.seed)
        else:
            sampler = LengthBucketBatchSampler(self.train_set.lengths, self.batch_size, self.seed)
        return RankSlices(sampler, self.batch_size, num_replicas, rank)

    def train_dataloader(self) -> DataLoader:
        """Endless, step-indexed batches (see StepIndexedBatches); an epoch is `len(batch_sampler())` steps."""
        batches = StepIndexedBatches(self.batch_sampler(**self._ranks()), lambda: self.trainer.global_step)
        return DataLoader(
            EpochItems(self.train_set),
            batch_sampler=batches,
            collate_fn=self.collate,
            num_workers=self.training.num_workers,
        )

    def val_dataloader(self) -> DataLoader:
        """The valid split, not sharded: under DDP every process scores all of it in the same batches, so the dev
        losses (and the kept checkpoint and early stop they decide) are those of one process."""
        sampler = LengthBucketBatchSampler(
            self.valid_set.lengths, self.training.eval_batch_size, self.seed, shuffle=False
        )
        return DataLoader(self.valid_set, batch_sampler=sampler, collate_fn=self.collate, num_workers=0)


def task_data_identity(data_dir: Path) -> dict[str, str]:
    """md5 of what fine-tuning reads from a canonical task directory: summary.json and the train/valid tables."""
    names = ("summary.json", "train.parquet", "valid.parquet")
    return {name: file_md5(data_dir / name) for name in names if (data_dir / name).is_file()}


def run_fingerprint(
    job: FinetuneJob, module: FinetuneModule, data_dir: Path, provenance: dict[str, Any]
) -> dict[str, Any]:
    """What makes a fine-tuning run: its settings, architecture, task data and input encoder (see resume.py)."""
    encoder = provenance.get("encoder") or {}
    path = encoder.get("path")
    inputs = {
        "encoder_config": encoder_model_config(module.encoder),
        "architecture": parameter_shapes(module),
        "processes": world_size(),  # each rank's batch slice and streams depend on it
        "task_data": task_data_identity(data_dir),
        "encoder": encoder.get("sha256") or (file_md5(path) if path and Path(path).is_file() else encoder),
        "protocol": provenance.get("protocol"),
    }
    return fingerprint(job.model_dump(mode="json"), inputs)


def run_finetune(
    job: FinetuneJob,
    data_dir: Path,
    out_dir: Path,
    checkpoint_dir: Path,
    encoder: nn.Module | None = None,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fine-tune, keep the best dev-loss weights, write model.pt, metrics.json and history.csv.

    The encoder is the job's (plus.settings encoder spec); a probe passes its own frozen `encoder` (precomputed
    states) and `provenance` instead. Both are recorded in model.pt and metrics.json.

    Training is counted in steps: an epoch is one pass of the training batches (n steps), the dev set is
    evaluated every n steps, and early stopping and the best checkpoint are decided on those validations.
    """
    spec, seed, training = with_data_classes(job.task, data_dir), job.seed, job.training
    L.seed_everything(seed, workers=True)
    if encoder is None:
        encoder = open_encoder(job.encoder)
        provenance = {"encoder": encoder_record(job.encoder), "protocol": "finetune"}
    if spec.aux_mlm_weight > 0 and not has_mlm_head(encoder):
        raise InputError(
            f"task {spec.name}: aux_mlm_weight is {spec.aux_mlm_weight} but this encoder has no MLM head; set it to 0"
        )
    data_dir = Path(data_dir)
    data = TaskDataModule(spec, data_dir, training, seed)
    module = FinetuneModule(encoder, spec, training, data.scaling, seed)
    is_pair = spec.task_shape.pairs
    steps_per_epoch = len(data.batch_sampler(num_replicas=world_size()))
    max_steps = (training.homology_epochs if is_pair else training.max_epochs) * steps_per_epoch
    if training.max_steps:
        max_steps = min(max_steps, training.max_steps)
    claim_checkpoint_dir(checkpoint_dir, run_fingerprint(job, module, data_dir, provenance or {}))
    trainer = build_trainer(
        checkpoint_dir,
        precision=training.precision,
        max_steps=max_steps,
        steps_per_epoch=steps_per_epoch,
        val_every_n_steps=steps_per_epoch,
        grad_clip=training.grad_clip,
        monitor="val_loss",
        patience=None if is_pair else training.patience,
    )
    fit(trainer, module, data, checkpoint_dir)
    best = best_checkpoint(trainer)
    if best is not None:
        state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    history = training_history(checkpoint_dir, steps_per_epoch)
    metrics = {
        "model": job.model,
        "task": spec.name,
        "seed": seed,
        "epochs": int(trainer.global_step) // steps_per_epoch,
        "steps": int(trainer.global_step),
        "best_val_loss": float(trainer.checkpoint_callback.best_model_score)
        if trainer.checkpoint_callback and trainer.checkpoint_callback.best_model_score is not None
        else None,
        "early_stopped": early_stopped(trainer),
        **(provenance or {}),
    }
    if trainer.is_global_zero:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_checkpoint(
            out_dir / "model.pt",
            kind="finetuned",
            model_config=encoder_model_config(encoder),
            state_dict=module.state_dict(),
            **finetuned_state(module),
            **(provenance or {}),
        )
        with atomic_path(out_dir / "history.csv") as tmp:
            history.to_csv(tmp, index=False)
        write_json(out_dir / "metrics.json", metrics)
    return metrics
