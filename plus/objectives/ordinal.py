"""Ordinal logistic regression on a similarity score: K levels as K-1 cumulative logits P(level > k).

As in Bepler & Berger and the authors' code, logit_k = w_k * score + b_k with w initialised to 1 and b to 10
(the SSA score is a negative L1 distance, so a bias of 10 starts the logits near zero for typical scores).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class OrdinalRegression(nn.Module):
    """Linear(1 -> K-1) on a score [B] -> cumulative logits [B, K-1]. SFP uses K=2, homology K=5."""

    def __init__(self, n_levels: int, weight_init: float = 1.0, bias_init: float = 10.0) -> None:
        super().__init__()
        if n_levels < 2:
            raise ValueError(f"an ordinal model needs at least 2 levels, got {n_levels}")
        self.n_levels = n_levels
        self.linear = nn.Linear(1, n_levels - 1)
        nn.init.constant_(self.linear.weight, weight_init)
        nn.init.constant_(self.linear.bias, bias_init)

    def forward(self, score: torch.Tensor) -> torch.Tensor:
        return self.linear(score[:, None])


def cumulative_targets(levels: torch.Tensor, n_levels: int) -> torch.Tensor:
    """Float [B, K-1]: 1 where level > k."""
    thresholds = torch.arange(n_levels - 1, device=levels.device)
    return (levels[:, None] > thresholds[None, :]).float()


def ordinal_loss(logits: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Mean BCE-with-logits of the cumulative logits against (level > k)."""
    return F.binary_cross_entropy_with_logits(logits, cumulative_targets(levels, logits.shape[1] + 1).to(logits))


def exceedance_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """P(level > k) [B, K-1] (for homology: P(same class), P(same fold), P(same superfamily), P(same family))."""
    return torch.sigmoid(logits)


def level_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """P(level = k) [B, K] from differences of the cumulative probabilities, clamped at 0 and renormalised."""
    exceed = exceedance_probabilities(logits)
    ones = torch.ones_like(exceed[:, :1])
    upper = torch.cat([ones, exceed], dim=1)
    lower = torch.cat([exceed, torch.zeros_like(ones)], dim=1)
    probabilities = (upper - lower).clamp(min=0)
    return probabilities / probabilities.sum(dim=1, keepdim=True).clamp(min=torch.finfo(logits.dtype).tiny)


def expected_level(logits: torch.Tensor) -> torch.Tensor:
    """E[level] = sum_k P(level > k) [B], the score the homology metrics rank by."""
    return exceedance_probabilities(logits).sum(dim=1)
