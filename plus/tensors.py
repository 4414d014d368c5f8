"""Tensor helpers shared by the models, objectives and batching: padding masks, gathers, padding."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional as F

from plus.tokens import PAD

IGNORE_INDEX = -100  # target of positions that are not scored (torch cross_entropy's default ignore_index)


def padding_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """Bool [B, max_len]: True at positions before each sequence's length."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def reverse_within_length_index(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """Long [B, max_len]: position t -> length-1-t inside a sequence, t in the padding (an involution)."""
    positions = torch.arange(max_len, device=lengths.device)[None, :]
    return torch.where(positions < lengths[:, None], lengths[:, None] - 1 - positions, positions)


def gather_positions(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """x [B, L, d] read at positions [B, T] along the sequence axis -> [B, T, d]."""
    return torch.gather(x, 1, positions[:, :, None].expand(-1, -1, x.shape[2]))


def pad_to(tokens: torch.Tensor, width: int) -> torch.Tensor:
    """Right-pad a token batch [B, L] with PAD to [B, width]."""
    return F.pad(tokens, (0, width - tokens.shape[1]), value=PAD)


def pad_tokens(sequences: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token arrays with PAD into a LongTensor [B, L] and return it with the lengths [B]."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    width = int(lengths.max()) if len(sequences) else 1
    tokens = torch.full((len(sequences), max(width, 1)), PAD, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        tokens[row, : len(sequence)] = torch.from_numpy(np.asarray(sequence, dtype=np.int64))
    return tokens, lengths


def pad_labels(labels: Sequence[np.ndarray], fill: int = IGNORE_INDEX) -> torch.Tensor:
    """Right-pad per-residue integer labels into a LongTensor [B, L] filled with `fill`."""
    width = max((len(label) for label in labels), default=1)
    out = torch.full((len(labels), max(width, 1)), fill, dtype=torch.long)
    for row, label in enumerate(labels):
        out[row, : len(label)] = torch.from_numpy(np.asarray(label, dtype=np.int64))
    return out
