"""Metrics exactly as the PLUS paper reports them (with the documented fixes); `task_metrics` dispatches."""

from plus.metrics.classification import accuracy, classification_metrics, confusion_matrix, mcc
from plus.metrics.homology import assign_levels, fit_level_thresholds, homology_metrics
from plus.metrics.regression import pearson, regression_metrics, spearman
from plus.metrics.secstr import (
    q3_from_probabilities,
    q3_from_q8,
    residue_accuracy,
    residue_confusion_matrix,
    secstr_metrics,
)
from plus.metrics.task import fit_homology_thresholds, task_metrics
from plus.metrics.transmembrane import (
    authors_topology,
    authors_topology_correct,
    n_terminal_side,
    tm_segments,
    topology_correct,
    transmembrane_metrics,
    viterbi_topology,
)

__all__ = [
    "accuracy",
    "assign_levels",
    "authors_topology",
    "authors_topology_correct",
    "classification_metrics",
    "confusion_matrix",
    "fit_homology_thresholds",
    "fit_level_thresholds",
    "homology_metrics",
    "mcc",
    "n_terminal_side",
    "pearson",
    "q3_from_probabilities",
    "q3_from_q8",
    "regression_metrics",
    "residue_accuracy",
    "residue_confusion_matrix",
    "secstr_metrics",
    "spearman",
    "task_metrics",
    "tm_segments",
    "topology_correct",
    "transmembrane_metrics",
    "viterbi_topology",
]
