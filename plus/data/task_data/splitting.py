"""Seeded splits that depend only on the data and the seed: not on file order or on the order of config keys.

A pool is split by sorting its distinct sequences by a seeded hash and cutting that order at the cumulative
fractions of the splits taken in the canonical order (train, valid, test, then any other split names sorted).
Identical sequences are one unit, so they always land in the same split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from plus.errors import InputError

CANONICAL_ORDER = ("train", "valid", "test")


def canonical_order(splits: Iterable[str]) -> list[str]:
    """Split names as train, valid, test (those present) and then every other name sorted."""
    names = set(splits)
    return [name for name in CANONICAL_ORDER if name in names] + sorted(names - set(CANONICAL_ORDER))


def seeded_rank(keys: Sequence[str], seed: int) -> np.ndarray:
    """A stable order of `keys` by the md5 of `seed:key` (ties, i.e. equal keys, keep their relative order)."""
    digests = [hashlib.md5(f"{seed}:{key}".encode()).hexdigest() for key in keys]
    return np.argsort(np.asarray(digests, dtype=object), kind="stable")


def check_fractions(fractions: object, where: str) -> dict[str, float]:
    """The split fractions as floats; InputError unless they are a mapping of positive numbers summing to 1."""
    if not isinstance(fractions, Mapping) or not fractions:
        raise InputError(f"{where}: needs split fractions, e.g. {{train: 0.8, valid: 0.1, test: 0.1}}")
    values = {}
    for name, value in fractions.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{where}: split fractions must be numbers, got {name}: {value!r}")
        values[str(name)] = float(value)
    if any(value <= 0 for value in values.values()) or abs(sum(values.values()) - 1.0) > 1e-6:
        raise InputError(f"{where}: split fractions must be positive and sum to 1, got {values}")
    return values


def split_by_sequence(
    sequences: Sequence[str], fractions: Mapping[str, float], seed: int, where: str
) -> dict[str, np.ndarray]:
    """Record indices (in input order) per split; identical sequences share a split; see the module docstring."""
    fractions = check_fractions(fractions, where)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise InputError(f"{where}: the seed must be an integer, got {seed!r}")
    keys = [sequence.upper() for sequence in sequences]
    distinct = sorted(set(keys))
    order = [distinct[i] for i in seeded_rank(distinct, seed)]
    sizes = dict.fromkeys(order, 0)
    for key in keys:
        sizes[key] += 1
    names = canonical_order(fractions)
    bounds = np.rint(np.cumsum([fractions[name] for name in names]) * len(keys))
    split_of: dict[str, str] = {}
    start = 0
    for key in order:
        split_of[key] = names[min(int(np.searchsorted(bounds, start, side="right")), len(names) - 1)]
        start += sizes[key]
    assigned = np.array([split_of[key] for key in keys], dtype=object)
    return {name: np.flatnonzero(assigned == name) for name in names}
