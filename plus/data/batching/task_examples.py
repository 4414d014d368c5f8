"""Canonical task tables turned into tokenized datasets, batches and homology training pairs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

import numpy as np
import pandas as pd
from torch.utils.data import Dataset

from plus.errors import InputError
from plus.settings import HomologySampler, TaskSpec
from plus.tokens import encode


@dataclass(frozen=True)
class TargetScaling:
    """Standardisation of regression targets with training-split statistics (undone on prediction)."""

    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def fit(cls, values: np.ndarray) -> TargetScaling:
        std = float(np.std(values))
        return cls(float(np.mean(values)), std if std > 0 else 1.0)


class SequenceTaskDataset(Dataset):
    """Single-sequence examples (protein- and residue-level tasks)."""

    def __init__(self, frame: pd.DataFrame, spec: TaskSpec, scaling: TargetScaling) -> None:
        self.ids = frame["id"].astype(str).tolist()
        self.tokens = [encode(sequence).tokens for sequence in frame["sequence"]]
        self.labels = spec.task_shape.encode_labels(frame, spec, scaling)

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, index: int) -> tuple[np.ndarray, Any]:
        return self.tokens[index], self.labels[index]

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(t) for t in self.tokens])


class PairTaskDataset(Dataset):
    """Fixed pairs with a similarity level (homology dev and test sets)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.ids = frame["id"].astype(str).tolist()
        self.tokens_a = [encode(s).tokens for s in frame["sequence"]]
        self.tokens_b = [encode(s).tokens for s in frame["sequence_b"]]
        self.labels = frame["label"].astype(int).tolist()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, int]:
        return self.tokens_a[index], self.tokens_b[index], self.labels[index]

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(a) + len(b) for a, b in zip(self.tokens_a, self.tokens_b, strict=True)])


