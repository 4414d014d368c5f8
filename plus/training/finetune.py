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

from plus.data.batching.samplers import LengthBucketBatchSampler, ResumableDataLoader
from plus.data.batching.task_examples import (
    HomologyTrainPairs,
    PairTaskDataset,
    SequenceTaskDataset,
    TargetScaling,
    collate_sequences,
    collate_task_pairs,
)
from plus.data.task_data.canonical import read_split
from plus.io import atomic_path, require, write_json
from plus.models.checkpoint import load_encoder, save_checkpoint
from plus.models.heads import PairHead, ProteinHead, ResidueHead
from plus.objectives.masking import mask_tokens
from plus.objectives.ordinal import exceedance_probabilities, ordinal_loss
from plus.tasks import TaskSpec
from plus.training.trainer import best_checkpoint, build_trainer, epoch_history, resume_path


def build_head(spec: TaskSpec, d_h: int, d_z: int) -> nn.Module:
    """The head the task spec asks for, reading h (2H-d) or the projection z."""
    if spec.shape == "pair":
        return PairHead(n_levels=spec.n_outputs + 1)
    d_in = d_h if spec.head.input == "h" else d_z
    if spec.shape == "residue_classification":
        return ResidueHead(d_in, spec.head.hidden, spec.n_outputs)
    return ProteinHead(d_in, spec.head.hidden, spec.n_outputs, pooling=spec.head.pooling)


class FinetuneModule(L.LightningModule):
    """Encoder + head; loss = (1 - w) * task + w * MLM with w = the task's auxiliary MLM weight."""

    def __init__(
        self,
        encoder: nn.Module,
        spec: TaskSpec,
        training: dict[str, Any],
        scaling: TargetScaling,
        seed: int,
    ) -> None:
        super().__init__()
        self.encoder = encoder.train()
        self.spec = spec
        self.head = build_head(spec, encoder.d_h, encoder.d_z)
        self.training_config = training
        self.scaling = scaling
        self.seed = seed
        self.mlm_weight = float(spec.aux_mlm_weight)

    def representation(self, h: torch.Tensor) -> torch.Tensor:
        return h if self.spec.head.input == "h" else self.encoder.project(h)

    def _encode(self, tokens: torch.Tensor, lengths: torch.Tensor, masked: bool) -> dict[str, torch.Tensor]:
        """Encoder output on (optionally masked) inputs and the MLM loss on the masked residues."""
        out: dict[str, torch.Tensor] = {}
        if masked and self.mlm_weight > 0:
            generator = torch.Generator(device=tokens.device).manual_seed(
                self.seed * 1_000_003 + self.global_step * 2 + int(not self.training)
            )
            inputs, targets = mask_tokens(
                tokens,
                lengths,
                generator,
                rate=self.training_config.get("mask_rate", 0.15),
                max_per_seq=self.training_config.get("max_masked_per_seq", 50),
            )
            h = self.encoder(inputs, lengths)
            logits = self.encoder.mlm_logits(h)
            out["mlm_loss"] = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100)
        else:
            h = self.encoder(tokens, lengths)
        out["h"] = h
        return out

    def outputs(self, batch: dict[str, torch.Tensor], masked: bool) -> dict[str, torch.Tensor]:
        """Task outputs (logits, regression values or ordinal logits) and the MLM loss when masked."""
        if self.spec.shape == "pair":
            a = self._encode(batch["tokens_a"], batch["len_a"], masked)
            b = self._encode(batch["tokens_b"], batch["len_b"], masked)
            logits = self.head(
                self.encoder.project(a["h"]), self.encoder.project(b["h"]), batch["len_a"], batch["len_b"]
            )
            result = {"logits": logits}
            if "mlm_loss" in a:
                result["mlm_loss"] = (a["mlm_loss"] + b["mlm_loss"]) / 2
            return result
        encoded = self._encode(batch["tokens"], batch["lengths"], masked)
        rep = self.representation(encoded["h"])
        if self.spec.shape == "residue_classification":
            logits = self.head(rep)
        else:
            logits = self.head(rep, batch["lengths"])
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

    def _step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        out = self.outputs(batch, masked=True)
        task = self.task_loss(out["logits"], batch["target"])
        loss = task
        if "mlm_loss" in out:
            loss = (1 - self.mlm_weight) * task + self.mlm_weight * out["mlm_loss"]
            self.log(f"{stage}_mlm_loss", out["mlm_loss"], batch_size=len(batch["target"]))
        size = len(batch["target"])
        self.log(f"{stage}_task_loss", task, batch_size=size)
        self.log(f"{stage}_loss", loss, batch_size=size, prog_bar=True, sync_dist=stage == "val")
        return loss

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def on_train_epoch_start(self) -> None:
        dataset = self.trainer.train_dataloader.dataset
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(self.current_epoch)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        lr = self.training_config.get("lr", 5e-4)
        head_lr = self.training_config.get("head_lr") or lr
        return torch.optim.Adam(
            [
                {"params": self.encoder.parameters(), "lr": lr},
                {"params": self.head.parameters(), "lr": head_lr},
            ]
        )

    @torch.no_grad()
    def predict_batch(self, batch: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        """Unmasked predictions for evaluation, in target units."""
        logits = self.outputs(batch, masked=False)["logits"].float()
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
    }


