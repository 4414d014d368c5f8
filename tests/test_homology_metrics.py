"""Homology metrics: level thresholds fitted on dev (or on the evaluated set, as the authors), r, rho, AP."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from plus.errors import InputError
from plus.metrics.homology import assign_levels, expected_level, fit_level_thresholds, homology_metrics
from plus.metrics.task import fit_homology_thresholds, task_metrics
from plus.tasks import BUILTIN_TASKS, SCOP_LEVELS


def brute_force_thresholds(scores: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Greedy per level, trying every candidate cut and keeping the first (lowest) with the best accuracy."""
    thresholds, floor = [], -np.inf
    for k in range(4):
        above = scores > floor
        subset, positive = scores[above], levels[above] > k
        best_cut, best_correct = floor, int(positive.sum())
        for cut in np.unique(subset):
            correct = int(((subset > cut) == positive).sum())
            if correct > best_correct:
                best_cut, best_correct = float(cut), correct
        thresholds.append(best_cut)
        floor = best_cut
    return np.array(thresholds)


def noisy_pairs(n: int, seed: int, shift: float = 0.0, decimals: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    levels = rng.integers(0, 5, size=n)
    scores = levels * 0.8 + rng.normal(scale=0.6, size=n) + shift
    return levels, (np.round(scores, decimals) if decimals is not None else scores)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("decimals", [None, 1])
def test_fit_matches_brute_force_greedy_search(seed: int, decimals: int | None) -> None:
    levels, scores = noisy_pairs(300, seed, decimals=decimals)
    np.testing.assert_allclose(fit_level_thresholds(scores, levels), brute_force_thresholds(scores, levels))


def test_separable_scores_are_all_classified_right() -> None:
    levels = np.array([0, 0, 1, 1, 2, 3, 3, 4, 4, 4])
    scores = levels + np.linspace(0.0, 0.3, len(levels))
    thresholds = fit_level_thresholds(scores, levels)
    assert np.all(np.diff(thresholds) >= 0)
    np.testing.assert_array_equal(assign_levels(scores, thresholds), levels)
    assert homology_metrics(levels, scores, thresholds_from="self")["accuracy"] == 1.0


def test_assign_levels_counts_thresholds_strictly_below() -> None:
    thresholds = [0.5, 1.5, 2.5, 3.5]
    np.testing.assert_array_equal(assign_levels([0.5, 0.51, 1.5, 3.6, -1.0], thresholds), [0, 1, 1, 4, 0])
    with pytest.raises(ValueError, match="non-decreasing"):
        assign_levels([1.0], [2.0, 1.0, 3.0, 4.0])


def test_accuracy_uses_dev_thresholds_not_the_test_set() -> None:
    dev_levels, dev_scores = noisy_pairs(400, seed=1)
    test_levels, test_scores = noisy_pairs(400, seed=2, shift=0.5)  # a calibration shift between splits
    dev_thresholds = fit_level_thresholds(dev_scores, dev_levels)
    expected = np.mean(assign_levels(test_scores, dev_thresholds) == test_levels)
    fair = homology_metrics(test_levels, test_scores, thresholds=dev_thresholds)
    optimistic = homology_metrics(test_levels, test_scores, thresholds_from="self")
    assert fair["accuracy"] == pytest.approx(expected)
    assert optimistic["accuracy"] > fair["accuracy"]  # fitting on the evaluated set hides the shift
    with pytest.raises(ValueError, match="dev split"):
        homology_metrics(test_levels, test_scores)
    with pytest.raises(ValueError, match="not both"):
        homology_metrics(test_levels, test_scores, thresholds=dev_thresholds, thresholds_from="self")


def test_correlations_and_average_precision_match_independent_computations() -> None:
    levels, scores = noisy_pairs(200, seed=3)
    result = homology_metrics(levels, scores, thresholds_from="self")
    assert result["pearson"] == pytest.approx(np.corrcoef(levels, scores)[0, 1])
    assert result["spearman"] == pytest.approx(stats.spearmanr(levels, scores).statistic)
    for k, name in enumerate(("class", "fold", "superfamily", "family")):
        positive = levels > k
        order = np.argsort(-scores)
        hits = positive[order]
        precision_at_hits = np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)
        assert result[f"average_precision_{name}"] == pytest.approx(precision_at_hits.mean())


def test_average_precision_by_hand() -> None:
    levels = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = homology_metrics(levels, scores, thresholds=[0.3, 1.0, 2.0, 3.0])
    assert [str(w.message).split()[4].rstrip(":") for w in caught] == ["fold", "superfamily", "family"]
    # ranking 0.8 (+), 0.4 (-), 0.35 (+), 0.1 (-): AP = (1/1 + 2/3) / 2
    assert result["average_precision_class"] == pytest.approx((1 + 2 / 3) / 2)
    assert np.isnan(result["average_precision_fold"])
    assert result["accuracy"] == pytest.approx(0.75)  # 0.4 is called level 1


