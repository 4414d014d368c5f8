"""The PLUS pretraining loss: masked language modelling (MLM) plus same-family prediction (SFP) on pairs.

loss = mlm_weight * MLM + sfp_weight * SFP. MLM is the mean cross-entropy over the masked tokens of BOTH
sequences of every pair. The authors' RNN code drops sequence B's MLM loss and counts A's with weight
w + w^2 (1.19 for w = 0.7); `drop_pair_b_mlm=True` reproduces that. As the authors do in training, SFP is
scored on the masked inputs (`sfp_on_unmasked=True` scores it on the original tokens in a second pass, as their
evaluation does). Both sequences of a pair go through the encoder's `encode_pair`; SFP is a 2-way classifier on
the pair's joint vector for an encoder with `joint_pairs` (PLUS-TFM: [CLS] of `[CLS] a [SEP] b [SEP]`), and
otherwise ordinal logistic regression (one logit) on the soft-symmetric-alignment score of the projections z
(PLUS-RNN). `objective="mlm"` is the MLM-only ablation: the loss is the MLM loss alone and no SFP keys are
returned; `mlm_single` is its single-sequence form (the authors' ablation input). The loss settings come from
`PretrainSettings` (`PretrainLossConfig.from_settings`), which holds their defaults.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F

from plus.models.encoder import Encoder, PairEncoding
from plus.objectives.masking import IGNORE_INDEX, MaskCount, mask_tokens, pair_caps
from plus.objectives.ordinal import OrdinalRegression
from plus.objectives.ssa import soft_symmetric_alignment
from plus.settings import PretrainSettings


@dataclass(frozen=True)
class PretrainLossConfig:
    """Weights and options of the pretraining loss, taken from PretrainSettings (which holds the defaults)."""

    objective: Literal["plus", "mlm"]
    mlm_weight: float
    sfp_weight: float
    drop_pair_b_mlm: bool
    mask_rate: float
    max_masked_per_seq: int
    mask_count: MaskCount
    sfp_logit_threshold: float  # predict "same family" above this logit; the authors' RNN used 0.5

    def __post_init__(self) -> None:
        if self.objective not in ("plus", "mlm"):
            raise ValueError(f"objective must be 'plus' or 'mlm', not {self.objective!r}")

    @classmethod
    def from_settings(
        cls, settings: PretrainSettings | None = None, objective: Literal["plus", "mlm"] = "plus"
    ) -> PretrainLossConfig:
        """The loss options of `settings` (default: PretrainSettings()) for the objective."""
        settings = settings or PretrainSettings()
        return cls(
            objective=objective,
            mlm_weight=settings.mlm_weight,
            sfp_weight=settings.sfp_weight,
            drop_pair_b_mlm=settings.drop_pair_b_mlm,
            mask_rate=settings.mask_rate,
            max_masked_per_seq=settings.max_masked_per_seq,
            mask_count=settings.mask_count,
            sfp_logit_threshold=settings.sfp_logit_threshold,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SFPHead(nn.Module):
    """Same-family logit per pair: Linear(d_h -> 2) on the joint vector if the encoder has `joint_pairs`, else
    ordinal(SSA(z_a, z_b)) on the projected residues."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.joint = encoder.joint_pairs
        if self.joint:
            self.dropout = nn.Dropout(encoder.config.dropout)
            self.classifier = nn.Linear(encoder.d_h, 2)
        else:
            self.ordinal = OrdinalRegression(2)

    def forward(self, pair: PairEncoding, len_a: torch.Tensor, len_b: torch.Tensor, encoder: Encoder) -> torch.Tensor:
        """Logit of "same family" [B] of an encoded pair (`encoder` projects the residues for SSA)."""
        if self.joint:
            logits = self.classifier(self.dropout(pair.joint))
            return logits[:, 1] - logits[:, 0]  # 2-way cross-entropy == BCE on the logit difference
        score = soft_symmetric_alignment(encoder.project(pair.h_a), encoder.project(pair.h_b), len_a, len_b)
        return self.ordinal(score)[:, 0]


class PretrainingModel(nn.Module):
    """An encoder with its SFP head; `forward` returns loss, mlm_loss, mlm_accuracy (and sfp_loss, sfp_accuracy)."""

    def __init__(self, encoder: Encoder, config: PretrainLossConfig | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = config or PretrainLossConfig.from_settings()
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
        rate, cap, count = self.config.mask_rate, self.config.max_masked_per_seq, self.config.mask_count
        cap_a: int | torch.Tensor = cap
        cap_b: int | torch.Tensor = cap
        if count == "authors" and self.encoder.max_pair_tokens is not None:  # one cap per pair, e.g. int(512*0.15)
            cap_a, cap_b = pair_caps(len_a, len_b, int(self.encoder.max_pair_tokens * rate))
        inputs_a, targets_a = mask_tokens(tokens_a, len_a, generator, rate, cap_a, count)
        inputs_b, targets_b = mask_tokens(tokens_b, len_b, generator, rate, cap_b, count)
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
        pair = self.encoder.encode_pair(inputs_a, len_a, inputs_b, len_b)
        h_a, h_b = pair.h_a, pair.h_b
        if self.config.drop_pair_b_mlm:
            h_mlm, t_mlm = h_a[targets_a != IGNORE_INDEX], targets_a[targets_a != IGNORE_INDEX]
        else:
            h_mlm = torch.cat([h_a[targets_a != IGNORE_INDEX], h_b[targets_b != IGNORE_INDEX]])
            t_mlm = torch.cat([targets_a[targets_a != IGNORE_INDEX], targets_b[targets_b != IGNORE_INDEX]])
        result = self._mlm_terms(self.encoder.mlm_logits(h_mlm), t_mlm)
        if self.sfp_head is not None:
            result.update(self._sfp_terms(self.sfp_head(pair, len_a, len_b, self.encoder), same_family))
        result["loss"] = self._total(result)
        return result

    def mlm_single(
        self, tokens: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """The MLM-only objective on single sequences: loss = mlm_loss, mlm_accuracy."""
        if self.config.objective != "mlm":
            raise ValueError("single sequences carry no same-family labels: only the MLM-only objective reads them")
        config = self.config
        inputs, targets = mask_tokens(
            tokens, lengths, generator, config.mask_rate, config.max_masked_per_seq, config.mask_count
        )
        h = self.encoder(inputs, lengths)
        keep = targets != IGNORE_INDEX
        result = self._mlm_terms(self.encoder.mlm_logits(h[keep]), targets[keep])
        result["loss"] = result["mlm_loss"]
        return result

    def sfp_logits(
        self, tokens_a: torch.Tensor, len_a: torch.Tensor, tokens_b: torch.Tensor, len_b: torch.Tensor
    ) -> torch.Tensor:
        """Same-family logit [B] of each pair, computed on the tokens as given."""
        if self.sfp_head is None:
            raise ValueError("the MLM-only objective has no SFP head")
        pair = self.encoder.encode_pair(tokens_a, len_a, tokens_b, len_b)
        return self.sfp_head(pair, len_a, len_b, self.encoder)

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
