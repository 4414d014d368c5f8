"""Protein-level regression metrics: Spearman rho and Pearson r (scipy underneath)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy import stats


def _paired_floats(target: Sequence[float], prediction: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Finite float arrays of equal length, at least two values each."""
    target = np.asarray(target, dtype=float)
    prediction = np.asarray(prediction, dtype=float)
    if target.ndim != 1 or prediction.ndim != 1:
        raise ValueError("targets and predictions must be one-dimensional")
    if len(target) != len(prediction):
        raise ValueError(f"{len(target)} targets but {len(prediction)} predictions")
    if len(target) == 0:
        raise ValueError("no targets to score: the input is empty")
    if len(target) < 2:
        raise ValueError("a correlation needs at least two values")
    for name, values in (("target", target), ("prediction", prediction)):
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise ValueError(f"{len(bad)} non-finite {name} values (first at position {bad[0]})")
    return target, prediction


def _constant(name: str, target: np.ndarray, prediction: np.ndarray) -> bool:
    """True (with a warning) when either side is constant, so the correlation is undefined."""
    for side, values in (("targets", target), ("predictions", prediction)):
        if np.all(values == values[0]):
            warnings.warn(f"{name} is undefined because the {side} are constant; reporting NaN", stacklevel=3)
            return True
    return False


def spearman(target: Sequence[float], prediction: Sequence[float]) -> float:
    """Spearman rank correlation (ties get average ranks); NaN with a warning if either side is constant."""
    target, prediction = _paired_floats(target, prediction)
    if _constant("Spearman rho", target, prediction):
        return float("nan")
    return float(stats.spearmanr(target, prediction).statistic)


def pearson(target: Sequence[float], prediction: Sequence[float]) -> float:
    """Pearson correlation; NaN with a warning if either side is constant."""
    target, prediction = _paired_floats(target, prediction)
    if _constant("Pearson r", target, prediction):
        return float("nan")
    return float(stats.pearsonr(target, prediction).statistic)


def regression_metrics(target: Sequence[float], prediction: Sequence[float]) -> dict[str, float]:
    """`spearman` (the headline for stability and fluorescence) and `pearson`."""
    return {"spearman": spearman(target, prediction), "pearson": pearson(target, prediction)}
