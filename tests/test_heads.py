"""Task heads: attention pooling that really attends, per-residue and pair heads."""

from __future__ import annotations

import pytest
import torch

from plus.models.heads import PairHead, ProteinHead, ResidueHead
from plus.objectives import OrdinalRegression, soft_symmetric_alignment


def padded_features(lengths: list[int], dim: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(len(lengths), max(lengths), dim, generator=generator), torch.tensor(lengths)


def test_attention_weights_sum_to_one_over_valid_residues():
    torch.manual_seed(0)
    head = ProteinHead(6, 8, 3)
    x, lengths = padded_features([5, 2, 9])
    weights = head.pool_weights(x, lengths)
    torch.testing.assert_close(weights.sum(1), torch.ones(3))
    assert torch.all(weights[0, 5:] == 0) and torch.all(weights[1, 2:] == 0)
    assert torch.all(weights[0, :5] > 0)
    assert weights[2].std() > 0  # not uniform: the scores matter


def test_padding_never_changes_outputs():
    torch.manual_seed(0)
    x, lengths = padded_features([5, 2, 9])
    changed = x.clone()
    changed[0, 5:] = 100.0
    changed[1, 2:] = -7.0
    for head in (ProteinHead(6, 8, 3), ProteinHead(6, 8, 3, pooling="sum")):
        torch.testing.assert_close(head(changed, lengths), head(x, lengths))
    residue = ResidueHead(6, 8, 4)
    assert torch.all(residue(changed, lengths)[1, 2:] == 0)
    torch.testing.assert_close(residue(changed, lengths)[:, :2], residue(x, lengths)[:, :2])


def test_attention_is_trained_and_sum_pooling_is_the_authors_pooling():
    torch.manual_seed(0)
    x, lengths = padded_features([5, 2, 9])
    attention = ProteinHead(6, 8, 3)
    attention(x, lengths).sum().backward()
    assert attention.attention.weight.grad.abs().sum() > 0
    summed = ProteinHead(6, 8, 3, pooling="sum")
    pooled = torch.stack([x[i, : lengths[i]].sum(0) for i in range(3)])
    torch.testing.assert_close(summed(x, lengths), summed.mlp(pooled))
    with pytest.raises(ValueError, match="pooling"):
        ProteinHead(6, 8, 3, pooling="max")


def test_pair_head_is_ordinal_on_ssa():
    torch.manual_seed(0)
    z_a, len_a = padded_features([4, 7], dim=5, seed=1)
    z_b, len_b = padded_features([6, 3], dim=5, seed=2)
    head = PairHead()
    logits = head(z_a, z_b, len_a, len_b)
    assert logits.shape == (2, 4)
    assert isinstance(head.ordinal, OrdinalRegression)
    expected = soft_symmetric_alignment(z_a, z_b, len_a, len_b)[:, None] + 10.0
    torch.testing.assert_close(logits, expected.expand(-1, 4))
