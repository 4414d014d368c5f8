"""Homology (SCOP similarity level 0..4) metrics: accuracy, Pearson r, Spearman rho, average precision per level.

The score of a pair is its expected similarity level, sum_k P(level > k) over the 4 ordinal outputs (the authors'
form, sum_k k * p_k, is `expected_level(..., score="authors")`). As in
PLUS (`eval_plus_homology.py`), r, rho and the average precision at class/fold/superfamily/family (target:
level > k) are all computed from that one score. Accuracy needs the score cut into levels by 4 thresholds.
PLUS fits them on the evaluated set itself, which flatters the test accuracy; here they are fitted on the dev
split (`fit_level_thresholds` on the valid predictions) and passed in. `thresholds_from="self"` reproduces the
authors' behaviour.

Threshold fitting follows the authors' greedy scheme: for k = 0..3, among the pairs scored above threshold k,
choose the cut that best separates level > k from level == k (pairs scoring above the cut are called > k),
allowing "no cut" (keep threshold k). Unlike their index-based search, tied scores are never split, so the
accuracy each cut was chosen for is the accuracy it gets; on tie-free scores the two agree.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
from sklearn.metrics import average_precision_score

from plus.metrics.regression import pearson, spearman
from plus.tasks.alphabets import SCOP_LEVELS

N_THRESHOLDS = len(SCOP_LEVELS)
HomologyScore = Literal["exceedance-sum", "authors"]


def expected_level(exceedance: np.ndarray, score: HomologyScore = "exceedance-sum") -> np.ndarray:
    """The score of each pair from its 4 ordinal outputs sigma_k = P(level > k) ([n, 4]).

    "exceedance-sum" (ours): sum_k sigma_k, the expected level when the sigma_k are non-increasing.
    "authors": sum_k k * p_k with p_k proportional to sigma_{k-1} * (1 - sigma_k) (sigma_{-1} = 1, sigma_4 = 0),
    each level's probability taken as "above k-1 and not above k" from independent sigmoids, renormalised.
    Both are increasing functions of the one alignment score the ordinal layer reads, so they rank pairs alike
    (rho, average precision and dev-fitted accuracy agree) while Pearson r differs (docs/fidelity.md, row 20).
    """
    exceedance = np.asarray(exceedance, dtype=float)
    if exceedance.ndim != 2 or exceedance.shape[1] != N_THRESHOLDS:
        raise ValueError(f"expected ordinal outputs of shape [n, {N_THRESHOLDS}], got {exceedance.shape}")
    if score == "exceedance-sum":
        return exceedance.sum(axis=1)
    if score != "authors":
        raise ValueError(f"homology score must be 'exceedance-sum' or 'authors', not {score!r}")
    ones = np.ones((len(exceedance), 1))
    above = np.hstack([ones, exceedance])  # P(level > k - 1), k = 0..4
    not_above = np.hstack([1 - exceedance, ones])  # P(level <= k)
    level_probs = above * not_above
    level_probs /= level_probs.sum(axis=1, keepdims=True)
    return level_probs @ np.arange(N_THRESHOLDS + 1)


def _scores_and_levels(scores: Sequence[float], levels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=float)
    levels = np.asarray(levels)
    if scores.ndim != 1 or levels.ndim != 1 or len(scores) != len(levels):
        raise ValueError(f"scores {scores.shape} and levels {levels.shape} must be 1-D of equal length")
    if len(scores) == 0:
        raise ValueError("no pairs to score: the input is empty")
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{int((~np.isfinite(scores)).sum())} non-finite scores")
    if not np.issubdtype(levels.dtype, np.integer) and not np.all(np.mod(levels, 1) == 0):
        raise ValueError("similarity levels must be integers 0..4")
    levels = levels.astype(int)
    if levels.min() < 0 or levels.max() > N_THRESHOLDS:
        raise ValueError(f"similarity levels must lie in 0..{N_THRESHOLDS}, found {levels.min()}..{levels.max()}")
    return scores, levels


def _best_cut(scores: np.ndarray, positive: np.ndarray, floor: float) -> float:
    """Threshold maximising accuracy of `score > threshold` for `positive`; `floor` means no cut (all positive).

    Candidates are `floor` and every distinct score; the first maximum (lowest threshold) wins.
    """
    if len(scores) == 0:
        return floor
    order = np.argsort(scores, kind="stable")
    sorted_scores, sorted_positive = scores[order], positive[order]
    last_of_value = np.flatnonzero(np.r_[sorted_scores[1:] != sorted_scores[:-1], True])
    negatives_at_or_below = np.cumsum(~sorted_positive)[last_of_value]
    positives_above = sorted_positive.sum() - np.cumsum(sorted_positive)[last_of_value]
    correct = np.r_[sorted_positive.sum(), negatives_at_or_below + positives_above]
    best = int(np.argmax(correct))
    return floor if best == 0 else float(sorted_scores[last_of_value[best - 1]])


def fit_level_thresholds(scores: Sequence[float], levels: Sequence[int]) -> np.ndarray:
    """Four non-decreasing thresholds; a pair's predicted level is how many of them its score exceeds."""
    scores, levels = _scores_and_levels(scores, levels)
    thresholds = np.empty(N_THRESHOLDS)
    floor = -np.inf
    for k in range(N_THRESHOLDS):
        above = scores > floor
        floor = _best_cut(scores[above], levels[above] > k, floor)
        thresholds[k] = floor
    return thresholds


