"""Pretraining on the prepared Pfam corpus: MLM + same-family prediction, MLM only, or no pretraining."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from torch.utils.data import DataLoader, Subset

from plus.data.batching.pfam_pairs import (
    PAIR_SPECIAL_TOKENS,
    PairBatch,
    SequenceBatch,
    SFPPairDataset,
    SingleSequenceDataset,
    TestPairDataset,
    collate_corpus_sequences,
    collate_sfp_pairs,
)
from plus.data.batching.samplers import (
    CorpusBatchSampler,
    EpochItems,
    LengthBucketBatchSampler,
    RankSlices,
    StepIndexedBatches,
)
from plus.data.corpus.store import CorpusStore
from plus.errors import InputError
from plus.io import atomic_path, file_md5, write_json
from plus.models import build_encoder, count_parameters
from plus.models.checkpoint import save_checkpoint
from plus.objectives.pretraining import PretrainingModel, PretrainLossConfig
from plus.random_streams import random_stream, stream_seed
from plus.settings import PretrainJob, PretrainSettings
from plus.training.history import training_history
from plus.training.optimizers import BertAdam, clip_per_tensor, warmup_linear
from plus.training.resume import claim_checkpoint_dir, fingerprint, parameter_shapes
from plus.training.trainer import build_trainer, fit, world_size

log = logging.getLogger(__name__)


class PretrainModule(L.LightningModule):
    """The encoder and its pretraining objective; masks and dropout draw from streams named by (seed, step, rank),
    so resumes are exact and each DDP rank draws its own."""

    def __init__(self, objective: PretrainingModel, training: PretrainSettings, max_steps: int = 1) -> None:
        super().__init__()
        self.objective = objective
        self.training_settings = training
        self.seed = training.seed
        self.max_steps = max_steps

    @property
    def encoder(self) -> torch.nn.Module:
        return self.objective.encoder

    def training_step(self, batch: PairBatch | SequenceBatch, batch_idx: int) -> torch.Tensor:
        step, rank = self.global_step, self.global_rank
        torch.manual_seed(stream_seed(self.seed, step, "dropout", rank))  # dropout: a function of the step
        generator = random_stream(self.seed, step, "pretrain-mask", batch[0].device, rank)
        if isinstance(batch, SequenceBatch):
            out = self.objective.mlm_single(batch.tokens, batch.lengths, generator=generator)
        else:
            out = self.objective(*batch, generator=generator)
        self._log_scalars("train", out, len(batch[1]))
        return out["loss"]

    def validation_step(self, batch: PairBatch, batch_idx: int) -> None:
        """As the authors evaluate: MLM on masked inputs (the same masks at every validation), SFP unmasked.

        Every process scores every pair with the same masks (see PfamDataModule.test_pair_loader)."""
        generator = random_stream(self.seed, batch_idx, "pretrain-val-mask", batch.tokens_a.device)
        out = self.objective(*batch, generator=generator, sfp_on_unmasked=True)
        self._log_scalars("val", out, len(batch.same_family))
        if self.trainer.state.fn == TrainerFn.VALIDATING:  # the final test: its history row is the last step's
            self.log("step", float(self.global_step), batch_size=len(batch.same_family))

    def _log_scalars(self, stage: str, out: dict[str, torch.Tensor], size: int) -> None:
        for key, value in out.items():
            if value.dim() == 0:
                self.log(
                    f"{stage}_{key}",
                    value,
                    batch_size=size,
                    prog_bar=key in ("loss", "mlm_accuracy"),
                )

    def configure_optimizers(self) -> Any:
        """adam: AdamW (Adam when weight_decay is 0), constant lr; bert-adam: BertAdam with the warm-up/linear-decay
        schedule over max_steps, stepped every step."""
        settings = self.training_settings
        if settings.optimizer == "adam":
            return torch.optim.AdamW(
                self.parameters(), lr=settings.lr, eps=settings.adam_eps, weight_decay=settings.weight_decay
            )
        optimizer = BertAdam(
            self.parameters(), lr=settings.lr, eps=settings.adam_eps, weight_decay=settings.weight_decay
        )
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_linear(self.max_steps, settings.warmup_fraction))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def configure_gradient_clipping(
        self,
        optimizer: torch.optim.Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: Any = None,
    ) -> None:
        """global: one norm over every gradient; per-tensor: each parameter's gradient clipped on its own."""
        if self.training_settings.grad_clip_scope == "per-tensor":
            clip_per_tensor(self.parameters(), self.training_settings.grad_clip)
        else:
            self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)


