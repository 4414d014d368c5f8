"""Fine-tuning a pretrained encoder end to end with a task head (and the auxiliary MLM loss)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
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
    collate_sequences,
    collate_task_pairs,
)
from plus.data.task_data.canonical import read_split
from plus.data.task_data.classes import with_data_classes
from plus.errors import InputError
from plus.io import atomic_path, file_md5, write_json
from plus.models.checkpoint import save_checkpoint
from plus.models.encoder import Encoder, has_mlm_head
from plus.models.heads import PairHead, ProteinHead, ResidueHead
from plus.models.registry import encoder_model_config, encoder_record, open_encoder
from plus.objectives.masking import IGNORE_INDEX, mask_tokens
from plus.objectives.ordinal import exceedance_probabilities, ordinal_loss
from plus.random_streams import random_stream, stream_seed
from plus.settings import FinetuneJob, FinetuneSettings
from plus.tasks import TaskSpec
from plus.training.history import training_history
from plus.training.resume import architecture, claim_checkpoint_dir, fingerprint
from plus.training.trainer import best_checkpoint, build_trainer, early_stopped, fit, world_size


def build_head(spec: TaskSpec, encoder: Encoder) -> nn.Module:
    """The head the task spec asks for, reading the encoder's h (d_h) or its projection z (d_z).

    A head without an MLP (hidden None, the authors' PLUS-TFM heads) is Dropout(encoder dropout) -> Linear."""
    if spec.shape == "pair":
        return PairHead(n_levels=spec.n_outputs + 1)
    d_in = encoder.d_h if spec.head.input == "h" else encoder.d_z
    dropout = encoder.config.dropout if spec.head.hidden is None else 0.0
    if spec.shape == "residue_classification":
        return ResidueHead(d_in, spec.head.hidden, spec.n_outputs, dropout=dropout)
    return ProteinHead(d_in, spec.head.hidden, spec.n_outputs, pooling=spec.head.pooling, dropout=dropout)


class FinetuneModule(L.LightningModule):
    """Encoder + head; loss = (1 - w) * task + w * MLM with w = the task's auxiliary MLM weight.

    Training masks the inputs of both terms (as the authors do); validation scores the task on unmasked inputs and
    the MLM term in a second, masked pass, and the kept checkpoint is the lowest sum of the weighted dev losses.
    Masks and dropout draw from random streams named by (seed, step, rank): resumes are exact and each DDP rank
    draws its own.
    """

    def __init__(
        self,
        encoder: Encoder,
        spec: TaskSpec,
        training: FinetuneSettings,
        scaling: TargetScaling,
        seed: int,
    ) -> None:
        super().__init__()
        self.encoder = encoder.train()
        self.spec = spec
        self.head = build_head(spec, encoder)
        self.training_settings = training
        self.scaling = scaling
        self.seed = seed
        self.mlm_weight = float(spec.aux_mlm_weight)

    def representation(self, h: torch.Tensor) -> torch.Tensor:
        return h if self.spec.head.input == "h" else self.encoder.project(h)

    def _mlm_loss(self, h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over the masked positions; 0 (with a graph) when nothing could be masked."""
        keep = targets != IGNORE_INDEX
        logits = self.encoder.mlm_logits(h[keep])
        if not bool(keep.any()):
            return logits.sum().float() * 0.0
        return F.cross_entropy(logits.float(), targets[keep])

    def _encode(
        self, tokens: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None
    ) -> dict[str, torch.Tensor]:
        """h (and the [CLS] state, if the encoder has one) of the tokens; with a generator (and an MLM weight), of
        inputs masked from it, with the MLM loss."""
        out: dict[str, torch.Tensor] = {}
        if generator is not None and self.mlm_weight > 0:
            settings = self.training_settings
            inputs, targets = mask_tokens(
                tokens, lengths, generator, settings.mask_rate, settings.max_masked_per_seq, settings.mask_count
            )
            h, cls = self.encoder.encode_with_cls(inputs, lengths)
            out["mlm_loss"] = self._mlm_loss(h, targets)
        else:
            h, cls = self.encoder.encode_with_cls(tokens, lengths)
        out["h"] = h
        if cls is not None:
            out["cls"] = cls
        return out

    def outputs(
        self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Task outputs (logits, regression values or ordinal logits); with a generator, of masked inputs, with the
        MLM loss. Sequences A and B of a pair draw their masks one after the other from it, so they differ."""
        if self.spec.shape == "pair":
            a = self._encode(batch["tokens_a"], batch["len_a"], generator)
            b = self._encode(batch["tokens_b"], batch["len_b"], generator)
            logits = self.head(
                self.encoder.project(a["h"]), self.encoder.project(b["h"]), batch["len_a"], batch["len_b"]
            )
            result = {"logits": logits}
            if "mlm_loss" in a:
                if self.training_settings.drop_pair_b_mlm:  # the authors' quirk: w * MLM = (w + w^2) * MLM(A)
                    result["mlm_loss"] = (1 + self.mlm_weight) * a["mlm_loss"]
                else:
                    result["mlm_loss"] = (a["mlm_loss"] + b["mlm_loss"]) / 2
            return result
        tokens, lengths = batch["tokens"], batch["lengths"]
        limit = self.training_settings.max_input_residues
        if limit is not None and self.spec.shape != "residue_classification":
            tokens, lengths = tokens[:, :limit], lengths.clamp(max=limit)
        encoded = self._encode(tokens, lengths, generator)
        rep = self.representation(encoded["h"])
        if self.spec.shape == "residue_classification":
            logits = self.head(rep)
        else:
            cls = encoded.get("cls")
            logits = self.head(rep, lengths, None if cls is None else self.representation(cls))
        if self.spec.shape == "protein_regression":
            logits = logits.squeeze(-1)
        result = {"logits": logits}
        if "mlm_loss" in encoded:
            result["mlm_loss"] = encoded["mlm_loss"]
        return result

    def task_loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        if self.spec.shape == "protein_regression":
            return F.mse_loss(logits, target.float())
        if self.spec.shape == "residue_classification":
            return F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=-100)
        if self.spec.shape == "pair":
            return ordinal_loss(logits, target)
        return F.cross_entropy(logits, target)

    def _log_losses(self, stage: str, task: torch.Tensor, mlm: torch.Tensor | None, size: int) -> torch.Tensor:
        loss = task if mlm is None else (1 - self.mlm_weight) * task + self.mlm_weight * mlm
        if mlm is not None:
            self.log(f"{stage}_mlm_loss", mlm, batch_size=size, sync_dist=stage == "val")
        self.log(f"{stage}_task_loss", task, batch_size=size, sync_dist=stage == "val")
        self.log(f"{stage}_loss", loss, batch_size=size, prog_bar=True, sync_dist=stage == "val")
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
            generator = random_stream(self.seed, batch_idx, "finetune-val-mask", self.device, self.global_rank)
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

    def clip_groups(self) -> list[list[torch.nn.Parameter]]:
        """The parameter groups clipped on their own under `grad_clip_scope: per-module`, as the authors clip: the
        encoder (with a pair task's ordinal layer, which is part of the authors' RNN) unless it is a transformer,
        and a protein-level head; a residue-level head is not clipped."""
        groups: list[list[torch.nn.Parameter]] = []
        encoder = list(self.encoder.parameters())
        if self.spec.shape == "pair":
            encoder += list(self.head.parameters())
        if self.encoder.config.kind != "tfm":
            groups.append(encoder)
        if self.spec.shape in ("protein_classification", "protein_regression"):
            groups.append(list(self.head.parameters()))
        return groups

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

    @torch.no_grad()
    def predict_batch(self, batch: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        """Unmasked predictions for evaluation, in target units."""
        logits = self.outputs(batch)["logits"].float()
        if self.spec.shape == "protein_regression":
            return {"value": (logits * self.scaling.std + self.scaling.mean).cpu().numpy()}
        if self.spec.shape == "pair":
            return {"exceedance": exceedance_probabilities(logits).cpu().numpy()}
        return {"log_probs": torch.log_softmax(logits, dim=-1).cpu().numpy()}


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
        is_pair = spec.shape == "pair"
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
            standardize = spec.shape == "protein_regression" and training.target_scaling == "standardize"
            self.scaling = (
                TargetScaling.fit(train["label"].to_numpy(dtype=np.float64)) if standardize else TargetScaling()
            )
            self.train_set = SequenceTaskDataset(train, spec, self.scaling)
            self.valid_set = SequenceTaskDataset(valid, spec, self.scaling)

    def collate(self, batch: list[Any]) -> dict[str, torch.Tensor]:
        return collate_task_pairs(batch) if self.spec.shape == "pair" else collate_sequences(batch, self.spec.shape)

    def _ranks(self) -> dict[str, int]:
        trainer = self.trainer
        return {"num_replicas": trainer.world_size, "rank": trainer.global_rank} if trainer else {}

    def batch_sampler(self, num_replicas: int = 1, rank: int = 0) -> RankSlices:
        """One epoch of training batches, rank `rank`'s slice of each (homology pairs are drawn per item: index
        order; `file_order` tasks: file order; else length buckets or a uniform shuffle, as `batch_order` says)."""
        n = len(self.train_set)
        sampler: Any
        if self.spec.shape == "pair" or self.spec.file_order:
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
        sampler = LengthBucketBatchSampler(
            self.valid_set.lengths, self.training.eval_batch_size, self.seed, shuffle=False, **self._ranks()
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
        "architecture": architecture(module),
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
    is_pair = spec.shape == "pair"
    steps_per_epoch = len(data.batch_sampler(num_replicas=world_size()))
    max_steps = (training.homology_epochs if is_pair else training.max_epochs) * steps_per_epoch
    if training.max_steps:
        max_steps = min(max_steps, training.max_steps)
    claim_checkpoint_dir(checkpoint_dir, run_fingerprint(job, module, data_dir, provenance or {}))
    trainer = build_trainer(
        checkpoint_dir,
        precision=training.precision,
        max_steps=max_steps,
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
