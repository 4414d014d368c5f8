"""Soft symmetric alignment (Bepler & Berger, ICLR 2019): a similarity score between two residue sequences.

With s_ij = -||z_a_i - z_b_j||_1, a = softmax_j(s), b = softmax_i(s) and c = a + b - a*b, the score is
sum(c * s) / sum(c), computed for a padded batch of pairs with padded residues excluded from every sum.
"""

from __future__ import annotations

import torch

from plus.tensors import padding_mask


def _ssa_block(z_a: torch.Tensor, z_b: torch.Tensor, len_a: torch.Tensor, len_b: torch.Tensor) -> torch.Tensor:
    similarity = -torch.cdist(z_a, z_b, p=1)  # [B, La, Lb]; cdist never materialises [B, La, Lb, d]
    valid_a = padding_mask(len_a, z_a.shape[1])[:, :, None]
    valid_b = padding_mask(len_b, z_b.shape[1])[:, None, :]
    lowest = torch.finfo(similarity.dtype).min
    a = torch.softmax(similarity.masked_fill(~valid_b, lowest), dim=2)
    b = torch.softmax(similarity.masked_fill(~valid_a, lowest), dim=1)
    weight = (a + b - a * b) * (valid_a & valid_b).to(similarity.dtype)
    return (weight * similarity).sum(dim=(1, 2)) / weight.sum(dim=(1, 2))


def soft_symmetric_alignment(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    len_a: torch.Tensor,
    len_b: torch.Tensor,
    pairs_per_chunk: int | None = None,
) -> torch.Tensor:
    """SSA score [B] of pairs z_a [B, La, d], z_b [B, Lb, d] with lengths len_a, len_b (each >= 1).

    `pairs_per_chunk` bounds the [pairs, La, Lb] intermediates, e.g. to embed long sequences without gradients.
    """
    if z_a.shape[0] != z_b.shape[0] or z_a.shape[2] != z_b.shape[2]:
        raise ValueError(f"SSA needs matching batch and feature sizes, got {tuple(z_a.shape)} and {tuple(z_b.shape)}")
    len_a, len_b = len_a.to(z_a.device), len_b.to(z_a.device)
    if bool((len_a < 1).any()) or bool((len_b < 1).any()):
        raise ValueError("SSA needs sequences of at least one residue")
    if pairs_per_chunk is None or pairs_per_chunk >= z_a.shape[0]:
        return _ssa_block(z_a, z_b, len_a, len_b)
    scores = []
    for start in range(0, z_a.shape[0], pairs_per_chunk):
        stop = start + pairs_per_chunk
        la, lb = len_a[start:stop], len_b[start:stop]
        scores.append(_ssa_block(z_a[start:stop, : int(la.max())], z_b[start:stop, : int(lb.max())], la, lb))
    return torch.cat(scores)