def test_bad_homology_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        homology_metrics([], [], thresholds_from="self")
    with pytest.raises(ValueError, match="0..4"):
        homology_metrics([0, 5], [0.1, 0.2], thresholds_from="self")
    with pytest.raises(ValueError, match="non-finite"):
        homology_metrics([0, 1], [0.1, np.nan], thresholds_from="self")


def pair_frame(split: str, levels: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"split": split, "id": [f"{split}{i}" for i in range(len(levels))], "target": levels, "expected_level": scores}
    )


def test_task_metrics_homology_with_dev_thresholds() -> None:
    spec = BUILTIN_TASKS["homology"]
    valid = pair_frame("valid", *noisy_pairs(300, seed=4))
    test = pair_frame("test", *noisy_pairs(300, seed=5, shift=0.3))
    thresholds = fit_homology_thresholds(valid)
    result = task_metrics(spec, test, homology_thresholds=thresholds)
    expected = homology_metrics(test["target"], test["expected_level"], thresholds=thresholds)
    assert result == {**expected, "n": 300}
    assert set(result) == {
        "accuracy",
        "pearson",
        "spearman",
        "average_precision_class",
        "average_precision_fold",
        "average_precision_superfamily",
        "average_precision_family",
        "n",
    }
    self_fit = task_metrics(spec, test, homology_thresholds="self")
    assert (
        self_fit["accuracy"]
        == homology_metrics(test["target"], test["expected_level"], thresholds_from="self")["accuracy"]
    )
    with pytest.raises(InputError, match="dev split"):
        task_metrics(spec, test)
    with pytest.raises(InputError, match="expected_level"):
        task_metrics(spec, test.drop(columns="expected_level"), homology_thresholds="self")


# ---- the pair score: ours (sum of exceedance probabilities) or the authors' (sum_k k * p_k) -----------------


def test_authors_expected_level_by_hand() -> None:
    # sigma = (0.99, 0.9, 0.5, 0.1): level k gets sigma_{k-1} * (1 - sigma_k) = 0.01, 0.099, 0.45, 0.45, 0.1
    # (sum 1.109), so sum_k k * p_k = (0.099 + 2 * 0.45 + 3 * 0.45 + 4 * 0.1) / 1.109; ours is sum sigma = 2.49.
    sigma = np.array([[0.99, 0.9, 0.5, 0.1], [0.5, 0.5, 0.5, 0.5]])
    assert expected_level(sigma, "authors")[0] == pytest.approx(2.749 / 1.109)
    assert expected_level(sigma)[0] == pytest.approx(2.49)
    assert expected_level(sigma, "authors")[1] == pytest.approx(2.0)  # p = (2, 1, 1, 1, 2) / 7
    with pytest.raises(ValueError, match="homology score"):
        expected_level(sigma, "median")


def test_authors_score_changes_pearson_not_the_ranking() -> None:
    rng = np.random.default_rng(4)
    levels = rng.integers(0, 5, size=400)
    alignment = levels + rng.normal(scale=1.0, size=len(levels))  # the one score the ordinal layer reads
    weights, biases = np.array([1.5, 1.2, 1.0, 0.8]), np.array([-0.5, -1.5, -2.5, -3.5])
    sigma = 1 / (1 + np.exp(-(alignment[:, None] * weights + biases)))
    frame = pd.DataFrame(
        {"id": [f"p{i}" for i in range(len(levels))], "target": levels, "expected_level": sigma.sum(axis=1)}
        | {f"p_{level}": sigma[:, k] for k, level in enumerate(SCOP_LEVELS)}
    )
    spec = BUILTIN_TASKS["homology"]
    ours = task_metrics(spec, frame, homology_thresholds=fit_homology_thresholds(frame))
    authors_thresholds = fit_homology_thresholds(frame, "authors")
    theirs = task_metrics(spec, frame, homology_thresholds=authors_thresholds, homology_score="authors")
    assert theirs["spearman"] == pytest.approx(ours["spearman"], abs=1e-12)
    for level in SCOP_LEVELS:
        assert theirs[f"average_precision_{level}"] == pytest.approx(ours[f"average_precision_{level}"], abs=1e-12)
    assert theirs["accuracy"] == pytest.approx(ours["accuracy"])
    assert abs(theirs["pearson"] - ours["pearson"]) > 1e-4  # 0.8293 vs 0.8300 here (fidelity.md: 0.806 vs 0.809)
    authors_score = expected_level(sigma, "authors")
    assert theirs["pearson"] == pytest.approx(stats.pearsonr(levels, authors_score)[0])
    with pytest.raises(InputError, match="missing columns"):
        task_metrics(spec, frame.drop(columns="p_fold"), homology_thresholds="self", homology_score="authors")
