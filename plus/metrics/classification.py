"""Protein-level classification metrics: accuracy, MCC and a confusion matrix (scikit-learn underneath)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn import metrics as skm


def _paired(target: Sequence, prediction: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Targets and predictions as arrays of equal, non-zero length."""
    target, prediction = np.asarray(target), np.asarray(prediction)
    if target.ndim != 1 or prediction.ndim != 1:
        raise ValueError("targets and predictions must be one-dimensional")
    if len(target) != len(prediction):
        raise ValueError(f"{len(target)} targets but {len(prediction)} predictions")
    if len(target) == 0:
        raise ValueError("no targets to score: the input is empty")
    return target, prediction


def accuracy(target: Sequence, prediction: Sequence) -> float:
    """Fraction of predictions equal to their target."""
    target, prediction = _paired(target, prediction)
    return float(skm.accuracy_score(target, prediction))


def mcc(target: Sequence, prediction: Sequence) -> float:
    """Matthews correlation coefficient (sklearn); 0.0 where it is undefined, e.g. a constant prediction."""
    target, prediction = _paired(target, prediction)
    return float(skm.matthews_corrcoef(target, prediction))


def confusion_matrix(target: Sequence, prediction: Sequence, labels: Sequence[str]) -> pd.DataFrame:
    """Counts with true labels as rows and predicted labels as columns, both in `labels` order."""
    target, prediction = _paired(target, prediction)
    unknown = (set(target.tolist()) | set(prediction.tolist())) - set(labels)
    if unknown:
        raise ValueError(f"labels {sorted(map(str, unknown))} are not among {list(labels)}")
    counts = skm.confusion_matrix(target, prediction, labels=list(labels))
    index = pd.Index(list(labels), name="true")
    columns = pd.Index(list(labels), name="predicted")
    return pd.DataFrame(counts, index=index, columns=columns)


def classification_metrics(target: Sequence, prediction: Sequence, classes: Sequence[str]) -> dict[str, float]:
    """`accuracy` for any number of classes, plus `mcc` for a binary task (solubility)."""
    result = {"accuracy": accuracy(target, prediction)}
    if len(classes) == 2:
        result["mcc"] = mcc(target, prediction)
    return result