def assign_levels(scores: Sequence[float], thresholds: Sequence[float]) -> np.ndarray:
    """Predicted level 0..4 of each score: the number of thresholds strictly below it."""
    thresholds = np.asarray(thresholds, dtype=float)
    if thresholds.shape != (N_THRESHOLDS,) or np.any(np.diff(thresholds) < 0) or np.isnan(thresholds).any():
        raise ValueError(f"expected {N_THRESHOLDS} non-decreasing thresholds, got {thresholds.tolist()}")
    return np.searchsorted(thresholds, np.asarray(scores, dtype=float), side="left")


def homology_metrics(
    levels: Sequence[int],
    scores: Sequence[float],
    *,
    thresholds: Sequence[float] | None = None,
    thresholds_from: Literal["dev", "self"] = "dev",
) -> dict[str, float]:
    """`accuracy`, `pearson`, `spearman`, `average_precision_{class,fold,superfamily,family}` of expected-level
    scores against true levels 0..4.

    thresholds_from="dev" (default) needs `thresholds` fitted on the dev split with `fit_level_thresholds`;
    "self" fits them on these very pairs, as the PLUS code does (optimistic). The average precision at a level
    with no positive pair is undefined: NaN, with a warning.
    """
    scores, levels = _scores_and_levels(scores, levels)
    if thresholds_from == "self":
        if thresholds is not None:
            raise ValueError("pass either thresholds or thresholds_from='self', not both")
        thresholds = fit_level_thresholds(scores, levels)
    elif thresholds_from == "dev":
        if thresholds is None:
            raise ValueError(
                "homology accuracy needs thresholds fitted on the dev split (fit_level_thresholds on the "
                "valid predictions); pass them, or thresholds_from='self' for the authors' behaviour"
            )
    else:
        raise ValueError(f"thresholds_from must be 'dev' or 'self', not {thresholds_from!r}")
    result = {
        "accuracy": float(np.mean(assign_levels(scores, thresholds) == levels)),
        "pearson": pearson(levels, scores),
        "spearman": spearman(levels, scores),
    }
    for k, name in enumerate(SCOP_LEVELS):
        positive = levels > k
        if not positive.any():
            warnings.warn(f"no pair shares the {name}: its average precision is undefined (NaN)", stacklevel=2)
            result[f"average_precision_{name}"] = float("nan")
        else:
            result[f"average_precision_{name}"] = float(average_precision_score(positive, scores))
    return result
