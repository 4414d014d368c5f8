"""Domain pairs at each SCOP similarity level (0-4) from an ASTRAL/SCOPe FASTA, in the pair TSV format.

Similarity of two domains = how many of class, fold, superfamily, family their sccs share from the left: 0 =
different class, 1 = same class, 2 = same fold, 3 = same superfamily, 4 = same family (Bepler & Berger).
For each level, pairs are drawn uniformly from all pairs at that level (without repeats), with a seeded
generator over the domains sorted by id, so the result depends on the domains and the seed only. A level
with fewer pairs than asked for contributes all it has. The TSV has the columns `pdb_id_A pdb_id_B sequence_A
sequence_B similarity`, which the `scope_bepler` and `plus_homology` formats read.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from plus.data.task_data.importers.homology import read_domains
from plus.data.task_data.reading import FileSpec
from plus.errors import InputError
from plus.io import atomic_path

LEVELS = range(5)
COLUMNS = ("pdb_id_A", "pdb_id_B", "sequence_A", "sequence_B", "similarity")


def similarity(sccs_a: str, sccs_b: str) -> int:
    """Number of leading sccs fields (class.fold.superfamily.family) two domains share."""
    shared = 0
    for a, b in zip(sccs_a.split("."), sccs_b.split("."), strict=True):
        if a != b:
            break
        shared += 1
    return shared


def _groups(keys: np.ndarray) -> list[np.ndarray]:
    """Indices of each distinct key (keys sorted, so each group is a contiguous run)."""
    if len(keys) == 0:
        return []
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return np.split(np.arange(len(keys)), starts[1:])


class _Level:
    """The pairs at one similarity level: groups sharing the level's prefix, split into subgroups by the next."""

    def __init__(self, prefixes: list[np.ndarray], level: int) -> None:
        self.level = level
        self.groups: list[list[np.ndarray]] = []
        for group in _groups(prefixes[level]) if level > 0 else [np.arange(len(prefixes[0]))]:
            if level == 4:
                subgroups = [group[i : i + 1] for i in range(len(group))]
            else:
                subgroups = [group[part] for part in _groups(prefixes[level + 1][group])]
            if len(subgroups) > 1:
                self.groups.append(subgroups)
        self.weights = np.array([_cross_pairs(subgroups) for subgroups in self.groups], dtype=np.float64)
        self.total = int(self.weights.sum())

    def all_pairs(self) -> list[tuple[int, int]]:
        """Every pair at this level (used when there are few)."""
        found = []
        for subgroups in self.groups:
            for i, first in enumerate(subgroups):
                for second in subgroups[i + 1 :]:
                    found.extend((int(a), int(b)) for a in first for b in second)
        return found

    def draw(self, rng: np.random.Generator) -> tuple[int, int]:
        """One pair, uniform over all pairs at this level."""
        subgroups = self.groups[rng.choice(len(self.groups), p=self.weights / self.weights.sum())]
        sizes = np.array([len(sub) for sub in subgroups], dtype=np.float64)
        first = rng.choice(len(sizes), p=sizes * (sizes.sum() - sizes) / (sizes * (sizes.sum() - sizes)).sum())
        others = sizes.copy()
        others[first] = 0
        second = rng.choice(len(sizes), p=others / others.sum())
        a, b = int(rng.choice(subgroups[first])), int(rng.choice(subgroups[second]))
        return (a, b) if a < b else (b, a)


def _cross_pairs(subgroups: list[np.ndarray]) -> int:
    sizes = np.array([len(sub) for sub in subgroups], dtype=np.int64)
    return int((sizes.sum() ** 2 - (sizes**2).sum()) // 2)


def sample_pairs(ids: Sequence[str], sccs: Sequence[str], pairs_per_level: int, seed: int) -> pd.DataFrame:
    """Index pairs (`a`, `b`, `similarity`) into `ids`, `pairs_per_level` per level where that many exist."""
    if pairs_per_level < 1:
        raise InputError(f"pairs per level must be at least 1, got {pairs_per_level}")
    order = np.array(sorted(range(len(ids)), key=lambda i: (str(sccs[i]).split("."), ids[i])), dtype=np.int64)
    fields = [str(sccs[i]).split(".") for i in order]
    prefixes = [np.array([".".join(f[:depth]) for f in fields], dtype=object) for depth in range(5)]
    rng = np.random.default_rng(seed)
    rows = []
    for level in LEVELS:
        pairs = _Level(prefixes, level)
        if pairs.total <= 2 * pairs_per_level:
            found = pairs.all_pairs()
            chosen = sorted(rng.choice(len(found), size=min(pairs_per_level, len(found)), replace=False).tolist())
            picked = [found[i] for i in chosen]
        else:
            seen: set[tuple[int, int]] = set()
            picked = []
            while len(picked) < pairs_per_level:
                pair = pairs.draw(rng)
                if pair not in seen:
                    seen.add(pair)
                    picked.append(pair)
        rows.extend((int(order[a]), int(order[b]), level) for a, b in picked)
    return pd.DataFrame(rows, columns=["a", "b", "similarity"])


def scope_pairs(
    fasta: FileSpec, out: str | os.PathLike[str], pairs_per_level: int = 1000, seed: int = 0
) -> dict[int, int]:
    """Write a pair TSV sampled from an ASTRAL FASTA (`>d1dlwa_ a.1.1.1 ...`); returns the pairs per level."""
    domains = read_domains(fasta)
    ids, sequences, sccs = domains["id"].tolist(), domains["sequence"].tolist(), domains["label"].tolist()
    repeated = domains["id"][domains["id"].duplicated()]
    if len(repeated):
        raise InputError(f"{domains['origin'][repeated.index[0]]}: domain {repeated.iloc[0]!r} appears twice")
    pairs = sample_pairs(ids, sccs, pairs_per_level, seed)
    table = pd.DataFrame(
        {
            "pdb_id_A": [ids[i] for i in pairs["a"]],
            "pdb_id_B": [ids[i] for i in pairs["b"]],
            "sequence_A": [sequences[i] for i in pairs["a"]],
            "sequence_B": [sequences[i] for i in pairs["b"]],
            "similarity": pairs["similarity"],
        },
        columns=list(COLUMNS),
    )
    with atomic_path(Path(out)) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    return {level: int((pairs["similarity"] == level).sum()) for level in LEVELS}
