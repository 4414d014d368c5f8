"""Pretraining on the prepared Pfam corpus: MLM + same-family prediction, MLM only, or no pretraining."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from plus.data.batching.pfam_pairs import (
    PAIR_SPECIAL_TOKENS,
    PairBatch,
    SFPPairDataset,
    TestPairDataset,
    collate_sfp_pairs,
)
from plus.data.batching.samplers import EpochItems, LengthBucketBatchSampler, StepIndexedBatches
from plus.data.corpus.store import CorpusStore
from plus.errors import InputError
from plus.io import atomic_path, file_md5, require, write_json
from plus.models import build_encoder, count_parameters
from plus.models.checkpoint import save_checkpoint
from plus.objectives.pretraining import PretrainingModel, PretrainLossConfig
from plus.random_streams import random_stream, stream_seed
from plus.training.history import training_history
from plus.training.resume import architecture, claim_checkpoint_dir, fingerprint
from plus.training.trainer import build_trainer, fit, world_size

log = logging.getLogger(__name__)
OBJECTIVES = ("plus", "mlm", "none")


class PretrainModule(L.LightningModule):
    """The encoder and its pretraining objective; masks and dropout draw from streams named by (seed, step, rank),
    so resumes are exact and each DDP rank draws its own."""

    def __init__(self, objective: PretrainingModel, training: dict[str, Any], seed: int) -> None:
        super().__init__()
        self.objective = objective
        self.training_config = training
        self.seed = seed

    @property
    def encoder(self) -> torch.nn.Module:
        return self.objective.encoder

    def training_step(self, batch: PairBatch, batch_idx: int) -> torch.Tensor:
        step, rank = self.global_step, self.global_rank
        torch.manual_seed(stream_seed(self.seed, step, "dropout", rank))  # dropout: a function of the step
        generator = random_stream(self.seed, step, "pretrain-mask", batch.tokens_a.device, rank)
        out = self.objective(*batch, generator=generator)
        self._log_scalars("train", out, len(batch.same_family))
        return out["loss"]

    def validation_step(self, batch: PairBatch, batch_idx: int) -> None:
        """As the authors evaluate: MLM on masked inputs (the same masks at every validation), SFP unmasked."""
        generator = random_stream(self.seed, batch_idx, "pretrain-val-mask", batch.tokens_a.device, self.global_rank)
        out = self.objective(*batch, generator=generator, sfp_on_unmasked=True)
        self._log_scalars("val", out, len(batch.same_family))

    def _log_scalars(self, stage: str, out: dict[str, torch.Tensor], size: int) -> None:
        for key, value in out.items():
            if value.dim() == 0:
                self.log(
                    f"{stage}_{key}",
                    value,
                    batch_size=size,
                    prog_bar=key in ("loss", "mlm_accuracy"),
                    sync_dist=stage == "val",
                )

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=float(self.training_config.get("lr", 1e-3)))


class PfamDataModule(L.LightningDataModule):
    """SFP pairs from the training store (length-bucketed, sharded across ranks) and fixed test pairs."""

    def __init__(self, data: dict[str, Any], training: dict[str, Any], seed: int, max_pair_length: int | None):
        super().__init__()
        self.train_store = CorpusStore(require(data, "train", "pretrain config data"))
        self.test_store = CorpusStore(require(data, "test", "pretrain config data"))
        self.test_pairs = require(data, "test_pairs", "pretrain config data")
        self.training = training
        self.seed = seed
        self.max_pair_length = max_pair_length
        self.dataset = SFPPairDataset(
            self.train_store,
            same_family_prob=float(training.get("same_family_prob", 0.5)),
            seed=seed,
            max_pair_length=max_pair_length,
        )

    def _ranks(self) -> dict[str, int]:
        return {"num_replicas": self.trainer.world_size, "rank": self.trainer.global_rank} if self.trainer else {}

    def batch_sampler(self, num_replicas: int = 1, rank: int = 0) -> LengthBucketBatchSampler:
        batch_pairs = int(self.training.get("batch_pairs", 64))
        return LengthBucketBatchSampler(
            self.dataset.lengths, batch_pairs, self.seed, drop_last=True, num_replicas=num_replicas, rank=rank
        )

    def train_dataloader(self) -> DataLoader:
        """Endless, step-indexed batches (see StepIndexedBatches); training length is counted in steps."""
        batches = StepIndexedBatches(self.batch_sampler(**self._ranks()), lambda: self.trainer.global_step)
        return DataLoader(
            EpochItems(self.dataset),
            batch_sampler=batches,
            collate_fn=collate_sfp_pairs,
            num_workers=int(self.training.get("num_workers", 0)),
        )

    def test_pair_loader(self, limit: int | None = None) -> DataLoader:
        """The fixed test pairs (the first `limit`); for the transformer, only pairs that fit its context."""
        pairs: Any = TestPairDataset(self.test_store, self.test_pairs)
        lengths = self.test_store.lengths[pairs.index_a] + self.test_store.lengths[pairs.index_b]
        keep = np.arange(len(pairs))
        if self.max_pair_length is not None:
            keep = keep[lengths + PAIR_SPECIAL_TOKENS <= self.max_pair_length]
            if len(keep) < len(pairs):
                log.info(
                    "%d of %d test pairs exceed the context of %d tokens and are left out",
                    len(pairs) - len(keep),
                    len(pairs),
                    self.max_pair_length,
                )
        keep = keep[:limit]
        pairs, lengths = Subset(pairs, keep.tolist()), lengths[keep]
        sampler = LengthBucketBatchSampler(
            lengths, int(self.training.get("eval_batch_pairs", 64)), self.seed, shuffle=False, **self._ranks()
        )
        return DataLoader(pairs, batch_sampler=sampler, collate_fn=collate_sfp_pairs)

    def val_dataloader(self) -> DataLoader:
        return self.test_pair_loader(self.training.get("max_val_pairs", 2000))


def _history_frame(checkpoint_dir: Path, steps_per_epoch: int) -> Any:
    history = training_history(checkpoint_dir, steps_per_epoch)
    columns = [
        "step",
        "epoch",
        "train_loss",
        "train_mlm_loss",
        "train_sfp_loss",
        "train_mlm_accuracy",
        "train_sfp_accuracy",
        "val_loss",
        "val_mlm_accuracy",
        "val_sfp_accuracy",
    ]
    return history.reindex(columns=columns)


def run_fingerprint(config: dict[str, Any], module: PretrainModule, data: PfamDataModule) -> dict[str, Any]:
    """What makes a pretraining run: its settings, architecture, corpus stores and test pairs (see resume.py)."""
    settings = {key: value for key, value in config.items() if key != "data"}
    inputs = {
        "encoder": module.encoder.config,
        "architecture": architecture(module),
        "train": data.train_store.meta,
        "test": data.test_store.meta,
        "test_pairs": file_md5(data.test_pairs),
    }
    return fingerprint(settings, inputs)


def run_pretraining(config: dict[str, Any], out_dir: Path, checkpoint_dir: Path) -> dict[str, Any]:
    """Train (or, for objective 'none', only initialise) an encoder; write model.pt, metrics.json, history.csv."""
    objective_name = config.get("objective", "plus")
    if objective_name not in OBJECTIVES:
        raise InputError(f"pretrain config: objective must be one of {OBJECTIVES}, not {objective_name!r}")
    training = dict(config.get("training", {}))
    seed = int(training.get("seed", 2020))
    L.seed_everything(seed, workers=True)
    model = dict(require(config, "model", "pretrain config"))
    encoder = build_encoder(model.pop("preset", "plus-rnn-base"), **model)
    loss_config = PretrainLossConfig(
        objective="mlm" if objective_name == "mlm" else "plus",
        mlm_weight=float(training.get("mlm_weight", 0.7)),
        sfp_weight=float(training.get("sfp_weight", 0.3)),
        drop_pair_b_mlm=bool(training.get("drop_pair_b_mlm", False)),
        mask_rate=float(training.get("mask_rate", 0.15)),
        max_masked_per_seq=int(training.get("max_masked_per_seq", 50)),
    )
    module = PretrainModule(PretrainingModel(encoder, loss_config), training, seed)
    max_pair_length = encoder.config.max_len if encoder.config.kind == "tfm" else None
    data = PfamDataModule(require(config, "data", "pretrain config"), training, seed, max_pair_length)
    steps_per_epoch = len(data.batch_sampler(num_replicas=world_size()))
    max_steps = int(training.get("max_steps") or int(training.get("epochs", 5)) * steps_per_epoch)
    claim_checkpoint_dir(checkpoint_dir, run_fingerprint(config, module, data))
    trainer = build_trainer(
        checkpoint_dir,
        precision=training.get("precision", "auto"),
        max_steps=max_steps,
        grad_clip=float(training.get("grad_clip", 1.0)),
        val_every_n_steps=int(training.get("val_every_n_steps", 20_000)),
        checkpoint_every_n_steps=int(training.get("checkpoint_every_n_steps", 1000)),
    )
    if objective_name != "none":
        fit(trainer, module, data, checkpoint_dir)
    else:
        log.info("objective 'none': keeping the seeded random initialisation (no-pretraining baseline)")
    results = trainer.validate(module, dataloaders=data.test_pair_loader(), verbose=False)[0]
    test = {key.removeprefix("val_"): float(value) for key, value in results.items()}
    if objective_name == "mlm":
        test = {k: v for k, v in test.items() if not k.startswith("sfp")}
    metrics = {
        "model": config.get("name"),
        "objective": objective_name,
        "preset": config["model"].get("preset"),
        "parameters": count_parameters(encoder),
        "steps": int(trainer.global_step),
        "test": test,
    }
    if trainer.is_global_zero:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_checkpoint(
            out_dir / "model.pt", kind="encoder", model_config=encoder.config, state_dict=encoder.state_dict()
        )
        with atomic_path(out_dir / "history.csv") as tmp:
            _history_frame(checkpoint_dir, steps_per_epoch).to_csv(tmp, index=False)
        write_json(out_dir / "metrics.json", metrics)
    return metrics