class PfamDataModule(L.LightningDataModule):
    """SFP pairs (or, for the MLM-only ablation, single sequences) from the training store (batch_order); each
    configured batch is the run's global batch, cut into one slice per rank; and the fixed test pairs."""

    def __init__(
        self,
        train: Path,
        test: Path,
        test_pairs: Path,
        training: PretrainSettings,
        max_pair_length: int | None,
        single_sequences: bool = False,
    ) -> None:
        super().__init__()
        self.train_store = CorpusStore(train)
        self.test_store = CorpusStore(test)
        self.test_pairs = test_pairs
        self.training = training
        self.seed = training.seed
        self.max_pair_length = max_pair_length
        self.dataset: Any
        if single_sequences:
            max_length = None if max_pair_length is None else max_pair_length - 2
            self.dataset = SingleSequenceDataset(self.train_store, max_length)
            self.collate: Any = collate_corpus_sequences
        else:
            self.dataset = SFPPairDataset(
                self.train_store,
                same_family_prob=training.same_family_prob,
                seed=self.seed,
                max_pair_length=max_pair_length,
            )
            self.collate = collate_sfp_pairs

    def _ranks(self) -> dict[str, int]:
        return {"num_replicas": self.trainer.world_size, "rank": self.trainer.global_rank} if self.trainer else {}

    def batch_sampler(self, num_replicas: int = 1, rank: int = 0) -> RankSlices:
        """The global batches of batch_pairs items (pairs or sequences), rank `rank`'s slice of each."""
        batch = self.training.batch_pairs
        sampler = CorpusBatchSampler(
            len(self.dataset),
            self.train_store.lengths_of,
            batch,
            self.seed,
            length_buckets=self.training.batch_order == "length-buckets",
            keep_last=self.training.last_batch == "keep",
        )
        return RankSlices(sampler, batch, num_replicas, rank)

    def train_dataloader(self) -> DataLoader:
        """Endless, step-indexed batches (see StepIndexedBatches); training length is counted in steps."""
        batches = StepIndexedBatches(self.batch_sampler(**self._ranks()), lambda: self.trainer.global_step)
        return DataLoader(
            EpochItems(self.dataset),
            batch_sampler=batches,
            collate_fn=self.collate,
            num_workers=self.training.num_workers,
        )

    def test_pair_loader(self, limit: int | None = None) -> DataLoader:
        """The fixed test pairs (the first `limit`); for the transformer, only pairs that fit its context.

        Not sharded: under DDP every process scores all of them in the same batches, so validation and test metrics
        are those of one process (and every rank monitors the same value), at the cost of one process's time."""
        pairs: Any = TestPairDataset(self.test_store, self.test_pairs)
        lengths = self.test_store.lengths_of(pairs.index_a) + self.test_store.lengths_of(pairs.index_b)
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
        sampler = LengthBucketBatchSampler(lengths, self.training.eval_batch_pairs, self.seed, shuffle=False)
        return DataLoader(pairs, batch_sampler=sampler, collate_fn=collate_sfp_pairs)

    def val_dataloader(self) -> DataLoader:
        return self.test_pair_loader(self.training.max_val_pairs)


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
        "train_residues_per_s",
        "peak_memory_mb",
    ]
    return history.reindex(columns=columns)


