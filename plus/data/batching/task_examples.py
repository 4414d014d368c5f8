"""Canonical task tables turned into tokenized datasets, batches and homology training pairs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from plus.errors import InputError
from plus.tasks import UNLABELLED, TaskSpec
from plus.tensors import pad_labels, pad_tokens
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


def encode_labels(frame: pd.DataFrame, spec: TaskSpec, scaling: TargetScaling) -> list[Any]:
    """Canonical labels as model targets: class index, scaled float, per-residue indices (-100 unlabelled)."""
    if spec.shape == "protein_classification":
        index = {name: i for i, name in enumerate(spec.classes)}
        return [index[str(label)] for label in frame["label"]]
    if spec.shape == "protein_regression":
        return list((frame["label"].to_numpy(dtype=np.float64) - scaling.mean) / scaling.std)
    if spec.shape == "residue_classification":
        lookup = np.full(256, -100, dtype=np.int64)
        for i, letter in enumerate(spec.classes):
            lookup[ord(letter)] = i
        lookup[ord(UNLABELLED)] = -100
        return [lookup[np.frombuffer(label.encode(), dtype=np.uint8)] for label in frame["label"]]
    return [int(label) for label in frame["label"]]


class SequenceTaskDataset(Dataset):
    """Single-sequence examples (protein- and residue-level tasks)."""

    def __init__(self, frame: pd.DataFrame, spec: TaskSpec, scaling: TargetScaling) -> None:
        self.ids = frame["id"].astype(str).tolist()
        self.tokens = [encode(sequence).tokens for sequence in frame["sequence"]]
        self.labels = encode_labels(frame, spec, scaling)
        self.shape = spec.shape

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


def collate_sequences(batch: list[tuple[np.ndarray, Any]], shape: str) -> dict[str, torch.Tensor]:
    tokens, lengths = pad_tokens([item[0] for item in batch])
    labels = [item[1] for item in batch]
    if shape == "residue_classification":
        target = pad_labels(labels)
    elif shape == "protein_regression":
        target = torch.tensor(labels, dtype=torch.float32)
    else:
        target = torch.tensor(labels, dtype=torch.long)
    return {"tokens": tokens, "lengths": lengths, "target": target}


def collate_task_pairs(batch: list[tuple[np.ndarray, np.ndarray, int]]) -> dict[str, torch.Tensor]:
    tokens_a, len_a = pad_tokens([item[0] for item in batch])
    tokens_b, len_b = pad_tokens([item[1] for item in batch])
    target = torch.tensor([item[2] for item in batch], dtype=torch.long)
    return {"tokens_a": tokens_a, "len_a": len_a, "tokens_b": tokens_b, "len_b": len_b, "target": target}


class HomologyTrainPairs(Dataset):
    """Domain pairs drawn from the SCOP hierarchy of the training domains, fresh for every epoch.

    `sampler="bepler"` (default) draws a level with probability proportional to N_l^tau (N_l = number of pairs
    at that level) and then a uniform pair at that level, as Bepler & Berger describe.

    The PLUS authors' HomolgySampler draws a level l with weight N_l^(tau-1), then an index uniformly from the
    first (pairs at levels < l) + 1 entries of the level-sorted list of all n^2 ordered pairs: the lower levels plus
    one boundary pair of level l (a level-0 draw is always the same pair; self-pairs count as same-family pairs).
    It yields an epoch's items grouped by drawn level, so each batch holds the draws of one level. Its level shares
    (level 0 = different class .. 4 = same family) are 0.778/0.193/0.026/0.003/0.000, against Bepler & Berger's
    0.527/0.279/0.108/0.050/0.036. `sampler="plus-original"` approximates it: the level drawn with weight
    N_l^(tau-1), then a uniform pair from all pairs at levels <= l, no self-pairs, every item independent and not
    grouped by level; its shares are about 0.759/0.205/0.029/0.005/0.002 (docs/fidelity.md, row 18).
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        pairs_per_epoch: int,
        tau: float = 0.5,
        seed: int = 0,
        sampler: str = "bepler",
    ) -> None:
        if sampler not in ("bepler", "plus-original"):
            raise InputError(f"homology sampler must be 'bepler' or 'plus-original', not {sampler!r}")
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

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, int]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        level = int(rng.choice(5, p=self.level_probs))
        if self.sampler == "plus-original":
            lower = self.level_counts[: level + 1]
            level = int(rng.choice(level + 1, p=lower / lower.sum()))
        i, j = self._pair_at_level(level, rng)
        return self.tokens[i], self.tokens[j], level
