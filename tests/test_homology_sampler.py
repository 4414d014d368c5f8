"""The authors' homology training sampler (`homology_sampler: authors`) against a restatement of their algorithm."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plus.data.batching.samplers import ShuffledBatchSampler
from plus.data.batching.task_examples import HomologyTrainPairs
from plus.errors import InputError
from plus.settings import FinetuneSettings

# every level 0..4 present: 0 = different class .. 4 = same family (self-pairs included)
SCCS = ["a.1.1.1", "a.1.1.1", "a.1.1.2", "a.1.2.1", "a.2.1.1", "b.1.1.1", "b.1.1.1", "b.3.1.1", "a.1.1.1", "b.1.2.1"]
TAU = 0.5


def frame(sccs: list[str] = SCCS) -> pd.DataFrame:
    letters = "ACDEFGHIKLMNPQRSTVWY"
    sequences = [letters[i % 20] + letters[i // 20 % 20] + "KLMNP" for i in range(len(sccs))]
    return pd.DataFrame({"id": [f"d{i}" for i in range(len(sccs))], "sequence": sequences, "label": sccs})


def level_matrix(sccs: list[str]) -> np.ndarray:
    """levels[i, j]: how many leading sccs parts domains i and j share."""
    n = len(sccs)
    levels = np.zeros((n, n), dtype=np.int64)
    for i in range(n):
        for j in range(n):
            for x, y in zip(sccs[i].split("."), sccs[j].split("."), strict=True):
                if x != y:
                    break
                levels[i, j] += 1
    return levels


def reference(sccs: list[str], tau: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Their algorithm restated over the n^2 ordered pairs sorted by level (a stable sort):
    (sorted pair order, C_l per present level, the level weights, probability of each ordered pair)."""
    flat = level_matrix(sccs).ravel()
    order = np.argsort(flat, kind="stable")
    _, counts = np.unique(flat, return_counts=True)
    weights = counts.astype(float) ** tau / counts
    weights /= weights.sum()
    prefix = np.concatenate([[0], np.cumsum(counts)])[:-1]
    by_position = np.zeros(len(flat))
    for weight, c in zip(weights, prefix, strict=True):
        by_position[: c + 1] += weight / (c + 1)
    probability = np.zeros(len(flat))
    probability[order] = by_position
    return order, prefix, weights, probability


def draws(pairs: HomologyTrainPairs, epochs: range) -> np.ndarray:
    return np.concatenate([pairs.authors_epoch(epoch) for epoch in epochs])


def test_pairs_follow_their_distribution_and_carry_their_own_level() -> None:
    pairs = HomologyTrainPairs(frame(), pairs_per_epoch=20_000, tau=TAU, seed=0, sampler="authors")
    items = draws(pairs, range(5))
    n, total = len(SCCS), len(items)
    levels = level_matrix(SCCS)
    assert np.array_equal(items[:, 2], levels[items[:, 0], items[:, 1]])
    _, _, _, expected = reference(SCCS, TAU)
    observed = np.bincount(items[:, 0] * n + items[:, 1], minlength=n * n) / total
    assert np.all(observed[expected == 0] == 0)
    tolerance = 5 * np.sqrt(expected * (1 - expected) / total)
    assert np.all(np.abs(observed - expected) <= tolerance + 1e-12)
    expected_shares = np.bincount(levels.ravel(), weights=expected, minlength=5)
    shares = np.bincount(items[:, 2], minlength=5) / total
    assert np.all(np.abs(shares - expected_shares) <= 5 * np.sqrt(expected_shares * (1 - expected_shares) / total))
    a, b, level = pairs[7]
    assert np.array_equal(a, pairs.tokens[items[7, 0]]) and np.array_equal(b, pairs.tokens[items[7, 1]])
    assert level == items[7, 2]


def test_a_draw_of_level_l_takes_a_lower_pair_or_the_first_pair_of_level_l() -> None:
    """Level 0 draws are always the same pair; level 4's boundary pair is domain 0's self-pair (stable sort)."""
    pairs = HomologyTrainPairs(frame(), pairs_per_epoch=20_000, tau=TAU, seed=1, sampler="authors")
    items = pairs.authors_epoch(0)
    order, prefix, weights, _ = reference(SCCS, TAU)
    n = len(SCCS)
    first = order[prefix]  # the first pair of each level in the sorted list
    level_zero = items[items[:, 3] == 0]
    assert len(level_zero) > 0 and np.all(level_zero[:, 0] * n + level_zero[:, 1] == first[0])
    assert first[4] == 0  # (0, 0)
    for level in range(1, 5):
        drawn = items[items[:, 3] == level]
        boundary = drawn[:, 2] == level
        assert np.all(drawn[boundary, 0] * n + drawn[boundary, 1] == first[level])
        assert np.all(drawn[~boundary, 2] < level)
    counts = np.bincount(items[:, 3], minlength=5) / len(items)
    assert np.all(np.abs(counts - weights) <= 5 * np.sqrt(weights * (1 - weights) / len(items)))


def test_an_epoch_comes_grouped_by_drawn_level_so_batches_hold_one_level() -> None:
    pairs = HomologyTrainPairs(frame(), pairs_per_epoch=1000, tau=TAU, seed=2, sampler="authors")
    drawn = pairs.authors_epoch(0)[:, 3]
    assert np.all(np.diff(drawn) >= 0) and len(set(drawn.tolist())) == 5
    batches = list(ShuffledBatchSampler(len(pairs), 64, seed=2, shuffle=False))  # how TaskDataModule batches pairs
    mixed = [batch for batch in batches if len(set(drawn[batch].tolist())) > 1]
    assert len(mixed) <= 4  # only where one level's draws end and the next one's begin


def test_the_draws_are_fixed_by_seed_and_epoch() -> None:
    one = HomologyTrainPairs(frame(), pairs_per_epoch=500, tau=TAU, seed=3, sampler="authors")
    other = HomologyTrainPairs(frame(), pairs_per_epoch=500, tau=TAU, seed=3, sampler="authors")
    other.authors_epoch(1)
    assert np.array_equal(one.authors_epoch(4), other.authors_epoch(4))
    assert not np.array_equal(one.authors_epoch(4), one.authors_epoch(5))
    reseeded = HomologyTrainPairs(frame(), pairs_per_epoch=500, tau=TAU, seed=4, sampler="authors")
    assert not np.array_equal(one.authors_epoch(4), reseeded.authors_epoch(4))
    one.set_epoch(4)
    other.set_epoch(4)
    assert all(np.array_equal(x, y) for x, y in zip(one[499], other[499], strict=True))


def test_the_setting_selects_it() -> None:
    assert FinetuneSettings(homology_sampler="authors").homology_sampler == "authors"
    with pytest.raises(InputError, match="homology sampler"):
        HomologyTrainPairs(frame(), pairs_per_epoch=10, sampler="uniform")  # type: ignore[arg-type]
