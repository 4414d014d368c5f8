"""A fine-tuned model without its training loop: encoder + task head, its outputs, losses and predictions.

Evaluation and the Python API load it without importing Lightning (`plus.training.finetune` adds the training
steps on top of it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from plus.data.batching.task_examples import TargetScaling
from plus.errors import InputError
from plus.models.encoder import Encoder
from plus.objectives.masking import IGNORE_INDEX, mask_tokens
from plus.settings import FinetuneSettings
from plus.tasks import SECSTR8, TOPOLOGY, TaskSpec


class TaskModel(nn.Module):
    """Encoder + head; the outputs of a batch (masked, with the MLM loss, when given a generator) and the task loss."""

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
        self.shape = spec.task_shape
        self.head = self.shape.build_head(spec, encoder)
        self.training_settings = training
        self.scaling = scaling
        self.seed = seed
        self.mlm_weight = float(spec.aux_mlm_weight)

    def representation(self, h: torch.Tensor) -> torch.Tensor:
        """What the head reads: the encoder's states h, or their projection z (the task's `head.input`)."""
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
        if self.shape.pairs:
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
        if limit is not None and self.shape.per_protein:
            tokens, lengths = tokens[:, :limit], lengths.clamp(max=limit)
        encoded = self._encode(tokens, lengths, generator)
        rep = self.representation(encoded["h"])
        if self.shape.per_residue:
            logits = self.head(rep)
        else:
            cls = encoded.get("cls")
            logits = self.head(rep, lengths, None if cls is None else self.representation(cls))
        if self.shape.scalar:
            logits = logits.squeeze(-1)
        result = {"logits": logits}
        if "mlm_loss" in encoded:
            result["mlm_loss"] = encoded["mlm_loss"]
        return result

    def task_loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """MSE (regression), cross-entropy (classes; residues skip -100) or the ordinal loss (pairs), in fp32."""
        return self.shape.loss(logits.float(), target)

    def clip_groups(self) -> list[list[torch.nn.Parameter]]:
        """The parameter groups clipped on their own under `grad_clip_scope: per-module`, as the authors clip: the
        encoder (with a pair task's ordinal layer, which is part of the authors' RNN) unless it is a transformer,
        and a protein-level head; a residue-level head is not clipped."""
        groups: list[list[torch.nn.Parameter]] = []
        encoder = list(self.encoder.parameters())
        if self.shape.pairs:
            encoder += list(self.head.parameters())
        if self.encoder.config.kind != "tfm":
            groups.append(encoder)
        if self.shape.per_protein:
            groups.append(list(self.head.parameters()))
        return groups

    @torch.no_grad()
    def predict_batch(self, batch: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        """Unmasked predictions for evaluation, in target units."""
        return self.shape.predict(self.outputs(batch)["logits"].float(), self.scaling)


HEAD_KEYS = ("task", "scaling", "seed", "state_dict")


def checkpoint_head_fields(checkpoint: dict[str, Any], path: str | Path) -> tuple[TaskSpec, TargetScaling, int]:
    """The task, target scaling and seed a fine-tuned or probe checkpoint records, checked (one-line InputErrors)."""
    missing = [key for key in HEAD_KEYS if key not in checkpoint]
    if missing:
        raise InputError(f"{path}: checkpoint lacks the key(s) {missing}; re-run the training that wrote it")
    scaling = checkpoint["scaling"]
    if not isinstance(scaling, dict) or set(scaling) - {"mean", "std"}:
        raise InputError(f"{path}: checkpoint 'scaling' must be {{mean, std}}, got {scaling!r}")
    seed = checkpoint["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(f"{path}: checkpoint 'seed' must be an integer, got {seed!r}")
    task = _declared_decoding(checkpoint["task"])
    return TaskSpec.from_dict(task, f"{path}: task"), TargetScaling(**scaling), seed


LEGACY_DECODING = {("secstr", SECSTR8): "secstr_q3", ("transmembrane", TOPOLOGY): "tm_topology"}


def _declared_decoding(task: Any) -> Any:
    """A task record written before `decoding` was a field, with the decoding the code that wrote it applied (it
    recognised the built-in secstr and transmembrane tasks by name); any other record as it is."""
    if not isinstance(task, dict) or "decoding" in task:
        return task
    legacy = LEGACY_DECODING.get((task.get("name"), "".join(map(str, task.get("classes") or ()))))
    return {**task, "decoding": legacy} if legacy else task
