"""Metrics of one split of one task, read from the rows of predictions.parquet (docs/design.md).

Columns read, by task shape (`split` is optional and only used in error messages):
- protein_classification: `id`, `target`, `prediction` (class names) -> accuracy (+ mcc for two classes).
- protein_regression: `id`, `target`, `prediction` (floats) -> spearman, pearson.
- residue_classification: `id`, `target`, `prediction` (per-residue letter strings, `.` in target = unlabelled),
  scored as the task's `decoding` says (plus/tasks/decoding.py). secstr_q3 (classes GHIBESTC) -> accuracy_8class,
  accuracy_3class: the 3-class prediction is the optional column `prediction_3class` (H/E/C letters from
  `q3_from_probabilities`, the paper's acc3); without it, the 8-class letters in `prediction` are mapped to 3
  classes (`q3_from_q8`), which can differ slightly from the paper.
  tm_topology (classes IOM) -> accuracy (per residue, on `prediction`, which PLUS takes as the undecoded
  argmax), accuracy_protein (N-terminal side checked) and accuracy_protein_segments (on the optional column
  `topology`, the `viterbi_topology` decoding with our sided grammar; without it, on `prediction`), and
  accuracy_protein_authors (the authors' acc_p: on the optional column `topology_authors`, decoded by
  `authors_topology`, scored by `authors_topology_correct`; absent without that column). argmax -> accuracy.
- pair: `id`, `target` (0..4), `expected_level` -> homology metrics. `homology_thresholds` is the list of 4
  thresholds fitted on the valid split (`fit_homology_thresholds`), or "self" for the authors' fit on the
  evaluated split itself. `homology_score="authors"` scores pairs with the authors' sum_k k * p_k, computed from
  the ordinal outputs `p_class` .. `p_family` (`expected_level` is ours, sum_k P(level > k)).
Every result also has `n`, the number of rows (proteins or pairs), and residue tasks `n_residues`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from plus.errors import InputError
from plus.metrics.homology import HomologyScore, expected_level, fit_level_thresholds
from plus.settings import TaskSpec
from plus.tasks.alphabets import SCOP_LEVELS, UNLABELLED

HomologyThresholds = Sequence[float] | Literal["self"] | None


def _where(spec: TaskSpec, frame: pd.DataFrame) -> str:
    splits = sorted(map(str, frame["split"].unique())) if "split" in frame.columns else []
    return f"predictions of task {spec.name!r}" + (f", split {', '.join(splits)}" if splits else "")


def require_columns(frame: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputError(f"{where}: missing columns {missing} (have {list(frame.columns)})")
    if frame.empty:
        raise InputError(f"{where}: no rows to score")


def check_classes(frame: pd.DataFrame, columns: Sequence[str], classes: Sequence[str], where: str) -> None:
    for column in columns:
        bad = ~frame[column].astype(str).isin(list(classes))
        if bad.any():
            row = frame[bad].iloc[0]
            raise InputError(f"{where}: record {row['id']!r} has {column} {row[column]!r}, not one of {list(classes)}")


def check_floats(frame: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            row = frame.iloc[bad[0]]
            raise InputError(f"{where}: record {row['id']!r} has non-numeric or non-finite {column} {row[column]!r}")


def check_residue_strings(
    frame: pd.DataFrame, column: str, allowed: str | Sequence[str], where: str, *, unlabelled_ok: bool
) -> None:
    letters = set(allowed) | ({UNLABELLED} if unlabelled_ok else set())
    for record, target, value in zip(frame["id"], frame["target"], frame[column], strict=True):
        if not isinstance(value, str):
            raise InputError(f"{where}: record {record!r} has {column} of type {type(value).__name__}, not str")
        if len(value) != len(target):
            raise InputError(
                f"{where}: record {record!r} has {len(value)} letters in {column} but {len(target)} in target"
            )
        unknown = set(value) - letters
        if unknown:
            raise InputError(f"{where}: record {record!r} has letters {sorted(unknown)} in {column}")


EXCEEDANCE_COLUMNS = tuple(f"p_{level}" for level in SCOP_LEVELS)


def pair_scores(frame: pd.DataFrame, score: HomologyScore, where: str, checked: bool = False) -> np.ndarray:
    """Each pair's score: `expected_level` (exceedance-sum), or the authors' sum_k k * p_k from `p_class`."""
    if score == "exceedance-sum":
        if not checked:
            require_columns(frame, ("id", "target", "expected_level"), where)
            check_floats(frame, ("target", "expected_level"), where)
        return frame["expected_level"].to_numpy(dtype=float)
    if score != "authors":
        raise InputError(f"{where}: homology score must be 'exceedance-sum' or 'authors', not {score!r}")
    if not checked:
        require_columns(frame, ("id", "target", *EXCEEDANCE_COLUMNS), where)
        check_floats(frame, ("target", *EXCEEDANCE_COLUMNS), where)
    return expected_level(frame[list(EXCEEDANCE_COLUMNS)].to_numpy(dtype=float), "authors")


def fit_homology_thresholds(valid_predictions: pd.DataFrame, score: HomologyScore = "exceedance-sum") -> list[float]:
    """The 4 level thresholds fitted on the valid split's pair predictions (`target` and the `score`)."""
    where = "homology valid predictions"
    scores = pair_scores(valid_predictions, score, where)
    try:
        thresholds = fit_level_thresholds(scores, valid_predictions["target"])
    except ValueError as error:
        raise InputError(f"{where}: {error}") from error
    return thresholds.tolist()


def task_metrics(
    spec: TaskSpec,
    split_predictions: pd.DataFrame,
    *,
    homology_thresholds: HomologyThresholds = None,
    homology_score: HomologyScore = "exceedance-sum",
    checked: bool = False,
) -> dict[str, float]:
    """The metrics of one split's predictions, named as in docs/design.md, plus `n`.

    `checked`: the rows were already checked (e.g. a bootstrap resample of checked predictions), so the column,
    class and value checks are skipped."""
    frame = split_predictions
    where = f"predictions of task {spec.name!r}" if checked else _where(spec, frame)
    if not checked and not spec.task_shape.pairs:
        require_columns(frame, ("id", "target", "prediction"), where)
    pair = {"homology_thresholds": homology_thresholds, "homology_score": homology_score}
    return {**spec.task_shape.metrics(spec, frame, where, checked, **pair), "n": len(frame)}
