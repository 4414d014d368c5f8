"""BERT-style masking for masked language modelling, vectorised over a padded batch.

Per sequence, n = min(max_per_seq, floor(rate * length + 0.5), number of non-X residues) positions are chosen
uniformly among the residues that are not X (never PAD, CLS or SEP). Of the chosen positions, 80% become MASK,
10% a random residue token (1..21, X included, as the authors draw it) and 10% stay unchanged, each decided
independently per position. Unlike the authors' RNN, which reuses the X token (21, a zero embedding) as the mask,
every model here uses the dedicated MASK token (22). The authors' TFM splits one cap of 76 per pair between the
two segments in proportion to their lengths; here each sequence of a pair is capped on its own (max_per_seq),
unless `count="authors"` (floor(rate * length); `pair_caps` shares one cap per pair, see pair_caps).
"""

from __future__ import annotations

from typing import Literal

import torch

from plus.tensors import IGNORE_INDEX
from plus.tokens import MASK, X

MASK_FRACTION = 0.8
RANDOM_FRACTION = 0.1


MaskCount = Literal["round", "authors"]


def masked_counts(
    lengths: torch.Tensor,
    candidates: torch.Tensor,
    rate: float,
    max_per_seq: int | torch.Tensor,
    count: MaskCount = "round",
) -> torch.Tensor:
    """How many positions of each sequence are predicted: round-half-up(rate*length) ("round") or floor(rate*length)
    ("authors"), capped by max_per_seq (an int, or one cap per sequence) and by the candidate positions."""
    offset = 0.5 if count == "round" else 0.0
    wanted = torch.floor(lengths.to(torch.float64) * rate + offset).long()
    cap = torch.as_tensor(max_per_seq, device=wanted.device)
    return torch.minimum(torch.minimum(wanted, cap), candidates)


def pair_caps(len_a: torch.Tensor, len_b: torch.Tensor, cap: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The authors' PLUS-TFM: one cap per pair shared between its segments in proportion to their lengths."""
    total = (len_a + len_b).clamp(min=1).to(torch.float64)
    cap_a = torch.floor(cap * len_a.to(torch.float64) / total).long()
    return cap_a, cap - cap_a


def mask_tokens(
    tokens: torch.Tensor,
    lengths: torch.Tensor,
    generator: torch.Generator | None = None,
    rate: float = 0.15,
    max_per_seq: int | torch.Tensor = 50,
    count: MaskCount = "round",
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) for right-padded residue tokens [B, L]: targets hold the original token or -100."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"mask rate must be in [0, 1], got {rate}")
    batch, length = tokens.shape
    device = tokens.device
    lengths = lengths.to(device)
    inside = torch.arange(length, device=device)[None, :] < lengths[:, None]
    candidate = inside & (tokens >= 1) & (tokens < X)  # residues A..V; never X, PAD or specials
    counts = masked_counts(lengths, candidate.sum(1), rate, max_per_seq, count)

    priority = torch.rand(batch, length, generator=generator, device=device)
    priority = priority.masked_fill(~candidate, 2.0)  # non-candidates sort last
    rank = torch.empty_like(tokens, dtype=torch.long)
    order = priority.argsort(dim=1)
    rank.scatter_(1, order, torch.arange(length, device=device).expand(batch, -1).contiguous())
    chosen = rank < counts[:, None]

    action = torch.rand(batch, length, generator=generator, device=device)
    random_tokens = torch.randint(1, X + 1, (batch, length), generator=generator, device=device)
    inputs = tokens.clone()
    to_mask = chosen & (action < MASK_FRACTION)
    to_random = chosen & (action >= MASK_FRACTION) & (action < MASK_FRACTION + RANDOM_FRACTION)
    inputs[to_mask] = MASK
    inputs[to_random] = random_tokens[to_random].to(tokens.dtype)
    targets = torch.full_like(tokens, IGNORE_INDEX, dtype=torch.long)
    targets[chosen] = tokens[chosen].long()
    return inputs, targets
