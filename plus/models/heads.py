"""Task heads on top of an encoder: per-protein, per-residue and protein-pair (homology) prediction."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from plus.objectives.ordinal import OrdinalRegression
from plus.objectives.ssa import soft_symmetric_alignment
from plus.tensors import padding_mask


def _mlp(d_in: int, hidden: int | None, n_out: int, dropout: float) -> nn.Sequential:
    """Linear -> ReLU -> Dropout -> Linear; with hidden None, Dropout -> Linear (the authors' PLUS-TFM heads)."""
    if hidden is None:
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(d_in, n_out))
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_out))


class ProteinHead(nn.Module):
    """Pool residues into one vector, then Linear -> ReLU -> Dropout -> Linear (hidden None: Dropout -> Linear).

    "attention": weights = softmax over the valid residues of Linear(d_in -> 1), so the head really attends.
    "sum": plain sum over valid residues, which is what the authors' "attention" computes (their softmax runs
    over an axis of size 1 and is identically 1).
    "cls": no pooling; the head reads the encoder's [CLS] state (`forward(..., cls=...)`).
    """

    def __init__(
        self,
        d_in: int,
        hidden: int | None,
        n_out: int,
        pooling: Literal["attention", "sum", "cls"] = "attention",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if pooling not in ("attention", "sum", "cls"):
            raise ValueError(f"pooling must be 'attention', 'sum' or 'cls', not {pooling!r}")
        self.pooling = pooling
        self.attention = nn.Linear(d_in, 1) if pooling == "attention" else None
        self.mlp = _mlp(d_in, hidden, n_out, dropout)

    def pool_weights(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Per-residue pooling weights [B, L]: zero on padding; sum to 1 over valid residues for attention."""
        valid = padding_mask(lengths.to(x.device), x.shape[1])
        if self.attention is None:
            return valid.to(x.dtype)
        scores = self.attention(x)[:, :, 0].masked_fill(~valid, float("-inf"))
        return torch.softmax(scores, dim=1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, cls: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, L, d_in] (or, for "cls" pooling, the [CLS] state cls [B, d_in]) -> outputs [B, n_out]."""
        if self.pooling == "cls":
            if cls is None:
                raise ValueError("pooling 'cls' needs an encoder with a [CLS] state (a transformer)")
            return self.mlp(cls)
        pooled = (self.pool_weights(x, lengths)[:, :, None] * x).sum(dim=1)
        return self.mlp(pooled)


class ResidueHead(nn.Module):
    """Linear -> ReLU -> Dropout -> Linear applied to each residue: [B, L, d_in] -> [B, L, n_out]."""

    def __init__(self, d_in: int, hidden: int | None, n_out: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.mlp = _mlp(d_in, hidden, n_out, dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        out = self.mlp(x)
        if lengths is None:
            return out
        return out * padding_mask(lengths.to(x.device), x.shape[1])[:, :, None].to(out.dtype)


class PairHead(nn.Module):
    """Homology: soft-symmetric-alignment score of z_a, z_b -> ordinal logits P(level > k) [B, n_levels - 1]."""

    def __init__(self, n_levels: int = 5) -> None:
        super().__init__()
        self.ordinal = OrdinalRegression(n_levels)

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor, len_a: torch.Tensor, len_b: torch.Tensor) -> torch.Tensor:
        return self.ordinal(soft_symmetric_alignment(z_a, z_b, len_a, len_b))