class TaskDataModule(L.LightningDataModule):
    """Train/valid loaders of a canonical task directory, length-bucketed and sharded across DDP ranks."""

    def __init__(self, spec: TaskSpec, data_dir: Path, training: dict[str, Any], seed: int) -> None:
        super().__init__()
        self.spec = spec
        self.batch_size = int(training.get("batch_size", 32))
        self.eval_batch_size = int(training.get("eval_batch_size", 256))
        self.num_workers = int(training.get("num_workers", 0))
        self.seed = seed
        train, valid = read_split(data_dir, "train"), read_split(data_dir, "valid")
        if spec.shape == "pair":
            self.train_set: Dataset = HomologyTrainPairs(
                train,
                pairs_per_epoch=int(training.get("homology_pairs_per_epoch", 100_000)),
                tau=float(training.get("homology_tau", 0.5)),
                seed=seed,
                sampler=training.get("homology_sampler", "bepler"),
            )
            self.valid_set: Dataset = PairTaskDataset(valid)
            self.scaling = TargetScaling()
        else:
            self.scaling = (
                TargetScaling.fit(train["label"].to_numpy(dtype=np.float64))
                if spec.shape == "protein_regression"
                else TargetScaling()
            )
            self.train_set = SequenceTaskDataset(train, spec, self.scaling)
            self.valid_set = SequenceTaskDataset(valid, spec, self.scaling)

    def collate(self, batch: list[Any]) -> dict[str, torch.Tensor]:
        return collate_task_pairs(batch) if self.spec.shape == "pair" else collate_sequences(batch, self.spec.shape)

    def _ranks(self) -> dict[str, int]:
        trainer = self.trainer
        return {"num_replicas": trainer.world_size, "rank": trainer.global_rank} if trainer else {}

    def train_dataloader(self) -> ResumableDataLoader:
        if self.spec.shape == "pair":
            n = len(self.train_set)
            lengths = np.zeros(n, dtype=np.int64)  # pairs are drawn per item: batch in index order
            sampler = LengthBucketBatchSampler(lengths, self.batch_size, self.seed, shuffle=False, **self._ranks())
        else:
            sampler = LengthBucketBatchSampler(self.train_set.lengths, self.batch_size, self.seed, **self._ranks())
        return ResumableDataLoader(self.train_set, sampler, collate_fn=self.collate, num_workers=self.num_workers)

    def val_dataloader(self) -> DataLoader:
        sampler = LengthBucketBatchSampler(
            self.valid_set.lengths, self.eval_batch_size, self.seed, shuffle=False, **self._ranks()
        )
        return DataLoader(self.valid_set, batch_sampler=sampler, collate_fn=self.collate, num_workers=0)


def run_finetune(config: dict[str, Any], out_dir: Path, checkpoint_dir: Path) -> dict[str, Any]:
    """Fine-tune, keep the best dev-loss weights, write model.pt, metrics.json and history.csv."""
    spec = TaskSpec.from_dict(require(config, "task", "finetune config"))
    seed = int(config.get("seed", 0))
    training = dict(config.get("training", {}))
    L.seed_everything(seed, workers=True)
    encoder = load_encoder(require(config, "encoder", "finetune config"))
    data = TaskDataModule(spec, Path(require(config, "data", "finetune config")), training, seed)
    module = FinetuneModule(encoder, spec, training, data.scaling, seed)
    is_pair = spec.shape == "pair"
    trainer = build_trainer(
        checkpoint_dir,
        precision=training.get("precision", "auto"),
        max_epochs=int(training.get("homology_epochs" if is_pair else "max_epochs", 20)),
        max_steps=int(training.get("max_steps") or -1),
        grad_clip=float(training.get("grad_clip", 1.0)),
        monitor="val_loss",
        patience=None if is_pair else int(training.get("patience", 3)),
    )
    trainer.fit(module, datamodule=data, ckpt_path=resume_path(checkpoint_dir), weights_only=True)
    best = best_checkpoint(trainer)
    if best is not None:
        state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    history = epoch_history(checkpoint_dir)
    metrics = {
        "model": config.get("model"),
        "task": spec.name,
        "seed": seed,
        "epochs": int(trainer.current_epoch),
        "steps": int(trainer.global_step),
        "best_val_loss": float(trainer.checkpoint_callback.best_model_score)
        if trainer.checkpoint_callback and trainer.checkpoint_callback.best_model_score is not None
        else None,
        "early_stopped": bool(trainer.should_stop and trainer.current_epoch < trainer.max_epochs),
    }
    if trainer.is_global_zero:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_checkpoint(
            out_dir / "model.pt",
            kind="finetuned",
            model_config=encoder.config,
            state_dict=module.state_dict(),
            **finetuned_state(module),
        )
        with atomic_path(out_dir / "history.csv") as tmp:
            history.to_csv(tmp, index=False)
        write_json(out_dir / "metrics.json", metrics)
    return metrics
