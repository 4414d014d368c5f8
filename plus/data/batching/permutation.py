"""A keyed pseudo-random permutation of range(n) that is evaluated at any positions without being stored."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ROUNDS = 6
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def _mix(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, element-wise on uint64 (multiplication wraps modulo 2**64)."""
    values = (values ^ (values >> np.uint64(30))) * _MIX_1
    values = (values ^ (values >> np.uint64(27))) * _MIX_2
    return values ^ (values >> np.uint64(31))


class KeyedPermutation:
    """permutation(positions) -> the values at those positions of a permutation of range(n) fixed by `key`.

    A balanced Feistel network of six keyed rounds over the 2**(2h) >= n values of 2h bits, restricted to range(n)
    by cycle walking (a value outside the range is encrypted again until it falls inside). Memory is that of the
    positions asked for, so an epoch's order over 15 million sequences costs nothing until a chunk of it is read.
    """

    def __init__(self, n: int, key: Sequence[int]) -> None:
        if n < 0:
            raise ValueError(f"n must be >= 0, not {n}")
        self.n = n
        self._half = np.uint64(max(1, ((max(n, 2) - 1).bit_length() + 1) // 2))
        self._mask = np.uint64((1 << int(self._half)) - 1)
        self._keys = np.random.SeedSequence([int(part) for part in key]).generate_state(ROUNDS, dtype=np.uint64)

    def _encrypt(self, values: np.ndarray) -> np.ndarray:
        left, right = values >> self._half, values & self._mask
        for round_key in self._keys:
            left, right = right, left ^ (_mix(right ^ round_key) & self._mask)
        return (left << self._half) | right

    def __call__(self, positions: np.ndarray | Sequence[int]) -> np.ndarray:
        positions = np.atleast_1d(np.asarray(positions, dtype=np.int64))
        if positions.size and (positions.min() < 0 or positions.max() >= self.n):
            raise IndexError(f"positions must be in [0, {self.n})")
        values = self._encrypt(positions.astype(np.uint64))
        outside = np.flatnonzero(values >= self.n)
        while len(outside):
            values[outside] = self._encrypt(values[outside])
            outside = outside[values[outside] >= self.n]
        return values.astype(np.int64)
