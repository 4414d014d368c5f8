"""Soft symmetric alignment (Bepler & Berger, ICLR 2019): a similarity score between two residue sequences.

With s_ij = -||z_a_i - z_b_j||_1, a = softmax_j(s), b = softmax_i(s) and c = a + b - a*b, the score is
sum(c * s) / sum(c), computed for a padded batch of pairs with padded residues excluded from every sum.

Memory: every intermediate is [pairs, La, Lb], quadratic in length. On CPU, where they are host memory, pairs
therefore go through in blocks of at most MAX_ELEMENTS such elements (at least one pair per block); with
gradients, in blocks of a quarter of that, whose intermediates are recomputed in the backward pass instead of
kept. A block keeps the batch's padding (La, Lb), so each pair's score is the same arithmetic as in one block over
the batch: with one thread, blocks give bit-identical scores and gradients (tested). With several threads torch's
reductions over the batch already change in the last bits with the batch size (the same pair scored in a batch of
5 or of 8), and blocks stay within that. Batches under the budget (every batch of the demo) take the single-block
path unchanged. On other devices the batch goes through in one block unless `max_elements` is given.
"""

from __future__ import annotations

import torch
from torch.utils.checkpoint import checkpoint

from plus.tensors import padding_mask

MAX_ELEMENTS = 1 << 24  # [pairs, La, Lb] elements per block: each float32 intermediate stays within 64 MiB
BACKWARD_SHARE = 4  # with gradients a block's backward holds about 4x the tensors of its forward: blocks 1/4 the size


def _ssa_block(z_a: torch.Tensor, z_b: torch.Tensor, len_a: torch.Tensor, len_b: torch.Tensor) -> torch.Tensor:
    """SSA scores of one block of pairs, every intermediate [pairs, La, Lb]."""
    similarity = -torch.cdist(z_a, z_b, p=1)  # [B, La, Lb]; cdist never materialises [B, La, Lb, d]
    valid_a = padding_mask(len_a, z_a.shape[1])[:, :, None]
    valid_b = padding_mask(len_b, z_b.shape[1])[:, None, :]
    lowest = torch.finfo(similarity.dtype).min
    a = torch.softmax(similarity.masked_fill(~valid_b, lowest), dim=2)
    b = torch.softmax(similarity.masked_fill(~valid_a, lowest), dim=1)
    weight = (a + b - a * b) * (valid_a & valid_b).to(similarity.dtype)
    return (weight * similarity).sum(dim=(1, 2)) / weight.sum(dim=(1, 2))


def pair_blocks(n_pairs: int, la: int, lb: int, max_elements: int | None) -> list[tuple[int, int]]:
    """(start, stop) of consecutive blocks of pairs with at most `max_elements` [pairs, La, Lb] elements each."""
    per_block = n_pairs if max_elements is None else max(1, max_elements // max(1, la * lb))
    return [(start, min(start + per_block, n_pairs)) for start in range(0, n_pairs, per_block)]


def soft_symmetric_alignment(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    len_a: torch.Tensor,
    len_b: torch.Tensor,
    max_elements: int | None = None,
) -> torch.Tensor:
    """SSA score [B] of pairs z_a [B, La, d], z_b [B, Lb, d] with lengths len_a, len_b (each >= 1).

    Computed in blocks of at most `max_elements` [pairs, La, Lb] elements (None: MAX_ELEMENTS on CPU, else one
    block); see the module notes.
    """
    if z_a.shape[0] != z_b.shape[0] or z_a.shape[2] != z_b.shape[2]:
        raise ValueError(f"SSA needs matching batch and feature sizes, got {tuple(z_a.shape)} and {tuple(z_b.shape)}")
    len_a, len_b = len_a.to(z_a.device), len_b.to(z_a.device)
    if bool((len_a < 1).any()) or bool((len_b < 1).any()):
        raise ValueError("SSA needs sequences of at least one residue")
    if max_elements is None and z_a.device.type == "cpu":
        max_elements = MAX_ELEMENTS
    recompute = torch.is_grad_enabled() and (z_a.requires_grad or z_b.requires_grad)
    if recompute and max_elements is not None:
        max_elements = max(1, max_elements // BACKWARD_SHARE)
    blocks = pair_blocks(z_a.shape[0], z_a.shape[1], z_b.shape[1], max_elements)
    if len(blocks) <= 1:
        return _ssa_block(z_a, z_b, len_a, len_b)
    scores = []
    for start, stop in blocks:
        inputs = (z_a[start:stop], z_b[start:stop], len_a[start:stop], len_b[start:stop])
        if recompute:
            scores.append(checkpoint(_ssa_block, *inputs, use_reentrant=False))
        else:
            scores.append(_ssa_block(*inputs))
    return torch.cat(scores)