class HomologyTrainPairs(Dataset):
    """Domain pairs drawn from the SCOP hierarchy of the training domains, fresh for every epoch.

    `sampler="bepler"` (default) draws a level with probability proportional to N_l^tau (N_l = number of pairs
    at that level) and then a uniform pair at that level, as Bepler & Berger describe.

    `sampler="authors"` is the PLUS authors' HomolgySampler. Over the level-sorted list of all n^2 ordered pairs
    (self-pairs are same-family pairs, so N_4 counts them), each of an epoch's draws picks a level l with weight
    N_l^(tau-1) and then a position uniformly among the first C_l + 1 (C_l = pairs at levels < l): a uniform pair
    of a lower level, or, with probability 1/(C_l + 1), the first pair of level l (their list comes from numpy's
    unstable argsort, so which level-l pair sits there is not defined; we take the first in row-major order,
    what a stable sort gives; for level 4 that is domain 0's self-pair). The epoch's items come grouped by drawn
    level, ascending (every level-0 draw first, then level 1, ...), so consecutive batches hold the draws of one
    level (a batch straddles two at each boundary). The label is the pair's own level. Level shares (level 0 =
    different class .. 4 = same family) on SCOP: 0.778/0.193/0.026/0.003/0.000, against Bepler & Berger's
    0.527/0.279/0.108/0.050/0.036. `sampler="plus-original"` is an earlier approximation of theirs (the level
    drawn with weight N_l^(tau-1), then a uniform pair from all pairs at levels <= l, no self-pairs, every item
    independent, not grouped): about 0.759/0.205/0.029/0.005/0.002 (docs/fidelity.md, row 18).
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        pairs_per_epoch: int,
        tau: float = 0.5,
        seed: int = 0,
        sampler: HomologySampler = "bepler",
    ) -> None:
        if sampler not in get_args(HomologySampler):
            raise InputError(f"homology sampler must be one of {get_args(HomologySampler)}, not {sampler!r}")
        self.tokens = [encode(s).tokens for s in frame["sequence"]]
        sccs = frame["label"].astype(str).tolist()
        bad = [s for s in sccs if len(s.split(".")) != 4]
        if bad:
            raise InputError(f"homology training labels must be SCOP sccs strings like 'a.1.1.1', got {bad[0]!r}")
        self.pairs_per_epoch = pairs_per_epoch
        self.seed = seed
        self.epoch = 0
        # keys[k][i]: integer id of domain i's group at depth k (0: everything, 1: class, ... 4: family)
        parts = [s.split(".") for s in sccs]
        self.keys = np.zeros((5, len(parts)), dtype=np.int64)
        for depth in range(1, 5):
            prefixes = [".".join(p[:depth]) for p in parts]
            _, self.keys[depth] = np.unique(prefixes, return_inverse=True)
        self.group_sizes = np.stack([np.bincount(k)[k] for k in self.keys])  # [5, n]
        # partners of i at level exactly l: in the same depth-l group but not the same depth-(l+1) group
        inner = np.vstack([self.group_sizes[1:], np.ones((1, len(parts)), dtype=np.int64)])
        self.partner_counts = self.group_sizes - inner  # [5, n]
        self.level_counts = self.partner_counts.sum(axis=1).astype(np.float64)
        present = self.level_counts > 0
        exponent = tau if sampler == "bepler" else tau - 1.0
        weights = np.where(present, np.maximum(self.level_counts, 1.0) ** exponent, 0.0)
        self.sampler = sampler
        self.level_probs = weights / weights.sum()
        self.members = [
            {int(g): np.flatnonzero(self.keys[depth] == g) for g in np.unique(self.keys[depth])} for depth in range(5)
        ]
        self.tau = tau
        self._plan: tuple[int, np.ndarray] | None = None
        if sampler == "authors":
            self._authors_tables()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.pairs_per_epoch

    def _pair_at_level(self, level: int, rng: np.random.Generator) -> tuple[int, int]:
        counts = self.partner_counts[level]
        i = int(rng.choice(len(counts), p=counts / counts.sum()))
        group = self.members[level][int(self.keys[level, i])]
        inner_key = self.keys[level + 1, i] if level < 4 else None
        for _ in range(1000):
            j = int(group[rng.integers(len(group))])
            if j != i and (inner_key is None or self.keys[level + 1, j] != inner_key):
                return i, j
        allowed = group[(group != i) & (self.keys[level + 1, group] != inner_key)] if level < 4 else group[group != i]
        return i, int(allowed[rng.integers(len(allowed))])

    def _authors_tables(self) -> None:
        """What the authors' sampler needs: level counts with self-pairs, the weights, the prefix sums C_l, each
        level's first row-major pair, and every domain's depth-d group as a range of the sccs-sorted order."""
        n = self.keys.shape[1]
        counts = self.level_counts.copy()
        counts[4] += n  # self-pairs
        self.authors_levels = np.flatnonzero(counts > 0)
        present = counts[self.authors_levels]
        weights = present ** (self.tau - 1.0)
        self.authors_level_probs = weights / weights.sum()
        self.authors_prefix = np.concatenate([[0], np.cumsum(present)])  # C of each present level, then n^2
        self.authors_first_pair: dict[int, tuple[int, int]] = {}
        for level in self.authors_levels:
            row = next(i for i in range(n) if level == 4 or self.partner_counts[level, i] > 0)
            self.authors_first_pair[int(level)] = (row, int(np.flatnonzero(self.pair_levels(row) == level)[0]))
        # groups at every depth are contiguous in the order of the full sccs (a common prefix is an interval)
        self.sorted_domains = np.argsort(self.keys[4], kind="stable")
        rank = np.empty(n, dtype=np.int64)
        rank[self.sorted_domains] = np.arange(n)
        self.group_starts = np.zeros((5, n), dtype=np.int64)
        for depth in range(1, 5):
            first = np.full(int(self.keys[depth].max()) + 1, n, dtype=np.int64)
            np.minimum.at(first, self.keys[depth], rank)
            self.group_starts[depth] = first[self.keys[depth]]

    def pair_levels(self, i: int) -> np.ndarray:
        """The level of (i, j) for every j: the number of leading sccs parts the two domains share."""
        return (self.keys[1:, :] == self.keys[1:, i : i + 1]).sum(axis=0)

    def _uniform_pairs(self, level: int, count: int, rng: np.random.Generator) -> np.ndarray:
        """`count` ordered pairs drawn uniformly from those at `level` (< 4): [count, 2]."""
        weights = self.partner_counts[level]
        first = rng.choice(len(weights), size=count, p=weights / weights.sum())
        start, size = self.group_starts[level, first], self.group_sizes[level, first]
        inner_start, inner_size = self.group_starts[level + 1, first], self.group_sizes[level + 1, first]
        position = start + rng.integers(0, size - inner_size)
        position = np.where(position >= inner_start, position + inner_size, position)
        return np.stack([first, self.sorted_domains[position]], axis=1)

    def authors_epoch(self, epoch: int) -> np.ndarray:
        """The authors' sampler's items of an epoch, in order: [pairs_per_epoch, 4] of (i, j, level of (i, j),
        drawn level), fixed by (seed, epoch)."""
        if self._plan is not None and self._plan[0] == epoch:
            return self._plan[1]
        rng = np.random.default_rng([self.seed, epoch, 1])
        drawn = rng.choice(len(self.authors_levels), size=self.pairs_per_epoch, p=self.authors_level_probs)
        prefix, blocks = self.authors_prefix, []
        for k, count in enumerate(np.bincount(drawn, minlength=len(self.authors_levels))):
            position = rng.integers(0, prefix[k] + 1, size=count)
            block = np.zeros((count, 4), dtype=np.int64)
            drawn_level = int(self.authors_levels[k])
            block[:, 3] = drawn_level
            block[position == prefix[k], :3] = [*self.authors_first_pair[drawn_level], drawn_level]
            lower = np.searchsorted(prefix, position, side="right") - 1  # index of the lower level holding it
            for m in range(k):
                chosen = (position < prefix[k]) & (lower == m)
                level = int(self.authors_levels[m])
                block[chosen, :2] = self._uniform_pairs(level, int(chosen.sum()), rng)
                block[chosen, 2] = level
            blocks.append(block)
        plan = np.concatenate(blocks) if blocks else np.zeros((0, 4), dtype=np.int64)
        self._plan = (epoch, plan)
        return plan

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, int]:
        if self.sampler == "authors":
            i, j, level, _ = self.authors_epoch(self.epoch)[index]
            return self.tokens[i], self.tokens[j], int(level)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        level = int(rng.choice(5, p=self.level_probs))
        if self.sampler == "plus-original":
            lower = self.level_counts[: level + 1]
            level = int(rng.choice(level + 1, p=lower / lower.sum()))
        i, j = self._pair_at_level(level, rng)
        return self.tokens[i], self.tokens[j], level
