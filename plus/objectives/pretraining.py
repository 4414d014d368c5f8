"""The PLUS pretraining loss: masked language modelling (MLM) plus same-family prediction (SFP) on pairs.

loss = mlm_weight * MLM + sfp_weight * SFP. MLM is the mean cross-entropy over the masked tokens of BOTH
sequences of every pair. The authors' RNN code drops sequence B's MLM loss and counts A's with weight
w + w^2 (1.19 for w = 0.7); `drop_pair_b_mlm=True` reproduces that. As the authors do in training, SFP is
scored on the masked inputs (`sfp_on_unmasked=True` scores it on the original tokens in a second pass, as their
evaluation does). RNN: SFP = ordinal logistic (one logit) on the soft-symmetric-alignment score of z;
TFM: a 2-way classifier on [CLS] of `[CLS] a [SEP] b [SEP]`. `objective="mlm"` is the MLM-only ablation: the
loss is the MLM loss alone and no SFP keys are returned.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F

from plus.models import Encoder, PlusTFM
from plus.objectives.masking import IGNORE_INDEX, mask_tokens
from plus.objectives.ordinal import OrdinalRegression
from plus.objectives.ssa import soft_symmetric_alignment
from plus.tensors import pad_to


@dataclass(frozen=True)
class PretrainLossConfig:
    """Weights and options of the pretraining loss (defaults: the authors' run configs)."""

    mlm_weight: float = 0.7
    sfp_weight: float = 0.3
    objective: Literal["plus", "mlm"] = "plus"
    drop_pair_b_mlm: bool = False
    mask_rate: float = 0.15
    max_masked_per_seq: int = 50
    sfp_logit_threshold: float = 0.0  # predict "same family" above this logit; the authors' RNN used 0.5

    def __post_init__(self) -> None:
        if self.objective not in ("plus", "mlm"):
            raise ValueError(f"objective must be 'plus' or 'mlm', not {self.objective!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SFPHead(nn.Module):
    """Same-family logit per pair: ordinal(SSA(z_a, z_b)) for the RNN, Linear on [CLS] for the TFM."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.pair_classifier = isinstance(encoder, PlusTFM)
        if self.pair_classifier:
            self.dropout = nn.Dropout(encoder.config.dropout)
            self.classifier = nn.Linear(encoder.d_h, 2)
        else:
            self.ordinal = OrdinalRegression(2)

    def forward(self, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Logit of "same family" [B]: from ([CLS] h,) for the TFM or (z_a, z_b, len_a, len_b) for the RNN."""
        if self.pair_classifier:
            logits = self.classifier(self.dropout(features[0]))
            return logits[:, 1] - logits[:, 0]  # 2-way cross-entropy == BCE on the logit difference
        return self.ordinal(soft_symmetric_alignment(*features))[:, 0]


class PretrainingModel(nn.Module):
    """An encoder with its SFP head; `forward` returns loss, mlm_loss, mlm_accuracy (and sfp_loss, sfp_accuracy)."""

    def __init__(self, encoder: Encoder, config: PretrainLossConfig | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = config or PretrainLossConfig()
        self.sfp_head = SFPHead(encoder) if self.config.objective == "plus" else None

    def forward(
        self,
        tokens_a: torch.Tensor,
        len_a: torch.Tensor,
        tokens_b: torch.Tensor,
        len_b: torch.Tensor,
        same_family: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        sfp_on_unmasked: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Mask both sequences of each pair, then compute the losses (see the module docstring)."""
        rate, cap = self.config.mask_rate, self.config.max_masked_per_seq
        inputs_a, targets_a = mask_tokens(tokens_a, len_a, generator, rate, cap)
        inputs_b, targets_b = mask_tokens(tokens_b, len_b, generator, rate, cap)
        result = self.losses(inputs_a, targets_a, len_a, inputs_b, targets_b, len_b, same_family)
        if sfp_on_unmasked and self.sfp_head is not None:
            sfp_logit = self.sfp_logits(tokens_a, len_a, tokens_b, len_b)
            result.update(self._sfp_terms(sfp_logit, same_family))
            result["loss"] = self._total(result)
        return result

    def losses(
        self,
        inputs_a: torch.Tensor,
        targets_a: torch.Tensor,
        len_a: torch.Tensor,
        inputs_b: torch.Tensor,
        targets_b: torch.Tensor,
        len_b: torch.Tensor,
        same_family: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Losses for already masked pairs (targets: original token at predicted positions, -100 elsewhere)."""
        if self.sfp_head is not None and same_family is None:
            raise ValueError("the PLUS objective needs same_family labels for SFP")
        if isinstance(self.encoder, PlusTFM):
            cls, h_a, h_b = self.encoder.forward_pair(inputs_a, len_a, inputs_b, len_b)
            sfp_features: tuple[torch.Tensor, ...] = (cls,)
        else:
            h_a, h_b = self._encode_rnn_pair(inputs_a, len_a, inputs_b, len_b)
            sfp_features = (self.encoder.project(h_a), self.encoder.project(h_b), len_a, len_b)
        if self.config.drop_pair_b_mlm:
            h_mlm, t_mlm = h_a[targets_a != IGNORE_INDEX], targets_a[targets_a != IGNORE_INDEX]
        else:
            h_mlm = torch.cat([h_a[targets_a != IGNORE_INDEX], h_b[targets_b != IGNORE_INDEX]])
            t_mlm = torch.cat([targets_a[targets_a != IGNORE_INDEX], targets_b[targets_b != IGNORE_INDEX]])
        result = self._mlm_terms(self.encoder.mlm_logits(h_mlm), t_mlm)
        if self.sfp_head is not None:
            result.update(self._sfp_terms(self.sfp_head(sfp_features), same_family))
        result["loss"] = self._total(result)
        return result

    def sfp_logits(
        self, tokens_a: torch.Tensor, len_a: torch.Tensor, tokens_b: torch.Tensor, len_b: torch.Tensor
    ) -> torch.Tensor:
        """Same-family logit [B] of each pair, computed on the tokens as given."""
        if self.sfp_head is None:
            raise ValueError("the MLM-only objective has no SFP head")
        if isinstance(self.encoder, PlusTFM):
            cls, _, _ = self.encoder.forward_pair(tokens_a, len_a, tokens_b, len_b)
            return self.sfp_head((cls,))
        h_a, h_b = self._encode_rnn_pair(tokens_a, len_a, tokens_b, len_b)
        return self.sfp_head((self.encoder.project(h_a), self.encoder.project(h_b), len_a, len_b))

    def _encode_rnn_pair(
        self, tokens_a: torch.Tensor, len_a: torch.Tensor, tokens_b: torch.Tensor, len_b: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Both sides in one batch of 2B sequences (one LSTM call per layer and direction)."""
        width = max(tokens_a.shape[1], tokens_b.shape[1])
        tokens = torch.cat([pad_to(tokens_a, width), pad_to(tokens_b, width)])
        h = self.encoder(tokens, torch.cat([len_a, len_b]))
        batch = tokens_a.shape[0]
        return h[:batch, : tokens_a.shape[1]], h[batch:, : tokens_b.shape[1]]

    def _mlm_terms(self, logits: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        if targets.numel() == 0:
            zero = logits.sum() * 0.0
            return {"mlm_loss": zero, "mlm_accuracy": zero.detach()}
        loss = F.cross_entropy(logits.float(), targets)
        accuracy = (logits.argmax(dim=1) == targets).float().mean()
        return {"mlm_loss": loss, "mlm_accuracy": accuracy.detach()}

    def _sfp_terms(self, logit: torch.Tensor, same_family: torch.Tensor | None) -> dict[str, torch.Tensor]:
        if same_family is None:
            raise ValueError("SFP needs same_family labels")
        target = same_family.to(logit.device).float()
        loss = F.binary_cross_entropy_with_logits(logit.float(), target)
        accuracy = ((logit > self.config.sfp_logit_threshold).float() == target).float().mean()
        return {"sfp_loss": loss, "sfp_accuracy": accuracy.detach(), "sfp_logit": logit.detach()}

    def _total(self, result: dict[str, torch.Tensor]) -> torch.Tensor:
        config = self.config
        if config.objective == "mlm":
            return result["mlm_loss"]
        mlm_weight = config.mlm_weight + config.mlm_weight**2 if config.drop_pair_b_mlm else config.mlm_weight
        return mlm_weight * result["mlm_loss"] + config.sfp_weight * result["sfp_loss"]