def run_fingerprint(job: PretrainJob, module: PretrainModule, data: PfamDataModule) -> dict[str, Any]:
    """What makes a pretraining run: its settings, architecture, processes, corpus stores and test pairs (resume.py)."""
    inputs = {
        "encoder": module.encoder.config,
        "architecture": parameter_shapes(module),
        "processes": world_size(),  # each rank's batch slice and streams depend on it
        "train": data.train_store.meta,
        "test": data.test_store.meta,
        "test_pairs": file_md5(data.test_pairs),
    }
    return fingerprint(job.model_dump(mode="json"), inputs)


def build_pretraining(job: PretrainJob, max_steps: int = 1) -> PretrainModule:
    """The seeded encoder of a job's preset with its pretraining objective, as a LightningModule."""
    training = job.training
    encoder = build_encoder(job.preset, **job.architecture)
    objective: Literal["plus", "mlm"] = "mlm" if job.objective == "mlm" else "plus"
    loss = PretrainLossConfig.from_settings(training, objective)
    return PretrainModule(PretrainingModel(encoder, loss), training, max_steps)


def run_pretraining(
    job: PretrainJob, train: Path, test: Path, test_pairs: Path, out_dir: Path, checkpoint_dir: Path
) -> dict[str, Any]:
    """Train (or, for objective 'none', only initialise) an encoder; write model.pt, metrics.json, history.csv.

    With `keep: best`, model.pt (and the test metrics) hold the weights of the validation with the lowest loss.
    """
    training = job.training
    L.seed_everything(training.seed, workers=True)
    module = build_pretraining(job)
    encoder = module.encoder
    max_pair_length = encoder.max_pair_tokens
    single = job.objective == "mlm" and training.mlm_only_inputs == "single-sequences"
    data = PfamDataModule(Path(train), Path(test), Path(test_pairs), training, max_pair_length, single)
    steps_per_epoch = len(data.batch_sampler(num_replicas=world_size()))
    if steps_per_epoch == 0 and job.objective != "none":
        raise InputError(
            f"{train}: {len(data.dataset)} training sequences, fewer than one batch (pretrain.batch_pairs="
            f"{training.batch_pairs})"
        )
    max_steps = training.max_steps or training.epochs * steps_per_epoch
    module.max_steps = max_steps
    claim_checkpoint_dir(checkpoint_dir, run_fingerprint(job, module, data))
    trainer = build_trainer(
        checkpoint_dir,
        precision=training.precision,
        max_steps=max_steps,
        steps_per_epoch=steps_per_epoch,
        grad_clip=training.grad_clip,
        val_every_n_steps=training.val_every_n_steps,
        checkpoint_every_n_steps=training.checkpoint_every_n_steps,
    )
    best = None
    if training.keep == "best":
        best = ModelCheckpoint(
            dirpath=checkpoint_dir, filename="best", monitor="val_loss", save_top_k=1, save_on_train_epoch_end=False
        )
        trainer.callbacks.append(best)
    if job.objective != "none":
        fit(trainer, module, data, checkpoint_dir)
    else:
        log.info("objective 'none': keeping the seeded random initialisation (no-pretraining baseline)")
    if best is not None and best.best_model_path:
        module.load_state_dict(torch.load(best.best_model_path, map_location="cpu", weights_only=True)["state_dict"])
    results = trainer.validate(module, dataloaders=data.test_pair_loader(), verbose=False)[0]
    test_metrics = {key.removeprefix("val_"): float(value) for key, value in results.items() if key != "step"}
    if job.objective == "mlm":
        test_metrics = {k: v for k, v in test_metrics.items() if not k.startswith("sfp")}
    metrics = {
        "model": job.name,
        "objective": job.objective,
        "preset": job.preset,
        "parameters": count_parameters(encoder),
        "steps": int(trainer.global_step),
        "kept": training.keep,
        "test": test_metrics,
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
