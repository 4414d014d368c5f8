"""The interface every encoder offers to heads, objectives, fine-tuning and probing."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, NamedTuple

import torch
from torch import nn

from plus.tensors import pad_to


class PairEncoding(NamedTuple):
    """Residue states of both sides of a batch of pairs, and a joint vector per pair (None when not joint)."""

    h_a: torch.Tensor
    h_b: torch.Tensor
    joint: torch.Tensor | None


class Encoder(nn.Module, ABC):
    """Tokens (our alphabet, right-padded with PAD) -> per-residue states h [B, L, d_h], zero on padding."""

    joint_pairs: ClassVar[bool] = False
    d_h: int
    d_z: int

    @abstractmethod
    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """h [B, L, d_h] of tokens [B, L] with `lengths` [B]."""

    def project(self, h: torch.Tensor) -> torch.Tensor:
        """z [B, L, d_z]; without a projection z is h (d_z = d_h)."""
        return h

    def mlm_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Token logits for masked language modelling; encoders without an MLM head raise."""
        raise NotImplementedError(f"this encoder has no MLM head ({type(self).__name__})")

    def encode_pair(
        self, tokens_a: torch.Tensor, len_a: torch.Tensor, tokens_b: torch.Tensor, len_b: torch.Tensor
    ) -> PairEncoding:
        """Both sides encoded independently, in one padded batch of 2B sequences; no joint vector."""
        width = max(tokens_a.shape[1], tokens_b.shape[1])
        tokens = torch.cat([pad_to(tokens_a, width), pad_to(tokens_b, width)])
        h = self(tokens, torch.cat([len_a.to(tokens.device), len_b.to(tokens.device)]))
        batch = tokens_a.shape[0]
        return PairEncoding(h[:batch, : tokens_a.shape[1]], h[batch:, : tokens_b.shape[1]], None)


def has_mlm_head(encoder: nn.Module) -> bool:
    """Whether the encoder predicts masked tokens (fine-tuning's auxiliary MLM needs it).

    An encoder without one says so with `predicts_masked_tokens = False` (or by not overriding mlm_logits)."""
    method = getattr(type(encoder), "mlm_logits", None)
    overridden = method is not None and method is not Encoder.mlm_logits
    return overridden and bool(getattr(encoder, "predicts_masked_tokens", True))
