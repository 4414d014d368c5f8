"""The one interface objectives, heads, fine-tuning and probing use, whatever the encoder's architecture."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, NamedTuple

import torch
from torch import nn

from plus.tensors import pad_to


class PairEncoding(NamedTuple):
    """Residue states h_a [B, La, d_h] and h_b [B, Lb, d_h] of pairs, and a joint [B, d_h] vector per pair or None."""

    h_a: torch.Tensor
    h_b: torch.Tensor
    joint: torch.Tensor | None


class Encoder(nn.Module, ABC):
    """Tokens (our alphabet, right-padded with PAD) -> per-residue states h [B, L, d_h]; a projection z [B, L, d_z];
    MLM logits; pair encoding.

    `joint_pairs` says whether `encode_pair` reads a pair as one input and returns its `joint` vector (what a
    pair classifier reads); otherwise each sequence is encoded on its own and pairs are compared residue by residue.
    """

    joint_pairs: ClassVar[bool] = False
    d_h: int
    d_z: int

    @abstractmethod
    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """h [B, L, d_h] of right-padded residue tokens [B, L] with `lengths` [B]; zero at padded positions."""

    def project(self, h: torch.Tensor) -> torch.Tensor:
        """z [B, L, d_z], the space residues of two sequences are aligned in; without a projection z is h."""
        return h

    def mlm_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Token logits [..., VOCAB_SIZE] for masked language modelling; encoders without an MLM head raise."""
        raise NotImplementedError(f"this encoder has no MLM head ({type(self).__name__})")

    def encode_with_cls(self, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """h [B, L, d_h] and the sequence's [CLS] state [B, d_h], or None for an encoder without one."""
        return self(tokens, lengths), None

    @property
    def max_pair_tokens(self) -> int | None:
        """The most tokens (with any special tokens) the pair of `encode_pair` may have; None: no limit."""
        return None

    def encode_pair(
        self, tokens_a: torch.Tensor, len_a: torch.Tensor, tokens_b: torch.Tensor, len_b: torch.Tensor
    ) -> PairEncoding:
        """Each sequence on its own, both sides in one padded batch of 2B sequences; no joint vector."""
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
